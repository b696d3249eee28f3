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

from dataclasses import dataclass, field

import numpy as np

from tunewise.nas.derivation import Derivation
from tunewise.nas.grammar import Counts, Grammar
from tunewise.nas.memo import IdentityMemo

TRIES = 50
TABLES = 512
"""Node tables kept (least recently used dropped): an evolution draws ~50 children per parent."""

Path = tuple[int, ...]
Node = tuple[Path, Derivation, Counts]


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


@dataclass
class _Table:
    """What the operators read of one derivation, computed once: its nodes in pre-order
    (:meth:`Grammar.nodes`), those with alternatives, and per nonterminal its subtrees with their
    most appearances of each depth-limited nonterminal on one path."""

    nodes: list[Node]
    mutable: list[Node]
    by_symbol: dict[str, list[tuple[Derivation, Counts]]]
    fitting: dict[tuple[str, Counts], list[Derivation]] = field(default_factory=dict)


_TABLES: IdentityMemo[_Table] = IdentityMemo(TABLES)


def _table(grammar: Grammar, d: Derivation) -> _Table:
    """The node table of ``d``, cached by identity."""
    hit = _TABLES.get(grammar, d)
    if hit is None:
        hit = _walk(grammar, d)
        _TABLES.put((grammar, d), hit)
    return hit


def _walk(grammar: Grammar, tree: Derivation) -> _Table:
    """One pre-order pass over ``tree``: the nodes as :meth:`Grammar.nodes` yields them, and per
    node the most appearances of each depth-limited nonterminal on one path down from it (a
    vector over the grammar's sorted depth-limited nonterminals)."""
    slot = {sym: i for i, sym in enumerate(sorted(grammar.depth))}
    zeros = tuple(0 for _ in slot)
    several = {nt for nt, rhss in grammar.productions.items() if len(rhss) > 1}
    nodes: list[Node] = []
    mutable: list[Node] = []
    profiles: list[tuple[Derivation, Counts]] = []

    def visit(node: Derivation, path: Path, counts: Counts) -> Counts:
        entry = (path, node, counts)
        nodes.append(entry)
        if node.symbol in several:
            mutable.append(entry)
        at = len(profiles)
        profiles.append((node, zeros))
        best = zeros
        for j, kid in enumerate(node.children):
            sub = visit(kid, (*path, j), grammar._step(counts, kid.symbol) or ())
            best = tuple(map(max, best, sub))
        s = slot.get(node.symbol)
        if s is not None:
            best = (*best[:s], best[s] + 1, *best[s + 1 :])
        profiles[at] = (node, best)
        return best

    visit(tree, (), grammar._root_counts())
    by_symbol: dict[str, list[tuple[Derivation, Counts]]] = {}
    for node, best in profiles:
        by_symbol.setdefault(node.symbol, []).append((node, best))
    return _Table(nodes, mutable, by_symbol)


def _fitting(grammar: Grammar, table: _Table, symbol: str, counts: Counts) -> list[Derivation]:
    """The subtrees of ``table``'s derivation with root ``symbol`` that fit the depth limits in
    place of a node with ``counts`` (which count that node itself), in pre-order; cached per
    (symbol, counts)."""
    key = (symbol, counts)
    hit = table.fitting.get(key)
    if hit is None:
        limited = sorted(grammar.depth)
        depth = [grammar.depth[sym] for sym in limited]
        own = limited.index(symbol) if symbol in grammar.depth else -1
        above = [c - (1 if s == own else 0) for s, c in enumerate(counts)]
        hit = [
            node
            for node, most in table.by_symbol.get(symbol, ())
            if all(n == 0 or a + n <= lim for a, n, lim in zip(above, most, depth, strict=True))
        ]
        table.fitting[key] = hit
    return hit


def mutate(
    grammar: Grammar,
    d: Derivation,
    rng: np.random.Generator,
    *,
    use_priors: bool = False,
    check: bool = True,
) -> Derivation | None:
    """A different derivation with one subtree resampled, or None after 50 failed tries.

    ``check=False`` skips validating ``d`` against the grammar, for a derivation known to derive
    in it (parsed by it or made by its sampler and operators, which keep to its limits).
    """
    if check:
        grammar.check(d)
    cands = _table(grammar, d).mutable
    if not cands:
        return None
    for _ in range(TRIES):
        path, node, counts = cands[int(rng.integers(len(cands)))]
        child = replace(d, path, grammar._sample(node.symbol, counts, rng, use_priors))
        if child != d:
            return child
    return None


def crossover(
    grammar: Grammar,
    a: Derivation,
    b: Derivation,
    rng: np.random.Generator,
    *,
    check: bool = True,
) -> Derivation | None:
    """``a`` with a random subtree swapped for a same-nonterminal subtree of ``b``, or None.

    ``check=False``: as for :func:`mutate`, for ``a`` and ``b``.
    """
    if check:
        grammar.check(a)
        grammar.check(b)
    nodes_a = _table(grammar, a).nodes
    table_b = _table(grammar, b)
    for _ in range(TRIES):
        path, node, counts = nodes_a[int(rng.integers(len(nodes_a)))]
        fits = [n for n in _fitting(grammar, table_b, node.symbol, counts) if n != node]
        if fits:
            child = replace(a, path, fits[int(rng.integers(len(fits)))])
            if child != a:
                return child
    return None
