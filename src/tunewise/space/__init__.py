"""Search spaces: parameters with bounds, priors and conditions, a fidelity, and the maths on them.

>>> from tunewise.space import Space, Float, Categorical, Fidelity
>>> space = Space(
...     lr=Float(1e-5, 1e-1, log=True, prior=3e-4, confidence="high"),
...     optimizer=Categorical(["adamw", "sgd"]),
...     momentum=Float(0.0, 0.99, when={"optimizer": "sgd"}),
...     epochs=Fidelity(1, 27),
... )
>>> sorted(space.prior_config())
['lr', 'optimizer']
"""

from tunewise.space.architecture import Architecture
from tunewise.space.errors import SpaceError
from tunewise.space.parameters import (
    Categorical,
    Condition,
    Constant,
    Fidelity,
    Float,
    Integer,
    Parameter,
)
from tunewise.space.space import Space

__all__ = [
    "Architecture",
    "Categorical",
    "Condition",
    "Constant",
    "Fidelity",
    "Float",
    "Integer",
    "Parameter",
    "Space",
    "SpaceError",
]
