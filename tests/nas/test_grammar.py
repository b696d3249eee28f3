"""Architecture grammars: validation, strings, sampling, priors, variation and counting."""

from __future__ import annotations

import itertools
import json
import math
from collections import Counter
from typing import Any

import numpy as np
import pytest

from tunewise import nas
from tunewise.nas import Derivation, Grammar, GrammarError
from tunewise.nas.grammars import hierarchical_nb201
from tunewise.nas.operators import subtree

OPS = ["none", "skip", "conv1x1", "conv3x3", "avgpool3x3"]


def nb201_cell() -> Grammar:
    return Grammar(
        {"S": ["Cell E E E E E E"], "E": OPS}, "S", topologies={"Cell": 6}, primitives=OPS
    )


def recursive() -> Grammar:
    return Grammar(
        {
            "S": ["Sequential3 B B B", "Residual2 B C"],
            "B": ["conv3x3", "id", "Cell C C", "Residual2 B B"],
            "C": ["conv1x1", "id", "Sequential3 S C C"],
        },
        "S",
        topologies={"Sequential3": 3, "Residual2": 2, "Cell": 2},
        primitives=["conv3x3", "conv1x1", "id"],
        depth={"S": 2, "B": 3, "C": 2},
    )


def small() -> Grammar:
    # Small enough to enumerate: a recursive block under a two-level macro.
    return Grammar(
        {
            "S": ["Seq2 B B", "Res2 B S", "id"],
            "B": ["conv", "id", ["Wrap1", "B"]],
        },
        "S",
        topologies={"Seq2": 2, "Res2": 2, "Wrap1": 1},
        primitives=["conv", "id"],
        depth={"S": 2, "B": 2},
    )


GRAMMARS = [nb201_cell, recursive, small]


def enumerate_all(
    g: Grammar, sym: str | None = None, path: dict[str, int] | None = None
) -> list[Derivation]:
    """Every derivation, by brute force with an explicit path count (the oracle)."""
    sym = sym or g.start
    path = dict(path or {})
    path[sym] = path.get(sym, 0) + 1
    if path[sym] > g.depth.get(sym, 10**9):
        return []
    out: list[Derivation] = []
    for rhs in g.productions[sym]:
        kids = [enumerate_all(g, k, path) for k in rhs[1:]]
        for combo in itertools.product(*kids):
            out.append(Derivation(sym, rhs[0], tuple(combo)))
    return out


def max_path_counts(d: Derivation) -> Counter[str]:
    best: Counter[str] = Counter()
    for c in d.children:
        for s, n in max_path_counts(c).items():
            best[s] = max(best[s], n)
    best[d.symbol] += 1
    return best


# -- validation ----------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "productions": {"S": ["Seq2 B B"], "B": ["conv", "id"]},
    "start": "S",
    "topologies": {"Seq2": 2},
    "primitives": ["conv", "id"],
}


def build(**changes: Any) -> Grammar:
    d = {**BASE, **changes}
    return Grammar.from_dict(d)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"productions": {"S": ["Seq2 B X"], "B": ["conv"]}}, r"'X'.*undefined"),
        ({"productions": {"S": ["Seq2 B B"], "B": ["conv"], "U": ["id"]}}, r"'U' is unreachable"),
        ({"productions": {"S": ["B B B"], "B": ["conv"]}}, r"'S'.*starts with nonterminal 'B'"),
        ({"productions": {"S": ["Seq2 B B B"], "B": ["conv"]}}, r"'S'.*'Seq2' 3 children.*arity 2"),
        (
            {"productions": {"S": ["Seq2 B B"], "B": ["conv B"]}},
            r"'B'.*'conv' 1 children.*primitive",
        ),
        ({"productions": {"S": ["Seq2 B B"], "B": ["relu"]}}, r"'B'.*unknown terminal 'relu'"),
        ({"productions": {"S": ["Seq2 B conv"], "B": ["id"]}}, r"'conv'.*is a terminal"),
        ({"start": "Q"}, r"start symbol 'Q'"),
        (
            {"productions": {"S": ["Seq2 B B"], "B": ["Seq2 B B"]}, "depth": {"B": 3}},
            r"nonterminal 'B' cannot terminate",
        ),
        (
            {"productions": {"S": ["Seq2 S S"], "B": ["id"]}, "depth": {"S": 2}},
            r"'B' is unreachable",
        ),
        ({"productions": {"S": ["Seq2 S S"]}, "depth": {"S": 2}}, r"language is empty.*'S'"),
        (
            {"productions": {"S": ["Seq2 B B"], "B": ["conv", "Seq2 B B"]}},
            r"nonterminal 'B' is recursive \(B -> B\) without a depth limit",
        ),
        (
            {
                "productions": {"S": ["Seq2 A A"], "A": ["conv", "Seq2 X X"], "X": ["Seq2 A A"]},
                "depth": {"A": 1},
            },
            r"nonterminal 'X' cannot terminate within its depth limits",
        ),
        ({"depth": {"Z": 1}}, r"depth names unknown nonterminal 'Z'"),
        ({"depth": {"B": 0}}, r"depth of 'B'"),
        ({"priors": {"B": {"conv": 0.5, "id": 0.4}}}, r"priors of 'B' sum to"),
        (
            {"priors": {"B": {"conv": 0.5, "relu": 0.5}}},
            r"priors of 'B' name unknown production 'relu'",
        ),
        ({"priors": {"Q": {"conv": 1.0}}}, r"priors name unknown nonterminal 'Q'"),
        ({"priors": {"B": {"conv": 1.0}}}, r"priors of 'B' leave out production 'id'"),
        ({"confidence": "max"}, r"confidence"),
        ({"topologies": {"Seq2": 0}}, r"topology 'Seq2'"),
        ({"primitives": ["conv", "id", "Seq2"]}, r"'Seq2' is declared more than once"),
    ],
)
def test_validation_names_the_symbol(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(GrammarError, match=match):
        build(**changes)


def test_prior_tolerance_and_spacing() -> None:
    g = build(
        productions={"S": ["Seq2 B B"], "B": ["conv", "Seq2  B B"]},
        depth={"B": 2},
        priors={"B": {"conv": 0.7 + 5e-7, "Seq2 B   B": 0.3}},
    )
    assert g.priors["B"]["conv"] == pytest.approx(0.7)


def test_dict_round_trip_is_json() -> None:
    g = recursive()
    d = json.loads(json.dumps(g.to_dict()))
    assert Grammar.from_dict(d) == g
    assert g != nb201_cell()


# -- derivations ---------------------------------------------------------------------------


@pytest.mark.parametrize("make", GRAMMARS)
def test_canonical_string_round_trip(make: Any) -> None:
    g = make()
    rng = np.random.default_rng(0)
    for _ in range(300):
        d = g.sample(rng)
        s = json.loads(json.dumps(str(d)))
        assert g.parse(s) == d
        assert str(g.parse(s)) == s


def test_canonical_form() -> None:
    g = recursive()
    s = "Sequential3(conv3x3, id, Cell(conv1x1, id))"
    d = g.parse("Sequential3( conv3x3,id ,Cell(conv1x1,  id))")
    assert str(d) == s
    assert d.children[2] == Derivation(
        "B", "Cell", (Derivation("C", "conv1x1"), Derivation("C", "id"))
    )


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Sequential3(conv3x3, id)", r"offset 0.*'Sequential3' with 2 children"),
        ("Sequential3(conv3x3, id, relu)", r"offset 25 \('relu' as 'B'\).*no production"),
        ("Sequential3(conv3x3, id, id) id", r"unexpected 'id' at offset 29"),
        ("Sequential3(conv3x3, id, id", r"expected ',' or '\)'"),
        ("Sequential3(conv3x3, id, id[)", r"unexpected character '\['"),
        ("Residual2(id, Cell)", r"topology 'Cell' needs 2 children"),
        (
            "Residual2(id, Sequential3(Residual2(id, Sequential3(id, id, id)), id, id))",
            r"exceeds the depth limits",
        ),
    ],
)
def test_parse_errors_say_where(text: str, match: str) -> None:
    with pytest.raises(GrammarError, match=match):
        recursive().parse(text)


@pytest.mark.parametrize("make", GRAMMARS)
def test_samples_respect_depth_limits(make: Any) -> None:
    g = make()
    rng = np.random.default_rng(1)
    for _ in range(300):
        counts = max_path_counts(g.sample(rng))
        assert all(counts[s] <= d for s, d in g.depth.items())


def test_sampling_is_reproducible() -> None:
    g = recursive()
    a = [str(g.sample(np.random.default_rng(7))) for _ in range(3)]
    b = [str(g.sample(np.random.default_rng(7))) for _ in range(3)]
    assert a == b


# -- priors --------------------------------------------------------------------------------


def prior_grammar(confidence: str) -> Grammar:
    return Grammar(
        {"S": ["Wrap1 E"], "E": ["a", "b", "c"]},
        "S",
        topologies={"Wrap1": 1},
        primitives=["a", "b", "c"],
        priors={"E": {"a": 0.5, "b": 0.3, "c": 0.2}},
        confidence=confidence,
    )


@pytest.mark.parametrize(("confidence", "t"), [("low", 0.5), ("medium", 1.0), ("high", 2.0)])
def test_prior_sampling_frequencies(confidence: str, t: float) -> None:
    g = prior_grammar(confidence)
    rng = np.random.default_rng(2)
    n = 20_000
    freq = Counter(g.sample(rng, use_priors=True).children[0].terminal for _ in range(n))
    w = np.array([0.5, 0.3, 0.2]) ** t
    expected = w / w.sum()
    for op, p in zip("abc", expected, strict=True):
        assert abs(freq[op] / n - p) < 4 * math.sqrt(p * (1 - p) / n)
    uniform = Counter(g.sample(rng).children[0].terminal for _ in range(3000))
    assert all(abs(uniform[op] / 3000 - 1 / 3) < 0.04 for op in "abc")


def test_log_prior_sums_production_probabilities() -> None:
    g = Grammar(
        {"S": ["Cell E E E E E E"], "E": OPS},
        "S",
        topologies={"Cell": 6},
        primitives=OPS,
        priors={"E": {"none": 0.1, "skip": 0.1, "conv1x1": 0.2, "conv3x3": 0.5, "avgpool3x3": 0.1}},
    )
    d = g.parse("Cell(conv3x3, conv3x3, skip, none, conv1x1, avgpool3x3)")
    assert g.log_prior(d) == pytest.approx(math.log(0.5**2 * 0.1**3 * 0.2))
    assert nb201_cell().log_prior(d) == pytest.approx(6 * math.log(1 / 5))


def test_log_prior_uses_depth_constrained_choice_sets() -> None:
    g = Grammar(
        {"S": ["Wrap1 S", "a", "b"]},
        "S",
        topologies={"Wrap1": 1},
        primitives=["a", "b"],
        depth={"S": 2},
        priors={"S": {"Wrap1 S": 0.5, "a": 0.3, "b": 0.2}},
    )
    # Root: all three; the inner S is at its limit, so its choices are {a, b} renormalized.
    assert g.log_prior(g.parse("Wrap1(b)")) == pytest.approx(math.log(0.5 * 0.2 / 0.5))
    assert g.log_prior(g.parse("a")) == pytest.approx(math.log(0.3))


@pytest.mark.parametrize("make", [small, nb201_cell])
def test_prior_is_a_distribution_over_the_language(make: Any) -> None:
    g = make()
    total = math.fsum(math.exp(g.log_prior(d)) for d in enumerate_all(g))
    assert total == pytest.approx(1.0)


# -- variation -----------------------------------------------------------------------------


@pytest.mark.parametrize("make", GRAMMARS)
def test_mutation_is_valid_and_different(make: Any) -> None:
    g = make()
    rng = np.random.default_rng(3)
    for _ in range(150):
        d = g.sample(rng)
        m = nas.mutate(g, d, rng)
        assert m is not None and m != d
        g.check(m)
        assert g.parse(str(m)) == m


def test_mutation_impossible_returns_none() -> None:
    g = Grammar({"S": ["Wrap1 E"], "E": ["a"]}, "S", topologies={"Wrap1": 1}, primitives=["a"])
    assert g.count() == 1
    assert nas.mutate(g, g.parse("Wrap1(a)"), np.random.default_rng(0)) is None


def differing_path(a: Derivation, b: Derivation) -> tuple[int, ...]:
    """The one path where ``a`` and ``b`` differ (they must differ in exactly one subtree)."""
    if a.production != b.production:
        return ()
    diffs = [j for j, (x, y) in enumerate(zip(a.children, b.children, strict=True)) if x != y]
    if len(diffs) != 1:
        return ()
    return (diffs[0], *differing_path(a.children[diffs[0]], b.children[diffs[0]]))


@pytest.mark.parametrize("make", GRAMMARS)
def test_crossover_swaps_same_head_subtrees(make: Any) -> None:
    g = make()
    rng = np.random.default_rng(4)
    made = 0
    for _ in range(150):
        a, b = g.sample(rng), g.sample(rng)
        child = nas.crossover(g, a, b, rng)
        if child is None:
            continue
        made += 1
        g.check(child)
        path = differing_path(a, child)
        new = subtree(child, path)
        assert subtree(a, path).symbol == new.symbol
        # The swapped-in subtree comes from b (a descendant of the differing node may coincide).
        b_subtrees = {n for _, n, _ in g.nodes(b)}
        assert any(subtree(child, path[:k]) in b_subtrees for k in range(len(path), -1, -1))
    assert made > 75


def test_crossover_impossible_returns_none() -> None:
    g = nb201_cell()
    a = g.parse("Cell(skip, skip, skip, skip, skip, skip)")
    assert nas.crossover(g, a, a, np.random.default_rng(0)) is None
    b = g.parse("Cell(skip, skip, skip, skip, skip, conv3x3)")
    child = nas.crossover(g, a, b, np.random.default_rng(0))
    assert child is not None and str(child).count("conv3x3") == 1


# -- counting ------------------------------------------------------------------------------


def test_nb201_cell_count() -> None:
    g = nb201_cell()
    assert g.count() == 15_625
    assert g.log10_count() == pytest.approx(math.log10(15_625))


@pytest.mark.parametrize("make", [small, nb201_cell])
def test_count_equals_enumeration(make: Any) -> None:
    g = make()
    every = enumerate_all(g)
    assert len(set(every)) == len(every) == g.count()
    rng = np.random.default_rng(5)
    strings = {str(d) for d in every}
    assert all(str(g.sample(rng)) in strings for _ in range(200))


def test_count_equals_enumeration_with_interacting_limits() -> None:
    # Depth limits of two mutually recursive nonterminals constrain each other along a path.
    g = Grammar(
        {"A": ["P2 A B", "x"], "B": ["Q1 A", "y", "P2 B B"]},
        "A",
        topologies={"P2": 2, "Q1": 1},
        primitives=["x", "y"],
        depth={"A": 3, "B": 2},
    )
    assert g.count() == len(enumerate_all(g)) > 50


def test_count_is_exact_big_int() -> None:
    g = recursive()
    n = g.count()
    assert isinstance(n, int) and n > 10**30
    assert g.log10_count() == pytest.approx(math.log10(n))


def test_hierarchical_nb201_count() -> None:
    g = hierarchical_nb201()
    cell = (3 + 2 * 27) ** 6
    c = cell**2 + 2 * cell**3
    down = cell + cell**2 + cell
    d0 = c * c * cell + c**3 * cell + c * c * cell * cell
    d1 = c * c * down + c**3 * down + c * c * down * down
    assert g.count() == 2 * d1 * d1 * d0 + d1 * d1 * d0 * d0
    assert g.log10_count() == pytest.approx(446.09, abs=0.01)


def test_hierarchical_nb201_round_trip_and_variation() -> None:
    g = hierarchical_nb201()
    rng = np.random.default_rng(6)
    for _ in range(40):
        d = g.sample(rng)
        assert g.parse(str(d)) == d
        m = nas.mutate(g, d, rng)
        assert m is not None and g.parse(str(m)) == m
        x = nas.crossover(g, d, g.sample(rng), rng)
        assert x is not None and g.parse(str(x)) == x
