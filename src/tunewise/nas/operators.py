"""Subtree mutation and crossover of derivations (Schrodi et al. 2023; ALGORITHMS.md §7).

**Mutation** picks uniformly one node whose nonterminal has more than one production — the root
included when the start symbol has several (resampling the root is a fresh sample; the paper's code
excludes it, but then a start symbol with alternatives could never change its top-level topology) —
and resamples its subtree under the depth limits given its path. Up to 50 tries until the child
differs; ``None`` if none did (e.g. a grammar with one derivation).

**Crossover** picks a random node of ``a`` and a random node of ``b`` with the same nonterminal
whose subtree fits the depth limits at that position, and returns ``a`` with the subtree
replaced. Up to 50 tries until the child differs from ``a``; ``None`` if none did (no
compatible subtree, or only identical ones). ``crossover(a, a, rng)`` is the paper's self-crossover.
"""

from __future__ import annotations

import numpy as np

from tunewise.nas.derivation import Derivation
from tunewise.nas.grammar import Grammar

TRIES = 50


def replace(tree: Derivation, path: tuple[int, ...], new: Derivation) -> Derivation:
    """``tree`` with the subtree at ``path`` (child indices from the root) replaced by ``new``."""
    if not path:
        return new
    j = path[0]
    kids = list(tree.children)
    kids[j] = replace(kids[j], path[1:], new)
    return Derivation(tree.symbol, tree.terminal, tuple(kids))


def subtree(tree: Derivation, path: tuple[int, ...]) -> Derivation:
    """The subtree of ``tree`` at ``path``."""
    for j in path:
        tree = tree.children[j]
    return tree


def mutate(
    grammar: Grammar, d: Derivation, rng: np.random.Generator, *, use_priors: bool = False
) -> Derivation | None:
    """A different derivation with one subtree resampled, or None after 50 failed tries."""
    grammar.check(d)
    cands = [(p, n, c) for p, n, c in grammar.nodes(d) if len(grammar.productions[n.symbol]) > 1]
    if not cands:
        return None
    for _ in range(TRIES):
        path, node, counts = cands[int(rng.integers(len(cands)))]
        child = replace(d, path, grammar._sample(node.symbol, counts, rng, use_priors))
        if child != d:
            return child
    return None


def _max_counts(grammar: Grammar, tree: Derivation) -> dict[str, int]:
    """Per depth-limited nonterminal, its most appearances on one path of ``tree``."""
    out: dict[str, int] = {}
    for kid in tree.children:
        for sym, n in _max_counts(grammar, kid).items():
            out[sym] = max(out.get(sym, 0), n)
    if tree.symbol in grammar.depth:
        out[tree.symbol] = out.get(tree.symbol, 0) + 1
    return out


def _fits(grammar: Grammar, counts: tuple[int, ...], tree: Derivation) -> bool:
    # counts include the node being replaced (same symbol as tree's root, counted in _max_counts).
    limited = sorted(grammar.depth)
    for sym, n in _max_counts(grammar, tree).items():
        above = counts[limited.index(sym)] - (1 if sym == tree.symbol else 0)
        if above + n > grammar.depth[sym]:
            return False
    return True


def crossover(
    grammar: Grammar, a: Derivation, b: Derivation, rng: np.random.Generator
) -> Derivation | None:
    """``a`` with a random subtree swapped for a same-nonterminal subtree of ``b``, or None."""
    grammar.check(a)
    grammar.check(b)
    nodes_a = list(grammar.nodes(a))
    nodes_b = [n for _, n, _ in grammar.nodes(b)]
    for _ in range(TRIES):
        path, node, counts = nodes_a[int(rng.integers(len(nodes_a)))]
        fits = [
            n
            for n in nodes_b
            if n.symbol == node.symbol and n != node and _fits(grammar, counts, n)
        ]
        if fits:
            child = replace(a, path, fits[int(rng.integers(len(fits)))])
            if child != a:
                return child
    return None
