"""Loading an objective by path, as worker processes and evaluation children do."""

from __future__ import annotations

import pytest

from tunewise.runtime.loading import load_callable


def test_a_scripts_function_loads_from_its_file_without_running_its_main(tmp_path) -> None:
    script = tmp_path / "train.py"
    marker = tmp_path / "main-ran"
    script.write_text(
        "def evaluate(config, trial):\n"
        "    return config['x'] * 2\n"
        "\n"
        "if __name__ == '__main__':\n"
        f"    open({str(marker)!r}, 'w').close()\n"
    )
    evaluate = load_callable(f"{script}:evaluate")
    assert evaluate({"x": 3}, None) == 6
    assert load_callable(f"{script}:evaluate") is evaluate  # loaded once per process
    assert not marker.exists()


def test_bad_paths_say_what_is_wrong(tmp_path) -> None:
    with pytest.raises(ValueError, match="MODULE:FUNCTION"):
        load_callable("no_colon")
    with pytest.raises(ValueError, match="cannot import module"):
        load_callable(f"{tmp_path / 'missing.py'}:evaluate")
    with pytest.raises(ValueError, match="has no attribute"):
        load_callable("json:nope")


def test_a_relative_path_without_py_names_both_forms(tmp_path, monkeypatch) -> None:
    (tmp_path / "train.py").write_text("def evaluate(config, trial):\n    return 0.0\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    with pytest.raises(ValueError, match=r"script\.py:function") as caught:
        load_callable("../train:evaluate")
    assert "package.module:function" in str(caught.value)
    assert "did you mean ../train.py:evaluate" in str(caught.value)
    assert load_callable("../train.py:evaluate")({}, None) == 0.0
    with pytest.raises(ValueError, match=r"script\.py:function"):
        load_callable("no_such_module_here:evaluate")
