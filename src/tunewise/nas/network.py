"""Compile a derivation into a PyTorch module by recursion over its tree (no generated source).

Schrodi et al. (NeurIPS 2023; ALGORITHMS.md §7) build an architecture by replacing each edge of a
topological operator with the sub-network of the child that fills it. Here a :class:`Topology` is
a DAG over nodes ``0..n`` given as an edge list: node 0 is the input, node n the output, and each
node's value is the sum of its incoming edges' outputs. The k children of ``Name(c1, ..., ck)``
fill the k edges in the listed order. A :class:`Primitive` is a leaf operation. Chains become
``nn.Sequential``, other DAGs a :class:`Graph`; nothing is ``exec``'d (STYLE.md §15).

**Shapes.** A value is described by ``(channels, reduction)``: its channel count and how many
times smaller its resolution is than the network input (a product of strides). A primitive
declares both changes: ``channels(c_in) -> c_out`` and ``stride``, and its factory is called as
``factory(c_in, c_out, stride)``; it must map an ``H x W`` input to ``ceil(H / stride) x
ceil(W / stride)`` (``padding = kernel // 2``), so the reduction of two paths is comparable by the
product of their strides. Every edge is built with the shape of its source node; all edges
entering a node must give the same shape, else :class:`BuildError` names the topology, the node
and the disagreeing edges, when the module is built, not at the first forward pass.

**Zero edges.** A *zero* sub-network is a primitive declared ``zero=True`` (``none``/``zero``), or a
topology whose output node is reached by zero edges only. Its output is identically zero, so it
is an absent edge: where a node has another incoming edge, zero edges are dropped (no modules, no
parameters) and do not take part in the shape check; so are edges whose value then reaches
the output through no other edge. A node with only zero edges is allowed; its value is zeros
of the shape those edges declare.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from tunewise.nas.derivation import Derivation, RawTree, parse_raw
from tunewise.nas.library import PRIMITIVES
from tunewise.nas.parts import TOPOLOGIES, BuildError, Primitive, Shape, Topology


class Graph(nn.Module):
    """A topology's DAG at run time: ``ops[j]`` maps node ``edges[j][0]`` into ``edges[j][1]``.

    Edges are stored sorted by target so every source is complete before it is read.
    """

    def __init__(self, name: str, edges: Sequence[tuple[int, int]], ops: Sequence[nn.Module]):
        super().__init__()
        order = sorted(range(len(edges)), key=lambda j: edges[j][1])
        self.name = name
        self.edges = tuple(edges[j] for j in order)
        self.ops = nn.ModuleList(ops[j] for j in order)
        self.nodes = max(v for _, v in edges) + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: list[torch.Tensor | None] = [x] + [None] * (self.nodes - 1)
        for (u, v), op in zip(self.edges, self.ops, strict=True):
            src = values[u]
            assert src is not None  # every node but 0 has an incoming edge from a lower node
            y: torch.Tensor = op(src)
            prev = values[v]
            values[v] = y if prev is None else prev + y
        out = values[-1]
        assert out is not None
        return out

    def extra_repr(self) -> str:
        return f"name={self.name!r}, edges={self.edges}"


class Network(nn.Module):
    """A built derivation: ``body`` maps ``(B, in_channels, H, W)`` to
    ``(B, out_channels, ceil(H / reduction), ceil(W / reduction))``."""

    def __init__(
        self, body: nn.Module, derivation: str, in_channels: int, out_channels: int, reduction: int
    ):
        super().__init__()
        self.body = body
        self.derivation = derivation
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.reduction = reduction

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y: torch.Tensor = self.body(x)
        return y

    def extra_repr(self) -> str:
        return (
            f"{self.derivation!r}, in_channels={self.in_channels}, "
            f"out_channels={self.out_channels}, reduction={self.reduction}"
        )


@dataclass(frozen=True)
class _Node:
    name: str
    children: tuple[_Node, ...]
    where: str
    bracketed: bool

    def __str__(self) -> str:
        if not self.bracketed:
            return self.name
        return f"{self.name}({', '.join(str(c) for c in self.children)})"


def _from_raw(r: RawTree, text: str) -> _Node:
    kids = tuple(_from_raw(c, text) for c in r.children)
    return _Node(r.name, kids, f"derivation {text!r} at offset {r.offset}", r.bracketed)


def _from_derivation(d: Derivation, text: str, path: str = "root") -> _Node:
    kids = tuple(_from_derivation(c, text, f"{path}.{j}") for j, c in enumerate(d.children))
    return _Node(d.terminal, kids, f"derivation {text!r} at {path}", bool(kids))


@dataclass
class _Built:
    module: nn.Module
    shape: Shape
    zero: bool


class _Builder:
    def __init__(self, primitives: Mapping[str, Primitive], topologies: Mapping[str, Topology]):
        both = sorted(set(primitives) & set(topologies))
        if both:
            raise BuildError(f"names {both} are both primitives and topologies")
        self.primitives = primitives
        self.topologies = topologies

    def build(self, node: _Node, shape: Shape) -> _Built:
        prim = self.primitives.get(node.name)
        if prim is not None:
            if node.bracketed:
                raise BuildError(
                    f"{node.where}: primitive {node.name!r} takes no children, "
                    f"got {len(node.children)}"
                )
            c_out = prim.channels(shape[0])
            return _Built(
                prim.factory(shape[0], c_out, prim.stride),
                (c_out, shape[1] * prim.stride),
                prim.zero,
            )
        topo = self.topologies.get(node.name)
        if topo is None:
            raise BuildError(
                f"{node.where}: unknown terminal {node.name!r}; known topologies: "
                f"{sorted(self.topologies)}; known primitives: {sorted(self.primitives)}"
            )
        if len(node.children) != topo.arity:
            raise BuildError(
                f"{node.where}: topology {node.name!r} has {topo.arity} edges {topo.edges}, "
                f"got {len(node.children)} children"
            )
        return self._topology(node, topo, shape)

    def _topology(self, node: _Node, topo: Topology, shape: Shape) -> _Built:
        shapes: list[Shape] = [shape]
        zero_node = [False]
        kept: list[tuple[tuple[int, int], nn.Module]] = []
        for v in range(1, topo.output + 1):
            into = [j for j, e in enumerate(topo.edges) if e[1] == v]
            built = {j: self.build(node.children[j], shapes[topo.edges[j][0]]) for j in into}
            live = [j for j in into if not built[j].zero] or into[:1]
            # All edges into v must agree: the live ones, or, at an all-zero node, every edge.
            check = live if not built[live[0]].zero else into
            got = {built[j].shape for j in check}
            if len(got) > 1:
                detail = "; ".join(
                    f"edge {j} {topo.edges[j][0]}->{v} {str(node.children[j])!r} gives "
                    f"{built[j].shape[0]} channels at 1/{built[j].shape[1]} resolution"
                    for j in check
                )
                raise BuildError(
                    f"{node.where}: topology {node.name!r}, node {v}: incoming edges disagree "
                    f"({detail}); all edges into a node must give the same channels and "
                    f"resolution"
                )
            shapes.append(built[live[0]].shape)
            zero_node.append(built[live[0]].zero)
            kept += [(topo.edges[j], built[j].module) for j in live]
        # Drop edges into nodes whose value no longer reaches the output (only via zero edges).
        useful = {topo.output}
        for e, _ in sorted(kept, key=lambda k: -k[0][1]):
            if e[1] in useful:
                useful.add(e[0])
        edges = [e for e, _ in kept if e[1] in useful]
        ops = [m for e, m in kept if e[1] in useful]
        if all(e[0] == (edges[i - 1][1] if i else 0) for i, e in enumerate(edges)):  # a chain
            module: nn.Module = nn.Sequential(*ops)
        else:
            module = Graph(node.name, edges, ops)
        return _Built(module, shapes[-1], zero_node[-1])


def build(
    derivation: Derivation | str,
    *,
    channels: int,
    primitives: Mapping[str, Primitive] | None = None,
    topologies: Mapping[str, Topology] | None = None,
) -> Network:
    """Build ``derivation`` (a canonical string or a tree) into a :class:`Network`.

    Args:
        derivation: e.g. ``"Cell(conv3x3, id, zero, conv1x1, avgpool3x3, conv3x3)"``; a string
            needs no grammar (terminals are looked up by name).
        channels: input channels of the network (the stem, if any, is the caller's; see
            :func:`tunewise.nas.classifier`).
        primitives: extra or replacing primitives, merged over
            :data:`tunewise.nas.library.PRIMITIVES`.
        topologies: extra or replacing topologies, merged over :data:`TOPOLOGIES`.

    Raises:
        BuildError: an unknown terminal (listing the known ones), a child count that differs from
            the topology's arity, or edges into a node that disagree on channels or resolution.
        GrammarError: the string is not bracket syntax.
    """
    if channels < 1:
        raise ValueError(f"channels must be >= 1, got {channels}")
    text = str(derivation)
    root = (
        _from_raw(parse_raw(derivation), text)
        if isinstance(derivation, str)
        else _from_derivation(derivation, text)
    )
    builder = _Builder({**PRIMITIVES, **(primitives or {})}, {**TOPOLOGIES, **(topologies or {})})
    out = builder.build(root, (channels, 1))
    return Network(out.module, text, channels, out.shape[0], out.shape[1])


def classifier(net: Network, *, in_channels: int, num_classes: int) -> nn.Sequential:
    """Image classifier around a built body: stem, body, head.

    stem = 3x3 conv ``in_channels -> net.in_channels`` + BatchNorm (NB201's stem); head =
    BatchNorm + ReLU, global average pool, linear to ``num_classes``. Maps ``(B, in_channels, H,
    W)`` to logits ``(B, num_classes)``.
    """
    c = net.out_channels
    return nn.Sequential(
        OrderedDict(
            stem=nn.Sequential(
                nn.Conv2d(in_channels, net.in_channels, 3, padding=1, bias=False),
                nn.BatchNorm2d(net.in_channels),
            ),
            body=net,
            head=nn.Sequential(
                nn.BatchNorm2d(c),
                nn.ReLU(),
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(),
                nn.Linear(c, num_classes),
            ),
        )
    )
