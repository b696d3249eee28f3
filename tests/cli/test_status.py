"""``tunewise status``."""

from __future__ import annotations

from tunewise.cli import main


def test_status_lists_failures_with_their_first_error_line(tmp_path, space_file, capsys) -> None:
    root = tmp_path / "failing"
    code = main(
        [
            "run",
            "tests.runtime.objectives:fails_on_negative",
            "--space",
            str(space_file),
            "--root",
            str(root),
            "--budget",
            "20",
            "--seed",
            "0",
            "--quiet",
            "--optimizer",
            "random_search",
        ]
    )
    assert code == 0
    capsys.readouterr()
    assert main(["status", str(root)]) == 0
    out = capsys.readouterr().out
    assert "failures (" in out and "ValueError: x=" in out and "Traceback" not in out


def test_status_shows_the_resolved_optimizer_seed_and_a_trial_in_full(
    tmp_path, space_file, capsys
) -> None:
    root = tmp_path / "resolved"
    argv = ["run", "tests.runtime.objectives:fails_on_negative", "--space", str(space_file)]
    assert main([*argv, "--root", str(root), "--budget", "5", "--seed", "7", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["status", str(root)]) == 0
    out = capsys.readouterr().out
    assert "optimizer: pibo" in out and "seed 7" in out  # auto, as resolved for a prior
    assert "auto" not in out

    import tunewise as tw

    failed = next(t for t in tw.load(root).trial_list if t.status.value == "failed")
    assert main(["status", str(root), "--trial", str(failed.number)]) == 0
    out = capsys.readouterr().out
    assert "Traceback (most recent call last)" in out and "fails_on_negative" in out
    assert "config.x" in out and "config.lr" in out and "failed" in out
    assert main(["status", str(root), "--trial", "99"]) != 0
