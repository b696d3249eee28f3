"""The transfer layer: any optimizer, started from old studies mapped onto the new space.

Methods (the HT-AA baselines, Stoll et al. 2020; ALGORITHMS.md §5):

- ``"best_first"``: evaluate the mapped old incumbent first (its new parameters drawn), then the
  base optimizer as it is.
- ``"model"``: the base optimizer's *random* draws of new configurations (``sampled_from ==
  "random"``: an initial design, Hyperband's samples, a TPE's random fraction) come from a TPE
  fitted on the mapped old configurations, ranked 0..N-1 as losses (``random_fraction`` of them
  stay uniform), until the new study has ``transfer_trials`` results at the full fidelity
  (default 2(d + 1), the TPE's own minimum): then the base optimizer's model takes over. A
  sample's architecture values come from the good old configuration it is drawn around, its new
  parameters are drawn uniformly.
- ``"best_first+model"``: both.
- ``"only_new"``: the shared parameters are fixed at the mapped incumbent's values; the base
  optimizer tunes only the new ones.
- ``"drop_unimportant"``: shared parameters with an importance (fANOVA, or PED-ANOVA) below the
  mean on the old data are fixed at the incumbent's values; the rest and the new ones are tuned.

Everything the layer decides from the old studies — the ranked configurations, what is fixed, the
mapping's report — is in its parameters, so it is stored with the study as the optimizer spec
``{"name": "transfer", "base": {...}, ...}``: workers attached later rebuild the same layer, and
each decision is derived from the History and the seed like any optimizer's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tunewise.models.kde import GoodBadKDE
from tunewise.optimizers.base import Optimizer, check_n
from tunewise.optimizers.bohb import choices_of
from tunewise.optimizers.registry import make, register
from tunewise.space import Space
from tunewise.transfer.fixing import fixed_space
from tunewise.transfer.mapping import Mapped, map_trials
from tunewise.transfer.sources import OldStudy
from tunewise.trial import History, Suggestion, TrialStatus, config_key, max_fidelity, rng_for

METHODS = ("best_first", "model", "best_first+model", "only_new", "drop_unimportant")
IMPORTANCE_METHODS = ("fanova", "ped_anova")
BEST_SLOT = "transfer:best"
RNG_SALT = 616
"""Keeps the layer's draws apart from the base optimizer's own for the same trial number."""
CANDIDATES = 64
"""Candidates drawn from the good density per transfer-model sample (TPE's default)."""


@dataclass(frozen=True)
class TransferReport:
    """What carried over from the old studies, and what the method does with it."""

    method: str
    mapped: Mapped
    fixed: Mapping[str, Any]
    importance: Mapping[str, float]

    def lines(self) -> list[str]:
        return describe(self.to_stored())

    def to_stored(self) -> dict[str, Any]:
        return {
            **self.mapped.to_stored(),
            "method": self.method,
            "incumbent": dict(self.mapped.ranked[0]),
            "fixed": dict(self.fixed),
            "importance": dict(self.importance),
        }


def describe(report: Mapping[str, Any]) -> list[str]:
    """A stored report (:meth:`TransferReport.to_stored`) as the lines the log and
    ``tunewise status`` show."""
    lines = [
        f"transfer from {', '.join(report.get('sources', []))}: {report.get('mapped')} of "
        f"{report.get('old_configs')} old configurations mapped "
        f"({report.get('old_trials')} trials)",
        f"shared: {', '.join(report.get('shared', [])) or 'none'}",
    ]
    if report.get("new"):
        carried = report.get("carried") or []
        note = f" ({', '.join(carried)} at the old constant's value first)" if carried else ""
        lines.append(f"new (filled): {', '.join(report['new'])}{note}")
    if report.get("dropped"):
        lines.append(f"dropped (not in the new space): {', '.join(report['dropped'])}")
    if report.get("discarded"):
        counts = [f"{count} {reason}" for reason, count in report["discarded"].items()]
        lines.append(f"discarded: {'; '.join(counts)}")
    lines.extend(report.get("notes", []))
    method = report.get("method")
    lines.append(f"method: {method}")
    if method in ("best_first", "best_first+model") and report.get("incumbent"):
        lines.append(f"first: the old incumbent {_short(report['incumbent'])}")
    if report.get("importance"):
        parts = ", ".join(f"{k} {v:.2f}" for k, v in report["importance"].items())
        lines.append(f"old importance: {parts}")
    if report.get("fixed"):
        lines.append(f"fixed at the old incumbent: {_short(report['fixed'])}")
    return lines


def _short(config: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v!r}" for k, v in config.items()
    )


def prepare(
    base: Optimizer | str | Mapping[str, Any],
    *,
    space: Space,
    sources: Sequence[OldStudy],
    method: str = "best_first+model",
    transfer_trials: int | None = None,
    random_fraction: float = 1 / 3,
    importance_method: str = "fanova",
) -> tuple[Optimizer, TransferReport]:
    """The layer over ``base`` for ``space``, from ``sources``, and its report.

    Raises:
        ValueError: an unknown method; nothing of the old studies maps (see
            :func:`~tunewise.transfer.mapping.map_trials`); ``only_new`` when the new space adds
            no parameter; ``drop_unimportant`` with too few old trials for importance.
    """
    if method not in METHODS:
        raise ValueError(f"transfer must be one of {', '.join(METHODS)}, not {method!r}")
    if importance_method not in IMPORTANCE_METHODS:
        raise ValueError(
            f"importance_method must be one of {', '.join(IMPORTANCE_METHODS)}, "
            f"not {importance_method!r}"
        )
    optimizer = make(base)
    optimizer.check_space(space)
    mapped = map_trials(space, sources)
    best = mapped.ranked[0]
    fixed: dict[str, Any] = {}
    scores: dict[str, float] = {}
    if method == "only_new":
        if not mapped.new:
            raise ValueError(
                "transfer='only_new': the new space adds no parameter to the old one, so "
                "nothing would be tuned; use 'best_first' or 'model'"
            )
        fixed = {n: v for n, v in best.items() if n in mapped.shared}
    elif method == "drop_unimportant":
        scores = _old_importance(sources, mapped, method=importance_method)
        threshold = float(np.mean(list(scores.values()))) if scores else 0.0
        fixed = {
            n: v
            for n, v in best.items()
            if n in mapped.shared and n in scores and scores[n] < threshold
        }
    layer = Transfer(
        base=optimizer.spec(),
        method=method,
        incumbent=dict(best),
        ranked=[{k: v for k, v in c.items() if k in mapped.shared} for c in mapped.ranked],
        fixed=fixed,
        transfer_trials=transfer_trials,
        random_fraction=random_fraction,
        report=TransferReport(
            method=method, mapped=mapped, fixed=fixed, importance=scores
        ).to_stored(),
    )
    layer.check_space(space)
    return layer, TransferReport(method=method, mapped=mapped, fixed=fixed, importance=scores)


def _old_importance(
    sources: Sequence[OldStudy], mapped: Mapped, *, method: str
) -> dict[str, float]:
    """Each shared parameter's importance on the old data, averaged over the old studies."""
    # here, not at the top: the tunewise.analysis package loads pandas, which `import tunewise`
    # does not (tests/analysis/test_study_plots.py holds it to that)
    from tunewise.analysis.importance import importance

    totals: dict[str, list[float]] = {}
    problems: list[str] = []
    for source in sources:
        try:
            found = importance(
                source.trials, source.space, method=method, rng=np.random.default_rng(0)
            )
        except ValueError as error:
            problems.append(f"{source.label}: {error}")
            continue
        for name, value in found.items():
            totals.setdefault(name, []).append(value)
    if not totals:
        raise ValueError(
            "transfer='drop_unimportant' needs the old studies' parameter importance: "
            + "; ".join(problems)
        )
    return {n: float(np.mean(totals[n])) for n in totals if n in mapped.shared}


@register
class Transfer(Optimizer):
    """The transfer layer over the optimizer ``base`` (a stored spec); see the module."""

    name = "transfer"
    listed = False  # built by prepare() from old studies; rebuilt from the stored spec

    def __init__(
        self,
        *,
        base: Mapping[str, Any],
        method: str,
        incumbent: Mapping[str, Any],
        ranked: Sequence[Mapping[str, Any]],
        fixed: Mapping[str, Any] | None = None,
        transfer_trials: int | None = None,
        random_fraction: float = 1 / 3,
        report: Mapping[str, Any] | None = None,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"transfer must be one of {', '.join(METHODS)}, not {method!r}")
        if not ranked:
            raise ValueError("transfer: no old configuration to start from")
        if transfer_trials is not None and (
            isinstance(transfer_trials, bool)
            or not isinstance(transfer_trials, int)
            or transfer_trials < 1
        ):
            raise ValueError(f"transfer_trials must be a positive integer, not {transfer_trials!r}")
        if not 0.0 <= random_fraction <= 1.0:
            raise ValueError(f"random_fraction must be in [0, 1], not {random_fraction!r}")
        self.base = dict(base)
        self.method = method
        self.incumbent = dict(incumbent)
        self.ranked = [dict(c) for c in ranked]
        self.fixed = dict(fixed or {})
        self.transfer_trials = transfer_trials
        self.random_fraction = random_fraction
        self.report = dict(report or {})
        self._base = make(self.base)
        if isinstance(self._base, Transfer):
            raise ValueError("transfer: the base optimizer cannot itself be a transfer layer")
        self._views: dict[Space, Space] = {}

    @property
    def base_optimizer(self) -> Optimizer:
        return self._base

    def check_space(self, space: Space) -> None:
        self._base.check_space(self._view_space(space))

    def _view_space(self, space: Space) -> Space:
        if not self.fixed:
            return space
        if space not in self._views:
            self._views[space] = fixed_space(space, self.fixed)
        return self._views[space]

    def _view(self, history: History) -> History:
        """The History the base optimizer sees: the fixed parameters' space, and only the trials
        that ran with the fixed values."""
        if not self.fixed:
            return history
        view = self._view_space(history.space)
        names = set(view.parameters)
        trials = [
            replace(t, config={k: v for k, v in t.config.items() if k in names})
            for t in history
            if all(t.config.get(k) == v for k, v in self.fixed.items() if k in t.config)
        ]
        return History(space=view, seed=history.seed, trials=trials)

    def ask(self, history: History, n: int = 1) -> list[Suggestion]:
        check_n(n)
        space = history.space
        out: list[Suggestion] = []
        if "best_first" in self.method and BEST_SLOT not in history.slots():
            rng = rng_for(history.seed, RNG_SALT, 0)
            config = space.complete(self.incumbent, rng)
            out.append(
                Suggestion(
                    config=config,
                    slot=BEST_SLOT,
                    fidelity=max_fidelity(space),
                    info={"sampled_from": "transfer_best", "transfer_rank": 0},
                )
            )
        if len(out) == n:
            return out
        suggestions = self._base.ask(self._view(history), n - len(out))
        if self.fixed:
            suggestions = [self._unfixed(s, space) for s in suggestions]
        if "model" in self.method and self._in_transfer_phase(history):
            suggestions = self._from_old(history, suggestions)
        return out + suggestions

    def _unfixed(self, suggestion: Suggestion, space: Space) -> Suggestion:
        """A suggestion over the fixed space, as a config of the study's space."""
        config = {k: v for k, v in suggestion.config.items() if k in space.parameters}
        return replace(suggestion, config=config)

    def _phase_trials(self, space: Space) -> int:
        if self.transfer_trials is not None:
            return self.transfer_trials
        return 2 * (len(space.dimension_names) + len(space.architectures) + 1)

    def _in_transfer_phase(self, history: History) -> bool:
        done = [
            t
            for t in history
            if t.status is TrialStatus.SUCCEEDED or t.status is TrialStatus.FAILED
        ]
        top = max_fidelity(history.space)
        at_top = [t for t in done if top is None or t.fidelity == top]
        return len(at_top) < self._phase_trials(history.space)

    def _from_old(self, history: History, suggestions: list[Suggestion]) -> list[Suggestion]:
        """The base's random draws of new configurations, replaced by transfer-model samples."""
        seen = {config_key(t.config) for t in history}
        out: list[Suggestion] = []
        model: _OldModel | None = None
        for suggestion in suggestions:
            drawn = suggestion.info.get("sampled_from") == "random"
            if not drawn or suggestion.previous_trial is not None:
                out.append(suggestion)
                continue
            number = history.next_number + len(out)
            rng = rng_for(history.seed, RNG_SALT, number)
            if rng.random() < self.random_fraction:
                out.append(suggestion)
                continue
            if model is None:
                model = _OldModel.fit(history.space, self.ranked, rng)
            config, info = model.sample(rng, seen=seen)
            seen.add(config_key(config))
            out.append(replace(suggestion, config=config, info={**suggestion.info, **info}))
        return out


@dataclass(frozen=True)
class _OldModel:
    """A TPE on the old configurations' shared values, ranks as losses (T2PE)."""

    space: Space
    shared: Space
    ranked: Sequence[Mapping[str, Any]]
    kde: GoodBadKDE | None
    n_good: int

    @classmethod
    def fit(
        cls, space: Space, ranked: Sequence[Mapping[str, Any]], rng: np.random.Generator
    ) -> _OldModel:
        shared = _shared_view(space, ranked)
        d = len(shared.dimension_names)
        n = len(ranked)
        n_good = max(1, min(n, max(math.ceil(0.15 * n), (2 * (d + 1)) // 2)))
        kde = None
        if d:
            x = shared.encode_many([_restricted(c, shared) for c in ranked])
            y = np.arange(n, dtype=np.float64)
            kde = GoodBadKDE.fit(x, y, choices_of(shared), rng, min_points=d + 1)
        return cls(space=space, shared=shared, ranked=ranked, kde=kde, n_good=n_good)

    def sample(
        self, rng: np.random.Generator, *, seen: set[tuple[tuple[str, str], ...]]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        config: dict[str, Any] = {}
        for _ in range(10):
            values = dict(self.ranked[int(rng.integers(self.n_good))])
            source = "transfer_top"
            if self.kde is not None:
                u = self.kde.propose(rng, CANDIDATES)
                if u is not None:  # the cube part from the TPE, architectures from the centre
                    values = {k: v for k, v in values.items() if k not in self.shared}
                    values.update(self.shared.decode(u))
                    source = "transfer_model"
            config = self.space.complete(values, rng)
            if config_key(config) not in seen:
                break
        return config, {"sampled_from": source}


def _shared_view(space: Space, ranked: Sequence[Mapping[str, Any]]) -> Space:
    """The searchable parameters of ``space`` that the old configurations set."""
    names = {k for c in ranked for k in c}
    params = {
        n: p
        for n, p in space.searchable.items()
        if n in names and not (p.when and any(q not in names for q in p.when))
    }
    return Space(**params)


def _restricted(config: Mapping[str, Any], shared: Space) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k in shared.parameters}
