"""Top-down distributions over a grammar's derivations: uniform, production priors, or centred.

A derivation is drawn node by node; at each node one production of its *choice set* (the
productions the depth limits allow there that can still terminate, :class:`Grammar`). The
probabilities at a node are

* uniform over the choice set, or the grammar's tempered production priors (``use_priors``);
* when a ``centre`` derivation is given and it has a node with the same nonterminal at the same
  position (path of child indices) whose production is in the choice set: that production gets
  ``centre_weight`` against 1 for every other choice — the categorical prior of
  :mod:`tunewise.space.priors`, per node. This is a prior "centred on an architecture": a user's
  believed architecture, or PriorBand's incumbent.

The log-probability is exact (the probability that :meth:`Distribution.sample` draws it), so
ratios against the uniform distribution are proper densities relative to uniform sampling.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from tunewise.nas.derivation import Derivation

if TYPE_CHECKING:
    from tunewise.nas.grammar import Counts, Grammar

Path = tuple[int, ...]


class Distribution:
    """A distribution over ``grammar``'s derivations (see the module docstring)."""

    def __init__(
        self,
        grammar: Grammar,
        *,
        use_priors: bool,
        centre: Derivation | None = None,
        centre_weight: float = 4.0,
    ) -> None:
        self.grammar = grammar
        self.use_priors = use_priors
        self.centre = centre
        self.centre_weight = centre_weight
        self._centre_at: dict[Path, Derivation] = dict(_positions(centre)) if centre else {}

    def probabilities(
        self, symbol: str, counts: Counts, path: Path
    ) -> tuple[tuple[int, ...], NDArray[np.float64]]:
        """The choice set at a node (production indices) and the probability of each."""
        g = self.grammar
        choices = g._choices(symbol, counts)
        node = self._centre_at.get(path)
        if node is not None and node.symbol == symbol:
            i = g._index[symbol].get(node.production)
            if i is not None and i in choices:
                w = np.ones(len(choices))
                w[choices.index(i)] = self.centre_weight
                return choices, w / w.sum()
        return choices, g._probs(symbol, choices, self.use_priors)

    def sample(self, rng: np.random.Generator) -> Derivation:
        """One derivation; all randomness from ``rng``."""
        g = self.grammar
        if not self._centre_at:  # the same probabilities, without tracking positions
            return g.sample(rng, use_priors=self.use_priors)
        return self._sample(g.start, g._root_counts(), (), rng)

    def _sample(self, sym: str, counts: Counts, path: Path, rng: np.random.Generator) -> Derivation:
        g = self.grammar
        if path in self._centre_at:
            choices, p = self.probabilities(sym, counts, path)
            pick = min(int(np.searchsorted(np.cumsum(p), rng.random(), side="right")), len(p) - 1)
        else:  # the grammar's own draw, with its cached CDF (same probabilities)
            choices, pick = g._choices(sym, counts), g._draw(sym, counts, self.use_priors, rng)
        rhs = g.productions[sym][choices[pick]]
        kids = tuple(
            self._sample(k, g._step(counts, k) or (), (*path, j), rng)
            for j, k in enumerate(rhs[1:])
        )
        return Derivation(sym, rhs[0], kids)

    def log_probability(self, derivation: Derivation) -> float:
        """log P(``derivation``) under this distribution; the derivation must be valid."""
        g = self.grammar
        total = 0.0
        for path, node, counts in g.nodes(derivation):
            choices, p = self.probabilities(node.symbol, counts, path)
            total += math.log(p[choices.index(g._index[node.symbol][node.production])])
        return total

    def mode(self) -> Derivation:
        """The derivation taking the most probable production at every node (first on ties)."""
        g = self.grammar
        return self._mode(g.start, g._root_counts(), ())

    def _mode(self, sym: str, counts: Counts, path: Path) -> Derivation:
        g = self.grammar
        choices, p = self.probabilities(sym, counts, path)
        rhs = g.productions[sym][choices[int(np.argmax(p))]]
        kids = tuple(
            self._mode(k, g._step(counts, k) or (), (*path, j)) for j, k in enumerate(rhs[1:])
        )
        return Derivation(sym, rhs[0], kids)


def _positions(tree: Derivation, path: Path = ()) -> Iterator[tuple[Path, Derivation]]:
    yield path, tree
    for j, child in enumerate(tree.children):
        yield from _positions(child, (*path, j))
