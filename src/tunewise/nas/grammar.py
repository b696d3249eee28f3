"""Context-free architecture grammars: definition, validation, depth-limited counting and sampling.

Follows Schrodi et al. (NeurIPS 2023) and ALGORITHMS.md §7. A production's right-hand side is a
terminal followed by its k children: a *topology* of arity k (``Sequential3``, ``Residual2``,
``Cell``) with k child nonterminals, or a *primitive* (``conv3x3``, ``id``) with none.

**Depth limits.** ``depth={"A": D}`` bounds how many times ``A`` appears on any root-to-leaf path
(counting the node itself): once ``A`` appears ``D`` times on the current path, only productions
without ``A`` are allowed. The *choice set* of a node is the productions its path allows whose
children can still terminate; sampling and :meth:`Grammar.log_prior` are relative to it. Every cycle
of the grammar must pass through a depth-limited nonterminal, so the language is finite.

**Priors.** ``priors={"B": {"conv3x3": 0.6, "id": 0.4}}`` give probabilities over a nonterminal's
productions (uniform where none are given). ``confidence`` tempers them, p ∝ p^t with t = 1/2, 1, 2
for low / medium / high: "medium" uses the stated probabilities, "low" pulls them towards uniform
and "high" sharpens them, as a categorical's prior weight grows with confidence in
``tunewise.space.priors``. Within a choice set the tempered probabilities are renormalized.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from tunewise.nas.derivation import NAME, Derivation, RawTree, parse_raw
from tunewise.nas.errors import GrammarError

CONFIDENCES: tuple[str, ...] = ("low", "medium", "high")
TEMPERATURE: dict[str, float] = {"low": 0.5, "medium": 1.0, "high": 2.0}
_PRIOR_TOL = 1e-6

Production = tuple[str, ...]  # (terminal, *child nonterminals)
Counts = tuple[int, ...]  # per depth-limited nonterminal (sorted), its count on the current path


def _rhs(nt: str, rhs: str | Sequence[str]) -> Production:
    symbols = tuple(rhs.split()) if isinstance(rhs, str) else tuple(rhs)
    if not symbols:
        raise GrammarError(f"nonterminal {nt!r}: empty right-hand side")
    return symbols


class Grammar:
    """A context-free grammar over topologies and primitives with depth limits and priors.

    Args:
        productions: nonterminal -> right-hand sides, each ``"Terminal Child1 ... Childk"`` or a
            sequence of symbols.
        start: the start nonterminal.
        topologies: topological terminal -> arity k (its number of edges / children), k >= 1.
        primitives: terminals with no children.
        depth: nonterminal -> maximum appearances on a path (>= 1); nonterminals without one are
            unbounded, but must not lie on a cycle free of limited nonterminals.
        priors: nonterminal -> {right-hand side string: probability}, covering all its productions,
            each > 0, summing to 1 (tolerance 1e-6).
        confidence: "low", "medium" or "high" (see the module docstring).

    Raises:
        GrammarError: the message names the symbol at fault.

    Parameters are stored normalized (right-hand sides as tuples of symbols).
    """

    def __init__(
        self,
        productions: Mapping[str, Sequence[str | Sequence[str]]],
        start: str,
        *,
        topologies: Mapping[str, int],
        primitives: Iterable[str],
        depth: Mapping[str, int] | None = None,
        priors: Mapping[str, Mapping[str, float]] | None = None,
        confidence: str = "medium",
    ) -> None:
        self.productions: dict[str, tuple[Production, ...]] = {
            nt: tuple(_rhs(nt, r) for r in rhss) for nt, rhss in productions.items()
        }
        self.start = start
        self.topologies = dict(topologies)
        self.primitives = tuple(primitives)
        self.depth = dict(depth or {})
        self.priors = {nt: dict(p) for nt, p in (priors or {}).items()}
        self.confidence = confidence
        self._validate_structure()
        self._limited = tuple(sorted(self.depth))
        self._slot = {nt: i for i, nt in enumerate(self._limited)}
        self._weights = self._prior_weights()
        self._count_memo: dict[tuple[str, Counts], int] = {}
        self._choice_memo: dict[tuple[str, Counts], tuple[int, ...]] = {}
        self._index = {
            nt: {rhs: i for i, rhs in enumerate(rhss)} for nt, rhss in self.productions.items()
        }
        self._validate_language()

    # -- validation -------------------------------------------------------------------------

    def _validate_structure(self) -> None:
        nts, topo, prims = set(self.productions), self.topologies, set(self.primitives)
        if self.confidence not in CONFIDENCES:
            raise GrammarError(f"confidence must be one of {CONFIDENCES}, got {self.confidence!r}")
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
        if self.start not in nts:
            raise GrammarError(f"start symbol {self.start!r} is not a nonterminal (no productions)")
        for nt, rhss in self.productions.items():
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
        for nt, d in self.depth.items():
            if nt not in nts:
                raise GrammarError(f"depth names unknown nonterminal {nt!r}")
            if not isinstance(d, int) or d < 1:
                raise GrammarError(f"depth of {nt!r} must be an integer >= 1, got {d!r}")
        seen, stack = {self.start}, [self.start]
        while stack:
            for rhs in self.productions[stack.pop()]:
                for kid in rhs[1:]:
                    if kid not in seen:
                        seen.add(kid)
                        stack.append(kid)
        for nt in self.productions:
            if nt not in seen:
                raise GrammarError(f"nonterminal {nt!r} is unreachable from start {self.start!r}")
        self._check_cycles()
        self._check_priors()

    def _check_cycles(self) -> None:
        # Every cycle must pass a depth-limited nonterminal: DFS over the unlimited ones only.
        free = [nt for nt in self.productions if nt not in self.depth]
        state: dict[str, int] = {}

        def visit(nt: str, path: list[str]) -> None:
            state[nt] = 1
            for rhs in self.productions[nt]:
                for kid in rhs[1:]:
                    if kid in self.depth:
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

    def _check_priors(self) -> None:
        for nt, probs in self.priors.items():
            if nt not in self.productions:
                raise GrammarError(f"priors name unknown nonterminal {nt!r}")
            known = {" ".join(r) for r in self.productions[nt]}
            for key, p in probs.items():
                if " ".join(key.split()) not in known:
                    raise GrammarError(f"priors of {nt!r} name unknown production {key!r}")
                if not p > 0:
                    raise GrammarError(
                        f"priors of {nt!r}: {key!r} has probability {p!r}; must be > 0"
                    )
            given = {" ".join(k.split()) for k in probs}
            for rhs in sorted(known - given):
                raise GrammarError(f"priors of {nt!r} leave out production {rhs!r}")
            total = sum(probs.values())
            if abs(total - 1.0) > _PRIOR_TOL:
                raise GrammarError(f"priors of {nt!r} sum to {total!r}, not 1")

    def _prior_weights(self) -> dict[str, tuple[float, ...]]:
        t = TEMPERATURE[self.confidence]
        out: dict[str, tuple[float, ...]] = {}
        for nt, probs in self.priors.items():
            norm = {" ".join(k.split()): p for k, p in probs.items()}
            w = [norm[" ".join(r)] ** t for r in self.productions[nt]]
            out[nt] = tuple(x / sum(w) for x in w)
        return out

    def _validate_language(self) -> None:
        productive: set[str] = set()
        changed = True
        while changed:
            changed = False
            for nt, rhss in self.productions.items():
                if nt not in productive and any(all(k in productive for k in r[1:]) for r in rhss):
                    productive.add(nt)
                    changed = True
        for nt in self.productions:  # the most specific culprit first: a non-start symbol
            if nt not in productive and nt != self.start:
                raise GrammarError(
                    f"nonterminal {nt!r} cannot terminate: no derivation reaches primitives"
                )
        if self.start not in productive:
            raise GrammarError(
                f"the language is empty: start {self.start!r} derives no finite tree"
            )
        root = self._root_counts()
        if self._count(self.start, root) == 0:
            raise GrammarError(
                f"the language is empty: start {self.start!r} has no derivation "
                "within the depth limits"
            )
        used, stack, seen = {self.start}, [(self.start, root)], {(self.start, root)}
        while stack:
            sym, counts = stack.pop()
            for i in self._choices(sym, counts):
                for kid in self.productions[sym][i][1:]:
                    s = (kid, self._step(counts, kid) or ())  # never None in a choice
                    used.add(kid)
                    if s not in seen:
                        seen.add(s)
                        stack.append(s)
        for nt in self.productions:
            if nt not in used:
                raise GrammarError(
                    f"nonterminal {nt!r} cannot terminate within its depth limits: "
                    "it appears in no derivation"
                )

    # -- depth-limited state ----------------------------------------------------------------

    def _root_counts(self) -> Counts:
        return self._step(tuple(0 for _ in self._limited), self.start) or ()

    def _step(self, counts: Counts, sym: str) -> Counts | None:
        """Counts after entering ``sym``, or None when that exceeds its depth limit."""
        slot = self._slot.get(sym)
        if slot is None:
            return counts
        if counts[slot] >= self.depth[sym]:
            return None
        return (*counts[:slot], counts[slot] + 1, *counts[slot + 1 :])

    def _count(self, sym: str, counts: Counts) -> int:
        key = (sym, counts)
        hit = self._count_memo.get(key)
        if hit is not None:
            return hit
        total = 0
        for rhs in self.productions[sym]:
            prod = 1
            for kid in rhs[1:]:
                kc = self._step(counts, kid)
                prod *= 0 if kc is None else self._count(kid, kc)
                if prod == 0:
                    break
            total += prod
        self._count_memo[key] = total
        return total

    def _choices(self, sym: str, counts: Counts) -> tuple[int, ...]:
        """Indices of the productions of ``sym`` allowed at ``counts`` that can still terminate."""
        key = (sym, counts)
        hit = self._choice_memo.get(key)
        if hit is None:
            hit = tuple(
                i
                for i, rhs in enumerate(self.productions[sym])
                if all(
                    (kc := self._step(counts, kid)) is not None and self._count(kid, kc) > 0
                    for kid in rhs[1:]
                )
            )
            self._choice_memo[key] = hit
        return hit

    def _probs(
        self, sym: str, choices: tuple[int, ...], use_priors: bool
    ) -> np.ndarray[Any, np.dtype[np.float64]]:
        w = self._weights.get(sym) if use_priors else None
        p = np.ones(len(choices)) if w is None else np.array([w[i] for i in choices])
        return np.asarray(p / p.sum(), dtype=np.float64)

    # -- public API -------------------------------------------------------------------------

    def count(self) -> int:
        """The exact number of derivations within the depth limits (a Python int)."""
        return self._count(self.start, self._root_counts())

    def log10_count(self) -> float:
        """log10 of :meth:`count` (exact big-int logarithm)."""
        return math.log10(self.count())

    def sample(self, rng: np.random.Generator, *, use_priors: bool = False) -> Derivation:
        """Draw a derivation top-down: at each node one production of its choice set.

        Uniform over the choice set, or by the tempered priors renormalized over it.
        """
        return self._sample(self.start, self._root_counts(), rng, use_priors)

    def _sample(
        self, sym: str, counts: Counts, rng: np.random.Generator, use_priors: bool
    ) -> Derivation:
        choices = self._choices(sym, counts)
        i = choices[int(rng.choice(len(choices), p=self._probs(sym, choices, use_priors)))]
        rhs = self.productions[sym][i]
        kids = tuple(self._sample(k, self._step(counts, k) or (), rng, use_priors) for k in rhs[1:])
        return Derivation(sym, rhs[0], kids)

    def log_prior(self, derivation: Derivation) -> float:
        """Sum over nodes of log P(production | choice set) under the tempered priors.

        The probabilities are those :meth:`sample` with ``use_priors=True`` draws from, so this is
        the exact log-probability of sampling ``derivation``. Raises GrammarError if invalid.
        """
        self.check(derivation)
        return self._log_prior(derivation, self._root_counts())

    def _log_prior(self, d: Derivation, counts: Counts) -> float:
        choices = self._choices(d.symbol, counts)
        p = self._probs(d.symbol, choices, True)[choices.index(self._index[d.symbol][d.production])]
        return math.log(p) + sum(
            self._log_prior(c, self._step(counts, c.symbol) or ()) for c in d.children
        )

    def check(self, derivation: Derivation) -> None:
        """Raise GrammarError unless ``derivation`` derives in this grammar within its limits."""
        if derivation.symbol != self.start:
            raise GrammarError(
                f"derivation starts at {derivation.symbol!r}, not at start {self.start!r}"
            )
        self._check(derivation, self._root_counts(), "root")

    def _check(self, d: Derivation, counts: Counts, where: str) -> None:
        if d.symbol not in self.productions:
            raise GrammarError(f"at {where}: unknown nonterminal {d.symbol!r}")
        i = self._index[d.symbol].get(d.production)
        if i is None:
            raise GrammarError(
                f"at {where}: {' '.join(d.production)!r} is not a production of {d.symbol!r}"
            )
        if i not in self._choices(d.symbol, counts):
            raise GrammarError(
                f"at {where}: {' '.join(d.production)!r} exceeds the depth limits there"
            )
        for j, c in enumerate(d.children):
            self._check(c, self._step(counts, c.symbol) or (), f"{where}.{j}")

    def parse(self, text: str) -> Derivation:
        """The derivation whose canonical string is ``text``; GrammarError says where it fails.

        Nonterminals are recovered by position; where a nonterminal has several productions with
        the same terminal and arity, the first that fits is taken.
        """
        raw = parse_raw(text)
        result = self._match(raw, self.start, self._root_counts(), text)
        if isinstance(result, Derivation):
            return result
        raise GrammarError(result[1])

    def _match(
        self, raw: RawTree, sym: str, counts: Counts, text: str
    ) -> Derivation | tuple[int, str]:
        where = f"derivation {text!r} at offset {raw.offset} ({raw.name!r} as {sym!r})"
        if raw.name in self.topologies and not raw.bracketed:
            return (
                raw.offset,
                f"{where}: topology {raw.name!r} needs {self.topologies[raw.name]} children",
            )
        cands = [
            rhs
            for rhs in self.productions[sym]
            if rhs[0] == raw.name and len(rhs) == len(raw.children) + 1
        ]
        if not cands:
            heads = sorted({r[0] for r in self.productions[sym]})
            return (
                raw.offset,
                f"{where}: no production of {sym!r} is {raw.name!r} with "
                f"{len(raw.children)} children (expected one of {heads})",
            )
        best: tuple[int, str] = (-1, "")
        allowed = self._choices(sym, counts)
        for rhs in cands:
            if self._index[sym][rhs] not in allowed:
                err = (
                    raw.offset,
                    f"{where}: {' '.join(rhs)!r} exceeds the depth limits {self.depth}",
                )
                best = max(best, err)
                continue
            kids: list[Derivation] = []
            for child, kid in zip(raw.children, rhs[1:], strict=True):
                got = self._match(child, kid, self._step(counts, kid) or (), text)
                if not isinstance(got, Derivation):
                    best = max(best, got)
                    break
                kids.append(got)
            else:
                return Derivation(sym, raw.name, tuple(kids))
        return best

    def nodes(self, derivation: Derivation) -> Iterator[tuple[tuple[int, ...], Derivation, Counts]]:
        """Pre-order (path of child indices, node, depth counts at the node) over a derivation."""
        stack: list[tuple[tuple[int, ...], Derivation, Counts]] = [
            ((), derivation, self._root_counts())
        ]
        while stack:
            path, node, counts = stack.pop()
            yield path, node, counts
            for j in reversed(range(len(node.children))):
                c = node.children[j]
                stack.append(((*path, j), c, self._step(counts, c.symbol) or ()))

    # -- serialization ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON/YAML-friendly dict; :meth:`from_dict` inverts it."""
        return {
            "start": self.start,
            "productions": {
                nt: [" ".join(r) for r in rhss] for nt, rhss in self.productions.items()
            },
            "topologies": dict(self.topologies),
            "primitives": list(self.primitives),
            "depth": dict(self.depth),
            "priors": {
                nt: {" ".join(k.split()): p for k, p in ps.items()}
                for nt, ps in self.priors.items()
            },
            "confidence": self.confidence,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Grammar:
        """Build a grammar from :meth:`to_dict`'s form (depth, priors, confidence optional)."""
        return cls(
            d["productions"],
            d["start"],
            topologies=d["topologies"],
            primitives=d["primitives"],
            depth=d.get("depth"),
            priors=d.get("priors"),
            confidence=d.get("confidence", "medium"),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Grammar) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable-style value equality

    def __repr__(self) -> str:
        return f"Grammar.from_dict({self.to_dict()!r})"

    # -- variation ---------------------------------------------------------------------------

    def mutate(
        self, derivation: Derivation, rng: np.random.Generator, *, use_priors: bool = False
    ) -> Derivation | None:
        """Subtree mutation (:mod:`tunewise.nas.operators`); None if no new child in 50 tries."""
        from tunewise.nas.operators import mutate

        return mutate(self, derivation, rng, use_priors=use_priors)

    def crossover(
        self, a: Derivation, b: Derivation, rng: np.random.Generator
    ) -> Derivation | None:
        """Subtree crossover (see :mod:`tunewise.nas.operators`); None if impossible in 50 tries."""
        from tunewise.nas.operators import crossover

        return crossover(self, a, b, rng)
