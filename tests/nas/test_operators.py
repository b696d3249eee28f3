"""Mutation and crossover with cached node tables against a plain re-implementation (the oracle).

The operators cache per derivation its nodes, subtrees and depth profile, and skip the grammar
check on request; the children and the random stream must stay those of the direct algorithm.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tunewise import nas
from tunewise.nas import Derivation, Grammar, GrammarError
from tunewise.nas.grammars import hierarchical_nb201
from tunewise.nas.operators import replace

from .test_grammar import GRAMMARS


def oracle_mutate(
    g: Grammar, d: Derivation, rng: np.random.Generator, use_priors: bool = False
) -> Derivation | None:
    cands = [(p, n, c) for p, n, c in g.nodes(d) if len(g.productions[n.symbol]) > 1]
    if not cands:
        return None
    for _ in range(50):
        path, node, counts = cands[int(rng.integers(len(cands)))]
        child = replace(d, path, g._sample(node.symbol, counts, rng, use_priors))
        if child != d:
            return child
    return None


def most_on_a_path(g: Grammar, tree: Derivation) -> dict[str, int]:
    out: dict[str, int] = {}
    for kid in tree.children:
        for sym, n in most_on_a_path(g, kid).items():
            out[sym] = max(out.get(sym, 0), n)
    if tree.symbol in g.depth:
        out[tree.symbol] = out.get(tree.symbol, 0) + 1
    return out


def fits(g: Grammar, counts: tuple[int, ...], tree: Derivation) -> bool:
    limited = sorted(g.depth)
    for sym, n in most_on_a_path(g, tree).items():
        above = counts[limited.index(sym)] - (1 if sym == tree.symbol else 0)
        if above + n > g.depth[sym]:
            return False
    return True


def oracle_crossover(
    g: Grammar, a: Derivation, b: Derivation, rng: np.random.Generator
) -> Derivation | None:
    nodes_a = list(g.nodes(a))
    nodes_b = [n for _, n, _ in g.nodes(b)]
    for _ in range(50):
        path, node, counts = nodes_a[int(rng.integers(len(nodes_a)))]
        ok = [n for n in nodes_b if n.symbol == node.symbol and n != node and fits(g, counts, n)]
        if ok:
            child = replace(a, path, ok[int(rng.integers(len(ok)))])
            if child != a:
                return child
    return None


def rebuilt(d: Derivation) -> str:
    """The canonical string computed afresh (no cached strings of shared subtrees)."""
    if not d.children:
        return d.terminal
    return f"{d.terminal}({', '.join(rebuilt(c) for c in d.children)})"


@pytest.mark.parametrize("make", [*GRAMMARS, hierarchical_nb201])
@pytest.mark.parametrize("check", [True, False])
def test_operators_match_the_oracle_and_its_random_stream(make: Any, check: bool) -> None:
    g = make()
    rng = np.random.default_rng(11)
    pool = [g.sample(rng) for _ in range(6)]
    for step in range(120 if make is not hierarchical_nb201 else 40):
        a = pool[int(rng.integers(len(pool)))]  # parents repeat: cached tables are reused
        b = pool[int(rng.integers(len(pool)))]
        seed = 1000 + step
        if step % 2:
            got = nas.crossover(g, a, b, np.random.default_rng(seed), check=check)
            want = oracle_crossover(g, a, b, np.random.default_rng(seed))
        else:
            got = nas.mutate(g, a, np.random.default_rng(seed), check=check)
            want = oracle_mutate(g, a, np.random.default_rng(seed))
        assert got == want
        if got is not None:
            assert str(got) == rebuilt(got) == str(g.parse(str(got)))
            pool[int(rng.integers(len(pool)))] = got


def test_check_false_skips_only_the_check() -> None:
    g = GRAMMARS[0]()
    wrong = Derivation("S", "Cell", tuple(Derivation("E", "nope") for _ in range(6)))
    with pytest.raises(GrammarError):
        nas.mutate(g, wrong, np.random.default_rng(0))
    with pytest.raises(GrammarError):
        nas.crossover(g, g.sample(np.random.default_rng(0)), wrong, np.random.default_rng(0))
    d = g.sample(np.random.default_rng(1))
    assert nas.mutate(g, d, np.random.default_rng(2), check=False) == oracle_mutate(
        g, d, np.random.default_rng(2)
    )


def test_values_an_evolution_makes_do_not_evict_the_parsed_ones() -> None:
    from tunewise.space.architecture import PARSE_CACHE, Architecture

    arch = Architecture(GRAMMARS[1]())
    rng = np.random.default_rng(5)
    big = next(d for d in iter(lambda: arch.grammar.sample(rng), None) if d.size() > 40)
    text = str(big)  # a string from outside, as read from the store
    parsed = arch.parse(text)
    made = arch.sample(rng, PARSE_CACHE + 10)
    assert text not in made
    assert arch.parse(text) is parsed
