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

from tunewise.nas.derivation import Derivation
from tunewise.nas.errors import GrammarError
from tunewise.nas.grammar import Grammar

__all__ = ["Derivation", "Grammar", "GrammarError"]
