"""The plain bracket optimizers: successive halving, Hyperband, ASHA and asynchronous Hyperband.

Each is a bracket schedule by name (:data:`tunewise.optimizers.schedules.SCHEDULES`) with uniform
sampling of new configurations, and all their logic lives in
:class:`~tunewise.optimizers.bracket_optimizer.BracketOptimizer` (decisions to suggestions) and
:mod:`~tunewise.optimizers.schedules` (which rung to fill next). What is left are four declarations,
kept together in this one file (name, slot tag, schedule) instead of four near-identical files;
optimizers with logic of their own over the same schedules (PriorBand, BOHB) keep their own files.
All four take ``eta`` (default 3), ``early_stopping_rate`` (default 0) and ``prior_first``
(default False: with True, the first configuration is the space's prior configuration, as in
PriorBand) and ``prior_first_fidelity`` (``"min"``, default, or ``"max"``: that configuration at
the maximum fidelity, outside the brackets; see
:class:`~tunewise.optimizers.bracket_optimizer.BracketOptimizer`).
"""

from __future__ import annotations

from tunewise.optimizers.bracket_optimizer import BracketOptimizer
from tunewise.optimizers.registry import register


@register
class SuccessiveHalving(BracketOptimizer):
    """Successive halving (Jamieson & Talwalkar 2016): one full-depth bracket after another.

    Start ``n_0`` configurations at the lowest rung; the best 1/eta move up, synchronously.
    """

    name = "successive_halving"
    tag = "sh"
    base = "successive_halving"


@register
class Hyperband(BracketOptimizer):
    """Hyperband (Li et al. 2017): successive halving brackets from aggressive to full fidelity.

    Cycle through brackets s = s_max..0 (``s_max - early_stopping_rate`` at most).
    """

    name = "hyperband"
    tag = "hb"
    base = "hyperband"


@register
class ASHA(BracketOptimizer):
    """ASHA (Li et al. 2020): asynchronous successive halving, no worker ever waits.

    Promote a configuration once it is in the top 1/eta of its rung; else start a new one.
    """

    name = "asha"
    tag = "asha"
    base = "asha"


@register
class AsyncHyperband(BracketOptimizer):
    """Asynchronous Hyperband (Li et al. 2020): ASHA brackets of every depth, drawn at random.

    Each request picks a bracket (base rung s) as Hyperband would weight it, then runs ASHA.
    """

    name = "async_hyperband"
    tag = "ahb"
    base = "async_hyperband"
