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

import bisect
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from tunewise.nas.derivation import Derivation, RawTree, parse_raw
from tunewise.nas.errors import GrammarError
from tunewise.nas.validation import check_language, check_structure

TEMPERATURE: dict[str, float] = {"low": 0.5, "medium": 1.0, "high": 2.0}

Production = tuple[str, ...]  # (terminal, *child nonterminals)
Counts = tuple[int, ...]  # per depth-limited nonterminal (sorted), its count on the current path
Plan = tuple[tuple[float, ...], tuple[tuple[str, tuple[tuple[str, Counts], ...]], ...]]


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
        check_structure(self)
        self._limited = tuple(sorted(self.depth))
        self._slot = {nt: i for i, nt in enumerate(self._limited)}
        self._weights = self._prior_weights()
        self._count_memo: dict[tuple[str, Counts], int] = {}
        self._choice_memo: dict[tuple[str, Counts], tuple[int, ...]] = {}
        self._cdf_memo: dict[tuple[str, Counts, bool], tuple[float, ...]] = {}
        self._plan_memo: dict[tuple[str, Counts, bool], Plan] = {}
        self._index = {
            nt: {rhs: i for i, rhs in enumerate(rhss)} for nt, rhss in self.productions.items()
        }
        check_language(self)

    def _prior_weights(self) -> dict[str, tuple[float, ...]]:
        t = TEMPERATURE[self.confidence]
        out: dict[str, tuple[float, ...]] = {}
        for nt, probs in self.priors.items():
            norm = {" ".join(k.split()): p for k, p in probs.items()}
            w = [norm[" ".join(r)] ** t for r in self.productions[nt]]
            out[nt] = tuple(x / sum(w) for x in w)
        return out

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

    def _draw(self, sym: str, counts: Counts, use_priors: bool, rng: np.random.Generator) -> int:
        """Position in the choice set drawn by inverting the (cached) CDF with one uniform; a
        single choice takes no draw."""
        key = (sym, counts, use_priors)
        cdf = self._cdf_memo.get(key)
        if cdf is None:
            probs = self._probs(sym, self._choices(sym, counts), use_priors)
            cdf = tuple(float(c) for c in np.cumsum(probs))
            self._cdf_memo[key] = cdf
        if len(cdf) == 1:
            return 0
        return min(bisect.bisect_right(cdf, rng.random()), len(cdf) - 1)

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
        key = (sym, counts, use_priors)
        plan = self._plan_memo.get(key)
        if plan is None:
            plan = self._plan(sym, counts, use_priors)
        cdf, options = plan
        j = 0 if len(cdf) == 1 else min(bisect.bisect_right(cdf, rng.random()), len(cdf) - 1)
        terminal, kids = options[j]
        return Derivation(
            sym, terminal, tuple([self._sample(k, kc, rng, use_priors) for k, kc in kids])
        )

    def _plan(self, sym: str, counts: Counts, use_priors: bool) -> Plan:
        """The choice set at a node as the sampler needs it: the CDF, and per choice its
        terminal and (child nonterminal, child counts) pairs; cached."""
        choices = self._choices(sym, counts)
        self._draw(sym, counts, use_priors, np.random.default_rng(0))  # fills the CDF memo
        options = tuple(
            (rhs[0], tuple((k, self._step(counts, k) or ()) for k in rhs[1:]))
            for rhs in (self.productions[sym][i] for i in choices)
        )
        plan = (self._cdf_memo[(sym, counts, use_priors)], options)
        self._plan_memo[(sym, counts, use_priors)] = plan
        return plan

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
        def where() -> str:
            return f"derivation {text!r} at offset {raw.offset} ({raw.name!r} as {sym!r})"

        if raw.name in self.topologies and not raw.bracketed:
            return (
                raw.offset,
                f"{where()}: topology {raw.name!r} needs {self.topologies[raw.name]} children",
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
                f"{where()}: no production of {sym!r} is {raw.name!r} with "
                f"{len(raw.children)} children (expected one of {heads})",
            )
        best: tuple[int, str] = (-1, "")
        allowed = self._choices(sym, counts)
        for rhs in cands:
            if self._index[sym][rhs] not in allowed:
                err = (
                    raw.offset,
                    f"{where()}: {' '.join(rhs)!r} exceeds the depth limits {self.depth}",
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
