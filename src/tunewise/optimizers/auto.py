"""``optimizer="auto"``: choose from what the space offers, using the registry's capabilities."""

from __future__ import annotations

from tunewise.optimizers.base import Optimizer
from tunewise.optimizers.registry import make
from tunewise.space import Space


def choose(space: Space) -> Optimizer:
    """Priors and a fidelity -> ``priorband``; a fidelity alone -> ``hyperband``; priors alone ->
    ``pibo``; neither -> ``bayesian_optimization``. With an architecture parameter and no
    fidelity, ``regularized_evolution``: BO and piBO search architectures too (WL kernel,
    :mod:`tunewise.optimizers.architecture_bo`), but an ask costs them a fraction of a second to
    seconds against microseconds, and until the NAS-Bench-201 comparison of BO-WL against
    evolution is in ``benchmarks/README.md`` the cheap, robust default stays (the bracket
    optimizers take architectures as they are)."""
    if space.architectures and space.fidelity is None:
        return make("regularized_evolution")
    if space.fidelity is not None:
        return make("priorband" if space.has_priors else "hyperband")
    return make("pibo" if space.has_priors else "bayesian_optimization")
