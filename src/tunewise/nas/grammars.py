"""Ready grammars: the NAS-Bench-201 cell and the hierarchical NAS-Bench-201 space of the paper.

Both build with :func:`tunewise.nas.build`'s default primitives and topologies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tunewise.nas.grammar import Grammar

NB201_OPS: tuple[str, ...] = (
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
)
"""The five NAS-Bench-201 operations, in the benchmark's order."""


def nb201_cell(
    ops: Sequence[str] = NB201_OPS,
    *,
    priors: Mapping[str, float] | None = None,
    confidence: str = "medium",
) -> Grammar:
    """The NAS-Bench-201 cell: six edges (0->1, 0->2, 1->2, 0->3, 1->3, 2->3), one op each;
    ``priors``: op -> probability (every op named), the same on every edge. 5^6 = 15,625 cells."""
    return Grammar(
        {"C": ["Cell E E E E E E"], "E": list(ops)},
        "C",
        topologies={"Cell": 6},
        primitives=list(ops),
        priors=None if priors is None else {"E": dict(priors)},
        confidence=confidence,
    )


def hierarchical_nb201() -> Grammar:
    """The hierarchical NAS-Bench-201 space of Schrodi et al. (2023), about 10^446 architectures.

    From automl/hierarchical_nas_construction, ``grammars/macro.cfg`` + ``cell_flexible.cfg`` +
    ``conv_block.cfg``. Two adaptations: the fixed ``"resBlock"`` children become a one-production
    nonterminal ``RES``, and ``cell_flexible.cfg`` lists ``"Linear1" CONVBLOCK`` twice (counted
    twice by the paper's 10^446) while tunewise refuses duplicate productions, so the second copy
    is the topology ``Linear1b``.
    """
    cell_ops = ["id", "zero", "avg_pool", "Linear1 CONVBLOCK", "Linear1b CONVBLOCK"]
    prims = ["id", "zero", "avg_pool", "resBlock", "conv3x3o", "conv1x1o", "dconv3x3o"]
    prims += ["batch", "instance", "layer", "relu", "hardswish", "mish"]
    return Grammar(
        {
            "D2": ["Linear3 D1 D1 D0", "Linear3 D0 D1 D1", "Linear4 D1 D1 D0 D0"],
            "D1": ["Linear3 C C DOWN", "Linear4 C C C DOWN", "Residual3 C C DOWN DOWN"],
            "D0": ["Linear3 C C CELL", "Linear4 C C C CELL", "Residual3 C C CELL CELL"],
            "DOWN": ["Linear2 CELL RES", "Linear3 CELL CELL RES", "Residual2 CELL RES RES"],
            "C": ["Linear2 CELL CELL", "Linear3 CELL CELL CELL", "Residual2 CELL CELL CELL"],
            "RES": ["resBlock"],
            "CELL": ["Cell OPS OPS OPS OPS OPS OPS"],
            "OPS": cell_ops,
            "CONVBLOCK": ["Linear3 ACT CONV NORM"],
            "CONV": ["conv3x3o", "conv1x1o", "dconv3x3o"],
            "NORM": ["batch", "instance", "layer"],
            "ACT": ["relu", "hardswish", "mish"],
        },
        "D2",
        topologies={
            "Linear1": 1,
            "Linear1b": 1,
            "Linear2": 2,
            "Linear3": 3,
            "Linear4": 4,
            "Residual2": 3,
            "Residual3": 4,
            "Cell": 6,
        },
        primitives=prims,
    )
