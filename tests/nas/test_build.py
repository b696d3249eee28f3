"""Compiling derivations to torch modules: every sampled architecture builds and runs."""

from __future__ import annotations

import importlib
import math
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

import tunewise as tw
from tunewise.nas import BuildError, Derivation, Grammar, GrammarError, Primitive, Topology
from tunewise.nas.grammars import hierarchical_nb201
from tunewise.nas.network import TOPOLOGIES

torch.set_num_threads(1)

C, H = 4, 8  # input channels and resolution of every test batch
NB201_OPS = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
DOWN = {"down", "resBlock"}
PAPER_TOPOLOGIES: dict = {}  # the defaults include Linear1b (nas.grammars)


def nb201_cell() -> Grammar:
    return Grammar(
        {"S": ["Cell E E E E E E"], "E": NB201_OPS},
        "S",
        topologies={"Cell": 6},
        primitives=NB201_OPS,
    )


def macro() -> Grammar:
    """Stages that each halve the resolution, over recursive Linear/Residual/Diamond blocks."""
    ops = ["zero", "id", "conv1x1", "conv3x3", "avgpool3x3"]
    return Grammar(
        {
            "NET": ["Linear2 NET STAGE", "Linear2 STAGE STAGE", "Linear1 STAGE"],
            "STAGE": ["Linear2 BLOCK DN", "Residual2 BLOCK DN DN", "Diamond2 BLOCK BLOCK DN DN"],
            "DN": ["down"],
            "BLOCK": [
                "conv3x3",
                "id",
                "Linear2 BLOCK BLOCK",
                "Residual2 BLOCK BLOCK OP",
                "Residual3 BLOCK BLOCK OP BLOCK",
                "Diamond3 OP OP OP OP OP OP",
                "Cell OP OP OP OP OP OP",
            ],
            "OP": ops,
        },
        "NET",
        topologies={
            "Linear1": 1,
            "Linear2": 2,
            "Residual2": 3,
            "Residual3": 4,
            "Diamond2": 4,
            "Diamond3": 6,
            "Cell": 6,
        },
        primitives=[*ops, "down"],
        depth={"NET": 2, "BLOCK": 3},
    )


def expected(d: Derivation, c: int, r: int) -> tuple[int, int]:
    """(channels, reduction) by following, at each node, its first non-zero incoming edge."""
    if not d.children:
        return (2 * c, 2 * r) if d.terminal in DOWN else (c, r)
    edges = (TOPOLOGIES | PAPER_TOPOLOGIES)[d.terminal].edges
    shapes = [(c, r)]
    for v in range(1, max(e[1] for e in edges) + 1):
        into = [j for j, e in enumerate(edges) if e[1] == v]
        live = [j for j in into if d.children[j].terminal not in {"zero", "none"}] or into
        shapes.append(expected(d.children[live[0]], *shapes[edges[live[0]][0]]))
    return shapes[-1]


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


CASES: list[tuple[Callable[[], Grammar], int, dict[str, Topology]]] = [
    (nb201_cell, 120, {}),
    (macro, 150, {}),
    (hierarchical_nb201, 60, PAPER_TOPOLOGIES),
]


@pytest.mark.parametrize(("make", "n", "topologies"), CASES, ids=[m.__name__ for m, _, _ in CASES])
def test_every_sample_builds_and_runs(
    make: Callable[[], Grammar], n: int, topologies: dict[str, Topology]
) -> None:
    g = make()
    rng = np.random.default_rng(0)
    x = torch.randn(2, C, H, H)
    downs = 0
    for _ in range(n):
        d = g.sample(rng)
        net = tw.nas.build(str(d), channels=C, topologies=topologies)
        c, r = expected(d, C, 1)
        assert (net.in_channels, net.out_channels, net.reduction) == (C, c, r), str(d)
        with torch.no_grad():
            y = net(x)
        assert y.shape == (2, c, math.ceil(H / r), math.ceil(H / r)), str(d)
        assert torch.isfinite(y).all()
        downs += r > 1
        # Each down doubles the channels and halves the resolution.
        assert c == C * r and r & (r - 1) == 0
    assert downs == (0 if make is nb201_cell else n)


def test_quickstart_classifier() -> None:
    net = tw.nas.build("Cell(conv3x3, id, zero, conv1x1, avgpool3x3, conv3x3)", channels=16)
    model = tw.nas.classifier(net, in_channels=1, num_classes=10)
    assert model(torch.randn(3, 1, 8, 8)).shape == (3, 10)


def test_down_doubles_channels_and_halves_odd_resolutions() -> None:
    net = tw.nas.build("Linear2(down, Residual2(conv3x3, down, down))", channels=3)
    assert (net.out_channels, net.reduction) == (12, 4)
    assert net(torch.randn(2, 3, 9, 7)).shape == (2, 12, 3, 2)


def test_backward_reaches_every_parameter() -> None:
    """Every parameter gets a finite gradient; the body's are non-zero for the written network
    (a sampled one may be degenerate: e.g. its last cell only reaches the output by zero edges,
    as NAS-Bench-201's 341 disconnected cells)."""
    text = "Linear3(Cell(conv3x3, id, zero, conv1x1, avgpool3x3, conv3x3), down, "
    text += "Diamond2(conv1x1, conv3x3, id, avgpool3x3))"
    derivations: list[Derivation | str] = [text]
    rng = np.random.default_rng(1)
    derivations += [hierarchical_nb201().sample(rng) for _ in range(3)]
    for d in derivations:
        net = tw.nas.build(d, channels=C, topologies=PAPER_TOPOLOGIES)
        model = tw.nas.classifier(net, in_channels=1, num_classes=3)
        loss = nn.functional.cross_entropy(
            model(torch.randn(4, 1, H, H)), torch.tensor([0, 1, 2, 0])
        )
        loss.backward()
        for name, p in model.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), (str(d), name)
        if d is text:
            assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_same_derivation_same_parameter_count() -> None:
    g = hierarchical_nb201()
    rng = np.random.default_rng(2)
    for _ in range(10):
        d = g.sample(rng)
        counts = {
            n_params(tw.nas.build(x, channels=C, topologies=PAPER_TOPOLOGIES))
            for x in (str(d), str(d), d)
        }
        assert len(counts) == 1


def test_unknown_terminal_names_it_and_the_known_ones() -> None:
    with pytest.raises(BuildError, match=r"offset 12.*unknown terminal 'conv5x5'") as info:
        tw.nas.build("Linear2(id, conv5x5)", channels=C)
    assert "'Cell'" in str(info.value) and "'conv3x3'" in str(info.value)
    tree = Derivation("S", "Linear2", (Derivation("A", "id"), Derivation("A", "relu6")))
    with pytest.raises(BuildError, match=r"at root\.1: unknown terminal 'relu6'"):
        tw.nas.build(tree, channels=C)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Cell(conv3x3, id)", r"topology 'Cell' has 6 edges .* got 2 children"),
        ("Linear2(Cell, id)", r"offset 8: topology 'Cell' has 6 edges .* got 0 children"),
        ("conv3x3(id)", r"primitive 'conv3x3' takes no children, got 1"),
    ],
)
def test_arity_mismatch(text: str, match: str) -> None:
    with pytest.raises(BuildError, match=match):
        tw.nas.build(text, channels=C)


def test_disagreeing_channels_name_the_topology_and_node() -> None:
    # Residual2: 0->1 down, 0->2 id (4 channels), 1->2 id (8 channels at 1/2).
    with pytest.raises(BuildError, match=r"offset 17: topology 'Residual2', node 2") as info:
        tw.nas.build("Linear2(conv3x3, Residual2(down, id, id))", channels=C)
    msg = str(info.value)
    assert "edge 1 0->2 'id' gives 4 channels at 1/1" in msg
    assert "edge 2 1->2 'id' gives 8 channels at 1/2" in msg


def test_zero_edges_are_absent_edges() -> None:
    # The zero skip of a down path takes no part in the shape check.
    net = tw.nas.build("Residual2(down, zero, down)", channels=C)
    assert (net.out_channels, net.reduction) == (4 * C, 4)
    # A branch reaching the output only through a zero edge is dropped with its parameters.
    pruned = tw.nas.build("Diamond2(conv3x3, conv1x1, zero, id)", channels=C)
    assert n_params(pruned) == n_params(tw.nas.build("conv1x1", channels=C))
    # A node with only zero edges gives zeros of its shape.
    dead = tw.nas.build("Cell(zero, zero, zero, zero, zero, zero)", channels=C)
    y = dead(torch.randn(2, C, H, H))
    assert y.shape == (2, C, H, H) and not y.any()
    # A zero sub-network (output fed by zero edges only) is itself a zero edge.
    skip = tw.nas.build("Residual2(conv3x3, Linear2(down, zero), id)", channels=C)
    assert n_params(skip) == n_params(tw.nas.build("conv3x3", channels=C))


def test_custom_primitives_and_topologies() -> None:
    widen = Primitive(lambda c_in, c_out, s: nn.Conv2d(c_in, c_out, 1, s), channels=lambda c: c + 2)
    fork = Topology(((0, 1), (0, 1), (1, 2)))  # parallel edges are summed
    net = tw.nas.build(
        "Fork(widen, widen, conv3x3)",
        channels=C,
        primitives={"widen": widen},
        topologies={"Fork": fork},
    )
    assert net(torch.randn(2, C, H, H)).shape == (2, C + 2, H, H)
    with pytest.raises(BuildError, match=r"both primitives and topologies"):
        tw.nas.build("id", channels=C, topologies={"id": fork})


@pytest.mark.parametrize(
    ("edges", "match"),
    [
        ((), "at least one edge"),
        (((1, 0),), "lower to a higher node"),
        (((0, 2),), r"without incoming edges \[1\]"),
        (((0, 1), (0, 2)), r"without outgoing edges \[1\]"),
    ],
)
def test_topology_validation(edges: tuple[tuple[int, int], ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Topology(edges)


def test_ready_topologies() -> None:
    assert TOPOLOGIES["Cell"].edges == ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
    assert TOPOLOGIES["Linear3"] == TOPOLOGIES["Sequential3"] == Topology.linear(3)
    assert TOPOLOGIES["Diamond3"].edges == ((0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 5))
    assert TOPOLOGIES["Diamond4"].arity == 8


def test_bad_syntax_is_a_grammar_error() -> None:
    with pytest.raises(GrammarError, match="offset"):
        tw.nas.build("Cell(conv3x3,", channels=C)


def test_build_is_the_function_after_importing_its_module() -> None:
    module = importlib.import_module("tunewise.nas.network")
    assert tw.nas.build is module.build


def test_importing_nas_does_not_import_torch() -> None:
    code = "import tunewise.nas, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
