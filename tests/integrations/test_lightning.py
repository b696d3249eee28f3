"""TunewiseCallback in real Lightning training on the CPU, tuned by real tunewise studies."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl  # the test extra installs it (and pytorch_lightning with it)
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import tunewise as tw
from tunewise.integrations.lightning import CHECKPOINT, TunewiseCallback

SPACE = tw.Space(
    lr=tw.Float(1e-3, 0.3, log=True),
    width=tw.Integer(2, 16),
    epochs=tw.Fidelity(1, 9),
)


class Regressor(pl.LightningModule):
    """y = sum(x) with one hidden layer; logs val_loss each validation epoch."""

    def __init__(self, lr: float, width: int) -> None:
        super().__init__()
        self.lr = lr
        self.net = torch.nn.Sequential(
            torch.nn.Linear(4, width), torch.nn.ReLU(), torch.nn.Linear(width, 1)
        )
        self.logged: list[tuple[int, float]] = []  # what Lightning logged, for the tests

    def training_step(self, batch: Any, index: int) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def validation_step(self, batch: Any, index: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y), sync_dist=True)

    def on_validation_end(self) -> None:
        if not self.trainer.sanity_checking:
            value = float(self.trainer.callback_metrics["val_loss"])
            self.logged.append((self.current_epoch + 1, value))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def loaders() -> tuple[DataLoader[Any], DataLoader[Any]]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=generator)
    y = x.sum(dim=1, keepdim=True)
    data = TensorDataset(x, y)
    return DataLoader(data, batch_size=16), DataLoader(data, batch_size=32)


def trainer(epochs: int, callback: TunewiseCallback, **options: Any) -> Any:
    return pl.Trainer(
        max_epochs=epochs,
        callbacks=[callback],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **options,
    )


LOGGED: dict[int, list[tuple[int, float]]] = {}
RESUMED_FROM: dict[int, str | None] = {}


def evaluate(config: dict[str, Any], trial: tw.TrialContext) -> dict[str, Any]:
    callback = TunewiseCallback(trial, monitor="val_loss")
    model = Regressor(config["lr"], config["width"])
    RESUMED_FROM[trial.number] = callback.ckpt_path
    trainer(config["epochs"], callback).fit(model, *loaders(), ckpt_path=callback.ckpt_path)
    LOGGED[trial.number] = model.logged
    return callback.result()


@pytest.fixture(scope="module")
def hyperband(tmp_path_factory: pytest.TempPathFactory) -> tw.Result:
    LOGGED.clear()
    RESUMED_FROM.clear()
    root = tmp_path_factory.mktemp("lightning") / "study"
    return tw.run(evaluate, SPACE, root=root, optimizer="hyperband", budget=13, seed=0)


def test_the_store_holds_the_curve_lightning_logged(hyperband: tw.Result) -> None:
    trials = hyperband.trial_list
    assert len(trials) == 13 and all(t.status is tw.TrialStatus.SUCCEEDED for t in trials)
    for trial in trials:
        logged = LOGGED[trial.number]
        assert [s for s, _ in trial.learning_curve] == [float(s) for s, _ in logged]
        assert [v for _, v in trial.learning_curve] == pytest.approx([v for _, v in logged])
        assert trial.objective == pytest.approx(logged[-1][1])


def test_promoted_trials_resume_from_the_lower_rungs_checkpoint(hyperband: tw.Result) -> None:
    trials = {t.number: t for t in hyperband.trial_list}
    promoted = [t for t in trials.values() if t.previous_trial is not None]
    fresh = [t for t in trials.values() if t.previous_trial is None]
    assert len(promoted) >= 3 and {t.fidelity for t in promoted} >= {3, 9}
    root = hyperband.root
    assert root is not None
    for trial in promoted:
        previous = trials[trial.previous_trial]  # type: ignore[index]
        expected = root / "trials" / str(previous.number) / CHECKPOINT
        assert RESUMED_FROM[trial.number] == str(expected)
        steps = [s for s, _ in trial.learning_curve]
        assert steps == [float(e) for e in range(previous.fidelity + 1, trial.fidelity + 1)]
    for trial in fresh:
        assert RESUMED_FROM[trial.number] is None
        assert trial.learning_curve[0][0] == 1.0
        assert (root / "trials" / str(trial.number) / CHECKPOINT).is_file()


def _one_trial(tmp_path: Path, strategy: str) -> tuple[tw.Trial, list[list[Any]]]:
    seen: list[list[Any]] = []  # the trial's curve after fit, then after result()

    def train(config: dict[str, Any], trial: tw.TrialContext) -> dict[str, Any]:
        callback = TunewiseCallback(trial)
        model = Regressor(0.05, 8)
        fit = trainer(config["epochs"], callback, accelerator="cpu", devices=2, strategy=strategy)
        fit.fit(model, *loaders())
        seen.append(trial.learning_curve)
        outcome = callback.result()
        seen.append(trial.learning_curve)
        return outcome

    space = tw.Space(x=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, 3))
    result = tw.run(train, space, root=tmp_path / strategy, optimizer="random_search", budget=1)
    (trial,) = result.trial_list
    return trial, seen


@pytest.mark.parametrize(
    "strategy", ["ddp_fork", pytest.param("ddp_spawn", marks=pytest.mark.slow)]
)
def test_ddp_on_two_cpu_processes_reports_once_per_epoch(tmp_path: Path, strategy: str) -> None:
    trial, seen = _one_trial(tmp_path, strategy)
    assert trial.status is tw.TrialStatus.SUCCEEDED, trial.error
    assert trial.fidelity == 3
    assert [s for s, _ in trial.learning_curve] == [1.0, 2.0, 3.0]
    after_fit, after_result = seen
    assert after_fit == after_result[: len(after_fit)]  # what the relay handed over so far
    assert after_result == list(trial.learning_curve)  # result() handed the rest, once each
    assert (tmp_path / strategy / "trials" / "0" / CHECKPOINT).is_file()


class SlowRegressor(Regressor):
    """Rank 0 pauses before each epoch, so that the relay has time to act while fit runs."""

    def on_train_epoch_start(self) -> None:
        if self.global_rank == 0 and self.current_epoch > 0:
            time.sleep(0.6)


def test_reports_from_a_ddp_child_reach_the_trial_while_fit_runs(tmp_path: Path) -> None:
    reports: list[tuple[float, int]] = []  # (time, curve length) of each report the trial got
    context = tw.TrialContext(
        number=0,
        config={},
        fidelity=3,
        directory=tmp_path,
        on_report=lambda curve: reports.append((time.monotonic(), len(curve))),
    )
    callback = TunewiseCallback(context, relay_interval=0.05)
    fit = trainer(3, callback, accelerator="cpu", devices=2, strategy="ddp_fork")
    fit.fit(SlowRegressor(0.05, 8), *loaders())
    fit_returned = time.monotonic()
    live = [n for at, n in reports if at < fit_returned]
    assert live and live[0] == 1  # the first epoch reached the trial during training
    outcome = callback.result()
    assert [s for s, _ in context.learning_curve] == [1.0, 2.0, 3.0]
    assert [n for _, n in reports] == [1, 2, 3]  # each point reported once, in order
    assert outcome["learning_curve"] == [list(p) for p in context.learning_curve]


def test_a_missing_metric_names_the_ones_logged(tmp_path: Path) -> None:
    def train(config: dict[str, Any], trial: tw.TrialContext) -> dict[str, Any]:
        callback = TunewiseCallback(trial, monitor="val_acc")
        trainer(1, callback).fit(Regressor(0.05, 4), *loaders())
        return callback.result()

    result = tw.run(train, tw.Space(x=tw.Float(0.0, 1.0)), root=tmp_path, budget=1)
    (trial,) = result.trial_list
    assert trial.status is tw.TrialStatus.FAILED
    assert "'val_acc' was not logged (logged metrics: val_loss)" in (trial.error or "")


def test_a_script_copy_started_by_strategy_ddp_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = tw.TrialContext(number=0, config={}, fidelity=None, directory=tmp_path)
    monkeypatch.setenv("LOCAL_RANK", "1")
    with pytest.raises(RuntimeError, match="strategy='ddp_spawn' or 'ddp_fork'"):
        TunewiseCallback(context)


def test_without_a_previous_trial_there_is_nothing_to_resume(tmp_path: Path) -> None:
    previous = tmp_path / "previous"
    previous.mkdir()
    context = tw.TrialContext(
        number=1, config={}, fidelity=3, directory=tmp_path / "1", previous_directory=previous
    )
    assert TunewiseCallback(context).ckpt_path is None  # the previous trial saved nothing
    (previous / CHECKPOINT).write_bytes(b"")
    assert TunewiseCallback(context).ckpt_path == str(previous / CHECKPOINT)
    assert TunewiseCallback(context, save=False).checkpoint == tmp_path / "1" / CHECKPOINT


def test_without_lightning_the_import_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "lightning", None)
    monkeypatch.setitem(sys.modules, "lightning.pytorch", None)
    monkeypatch.delitem(sys.modules, "tunewise.integrations.lightning")
    with pytest.raises(ImportError, match=r"pip install 'tunewise\[lightning\]'"):
        importlib.import_module("tunewise.integrations.lightning")


@pytest.mark.slow
def test_the_example_tunes_a_lightning_cnn_on_digits(tmp_path: Path) -> None:
    import subprocess
    import sys

    example = Path(__file__).resolve().parents[2] / "examples" / "lightning_mnist_like.py"
    arguments = ["--evaluations", "12", "--root", str(tmp_path / "run"), "--tensorboard"]
    done = subprocess.run(
        [sys.executable, str(example), *arguments],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "best validation error" in done.stdout
    trials = tw.load(tmp_path / "run").trial_list
    assert len(trials) == 12 and all(t.status is tw.TrialStatus.SUCCEEDED for t in trials)
    assert any(t.previous_trial is not None for t in trials)  # a promotion resumed
    runs = sorted(p.name for p in (tmp_path / "run" / "tensorboard").iterdir())
    assert runs == [f"trial_{n:05d}" for n in range(12)]


def test_the_pytorch_lightning_package_gets_the_same_callback(tmp_path: Path) -> None:
    import pytorch_lightning as old  # installed by lightning itself

    from tunewise.integrations import pytorch_lightning as integration

    class Linear(old.LightningModule):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Linear(4, 1)

        def training_step(self, batch: Any, index: int) -> torch.Tensor:
            return torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])

        def validation_step(self, batch: Any, index: int) -> None:
            self.log("val_loss", torch.nn.functional.mse_loss(self.net(batch[0]), batch[1]))

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.05)

    def train(config: dict[str, Any], trial: tw.TrialContext) -> dict[str, Any]:
        callback = integration.TunewiseCallback(trial)
        trainer = old.Trainer(
            max_epochs=config["epochs"],
            callbacks=[callback],
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(Linear(), *loaders(), ckpt_path=callback.ckpt_path)
        return callback.result()

    space = tw.Space(x=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, 3))
    result = tw.run(train, space, root=tmp_path, optimizer="hyperband", budget=4, seed=0)
    trials = result.trial_list
    assert all(t.status is tw.TrialStatus.SUCCEEDED for t in trials), trials[0].error
    promoted = [t for t in trials if t.previous_trial is not None]
    assert promoted and all(t.learning_curve[0][0] == 2.0 for t in promoted)
    assert all([s for s, _ in t.learning_curve] == [1.0] for t in trials if t.fidelity == 1)
