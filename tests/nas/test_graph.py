"""Architecture graphs: operations as nodes, checked against graphs drawn by hand."""

from __future__ import annotations

import numpy as np
import pytest

from tunewise.nas import Grammar
from tunewise.nas.grammars import hierarchical_nb201, nb201_cell
from tunewise.nas.graph import (
    TOPOLOGY_EDGES,
    LabelledGraph,
    architecture_graph,
    level_graphs,
    max_level,
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
    # feed f, d, e and f feed the output; none and skip_connect stay nodes.
    g = architecture_graph(
        nb201_cell(),
        "Cell(nor_conv_3x3, skip_connect, none, none, avg_pool_3x3, nor_conv_1x1)",
    )
    assert g.labels == (
        "input",
        "nor_conv_3x3",
        "skip_connect",
        "none",
        "none",
        "avg_pool_3x3",
        "nor_conv_1x1",
        "output",
    )
    assert g.edges == (
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
    assert level_graphs(nb201_cell(), "Cell(none, none, none, none, none, none)") == [
        architecture_graph(nb201_cell(), "Cell(none, none, none, none, none, none)")
    ]


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
