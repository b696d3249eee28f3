"""An architecture parameter: a derivation of a context-free grammar (:mod:`tunewise.nas`).

Its value in a config is the derivation's canonical bracket string (plain JSON, as every value in
the store), e.g. ``"Cell(conv3x3, skip, none, conv1x1, avgpool3x3, conv3x3)"``; the objective
builds a network from it with :func:`tunewise.nas.build`.

Priors come in two forms, which combine: the grammar's production priors (``Grammar(priors=...)``,
"I believe in residual blocks and 3x3 convolutions"), and ``prior=`` a derivation string the prior
is centred on ("I believe in this architecture"), whose productions get the categorical prior
weight of ``confidence`` (2 / 4 / 6 against 1) wherever the derivation has a node at the same
position (:mod:`tunewise.nas.distribution`). The prior density is taken relative to uniform
top-down sampling, so an architecture without priors contributes 0 to a config's log prior, like
a number without one.

Architectures are not part of the unit-cube encoding (:attr:`Space.dimension_names`): optimizers
that work on the cube (BO, piBO, BOHB, grid search) refuse spaces with one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from functools import cached_property
from typing import Any, ClassVar, TypeVar

import numpy as np

from tunewise.nas import Derivation, Grammar, GrammarError, crossover, mutate
from tunewise.nas.distribution import Distribution
from tunewise.space.errors import SpaceError
from tunewise.space.parameters import Condition, Parameter, _check_confidence, _check_when
from tunewise.space.priors import CATEGORICAL_WEIGHT

PARSE_CACHE = 4096
"""Parsed derivations kept per parameter, of stored values (validation parses every one) and,
apart, of values this parameter made: an evolution makes ~10,000 per ask, which would otherwise
push the stored ones out and have them parsed again at every ask."""


V = TypeVar("V")


def _keep(cache: OrderedDict[str, V], key: str, value: V) -> None:
    """Store ``key`` as the most recently used entry, dropping the least recently used."""
    cache[key] = value
    cache.move_to_end(key)
    if len(cache) > PARSE_CACHE:
        cache.popitem(last=False)


@dataclass(frozen=True, repr=False, eq=False)
class Architecture(Parameter):
    """A derivation of ``grammar`` (a :class:`tunewise.nas.Grammar` or its dict form)."""

    grammar: Grammar
    _: KW_ONLY
    prior: str | None = None
    confidence: str = "medium"
    when: Condition | Mapping[str, Any] | None = None  # a Mapping becomes a Condition
    type_name: ClassVar[str] = "architecture"
    _parsed: OrderedDict[str, Derivation | str] = field(
        default_factory=OrderedDict, init=False, compare=False
    )
    _made: OrderedDict[str, Derivation] = field(
        default_factory=OrderedDict, init=False, compare=False
    )

    def __post_init__(self) -> None:
        if isinstance(self.grammar, Mapping):
            try:
                grammar = Grammar.from_dict(self.grammar)
            except KeyError as missing:
                raise SpaceError(f"grammar: missing {missing}") from None
            except GrammarError as error:
                raise SpaceError(f"grammar: {error}") from None
            object.__setattr__(self, "grammar", grammar)
        object.__setattr__(self, "when", Condition(self.when) if self.when is not None else None)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Architecture):
            return NotImplemented
        return (self.grammar, self.prior, self.confidence, self.when) == (
            other.grammar,
            other.prior,
            other.confidence,
            other.when,
        )

    def __hash__(self) -> int:
        return hash((repr(self.grammar), self.prior, self.confidence, self.when))

    def __repr__(self) -> str:
        extra = "" if self.prior is None else f", prior={self.prior!r}"
        extra += "" if self.confidence == "medium" else f", confidence={self.confidence!r}"
        extra += "" if self.when is None else f", when={self.when!r}"
        return f"Architecture({self.grammar.log10_count():.1f} log10 architectures{extra})"

    def _check(self) -> None:
        if not isinstance(self.grammar, Grammar):
            raise SpaceError(
                f"grammar must be a tunewise.nas.Grammar or its dict form, got {self.grammar!r}"
            )
        _check_confidence(self.confidence)
        _check_when(self.when)
        if self.prior is not None:
            problem = self._value_problem(self.prior)
            if problem is not None:
                raise SpaceError(f"prior: {problem}")

    # -- values -----------------------------------------------------------------------------

    def _remember(self, d: Derivation) -> str:
        """``str(d)``, cached as parsed (a value this parameter made needs no parse to validate)."""
        text = str(d)
        _keep(self._made, text, d)
        return text

    def parse(self, value: str) -> Derivation:
        """The derivation of a stored string; SpaceError says why it is not one of this grammar."""
        if not isinstance(value, str):
            raise SpaceError(str(self._parse(value)))
        hit: Derivation | str | None = self._made.get(value)
        if hit is not None:
            self._made.move_to_end(value)
        else:
            hit = self._parsed.get(value)
            if hit is None:
                hit = self._parse(value)
            _keep(self._parsed, value, hit)
        if isinstance(hit, str):
            raise SpaceError(hit)
        return hit

    def _parse(self, value: Any) -> Derivation | str:
        if not isinstance(value, str):
            return f"expected a derivation string, got {type(value).__name__} {value!r}"
        try:
            return self.grammar.parse(value)
        except GrammarError as error:
            return f"not an architecture of this grammar: {error}"

    def _value_problem(self, value: Any) -> str | None:
        try:
            self.parse(value)
        except SpaceError as error:
            return str(error)
        return None

    @property
    def has_prior(self) -> bool:
        """Whether production priors or a centre derivation make the prior non-uniform."""
        return self.prior is not None or bool(self.grammar.priors)

    def _distribution(self, use_prior: bool) -> Distribution:
        return self._prior_distribution if use_prior else self._uniform_distribution

    @cached_property
    def _prior_distribution(self) -> Distribution:
        centre = self.parse(self.prior) if self.prior is not None else None
        return Distribution(
            self.grammar,
            use_priors=True,
            centre=centre,
            centre_weight=CATEGORICAL_WEIGHT[self.confidence],
        )

    @cached_property
    def _uniform_distribution(self) -> Distribution:
        return Distribution(self.grammar, use_priors=False)

    @property
    def default(self) -> str:
        """The prior's mode: the centre derivation if given, else the most probable production at
        every node (the first production on ties, so without priors the first listed)."""
        if self.prior is not None:
            return self.prior
        return str(self._distribution(True).mode())

    def sample(self, rng: np.random.Generator, size: int, *, use_prior: bool = False) -> list[str]:
        """``size`` derivation strings, uniform top-down or from the prior."""
        dist = self._distribution(use_prior and self.has_prior)
        return [self._remember(dist.sample(rng)) for _ in range(size)]

    def log_prior(self, value: str) -> float:
        """log prior(value) - log uniform(value): 0.0 without priors (a density like a number's)."""
        if not self.has_prior:
            return 0.0
        d = self.parse(value)
        return self._distribution(True).log_probability(d) - self._distribution(
            False
        ).log_probability(d)

    def mutate(
        self, value: str, rng: np.random.Generator, *, use_prior: bool = False
    ) -> str | None:
        """Subtree mutation of ``value`` (:mod:`tunewise.nas.operators`); None if impossible.

        :meth:`parse` has checked the value (or this parameter made it), so the operator does not
        check it again.
        """
        child = mutate(self.grammar, self.parse(value), rng, use_priors=use_prior, check=False)
        return None if child is None else self._remember(child)

    def crossover(self, a: str, b: str, rng: np.random.Generator) -> str | None:
        """``a`` with a subtree swapped for a same-nonterminal subtree of ``b``; None if none."""
        child = crossover(self.grammar, self.parse(a), self.parse(b), rng, check=False)
        return None if child is None else self._remember(child)

    def count(self) -> int:
        """The exact number of architectures."""
        return self.grammar.count()
