"""A study of thousands of one-epoch continuations (as freeze_thaw makes them): the store's budget
count, reading a configuration's whole curve back, ``tunewise status`` and the dashboard."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

import tunewise as tw
from tunewise.cli import main
from tunewise.dashboard.app import create_app
from tunewise.storage import Limits
from tunewise.storage.locations import open_store
from tunewise.trial import Suggestion, TrialStatus

EPOCHS = 50
CHAINS = 60  # 3,000 one-epoch trials

pytestmark = pytest.mark.slow  # ~30 s to record 3,000 trials (two transactions each)


def value(chain: int, epoch: int) -> float:
    return 1.0 / epoch + chain / 100.0


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root whose study holds CHAINS configurations continued one epoch at a time to EPOCHS,
    the chains interleaved (every configuration's epoch e before any one's e + 1), recorded
    through the store as workers record them."""
    root = tmp_path_factory.mktemp("steps") / "ft"
    space = tw.Space(x=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, EPOCHS))
    with open_store(root=root) as store:
        store.create_or_open_study(
            "ft", space=space, optimizer={"name": "freeze_thaw"}, seed=0, budget={}, settings={}
        )
        study = store.study("ft")
        tips: dict[int, int] = {}
        for epoch in range(1, EPOCHS + 1):
            for chain in range(CHAINS):
                previous = tips.get(chain)
                action = "continue" if previous is not None else "start"
                claim = study.claim(
                    Suggestion(
                        config={"x": chain / CHAINS},
                        slot=f"ft:{action}:{chain}:{epoch}",
                        fidelity=epoch,
                        previous_trial=previous,
                    ),
                    worker="w",
                    limits=Limits(),
                )
                assert claim.trial is not None
                number = claim.trial.number
                study.finish(
                    number,
                    worker="w",
                    status=TrialStatus.SUCCEEDED,
                    objective=value(chain, epoch),
                    learning_curve=[(epoch, value(chain, epoch))],
                )
                tips[chain] = number
    return root


def test_the_budget_counts_only_what_each_step_adds(root: Path) -> None:
    result = tw.load(root)
    totals = result.totals
    assert totals.n_finished == totals.n_live == CHAINS * EPOCHS
    assert totals.fidelity_spent == pytest.approx(CHAINS)  # 60 configurations x 50 epochs
    assert totals.fidelity_claimed == pytest.approx(CHAINS)


def test_a_configurations_whole_curve_reads_back_across_its_chain(root: Path) -> None:
    result = tw.load(root)
    last = result.trial_list[-1]  # chain CHAINS - 1 at the last epoch
    whole = result.curve(last.number)
    assert whole["step"].tolist() == list(range(1, EPOCHS + 1))
    assert whole["value"].tolist() == pytest.approx([value(CHAINS - 1, e) for e in whole["step"]])
    assert whole["number"].nunique() == EPOCHS and whole["number"].iloc[-1] == last.number


def test_status_and_the_dashboard_read_the_study(root: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["status", str(root)]) == 0
    out = capsys.readouterr().out
    assert "3000" in out.replace(",", "")
    client = TestClient(create_app(root))
    last = CHAINS * EPOCHS - 1
    detail = client.get(f"/api/study/ft/trial/{last}").json()
    assert len(detail["chain"]) == EPOCHS and detail["chain"][-1] == last
    assert detail["chain_curve"]["steps"] == list(range(1, EPOCHS + 1))
    summary = client.get("/api/study/ft/summary").json()
    assert summary["counts"]["succeeded"] == CHAINS * EPOCHS
