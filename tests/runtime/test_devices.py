"""One worker per GPU: clear errors without GPUs, per-worker CUDA_VISIBLE_DEVICES, recorded device.

This machine may have no GPU. ``TUNEWISE_GPU_COUNT`` is tunewise's documented override of GPU
detection; the wiring tests use it to declare two GPUs and then check what each worker's
evaluations saw. They do not touch CUDA. The last test runs only where PyTorch sees a GPU.
"""

from __future__ import annotations

import os

import pytest

import tunewise as tw
from tests.runtime import objectives
from tunewise.runtime.devices import GPU_COUNT_ENV, gpu_count

SPACE = tw.Space(x=tw.Float(0.0, 1.0))


def _run(tmp_path, **kwargs):  # type: ignore[no-untyped-def]
    return tw.run(
        objectives.environment,
        SPACE,
        root=tmp_path / "gpu",
        optimizer="random_search",
        progress=False,
        **{"budget": 4, **kwargs},
    )


def test_asking_for_gpus_on_a_machine_without_any_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(GPU_COUNT_ENV, raising=False)
    if gpu_count()[0] > 0:
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match=r"devices=\[0, 1\] asks for GPUs, but 0 GPUs were found"):
        _run(tmp_path, devices=[0, 1])
    assert not (tmp_path / "gpu").exists()  # refused before anything ran on the CPU


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"devices": [0, 2]}, r"no GPU 2; 2 GPU\(s\) found \(TUNEWISE_GPU_COUNT=2\)"),
        ({"devices": [1, 1]}, "names GPU 1 more than once"),
        ({"devices": [-1]}, "is not a GPU index"),
        ({"devices": []}, "non-empty list"),
        ({"devices": [0, 1], "workers": 3}, "one worker per GPU; workers=3 does not match"),
    ],
)
def test_bad_device_lists_are_clear_errors(tmp_path, monkeypatch, kwargs, message) -> None:
    monkeypatch.setenv(GPU_COUNT_ENV, "2")
    with pytest.raises(ValueError, match=message):
        _run(tmp_path, **kwargs)


@pytest.mark.slow
def test_each_worker_process_sees_only_its_gpu_and_records_it(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(GPU_COUNT_ENV, "2")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")  # e.g. what SLURM gave this job
    (tmp_path / "barrier").mkdir()
    monkeypatch.setenv("TW_TEST_BARRIER", f"{tmp_path / 'barrier'}:2")
    result = _run(tmp_path, devices=[0, 1])
    trials = result.trial_list
    assert len(trials) == 4
    assert {t.device for t in trials} == {"0", "1"}  # both GPUs got work
    for trial in trials:
        assert trial.info["device"] == trial.device  # trial.device, as the objective saw it
        assert trial.info["cuda_visible_devices"] == {"0": "3", "1": "5"}[trial.device]
    assert result.trials["device"].notna().all()
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3,5"  # not changed in this process


@pytest.mark.slow
@pytest.mark.skipif(
    __import__("torch").cuda.device_count() < 1, reason="PyTorch sees no GPU on this machine"
)
def test_a_real_gpu_worker_computes_on_its_gpu(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(GPU_COUNT_ENV, raising=False)
    result = tw.run(
        objectives.gpu_probe,
        SPACE,
        root=tmp_path / "cuda",
        optimizer="random_search",
        budget=2,
        devices=[0],
        progress=False,
    )
    assert result.counts["succeeded"] == 2
    for trial in result.trial_list:
        assert trial.device == "0" and trial.info["visible"] == 1
