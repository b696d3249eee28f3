"""``optimizer="auto"``: choose from what the space offers, using the registry's capabilities."""

from __future__ import annotations

from tunewise.optimizers.base import Optimizer
from tunewise.optimizers.registry import make
from tunewise.space import Space


def choose(space: Space) -> Optimizer:
    """Priors and a fidelity -> ``priorband``; a fidelity alone -> ``hyperband``; priors alone ->
    ``pibo``; neither -> ``bayesian_optimization``. With an architecture
    parameter the model-based ones cannot be used yet: ``regularized_evolution`` replaces them
    (the bracket optimizers take architectures as they are)."""
    if space.architectures and space.fidelity is None:
        return make("regularized_evolution")
    if space.fidelity is not None:
        return make("priorband" if space.has_priors else "hyperband")
    return make("pibo" if space.has_priors else "bayesian_optimization")
