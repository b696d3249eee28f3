"""LCBench through the YAHPO Gym surrogate: 34 OpenML tasks, an epoch fidelity 1..52.

LCBench (Zimmer, Lindauer & Hutter, 2021, "Auto-PyTorch Tabular") trained funnel-shaped MLPs on 35
OpenML tasks and recorded full learning curves. YAHPO Gym (Pfisterer, Schneider et al., 2022) fits
one neural surrogate to those curves and ships it as an ONNX model; we evaluate that model with
onnxruntime. Facts about the model (inputs, outputs, encodings) are in the data folder's README.

- **Space**: ``config_space.json`` without the task id (the instance): ``batch_size`` (int, log),
  ``learning_rate`` (log), ``max_dropout``, ``max_units`` (int, log), ``momentum``, ``num_layers``
  (int), ``weight_decay``; fidelity ``epoch`` = ``Fidelity(1, 52)``.
- **Objective**: ``1 - val_balanced_accuracy`` as predicted at the epoch (as in the PriorBand
  paper, Mallik et al. 2023); not clipped. The surrogate is deterministic, so ``seed`` is ignored.
- **Cost**: the predicted cumulative training ``time`` (seconds) up to the epoch, clamped at >= 0.
  In 0.02-0.3 % of the epochs (tasks checked) the prediction decreases from the previous one;
  :class:`~tunewise.benchmarks.base.BenchmarkObjective` then charges a continuation 0, never less.
- **Learning curve**: the predicted objective at epochs 1..fidelity (one batched model call).
- **Priors** (``priors/lcbench-<task>-<quality>.yaml``, from mf-prior-bench, as in PriorBand):
  ``at25`` for every task (best of 25 random configs); ``good`` (best of 50k samples), ``medium``,
  ``bad`` (worst of 50k) and ``gpt`` for five tasks. The data README says ``medium`` is meant to be
  used with a 0.25 perturbation; we apply it once, deterministically: in the unit cube (log scale
  for log parameters), each value is redrawn from a normal with sd ``medium_perturbation`` (0.25)
  around the stored value, truncated to [0, 1], from ``numpy.random.default_rng(task_id)``;
  integers are rounded. ``medium_perturbation=0`` uses the file as is. All priors get the
  ``medium`` confidence by default.
- **Optimum** (best known, ``optimum_is_known`` is False): the minimum of the objective at epoch
  52 over 20,000 uniform random configs (``Space.sample_many`` with ``default_rng(0)``) and all
  prior configs, computed once per process and task (about 1 s).

The data folder is found from the ``data_dir`` argument, else the ``TUNEWISE_LCBENCH_DIR``
environment variable (users: the ``lcbench`` folder of YAHPO Gym's surrogate data,
https://github.com/slds-lmu/yahpo_data, with the ``lcbench-*.yaml`` priors of mf-prior-bench,
https://github.com/automl/mf-prior-bench, in ``priors/``), else, for this project's development
checkout only, ``<repo>/../shared/data/lcbench``. One onnxruntime session per process
and folder, created lazily, single-threaded (the benchmark runner parallelizes over processes).
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from tunewise.benchmarks.base import Benchmark, Evaluation, check_seed
from tunewise.space import Categorical, Constant, Fidelity, Float, Integer, Parameter, Space
from tunewise.space.priors import truncnorm_sample

__all__ = [
    "ENV_VAR",
    "TASK_IDS",
    "LCBenchBenchmark",
    "default_data_dir",
    "resolve_data_dir",
]

ENV_VAR = "TUNEWISE_LCBENCH_DIR"
"""Environment variable naming the LCBench data folder (``model.onnx``, ``config_space.json``,
``encoding.json``, ``priors/``)."""

TASK_IDS: tuple[str, ...] = (
    "3945", "7593", "34539", "126025", "126026", "126029", "146212", "167104", "167149",
    "167152", "167161", "167168", "167181", "167184", "167185", "167190", "167200", "167201",
    "168329", "168330", "168331", "168335", "168868", "168908", "168910", "189354", "189862",
    "189865", "189866", "189873", "189905", "189906", "189908", "189909",
)  # fmt: skip
"""The 34 OpenML task ids of the surrogate (the choices of ``OpenML_task_id``)."""

FIDELITY = "epoch"
MAX_EPOCH = 52
INPUT_ORDER = (
    "batch_size",
    "learning_rate",
    "momentum",
    "weight_decay",
    "num_layers",
    "max_units",
    "max_dropout",
)
"""The model's ``x_cont`` columns after ``epoch``."""
_TIME, _VAL_BALANCED_ACCURACY = 0, 3
PRIOR_QUALITIES = ("good", "medium", "bad", "at25", "gpt")
OPTIMUM_SAMPLES = 20_000


def default_data_dir() -> Path:
    """``<repo>/../shared/data/lcbench``: the development fallback (a user's clone has no such
    folder; users set ``TUNEWISE_LCBENCH_DIR``)."""
    return Path(__file__).resolve().parents[3].parent / "shared" / "data" / "lcbench"


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: ``data_dir``, else ``$TUNEWISE_LCBENCH_DIR``, else the default.

    Raises ``FileNotFoundError`` saying where it looked when ``model.onnx`` is not there.
    """
    if data_dir is not None:
        path, source = Path(data_dir), "the data_dir argument"
    elif os.environ.get(ENV_VAR):
        path, source = Path(os.environ[ENV_VAR]), f"${ENV_VAR}"
    else:
        path, source = default_data_dir(), "the default location"
    if not (path / "model.onnx").is_file():
        raise FileNotFoundError(
            f"LCBench surrogate data not found: no model.onnx in {path} (from {source}); pass "
            f"data_dir=... or set {ENV_VAR} to a folder with model.onnx, config_space.json, "
            "encoding.json and priors/: the 'lcbench' folder of YAHPO Gym's surrogate data "
            "(https://github.com/slds-lmu/yahpo_data), priors/ holding mf-prior-bench's "
            "lcbench-*.yaml files (https://github.com/automl/mf-prior-bench, src/priors/)"
        )
    return path.resolve()


_SESSIONS: dict[Path, Any] = {}
_SESSION_LOCK = threading.Lock()


def _session(data_dir: Path) -> Any:
    """The process's onnxruntime session for ``data_dir`` (created once, single-threaded)."""
    with _SESSION_LOCK:
        session = _SESSIONS.get(data_dir)
        if session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(
                str(data_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
            )
            _SESSIONS[data_dir] = session
        return session


@functools.cache
def _task_code(data_dir: Path, task_id: str) -> int:
    encoding = json.loads((data_dir / "encoding.json").read_text())["OpenML_task_id"]
    return int(encoding[task_id])


@functools.cache
def _space(data_dir: Path) -> Space:
    """The space from ``config_space.json`` (ConfigSpace JSON), without the task id."""
    data = json.loads((data_dir / "config_space.json").read_text())
    params: dict[str, Parameter] = {}
    for hp in data["hyperparameters"]:
        name, kind = hp["name"], hp["type"]
        if name == "OpenML_task_id":
            continue
        if name == FIDELITY:
            params[name] = Fidelity(int(hp["lower"]), int(hp["upper"]))
        elif kind == "uniform_int":
            params[name] = Integer(int(hp["lower"]), int(hp["upper"]), log=bool(hp["log"]))
        elif kind == "uniform_float":
            params[name] = Float(float(hp["lower"]), float(hp["upper"]), log=bool(hp["log"]))
        elif kind == "categorical":
            params[name] = Categorical(list(hp["choices"]))
        elif kind == "constant":
            params[name] = Constant(hp["value"])
        else:
            raise ValueError(f"config_space.json: unsupported type {kind!r} of {name!r}")
    return Space(**params)


def _predict(data_dir: Path, task_id: str, rows: np.ndarray) -> np.ndarray:
    """Surrogate outputs for ``rows`` of shape (n, 8) (epoch first) -> float32 (n, 6)."""
    code = np.full((len(rows), 1), _task_code(data_dir, task_id), dtype=np.int32)
    x = np.ascontiguousarray(rows, dtype=np.float32)
    out = _session(data_dir).run(None, {"x_cat": code, "x_cont": x})[0]
    return np.asarray(out, dtype=np.float32)


def _matrix(configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Configs -> float64 (n, 7) in :data:`INPUT_ORDER`; ``ValueError`` on a missing key."""
    try:
        return np.array([[float(c[k]) for k in INPUT_ORDER] for c in configs], dtype=np.float64)
    except KeyError as exc:
        raise ValueError(
            f"an LCBench config needs {', '.join(INPUT_ORDER)}; missing {exc.args[0]!r}"
        ) from None


@functools.cache
def _best_known(data_dir: Path, task_id: str, priors: tuple[tuple[float, ...], ...]) -> float:
    space = _space(data_dir)
    configs = space.sample_many(np.random.default_rng(0), OPTIMUM_SAMPLES)
    x = np.vstack([_matrix(configs), np.array(priors).reshape(-1, len(INPUT_ORDER))])
    rows = np.column_stack([np.full(len(x), MAX_EPOCH), x])
    out = _predict(data_dir, task_id, rows)
    return float(np.min(1.0 - out[:, _VAL_BALANCED_ACCURACY].astype(np.float64)))


class LCBenchBenchmark(Benchmark):
    """One LCBench task through the YAHPO surrogate, named ``lcbench-<task_id>``.

    See the module docstring for the objective, cost, priors and best-known optimum.
    """

    def __init__(
        self,
        *,
        task_id: str | int,
        data_dir: str | os.PathLike[str] | None = None,
        medium_perturbation: float = 0.25,
    ) -> None:
        if str(task_id) not in TASK_IDS:
            raise ValueError(f"task_id must be one of {', '.join(TASK_IDS)}; got {task_id!r}")
        if not 0.0 <= medium_perturbation <= 1.0:
            raise ValueError(f"medium_perturbation must be in [0, 1], got {medium_perturbation!r}")
        self.task_id = task_id
        self.data_dir = data_dir
        self.medium_perturbation = medium_perturbation
        self.name = f"lcbench-{task_id}"

    @property
    def _task(self) -> str:
        return str(self.task_id)

    @property
    def _dir(self) -> Path:
        return resolve_data_dir(self.data_dir)

    def _build_space(self) -> Space:
        return _space(self._dir)

    def _prior_configs(self) -> dict[str, dict[str, Any]]:
        cached = self.__dict__.get("_priors")
        if cached is None:
            cached = self.__dict__["_priors"] = self._load_priors()
        return cached

    def _load_priors(self) -> dict[str, dict[str, Any]]:
        space = self._base_space()
        configs = {}
        for quality in PRIOR_QUALITIES:
            path = self._dir / "priors" / f"lcbench-{self._task}-{quality}.yaml"
            if not path.is_file():
                continue
            raw = yaml.safe_load(path.read_text())
            config = {
                name: int(raw[name]) if isinstance(space[name], Integer) else float(raw[name])
                for name in space.dimension_names
            }
            space.validate_config(config)
            if quality == "medium" and self.medium_perturbation > 0:
                rng = np.random.default_rng(int(self._task))
                u = truncnorm_sample(rng, space.encode(config), self.medium_perturbation)
                config = space.decode(u)
            configs[quality] = config
        return configs

    @property
    def optimum(self) -> float:
        """Best known objective at epoch 52 (module docstring: 20k random configs + priors)."""
        priors = tuple(
            tuple(float(c[k]) for k in INPUT_ORDER) for c in self._prior_configs().values()
        )
        return _best_known(self._dir, self._task, priors)

    @property
    def optimum_is_known(self) -> bool:
        return False

    @property
    def simulated(self) -> bool:
        return True

    def evaluate(
        self, config: Mapping[str, Any], fidelity: float | int, *, seed: int = 0
    ) -> Evaluation:
        """Predict epochs 1..fidelity in one call: objective and cost at ``fidelity``, curve."""
        check_seed(seed)
        return self.evaluate_many([config], fidelity, learning_curve=True)[0]

    def evaluate_many(
        self,
        configs: Sequence[Mapping[str, Any]],
        fidelity: float | int,
        *,
        learning_curve: bool = False,
    ) -> list[Evaluation]:
        """:meth:`evaluate` for many configs in one model call (curves only when asked).

        Without curves only the rows at ``fidelity`` are predicted; objective and cost then equal
        :meth:`evaluate`'s up to float32 rounding of the batched kernels.
        """
        epoch = int(self._check_fidelity(fidelity))
        x = _matrix(configs)
        n = len(x)
        if n == 0:
            return []
        if not learning_curve:
            rows = np.column_stack([np.full(n, epoch), x])
            out = _predict(self._dir, self._task, rows).astype(np.float64)
            return [
                Evaluation(1.0 - float(o[_VAL_BALANCED_ACCURACY]), max(0.0, float(o[_TIME])))
                for o in out
            ]
        epochs = np.tile(np.arange(1, epoch + 1), n)
        rows = np.column_stack([epochs, np.repeat(x, epoch, axis=0)])
        out = _predict(self._dir, self._task, rows).astype(np.float64).reshape(n, epoch, -1)
        results = []
        for o in out:
            objective = 1.0 - o[:, _VAL_BALANCED_ACCURACY]
            curve = tuple((float(e + 1), float(v)) for e, v in enumerate(objective))
            results.append(Evaluation(float(objective[-1]), max(0.0, float(o[-1, _TIME])), curve))
        return results
