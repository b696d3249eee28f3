"""The joint GP over architectures and hyperparameters at every fidelity (PriorBand+BO's model).

:class:`JointInputs` is the :class:`~tunewise.models.multi_fidelity.Inputs` of spaces with
:class:`~tunewise.space.Architecture` parameters: the rows and the GP of
:mod:`tunewise.models.joint` (the hyperparameters' cube columns times one WL kernel per
architecture) over :func:`fidelity_space`, the user's space with its fidelity turned into a
log-scale :class:`~tunewise.space.Float` of the same name and range. The fidelity is then one more
cube column, valued :func:`tunewise.models.gp.fidelity_unit` as in the cube model, and enters the
hyperparameter kernel (RBF with the dimension-scaled lengthscale prior) like any number: the
product kernel lets the good architectures at low fidelity differ from those at the top.

The WL vocabulary is fitted on the training and pending derivations (:func:`joint.fitted_model`);
the candidates' rows are computed over it, each distinct derivation once.

Imports torch: import this module inside an ``ask`` path only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from botorch.models.model import Model
from numpy.typing import NDArray

from tunewise.models import gp, joint
from tunewise.models.multi_fidelity import Configs
from tunewise.space import Float, Space


def fidelity_space(space: Space) -> Space:
    """``space`` with its fidelity as ``Float(lower, upper, log=True)`` under the same name, in
    the same place: configs that carry their fidelity value are then ordinary configs."""
    name, param = space.fidelity_name, space.fidelity
    if param is None:
        raise ValueError("the space has no fidelity")
    fidelity = Float(float(param.lower), float(param.upper), log=True)
    return Space(**{n: fidelity if n == name else p for n, p in space.parameters.items()})


@dataclass
class JointInputs:
    """Joint rows (:class:`joint.JointFeatures` over :func:`fidelity_space`) and the joint GP.

    ``combine``: the kernel of :func:`joint.build_model` (``"product"`` or ``"additive"``).
    """

    space: Space
    features: joint.JointFeatures
    combine: str = "product"

    @classmethod
    def of(
        cls, space: Space, *, h: int = 2, hierarchical: bool = False, combine: str = "product"
    ) -> JointInputs:
        """``h`` WL iterations; ``hierarchical``: the level-graph WL kernel."""
        features = joint.JointFeatures.of(fidelity_space(space), h=h, hierarchical=hierarchical)
        return cls(space, features, combine)

    @property
    def column(self) -> int:
        return self.features.space.dimension_names.index(str(self.space.fidelity_name))

    def _with_fidelity(self, configs: Configs, fidelity: gp.Array) -> list[dict[str, Any]]:
        name = str(self.space.fidelity_name)
        return [{**c, name: float(f)} for c, f in zip(configs, fidelity, strict=True)]

    def rows(self, configs: Configs, fidelity: gp.Array) -> gp.Array:
        return self.features.transform(self._with_fidelity(configs, fidelity))

    def fitted(
        self,
        configs: Configs,
        fidelity: gp.Array,
        y: gp.Array,
        *,
        keys: NDArray[np.int64],
        pending: Configs,
        pending_fidelity: gp.Array,
        fit: gp.FitSettings,
    ) -> tuple[Model, gp.Array, gp.Array, gp.Array]:
        model, train_x, train_y, pending_x = joint.fitted_model(
            self._with_fidelity(configs, fidelity),
            y,
            self.features,
            keys=keys,
            pending=self._with_fidelity(pending, pending_fidelity),
            seed=fit.seed,
            max_points=fit.max_points,
            warm_iterations=fit.warm_iterations,
            combine=self.combine,
            cache=fit.cache,
        )
        return model, train_x, train_y, pending_x
