"""Architectures as node-labelled DAGs, for graph kernels (ALGORITHMS.md §7 and §12).

A derivation compiles into a network by replacing each edge of a topology with the sub-network of
the child that fills it (:mod:`tunewise.nas.network`). Graph kernels compare *operations*, so here
the network is drawn with operations as nodes (the line graph of the compiled edge-DAG):

- node 0 is labelled ``"input"``, the last node ``"output"``; in between, one node per primitive of
  the derivation (but zero ones, below), labelled with the primitive's name, in pre-order;
- an operation's node sits between its edge's endpoints: ``a -> b`` when ``a``'s edge ends at the
  junction where ``b``'s starts, ``input -> a`` when ``a`` starts at the network input and
  ``a -> output`` when it ends at the network output. Junctions (summing nodes of a topology) are
  not nodes of their own; topology names vanish from the full graph.

**Zero and identity primitives.** An operation that outputs zeros cuts its edge
(:data:`ZERO_PRIMITIVES`: NAS-Bench-201's ``none``, the hierarchical grammar's ``zero``), so it is
no node, and neither is any operation left off every input-to-output path by the cuts (its value
is zero or unused): the graph is what the network computes, and a cell whose output is cut off is
just ``input`` and ``output``. On NAS-Bench-201 this matters: a GP on 50 cells ranked held-out
CIFAR-10 cells with Kendall tau 0.69 (median of 4 splits) against 0.52 with ``none`` kept as nodes.
Identity-like primitives stay nodes: ``skip_connect``/``id`` is a node labelled with its name, as
every other primitive (pass ``zero=()`` to keep zero operations as nodes too).

:func:`level_graphs` gives the coarse-to-fine views the hierarchical WL kernel sums over: level
``l`` expands derivation nodes at depth ``<= l`` (the root at depth 0) and draws every subtree
rooted at depth ``l + 1`` that is a topology as one *coarse* node labelled with its topology's
name; primitives are drawn as themselves at any level.

Pure Python (no torch): the topologies' edge lists are :data:`TOPOLOGY_EDGES`, kept equal to
:data:`tunewise.nas.TOPOLOGIES` by a test; pass ``topologies=`` for others.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from tunewise.nas.derivation import Derivation, RawTree, parse_raw
from tunewise.nas.errors import GrammarError
from tunewise.nas.grammar import Grammar
from tunewise.nas.memo import IdentityMemo


@dataclass(frozen=True)
class LabelledGraph:
    """A directed node-labelled graph: node ``i`` has label ``labels[i]``; ``edges`` are
    ``(source, target)`` pairs, sorted and without duplicates."""

    labels: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]


Edges = tuple[tuple[int, int], ...]


def _linear(k: int) -> Edges:
    return tuple((i, i + 1) for i in range(k))


def _diamond(k: int) -> Edges:
    out = 2 * k - 1
    edges = [(0, 1), (0, 2)]
    for i in range(2, k):
        edges += [(2 * i - 3, 2 * i - 1), (2 * i - 2, 2 * i)]
    return (*edges, (2 * k - 3, out), (2 * k - 2, out))


TOPOLOGY_EDGES: dict[str, Edges] = {
    **{f"Linear{k}": _linear(k) for k in range(1, 7)},
    **{f"Sequential{k}": _linear(k) for k in range(1, 7)},
    "Linear1b": _linear(1),
    "Residual2": ((0, 1), (0, 2), (1, 2)),
    "Residual3": ((0, 1), (1, 2), (0, 3), (2, 3)),
    **{f"Diamond{k}": _diamond(k) for k in (2, 3, 4)},
    "Cell": ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)),
}
"""Edge lists of the ready topologies (nodes 0..n, 0 the input, n the output), by name."""

ZERO_PRIMITIVES: frozenset[str] = frozenset({"none", "zero"})
"""The ready primitives whose output is zero (an absent edge), as :data:`tunewise.nas.PRIMITIVES`
declares them."""


class Operations(NamedTuple):
    """The live operations of a compiled derivation, in pre-order: ``labels[i]`` runs from junction
    ``sources[i]`` to junction ``targets[i]`` (0: the network input, 1: its output). Its line graph
    is :func:`architecture_graph`'s graph; :func:`tunewise.models.wl.wl_histogram` reads either."""

    labels: tuple[str, ...]
    sources: tuple[int, ...]
    targets: tuple[int, ...]


class _Node(NamedTuple):
    name: str
    children: list[_Node]


Tree = Derivation | RawTree | _Node
_TOKENS = re.compile(r"[A-Za-z0-9_.\-]+|[(),]")


def _tree(derivation: str | Derivation) -> Tree:
    """A string is read by its bracket syntax only (what the graph needs: terminals and
    children), not matched against the grammar, which costs several times more; a malformed
    one raises :func:`~tunewise.nas.derivation.parse_raw`'s GrammarError."""
    if not isinstance(derivation, str):
        return derivation
    top: list[_Node] = []
    stack = [top]
    try:
        for tok in _TOKENS.findall(derivation):
            if tok == "(":
                stack.append(stack[-1][-1].children)
            elif tok == ")":
                stack.pop()
            elif tok != ",":
                stack[-1].append(_Node(tok, []))
    except IndexError:
        top = []
    if len(stack) != 1 or len(top) != 1:
        return parse_raw(derivation)  # raises, naming the offset
    return top[0]


def _name(d: Tree) -> str:
    return d.terminal if isinstance(d, Derivation) else d.name


class _Drawer:
    """Expands a derivation into operation nodes on junctions, down to a depth cut-off."""

    def __init__(self, grammar: Grammar, topologies: Mapping[str, Sequence[tuple[int, int]]]):
        self.grammar = grammar
        self.topologies = topologies
        self.labels: list[str] = []
        self.ops: list[tuple[int, int]] = []  # per operation node: (source, target) junction
        self.junctions = 2  # 0: the network input, 1: its output
        # per expanded topology below the root, in pre-order: (depth, first operation, end
        # operation, its name, source, target)
        self.subtrees: list[tuple[int, int, int, str, int, int]] = []

    def draw(self, d: Tree, src: int, dst: int, depth: int, cut: int | None) -> None:
        name = _name(d)
        if not d.children or (cut is not None and depth > cut):
            self.labels.append(name)
            self.ops.append((src, dst))
            return
        edges = _edges_of(self.topologies, name, len(d.children))
        n = max(v for _, v in edges)
        where = {0: src, n: dst}
        for node in range(1, n):
            where[node] = self.junctions
            self.junctions += 1
        first = len(self.labels)
        at = len(self.subtrees)
        if depth > 0:
            self.subtrees.append((depth, first, first, name, src, dst))
        children: Sequence[Tree] = d.children
        for (u, v), child in zip(edges, children, strict=True):
            self.draw(child, where[u], where[v], depth + 1, cut)
        if depth > 0:
            self.subtrees[at] = (depth, first, len(self.labels), name, src, dst)

    def level(self, cut: int) -> tuple[list[str], list[tuple[int, int]]]:
        """Labels and junctions of the operations with every topology at depth ``cut + 1``
        drawn as one coarse node (from the full drawing)."""
        labels: list[str] = []
        ops: list[tuple[int, int]] = []
        i = 0
        for depth, first, end, name, src, dst in self.subtrees:
            if depth != cut + 1:
                continue
            labels += self.labels[i:first]
            ops += self.ops[i:first]
            labels.append(name)
            ops.append((src, dst))
            i = end
        return labels + self.labels[i:], ops + self.ops[i:]

    def graph(self, zero: Collection[str]) -> LabelledGraph:
        """The line graph of the live operations (module docstring), in pre-order."""
        return _line_graph(self.labels, self.ops, zero)


# A subtree drawn on an edge from local junction 0 to local junction 1, its own junctions
# numbered 2..junctions-1: (labels, sources, targets) of its live operations, its number of
# junctions, and whether any path runs from 0 to 1. Live within the subtree (on a 0 -> 1 path of
# kept operations) is live in the network exactly when the subtree's edge is: a subtree's inner
# junctions meet the rest only through its ends, as every topology runs from node 0 (no edge in)
# to its last node (no edge out).
Fragment = tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...], int, bool]
_CUT: Fragment = ((), (), (), 2, False)
FRAGMENTS = 8192
"""Fragments of subtrees kept (least recently used dropped): a mutated or crossed-over child
shares all but one root path with its parent, so its drawing reuses the parent's fragments.
(65536 drew a child 4x faster in isolation but left a hierarchical NB201 ask at 200 as slow.)"""
_FRAGMENTS: IdentityMemo[Fragment] = IdentityMemo(FRAGMENTS)


def _fragment(
    d: Tree,
    topologies: Mapping[str, Sequence[tuple[int, int]]],
    zero: Collection[str],
    root: bool,
) -> Fragment:
    """The fragment of ``d`` (above); derivation subtrees below the root are cached by identity."""
    cache = isinstance(d, Derivation) and not root
    if cache:
        hit = _FRAGMENTS.get(d, topologies, zero)
        if hit is not None:
            return hit
    name = _name(d)
    if not d.children:
        return _CUT if name in zero else ((name,), (0,), (1,), 2, True)
    edges = _edges_of(topologies, name, len(d.children))
    n = max(v for _, v in edges)
    children: Sequence[Tree] = d.children
    kids = [_fragment(c, topologies, zero, False) for c in children]
    fwd, bwd = {0}, {n}
    for reached, a, b in ((fwd, 0, 1), (bwd, 1, 0)):
        changed = True
        while changed:
            changed = False
            for ends, kid in zip(edges, kids, strict=True):
                if kid[4] and ends[a] in reached and ends[b] not in reached:
                    reached.add(ends[b])
                    changed = True
    labels: list[str] = []
    sources: list[int] = []
    targets: list[int] = []
    junctions = n + 1  # node 0 -> 0, node n -> 1, node k -> k + 1
    for (u, v), (kl, ks, kt, kj, _) in zip(edges, kids, strict=True):
        if not kl or u not in fwd or v not in bwd:
            continue
        # the child's junctions here: its ends, then its own after those numbered so far
        at = [
            0 if u == 0 else 1 if u == n else u + 1,
            0 if v == 0 else 1 if v == n else v + 1,
            *range(junctions, junctions + kj - 2),
        ]
        labels += kl
        sources += map(at.__getitem__, ks)
        targets += map(at.__getitem__, kt)
        junctions += kj - 2
    out: Fragment = (tuple(labels), tuple(sources), tuple(targets), junctions, n in fwd)
    if cache:
        _FRAGMENTS.put((d, topologies, zero), out)
    return out


def _edges_of(
    topologies: Mapping[str, Sequence[tuple[int, int]]], name: str, k: int
) -> Sequence[tuple[int, int]]:
    edges = topologies.get(name)
    if edges is None:
        raise GrammarError(
            f"topology {name!r} has no edge list: pass topologies={{...}} "
            f"(known: {sorted(topologies)})"
        )
    if len(edges) != k:
        raise GrammarError(f"topology {name!r} has {len(edges)} edges, the derivation {k} children")
    return edges


def _runs_forward(topologies: Mapping[str, Sequence[tuple[int, int]]]) -> bool:
    """Whether every topology runs from node 0 (no edge in) to its last node (no edge out)."""
    for edges in topologies.values():
        n = max((v for _, v in edges), default=0)
        if any(v == 0 or u == n for u, v in edges):
            return False
    return True


def operations(
    grammar: Grammar,
    derivation: str | Derivation,
    *,
    topologies: Mapping[str, Sequence[tuple[int, int]]] | None = None,
    zero: Collection[str] = ZERO_PRIMITIVES,
) -> Operations:
    """The live operations of ``derivation``'s compiled network (arguments as for
    :func:`architecture_graph`, whose graph is their line graph), without building its edges.

    Subtrees of a :class:`Derivation` are drawn once and reused (bounded cache), which makes a
    child of mutation or crossover cost little more than its changed path.
    """
    tops = TOPOLOGY_EDGES if topologies is None else topologies
    tree = _tree(derivation)
    if tops is TOPOLOGY_EDGES or _runs_forward(tops):
        labels, sources, targets, _, _ = _fragment(tree, tops, zero, True)
        return Operations(labels, sources, targets)
    drawer = _Drawer(grammar, tops)
    drawer.draw(tree, 0, 1, 0, None)
    live = _live(drawer.labels, drawer.ops, zero)
    return Operations(
        tuple(drawer.labels[i] for i in live),
        tuple(drawer.ops[i][0] for i in live),
        tuple(drawer.ops[i][1] for i in live),
    )


def _live(
    labels: Sequence[str], ops: Sequence[tuple[int, int]], zero: Collection[str]
) -> list[int]:
    """Indices of the live operations (module docstring), in their order."""
    kept = [i for i, lab in enumerate(labels) if lab not in zero]
    # Live: the operation's source is reached from the input and its target reaches the output
    # through kept operations.
    fwd, bwd = {0}, {1}
    for reached, order, a, b in ((fwd, kept, 0, 1), (bwd, kept[::-1], 1, 0)):
        changed = True
        while changed:  # pre-order runs along the edges: one or two passes
            changed = False
            for i in order:
                ends = ops[i]
                if ends[a] in reached and ends[b] not in reached:
                    reached.add(ends[b])
                    changed = True
    return [i for i in kept if ops[i][0] in fwd and ops[i][1] in bwd]


def line_graph(ops: Operations) -> LabelledGraph:
    """The line graph of live operations: ``a -> b`` where ``a`` ends at ``b``'s source."""
    node_out = len(ops.labels) + 1
    starting: dict[int, list[int]] = {}
    for k, src in enumerate(ops.sources):
        starting.setdefault(src, []).append(k + 1)
    edges: set[tuple[int, int]] = {(0, j) for j in starting.get(0, ())}
    for k, t in enumerate(ops.targets):
        if t == 1:
            edges.add((k + 1, node_out))
        else:
            edges.update((k + 1, j) for j in starting.get(t, ()))
    return LabelledGraph(("input", *ops.labels, "output"), tuple(sorted(edges)))


def _line_graph(
    labels: Sequence[str], ops: Sequence[tuple[int, int]], zero: Collection[str]
) -> LabelledGraph:
    """Operations ``labels[i]`` from junction ``ops[i][0]`` to ``ops[i][1]`` (0: the input, 1: the
    output) as a graph of the live ones (module docstring), in their order."""
    live = _live(labels, ops, zero)
    return line_graph(
        Operations(
            tuple(labels[i] for i in live),
            tuple(ops[i][0] for i in live),
            tuple(ops[i][1] for i in live),
        )
    )


def architecture_graph(
    grammar: Grammar,
    derivation: str | Derivation,
    *,
    topologies: Mapping[str, Sequence[tuple[int, int]]] | None = None,
    zero: Collection[str] = ZERO_PRIMITIVES,
) -> LabelledGraph:
    """The compiled network of ``derivation`` with operations as nodes (see the module docstring).

    ``derivation``: a canonical string or a :class:`Derivation`. A string is read by its bracket
    syntax, not checked against ``grammar`` (values from a study's store were checked when
    stored; call ``grammar.parse`` first for others). ``topologies``: topology name -> edge list,
    default :data:`TOPOLOGY_EDGES`; ``zero``: the primitives that cut their edge (dropped).
    """
    return line_graph(operations(grammar, derivation, topologies=topologies, zero=zero))


def max_level(grammar: Grammar) -> int:
    """The deepest depth at which any derivation of ``grammar`` has a topology node (root = 0).

    Bounded by the grammar's depth limits (a recursive grammar must have them); a production whose
    subtree cannot terminate may make this an over-estimate, which only repeats the full graph.
    """
    memo: dict[tuple[str, tuple[tuple[str, int], ...]], int] = {}

    def deepest(sym: str, counts: tuple[tuple[str, int], ...]) -> int:
        key = (sym, counts)
        hit = memo.get(key)
        if hit is not None:
            return hit
        best = -1
        for rhs in grammar.productions[sym]:
            kids = rhs[1:]
            if not kids:
                continue
            below = 0
            for kid in kids:
                c = dict(counts)
                if kid in grammar.depth:
                    if c.get(kid, 0) >= grammar.depth[kid]:
                        below = -2  # not allowed here
                        break
                    c[kid] = c.get(kid, 0) + 1
                below = max(below, 1 + deepest(kid, tuple(sorted(c.items()))))
            if below >= 0:
                best = max(best, below)
        memo[key] = best if best >= 0 else -1
        return memo[key]

    start = {grammar.start: 1} if grammar.start in grammar.depth else {}
    return max(deepest(grammar.start, tuple(sorted(start.items()))), 0)


def level_graphs(
    grammar: Grammar,
    derivation: str | Derivation,
    *,
    levels: int | None = None,
    topologies: Mapping[str, Sequence[tuple[int, int]]] | None = None,
    zero: Collection[str] = ZERO_PRIMITIVES,
) -> list[LabelledGraph]:
    """The graphs of ``derivation`` expanded down to level ``l = 0..L`` (module docstring).

    ``L`` defaults to :func:`max_level` of the grammar, the same for every derivation (so the
    hierarchical kernel has a fixed number of blocks), and the last graph equals
    :func:`architecture_graph`'s; shallower derivations repeat their full graph at deeper levels.
    """
    top = max_level(grammar) if levels is None else levels
    drawer = _Drawer(grammar, TOPOLOGY_EDGES if topologies is None else topologies)
    drawer.draw(_tree(derivation), 0, 1, 0, None)
    return [_line_graph(*drawer.level(cut), zero) for cut in range(top)] + [drawer.graph(zero)]
