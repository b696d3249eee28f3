"""Rung and bracket arithmetic shared by successive halving, Hyperband, ASHA and PriorBand.

Facts from Li et al. (2017, 2020) and Falkner et al. (2018), as collected in ALGORITHMS.md §1:
``s_max = floor(log_eta(b_max / b_min))`` computed with integers (in floating point,
``log(243) / log(3)`` is 4.999...); rung fidelities are anchored at the top,
``f_r = b_max * eta**-(s_max - r)``, truncated with ``int()`` for integer fidelities and kept
within ``[b_min, b_max]`` for float ones (``0.9 * 3**-2`` is 0.09999..., below ``b_min = 0.1``), so
the ladder is geometric whether or not the fidelity is ``log``; a bracket with
``s`` promotions starts ``n_0 = floor((s_max + 1) / (s + 1)) * eta**s`` configurations and keeps
``n_i = max(floor(n_0 / eta**i), 1)`` at its ``i``-th rung.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from tunewise.space import Fidelity


def max_rung(lower: float, upper: float, eta: int) -> int:
    """``floor(log_eta(upper / lower))`` without floating-point log (exact for integer ratios)."""
    if not (0 < lower < upper):
        raise ValueError(f"fidelity bounds must satisfy 0 < lower < upper, got [{lower}, {upper}]")
    s = 0
    while lower * eta ** (s + 1) <= upper * (1 + 1e-12):
        s += 1
    return s


@dataclass(frozen=True)
class Rungs:
    """The rungs of a fidelity range for a given ``eta`` and early-stopping rate ``esr``.

    ``fidelities[r]`` is the fidelity of rung ``r`` for ``r`` in ``esr..s_max`` (rungs below ``esr``
    are never used; their entries are still listed for indexing). ``resumable`` is the fidelity's
    (:class:`~tunewise.space.Fidelity`): whether a promotion costs only what it adds.
    """

    lower: float
    upper: float
    eta: int
    integer: bool
    esr: int = 0
    resumable: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.eta, int) or self.eta < 2:
            raise ValueError(f"eta must be an integer >= 2, not {self.eta!r}")
        if not isinstance(self.esr, int) or not 0 <= self.esr <= self.s_max:
            raise ValueError(
                f"early_stopping_rate must be an integer in 0..{self.s_max} for fidelity "
                f"[{self.lower}, {self.upper}] and eta={self.eta}, not {self.esr!r}"
            )

    @classmethod
    def of(cls, fidelity: Fidelity | None, *, eta: int, esr: int = 0) -> Rungs:
        if fidelity is None:
            raise ValueError("multi-fidelity optimizers need a space with a Fidelity parameter")
        return cls(
            fidelity.lower, fidelity.upper, eta, fidelity.is_integer, esr, fidelity.resumable
        )

    @cached_property
    def s_max(self) -> int:
        return max_rung(self.lower, self.upper, self.eta)

    @cached_property
    def fidelities(self) -> tuple[float | int, ...]:
        values: list[float | int] = []
        for r in range(self.s_max + 1):
            f = self.upper * self.eta ** -(self.s_max - r)
            # the product can miss the bounds by an ulp; a stored trial must lie within them
            values.append(int(f + 1e-9) if self.integer else min(max(f, self.lower), self.upper))
        return tuple(values)

    @property
    def top(self) -> int:
        return self.s_max

    def rung_of(self, fidelity: float | int | None) -> int | None:
        """The rung a fidelity value sits at (None for values off the rungs)."""
        if fidelity is None:
            return None
        return self._rung_index.get(float(fidelity))

    @cached_property
    def _rung_index(self) -> dict[float, int]:
        return {float(f): r for r, f in enumerate(self.fidelities)}

    def bracket(self, s: int) -> Bracket:
        """The bracket with ``s`` promotions: it starts at rung ``s_max - s``."""
        if not 0 <= s <= self.s_max - self.esr:
            raise ValueError(f"bracket s={s} outside 0..{self.s_max - self.esr}")
        n0 = ((self.s_max + 1) // (s + 1)) * self.eta**s
        sizes = tuple(max(n0 // self.eta**i, 1) for i in range(s + 1))
        base = self.s_max - s
        return Bracket(s=s, base=base, sizes=sizes, rungs=tuple(range(base, self.s_max + 1)))

    def bracket_cost(self, s: int) -> float:
        """Full-fidelity evaluations one full bracket spends, promotions counted as the budget
        counts them (:meth:`tunewise.space.Fidelity.units`): ``sum_i n_i (f_i - f_{i-1}) / b_max``
        for a resumable fidelity, ``sum_i n_i f_i / b_max`` for one that is not."""
        bracket = self.bracket(s)
        fidelity = Fidelity(self.lower, self.upper, resumable=self.resumable)
        total, previous = 0.0, None
        for n, r in zip(bracket.sizes, bracket.rungs, strict=True):
            total += n * fidelity.units(self.fidelities[r], previous)
            previous = self.fidelities[r]
        return total


@dataclass(frozen=True)
class Bracket:
    """``sizes[i]`` configurations at rung ``rungs[i]``; ``s`` promotions, starting at ``base``."""

    s: int
    base: int
    sizes: tuple[int, ...]
    rungs: tuple[int, ...]
