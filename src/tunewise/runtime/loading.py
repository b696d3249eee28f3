"""How an objective reaches another process: by import path, from the user's script, or pickled.

A worker process, a Dask task or an evaluation child cannot share the caller's function object;
it gets either the function pickled (by reference: its module and name), or a path to load it
from -- ``module:function`` for an importable module, ``/abs/script.py:function`` for a function
of the script run as ``__main__``. This module turns functions into such paths and back, and
checks early that a function can travel at all. It imports nothing else of the runtime, so every
runtime module may use it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pickle
import sys
from typing import Any

from tunewise.runtime.context import Evaluate


def import_path(function: Any) -> str | None:
    """``module:qualname`` for a function importable by another process, else None."""
    module = getattr(function, "__module__", None)
    qualname = getattr(function, "__qualname__", "")
    if not module or module == "__main__" or "<" in qualname:
        return None
    return f"{module}:{qualname}"


def script_path(function: Any) -> str | None:
    """``/abs/script.py:qualname`` for a top-level function of the script run as ``__main__``.

    Another process can load it from the file (its ``if __name__ == "__main__":`` block does not
    run), where pickling by reference cannot: its ``__main__`` is something else (a Dask worker).
    """
    main = sys.modules.get("__main__")
    qualname = getattr(function, "__qualname__", "")
    file = getattr(main, "__file__", None)
    if getattr(function, "__module__", None) != "__main__" or not file or "<" in qualname:
        return None
    return f"{os.path.abspath(file)}:{qualname}"


FORMS = (
    "give the objective as package.module:function (importable from the current folder or "
    "PYTHONPATH) or as /path/to/script.py:function"
)


def load_callable(path: str) -> Evaluate:
    """Import ``module:function`` (the current folder is importable, as with ``python -m``), or
    load ``path/to/script.py:function`` from that file."""
    module_name, sep, attribute = path.rpartition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"expected MODULE:FUNCTION, got {path!r}; {FORMS}")
    if not module_name.endswith(".py") and ("/" in module_name or module_name.startswith(".")):
        script = f"{module_name}.py"
        hint = f" (did you mean {script}:{attribute}?)" if os.path.isfile(script) else ""
        raise ValueError(f"{module_name!r} is neither a module name nor a .py file{hint}; {FORMS}")
    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        target: Any = (
            _load_script(module_name)
            if module_name.endswith(".py")
            else importlib.import_module(module_name)
        )
    except (ImportError, OSError) as exc:
        raise ValueError(f"cannot import module {module_name!r}: {exc}; {FORMS}") from exc
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise ValueError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if not callable(target):
        raise ValueError(f"{path} is not callable")
    evaluate: Evaluate = target  # callable; its signature is the user's promise
    return evaluate


def _load_script(file: str) -> Any:
    """The script at ``file`` as a module named after it (loaded once per process)."""
    name = "tunewise_script_" + "".join(c if c.isalnum() else "_" for c in file)
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, file)
        if spec is None or spec.loader is None:
            raise ImportError(f"{file} is not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


def check_picklable(evaluate: Evaluate, *, why: str = "workers>1") -> None:
    """Fail early and clearly if ``evaluate`` cannot be sent to another process."""
    advice = (
        f"{why} runs evaluate in separate processes, so it must be importable: define it at "
        "the top level of a module (not a lambda, a closure or a notebook cell)"
    )
    main = sys.modules.get("__main__")
    if getattr(evaluate, "__module__", None) == "__main__" and not getattr(main, "__file__", None):
        raise TypeError(f"{advice}; {evaluate!r} was defined interactively")
    try:
        pickle.dumps(evaluate)
    except Exception as exc:
        raise TypeError(f"{advice}; pickling {evaluate!r} failed: {exc}") from None
