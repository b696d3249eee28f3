"""Random search: uniform over the space, or from the user's prior (``use_priors=True``).

Architecture parameters are sampled top-down from their grammar: uniformly over each node's
productions, or from the production priors (and a centre derivation) with ``use_priors``.

The prior-only variant is the baseline PriorBand is compared against (Mallik et al. 2023).
"""

from __future__ import annotations

from tunewise.optimizers.base import Capabilities, Optimizer, check_n
from tunewise.optimizers.registry import register
from tunewise.trial import History, Suggestion, max_fidelity, rng_for


@register
class RandomSearch(Optimizer):
    """Independent samples at full fidelity; sample ``k`` depends only on the seed and ``k``."""

    name = "random_search"
    capabilities = Capabilities(priors=True, fidelity=False, conditions=True, architectures=True)

    def __init__(self, *, use_priors: bool = False) -> None:
        if not isinstance(use_priors, bool):
            raise ValueError(f"random_search: use_priors must be True or False, not {use_priors!r}")
        self.use_priors = use_priors

    def ask(self, history: History, n: int = 1) -> list[Suggestion]:
        check_n(n)
        space = history.space
        fidelity = max_fidelity(space)
        suggestions = []
        for k in range(history.next_number, history.next_number + n):
            config = space.sample(rng_for(history.seed, k), use_priors=self.use_priors)
            info = {"sampled_from": "prior" if self.use_priors else "random"}
            suggestions.append(
                Suggestion(config=config, slot=f"sample:{k}", fidelity=fidelity, info=info)
            )
        return suggestions
