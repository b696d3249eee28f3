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
