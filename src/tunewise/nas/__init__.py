"""Neural architecture search: context-free architecture grammars and their derivations.

>>> import numpy as np
>>> from tunewise.nas import Grammar
>>> g = Grammar(
...     {"S": ["Cell E E E E E E"], "E": ["none", "skip", "conv1x1", "conv3x3", "avgpool3x3"]},
...     "S",
...     topologies={"Cell": 6},
...     primitives=["none", "skip", "conv1x1", "conv3x3", "avgpool3x3"],
... )
>>> g.count()
15625
>>> d = g.sample(np.random.default_rng(0))
>>> g.parse(str(d)) == d
True
"""

from typing import TYPE_CHECKING, Any

from tunewise.nas.derivation import Derivation
from tunewise.nas.errors import GrammarError
from tunewise.nas.grammar import Grammar
from tunewise.nas.operators import crossover, mutate

if TYPE_CHECKING:
    from tunewise.nas.library import PRIMITIVES
    from tunewise.nas.network import Network, build, classifier
    from tunewise.nas.parts import TOPOLOGIES, BuildError, Primitive, Topology

# Compiling to PyTorch (network.py, library.py, parts.py) imports torch; it loads on first use only.
_LAZY = {
    "build": "network",
    "Network": "network",
    "classifier": "network",
    "BuildError": "parts",
    "Primitive": "parts",
    "Topology": "parts",
    "TOPOLOGIES": "parts",
    "PRIMITIVES": "library",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"tunewise.nas.{module}"), name)


__all__ = [
    "PRIMITIVES",
    "TOPOLOGIES",
    "BuildError",
    "Derivation",
    "Grammar",
    "GrammarError",
    "Network",
    "Primitive",
    "Topology",
    "build",
    "classifier",
    "crossover",
    "mutate",
]
