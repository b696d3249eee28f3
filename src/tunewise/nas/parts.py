"""The parts a network is built from: primitives (leaf operations with a shape rule) and
topologies (DAGs whose edges the children fill). See :mod:`tunewise.nas.network` for the rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

Shape = tuple[int, int]  # (channels, reduction of the resolution relative to the network input)


class BuildError(ValueError):
    """A derivation that cannot be built: unknown terminal, wrong arity or disagreeing shapes."""


def same(c: int) -> int:
    """The channel rule of shape-preserving primitives."""
    return c


def double(c: int) -> int:
    """The channel rule of down-sampling primitives (ResNet style: 2x channels at stride 2)."""
    return 2 * c


@dataclass(frozen=True)
class Primitive:
    """A leaf operation: ``factory(c_in, c_out, stride) -> nn.Module`` plus its shape rule.

    ``channels`` maps input to output channels, ``stride`` divides the resolution (ceil), and
    ``zero`` marks an operation whose output is identically zero (an absent edge).
    """

    factory: Callable[[int, int, int], nn.Module]
    channels: Callable[[int], int] = same
    stride: int = 1
    zero: bool = False

    def __post_init__(self) -> None:
        if self.stride < 1:
            raise ValueError(f"Primitive stride must be >= 1, got {self.stride}")


@dataclass(frozen=True)
class Topology:
    """A DAG over nodes ``0..n`` (0 = input, n = output); the arity is the number of edges.

    Edges go from a lower to a higher node; every node but 0 has an incoming edge and every node
    but n an outgoing one. Parallel edges are allowed (their outputs are summed).
    """

    edges: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        edges = tuple((int(u), int(v)) for u, v in self.edges)
        object.__setattr__(self, "edges", edges)
        if not edges:
            raise ValueError("Topology needs at least one edge")
        bad = [e for e in edges if not 0 <= e[0] < e[1]]
        if bad:
            raise ValueError(f"Topology edges must go from a lower to a higher node, got {bad}")
        n = self.output
        no_in = [v for v in range(1, n + 1) if all(e[1] != v for e in edges)]
        no_out = [u for u in range(n) if all(e[0] != u for e in edges)]
        if no_in or no_out:
            raise ValueError(
                f"Topology {edges}: nodes without incoming edges {no_in}, "
                f"without outgoing edges {no_out} (nodes are 0..{n})"
            )

    @property
    def arity(self) -> int:
        """Number of edges, i.e. of children in a derivation."""
        return len(self.edges)

    @property
    def output(self) -> int:
        """The output node n."""
        return max(v for _, v in self.edges)

    @classmethod
    def linear(cls, k: int) -> Topology:
        """A chain of k edges 0 -> 1 -> ... -> k."""
        return cls(tuple((i, i + 1) for i in range(k)))

    @classmethod
    def diamond(cls, k: int) -> Topology:
        """Two parallel chains of k edges each, listed level by level (NePS ``Diamond``/``3``)."""
        if k < 2:
            raise ValueError(f"Topology.diamond needs k >= 2, got {k}")
        out = 2 * k - 1
        edges = [(0, 1), (0, 2)]
        for i in range(2, k):
            edges += [(2 * i - 3, 2 * i - 1), (2 * i - 2, 2 * i)]
        edges += [(2 * k - 3, out), (2 * k - 2, out)]
        return cls(tuple(edges))


_CELL = Topology(((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)))

TOPOLOGIES: dict[str, Topology] = {
    **{f"Linear{k}": Topology.linear(k) for k in range(1, 7)},
    **{f"Sequential{k}": Topology.linear(k) for k in range(1, 7)},
    "Linear1b": Topology.linear(1),  # a second name for Linear1 (see nas.grammars)
    # Edge orders of automl/hierarchical_nas_construction (NePS ``Residual``, ``Residual3``).
    "Residual2": Topology(((0, 1), (0, 2), (1, 2))),
    "Residual3": Topology(((0, 1), (1, 2), (0, 3), (2, 3))),
    "Diamond2": Topology.diamond(2),
    "Diamond3": Topology.diamond(3),
    "Diamond4": Topology.diamond(4),
    # NAS-Bench-201 cell: edges 0->1, 0->2, 1->2, 0->3, 1->3, 2->3.
    "Cell": _CELL,
}
"""Ready topologies by name, as in the paper's hierarchical NAS-Bench-201 grammar."""
