"""Architecture graphs: operations as nodes, checked against graphs drawn by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tunewise import nas
from tunewise.nas import Derivation, Grammar
from tunewise.nas.grammars import hierarchical_nb201, nb201_cell
from tunewise.nas.graph import (
    TOPOLOGY_EDGES,
    ZERO_PRIMITIVES,
    LabelledGraph,
    Operations,
    architecture_graph,
    level_graphs,
    max_level,
    operations,
)


def small_grammar() -> Grammar:
    return Grammar(
        {"S": ["Linear2 B A"], "B": ["Residual2 A A A"], "A": ["conv", "id", "pool"]},
        "S",
        topologies={"Linear2": 2, "Residual2": 3},
        primitives=["conv", "id", "pool"],
    )


def test_small_derivation_matches_the_hand_drawn_graph() -> None:
    # Linear2 chains input -> m -> output; Residual2 fills input -> m with conv (input -> r),
    # id (input -> m, the skip) and pool (r -> m); the second conv goes m -> output.
    g = architecture_graph(small_grammar(), "Linear2(Residual2(conv, id, pool), conv)")
    assert g == LabelledGraph(
        labels=("input", "conv", "id", "pool", "conv", "output"),
        edges=((0, 1), (0, 2), (1, 3), (2, 4), (3, 4), (4, 5)),
    )


def test_level_graphs_coarse_to_full() -> None:
    grammar = small_grammar()
    text = "Linear2(Residual2(conv, id, pool), conv)"
    assert max_level(grammar) == 1
    coarse, full = level_graphs(grammar, text)
    assert coarse == LabelledGraph(
        ("input", "Residual2", "conv", "output"), ((0, 1), (1, 2), (2, 3))
    )
    assert full == architecture_graph(grammar, text)


def test_nb201_cell_graph() -> None:
    # Edges 0->1 (a), 0->2 (b), 1->2 (c), 0->3 (d), 1->3 (e), 2->3 (f): a feeds c and e, b and c
    # feed f, d, e and f feed the output. Here c and d are none: cut, no nodes.
    text = "Cell(nor_conv_3x3, skip_connect, none, none, avg_pool_3x3, nor_conv_1x1)"
    g = architecture_graph(nb201_cell(), text)
    assert g == LabelledGraph(
        ("input", "nor_conv_3x3", "skip_connect", "avg_pool_3x3", "nor_conv_1x1", "output"),
        ((0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 5)),
    )
    # With none kept as nodes (zero=()): all six edges' operations, wired as above.
    kept = architecture_graph(nb201_cell(), text, zero=())
    assert kept.labels == (
        "input",
        "nor_conv_3x3",
        "skip_connect",
        "none",
        "none",
        "avg_pool_3x3",
        "nor_conv_1x1",
        "output",
    )
    assert kept.edges == (
        (0, 1),
        (0, 2),
        (0, 4),
        (1, 3),
        (1, 5),
        (2, 6),
        (3, 6),
        (4, 7),
        (5, 7),
        (6, 7),
    )
    assert level_graphs(nb201_cell(), text) == [g]


def test_cut_operations_are_dropped_with_what_they_cut_off() -> None:
    cells = nb201_cell()
    empty = LabelledGraph(("input", "output"), ())
    assert architecture_graph(cells, "Cell(none, none, none, none, none, none)") == empty
    # a (0->1) reaches the output only through none edges; f (2->3) reads node 2, reached only
    # through none edges: both are off every input-output path, so the cell is cut off.
    cut = "Cell(nor_conv_3x3, none, none, none, none, avg_pool_3x3)"
    assert architecture_graph(cells, cut) == empty
    # The 0->3 edge alone keeps the cell connected; the dead a and f still vanish.
    one = "Cell(nor_conv_3x3, none, none, skip_connect, none, avg_pool_3x3)"
    assert architecture_graph(cells, one) == LabelledGraph(
        ("input", "skip_connect", "output"), ((0, 1), (1, 2))
    )


def test_zero_primitives_are_the_builders() -> None:
    from tunewise.nas import PRIMITIVES  # imports torch

    assert {name for name, p in PRIMITIVES.items() if p.zero} == ZERO_PRIMITIVES


def test_hierarchical_levels_end_in_the_full_graph() -> None:
    grammar = hierarchical_nb201()
    assert max_level(grammar) == 5
    rng = np.random.default_rng(3)
    for _ in range(5):
        d = grammar.sample(rng)
        levels = level_graphs(grammar, d)
        assert len(levels) == 6
        assert levels[-1] == architecture_graph(grammar, str(d))
        assert levels[0].labels[0] == "input" and levels[0].labels[-1] == "output"
        assert set(levels[0].labels[1:-1]) <= {"Linear3", "Linear4", "Residual3"}
        sizes = [len(g.labels) for g in levels]
        assert sizes == sorted(sizes)


def test_edge_lists_match_the_builder_topologies() -> None:
    from tunewise.nas import TOPOLOGIES  # imports torch

    assert {k: t.edges for k, t in TOPOLOGIES.items()} == TOPOLOGY_EDGES


def test_unknown_topology_is_named() -> None:
    grammar = Grammar(
        {"S": ["Weird2 A A"], "A": ["x"]}, "S", topologies={"Weird2": 2}, primitives=["x"]
    )
    with pytest.raises(Exception, match="Weird2"):
        architecture_graph(grammar, "Weird2(x, x)")
    g = architecture_graph(grammar, "Weird2(x, x)", topologies={"Weird2": ((0, 1), (0, 1))})
    assert g == LabelledGraph(("input", "x", "x", "output"), ((0, 1), (0, 2), (1, 3), (2, 3)))


def test_a_malformed_string_is_refused_with_the_offset() -> None:
    from tunewise.nas import GrammarError

    for text in ("Linear2(Residual2(conv, id, pool), conv", "Linear2(conv))", "(conv)", "a b"):
        with pytest.raises(GrammarError, match="offset"):
            architecture_graph(small_grammar(), text)


def drawn(grammar: Grammar, d: Derivation, zero: frozenset[str] = ZERO_PRIMITIVES) -> LabelledGraph:
    """The full graph the way the level graphs draw it (one pass over every node, no cache)."""
    levels = level_graphs(grammar, d, levels=0, zero=zero)
    return levels[-1]


@pytest.mark.parametrize("keep_zero", [False, True])
def test_cached_subtree_drawings_give_the_graph_of_a_full_drawing(keep_zero: bool) -> None:
    # Children of mutation and crossover share subtrees with their parents: drawn from cached
    # fragments, their graphs (zero cuts and dead operations included) equal a fresh drawing.
    zero: frozenset[str] = frozenset() if keep_zero else ZERO_PRIMITIVES
    for grammar in (hierarchical_nb201(), nb201_cell()):
        rng = np.random.default_rng(8)
        pool = [grammar.sample(rng) for _ in range(4)]
        for step in range(60):
            a, b = pool[step % 4], pool[(step + 1) % 4]
            child = nas.crossover(grammar, a, b, rng) if step % 2 else nas.mutate(grammar, a, rng)
            if child is None:
                continue
            pool[step % 4] = child
            got = architecture_graph(grammar, child, zero=zero)
            assert got == drawn(grammar, child, zero)
            assert got == architecture_graph(grammar, str(child), zero=zero)
            ops = operations(grammar, child, zero=zero)
            assert ("input", *ops.labels, "output") == got.labels


def test_a_cell_cut_off_by_zeros_is_input_and_output() -> None:
    grammar = nb201_cell()
    d = grammar.parse("Cell(nor_conv_3x3, none, skip_connect, none, none, none)")
    assert architecture_graph(grammar, d) == LabelledGraph(("input", "output"), ())
    assert operations(grammar, d) == Operations((), (), ())
