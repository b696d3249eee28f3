"""The progress line names the fidelity of its best (a best at 1 epoch is not one at 27)."""

from __future__ import annotations

import io

import tunewise as tw
from tunewise.runtime.progress import PlainReporter, Snapshot
from tunewise.trial import Trial, TrialStatus


def _trials() -> list[Trial]:
    return [
        Trial(0, {"x": 0.1}, TrialStatus.SUCCEEDED, fidelity=1, objective=0.08),
        Trial(1, {"x": 0.2}, TrialStatus.SUCCEEDED, fidelity=27, objective=0.87),
    ]


def test_best_is_shown_with_its_fidelity() -> None:
    text = Snapshot.of(_trials(), fidelity_name="epochs").describe()
    assert "best 0.87 at epochs=27 (trial 1)" in text
    plain = Snapshot.of([Trial(0, {"x": 0.1}, TrialStatus.SUCCEEDED, objective=0.5)]).describe()
    assert "best 0.5 (trial 0)" in plain  # no fidelity, nothing to name


def test_plain_lines_of_a_run_carry_the_fidelity(tmp_path, capsys) -> None:
    stream = io.StringIO()
    reporter = PlainReporter(stream=stream, fidelity_name="epochs")
    reporter.start(2)
    reporter.stop(_trials)
    assert "at epochs=27" in stream.getvalue()
    space = tw.Space(x=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, 9))
    tw.run(
        lambda c, t: c["x"] + 1 / t.fidelity,
        space,
        root=tmp_path / "r",
        budget=5,
        optimizer="hyperband",
        progress=True,  # not a terminal here: plain lines on stderr
    )
    assert "at epochs=" in capsys.readouterr().err
