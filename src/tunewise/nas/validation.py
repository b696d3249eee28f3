"""Validation of a :class:`~tunewise.nas.grammar.Grammar`; each error names the symbol at fault.

Run by the grammar's constructor: :func:`check_structure` before the depth-limited tables exist,
:func:`check_language` after (it uses the grammar's depth-limited counts).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from tunewise.nas.derivation import NAME
from tunewise.nas.errors import GrammarError

Counts = tuple[int, ...]


class Grammar(Protocol):
    """What validation reads of a :class:`tunewise.nas.Grammar` (typed here, so that this module
    does not import the grammar that calls it)."""

    @property
    def productions(self) -> Mapping[str, tuple[tuple[str, ...], ...]]: ...
    @property
    def start(self) -> str: ...
    @property
    def topologies(self) -> Mapping[str, int]: ...
    @property
    def primitives(self) -> tuple[str, ...]: ...
    @property
    def depth(self) -> Mapping[str, int]: ...
    @property
    def priors(self) -> Mapping[str, Mapping[str, float]]: ...
    @property
    def confidence(self) -> str: ...
    def _root_counts(self) -> Counts: ...
    def _step(self, counts: Counts, sym: str) -> Counts | None: ...
    def _count(self, sym: str, counts: Counts) -> int: ...
    def _choices(self, sym: str, counts: Counts) -> tuple[int, ...]: ...


CONFIDENCES: tuple[str, ...] = ("low", "medium", "high")
PRIOR_TOL = 1e-6


def check_structure(g: Grammar) -> None:
    """Names, arities, undefined/unreachable symbols, unlimited cycles, priors."""
    nts, topo, prims = set(g.productions), g.topologies, set(g.primitives)
    if g.confidence not in CONFIDENCES:
        raise GrammarError(f"confidence must be one of {CONFIDENCES}, got {g.confidence!r}")
    for name in [*nts, *topo, *prims]:
        if not NAME.fullmatch(name):
            raise GrammarError(
                f"symbol {name!r}: names may use only letters, digits, '_', '.', '-'"
            )
    for name, k in topo.items():
        if not isinstance(k, int) or k < 1:
            raise GrammarError(f"topology {name!r}: arity must be an integer >= 1, got {k!r}")
    for name in sorted((nts & (set(topo) | prims)) | (set(topo) & prims)):
        raise GrammarError(
            f"symbol {name!r} is declared more than once (nonterminal/topology/primitive)"
        )
    if g.start not in nts:
        raise GrammarError(f"start symbol {g.start!r} is not a nonterminal (no productions)")
    for nt, rhss in g.productions.items():
        if not rhss:
            raise GrammarError(f"nonterminal {nt!r} has no productions")
        for rhs in rhss:
            head, kids, text = rhs[0], rhs[1:], " ".join(rhs)
            if head in nts:
                raise GrammarError(
                    f"nonterminal {nt!r}: right-hand side {text!r} starts with nonterminal "
                    f"{head!r}, not a terminal"
                )
            if head not in topo and head not in prims:
                raise GrammarError(
                    f"nonterminal {nt!r}: {text!r} starts with unknown terminal {head!r}"
                )
            arity = topo.get(head, 0)
            if len(kids) != arity:
                kind = f"topology of arity {arity}" if arity else "primitive (no children)"
                raise GrammarError(
                    f"nonterminal {nt!r}: {text!r} gives {head!r} {len(kids)} children, "
                    f"but it is a {kind}"
                )
            for kid in kids:
                if kid not in nts:
                    what = (
                        "a terminal; children must be nonterminals"
                        if kid in topo or kid in prims
                        else "undefined"
                    )
                    raise GrammarError(f"nonterminal {kid!r} in {nt!r} -> {text!r} is {what}")
        if len(set(rhss)) != len(rhss):
            raise GrammarError(f"nonterminal {nt!r} lists a production twice")
    for nt, d in g.depth.items():
        if nt not in nts:
            raise GrammarError(f"depth names unknown nonterminal {nt!r}")
        if not isinstance(d, int) or d < 1:
            raise GrammarError(f"depth of {nt!r} must be an integer >= 1, got {d!r}")
    seen, stack = {g.start}, [g.start]
    while stack:
        for rhs in g.productions[stack.pop()]:
            for kid in rhs[1:]:
                if kid not in seen:
                    seen.add(kid)
                    stack.append(kid)
    for nt in g.productions:
        if nt not in seen:
            raise GrammarError(f"nonterminal {nt!r} is unreachable from start {g.start!r}")
    check_cycles(g)
    check_priors(g)


def check_cycles(g: Grammar) -> None:
    """Every cycle must pass a depth-limited nonterminal (else the language is infinite)."""
    # Every cycle must pass a depth-limited nonterminal: DFS over the unlimited ones only.
    free = [nt for nt in g.productions if nt not in g.depth]
    state: dict[str, int] = {}

    def visit(nt: str, path: list[str]) -> None:
        state[nt] = 1
        for rhs in g.productions[nt]:
            for kid in rhs[1:]:
                if kid in g.depth:
                    continue
                if state.get(kid) == 1:
                    cycle = " -> ".join([*path[path.index(kid) :], kid])
                    raise GrammarError(
                        f"nonterminal {kid!r} is recursive ({cycle}) without a depth limit; "
                        f"give depth={{{kid!r}: n}}"
                    )
                if kid not in state:
                    visit(kid, [*path, kid])
        state[nt] = 2

    for nt in free:
        if nt not in state:
            visit(nt, [nt])


def check_priors(g: Grammar) -> None:
    """Priors: known nonterminals and productions, each > 0, covering all, summing to 1."""
    for nt, probs in g.priors.items():
        if nt not in g.productions:
            raise GrammarError(f"priors name unknown nonterminal {nt!r}")
        known = {" ".join(r) for r in g.productions[nt]}
        for key, p in probs.items():
            if " ".join(key.split()) not in known:
                raise GrammarError(f"priors of {nt!r} name unknown production {key!r}")
            if not p > 0:
                raise GrammarError(f"priors of {nt!r}: {key!r} has probability {p!r}; must be > 0")
        given = {" ".join(k.split()) for k in probs}
        for rhs in sorted(known - given):
            raise GrammarError(f"priors of {nt!r} leave out production {rhs!r}")
        total = sum(probs.values())
        if abs(total - 1.0) > PRIOR_TOL:
            raise GrammarError(f"priors of {nt!r} sum to {total!r}, not 1")


def check_language(g: Grammar) -> None:
    """Non-empty language; every nonterminal terminates and appears in some derivation."""
    productive: set[str] = set()
    changed = True
    while changed:
        changed = False
        for nt, rhss in g.productions.items():
            if nt not in productive and any(all(k in productive for k in r[1:]) for r in rhss):
                productive.add(nt)
                changed = True
    for nt in g.productions:  # the most specific culprit first: a non-start symbol
        if nt not in productive and nt != g.start:
            raise GrammarError(
                f"nonterminal {nt!r} cannot terminate: no derivation reaches primitives"
            )
    if g.start not in productive:
        raise GrammarError(f"the language is empty: start {g.start!r} derives no finite tree")
    root = g._root_counts()
    if g._count(g.start, root) == 0:
        raise GrammarError(
            f"the language is empty: start {g.start!r} has no derivation within the depth limits"
        )
    used, stack, seen = {g.start}, [(g.start, root)], {(g.start, root)}
    while stack:
        sym, counts = stack.pop()
        for i in g._choices(sym, counts):
            for kid in g.productions[sym][i][1:]:
                s = (kid, g._step(counts, kid) or ())  # never None in a choice
                used.add(kid)
                if s not in seen:
                    seen.add(s)
                    stack.append(s)
    for nt in g.productions:
        if nt not in used:
            raise GrammarError(
                f"nonterminal {nt!r} cannot terminate within its depth limits: "
                "it appears in no derivation"
            )
