"""WL histograms, vocabulary and kernel, checked against WL kernels computed by hand."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import torch

from tunewise.models.wl import (
    WLKernel,
    WLVocabulary,
    architecture_features,
    histograms,
    wl_histogram,
)
from tunewise.nas import Grammar
from tunewise.nas.grammars import hierarchical_nb201, nb201_cell
from tunewise.nas.graph import LabelledGraph, architecture_graph, level_graphs, operations

# G1: input -> conv -> output.  G2: input -> {conv, id} -> output.  G3: G1's labels, edges reversed.
G1 = LabelledGraph(("input", "conv", "output"), ((0, 1), (1, 2)))
G2 = LabelledGraph(("input", "conv", "id", "output"), ((0, 1), (0, 2), (1, 3), (2, 3)))
G3 = LabelledGraph(("input", "conv", "output"), ((1, 0), (2, 1)))


def k(a: LabelledGraph, b: LabelledGraph, h: int) -> float:
    ha, hb = wl_histogram(a, h=h), wl_histogram(b, h=h)
    return float(sum(c * hb[lab] for lab, c in ha.items()))


def test_histogram_counts_every_node_at_every_iteration() -> None:
    hist = wl_histogram(G2, h=2)
    assert sum(hist.values()) == 4 * 3
    assert {lab: c for lab, c in hist.items() if lab.startswith("0:")} == {
        "0:input": 1,
        "0:conv": 1,
        "0:id": 1,
        "0:output": 1,
    }
    # conv and id have the same in- and out-neighbours but keep their own label: distinct.
    assert len([lab for lab in hist if lab.startswith("1:")]) == 4


def test_kernel_equals_the_hand_computed_wl_kernel() -> None:
    # h = 0: shared labels input, conv, output -> 3; G2 has 4 labels -> k(G2, G2) = 4.
    assert (k(G1, G2, 0), k(G1, G1, 0), k(G2, G2, 0)) == (3, 3, 4)
    # h = 1: only conv has the same (label, in {input}, out {output}) in G1 and G2 -> +1;
    # every node of a graph gets a distinct label, so self-kernels add n.
    assert (k(G1, G2, 1), k(G1, G1, 1), k(G2, G2, 1)) == (4, 6, 8)
    # h = 2: conv's neighbours now differ (input has out {conv} vs {conv, id}) -> nothing shared.
    assert (k(G1, G2, 2), k(G1, G1, 2), k(G2, G2, 2)) == (4, 9, 12)
    # Direction matters: reversing the edges keeps only the iteration-0 labels in common (an
    # undirected WL would give 9 at h = 2).
    assert (k(G1, G3, 1), k(G1, G3, 2)) == (3, 3)

    vocab = WLVocabulary().fit([wl_histogram(g, h=2) for g in (G1, G2, G3)])
    rows = vocab.transform([wl_histogram(g, h=2) for g in (G1, G2, G3)])
    assert rows.shape == (3, len(vocab)) and rows.dtype == np.float64
    gram = rows @ rows.T
    assert np.allclose(np.diag(gram), 1.0)
    assert gram[0, 1] == pytest.approx(4 / math.sqrt(9 * 12))
    assert gram[0, 2] == pytest.approx(3 / 9)


def test_labels_outside_the_vocabulary_count_in_the_norm() -> None:
    vocab = WLVocabulary().fit([wl_histogram(G1, h=2)])
    r1, r2 = vocab.transform([wl_histogram(G1, h=2), wl_histogram(G2, h=2)])
    assert r1 @ r2 == pytest.approx(4 / math.sqrt(9 * 12))
    # Only G1 was fitted, so all its labels are its own (one column): G2's row is its projection.
    assert r1.shape == (1,) and r1[0] == pytest.approx(1.0)
    assert r2 @ r2 == pytest.approx((4 / math.sqrt(9 * 12)) ** 2)


def test_labels_of_one_graph_share_a_column_and_keep_the_kernel_exact() -> None:
    hier = hierarchical_nb201()
    rng = np.random.default_rng(5)
    graphs = [architecture_graph(hier, hier.sample(rng)) for _ in range(12)]
    hists = [wl_histogram(g, h=2) for g in graphs]
    vocab = WLVocabulary().fit(hists[:8])
    assert len(vocab) < len(set().union(*hists[:8])) / 2
    rows = vocab.transform(hists)
    for i in range(12):
        for j in range(8):
            exact = sum(c * hists[j][lab] for lab, c in hists[i].items()) / math.sqrt(
                k_self(hists[i]) * k_self(hists[j])
            )
            assert rows[i] @ rows[j] == pytest.approx(exact, abs=1e-12)


def k_self(hist: Counter[str]) -> float:
    return float(sum(c * c for c in hist.values()))


@pytest.mark.slow  # a fresh interpreter imports torch and gpytorch (about 4 s)
def test_labels_are_the_same_in_another_process() -> None:
    code = (
        "from tunewise.models.wl import wl_histogram; from tunewise.nas.graph import LabelledGraph;"
        "g = LabelledGraph(('input', 'conv', 'id', 'output'), ((0, 1), (0, 2), (1, 3), (2, 3)));"
        "print(sorted(wl_histogram(g, h=2).items()))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(sorted(wl_histogram(G2, h=2).items()))


def gram(x: np.ndarray, blocks: list[int], raw: torch.Tensor | None = None) -> torch.Tensor:
    kernel = WLKernel(blocks)
    if raw is not None:
        kernel.raw_weights.data = raw
    t = torch.as_tensor(x, dtype=torch.float64)
    with torch.no_grad():
        return kernel.to(torch.float64)(t, t).to_dense()


def test_kernel_matrices_are_psd_and_normalized() -> None:
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    cells = nb201_cell()
    x, _, blocks = architecture_features(cells, [cells.sample(rng) for _ in range(50)], h=2)
    hier = hierarchical_nb201()
    xh, vocabs, hblocks = architecture_features(
        hier, [hier.sample(rng) for _ in range(30)], h=2, hierarchical=True
    )
    assert len(blocks) == 1 and len(hblocks) == 6 and isinstance(vocabs, list)
    for feats, sizes in ((x, blocks), (xh, hblocks)):
        for _ in range(3):
            K = gram(feats, sizes, torch.randn(len(sizes), dtype=torch.float64) * 2)
            assert torch.allclose(torch.diagonal(K), torch.ones(len(feats), dtype=torch.float64))
            assert torch.linalg.eigvalsh(K).min().item() >= -1e-9


def test_level_weights_weigh_the_blocks() -> None:
    x = np.array([[1.0, 0.0, 0.6, 0.8], [1.0, 0.0, 0.8, 0.6]])
    raw = torch.tensor([0.0, math.log(3.0)], dtype=torch.float64)  # weights 1/4, 3/4
    K = gram(x, [2, 2], raw)
    assert K[0, 1].item() == pytest.approx(0.25 * 1.0 + 0.75 * 0.96)
    kernel = WLKernel([2, 2]).to(torch.float64)
    kernel.raw_weights.data = raw
    t = torch.as_tensor(x)
    assert torch.allclose(kernel(t, t, diag=True), torch.ones(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="columns"):
        kernel(t[:, :3], t[:, :3]).to_dense()


def test_isomorphic_derivations_get_kernel_one() -> None:
    # Diamond2's two branches (edges 0->1->3 and 0->2->3) swap without changing the network.
    grammar = Grammar(
        {"S": ["Diamond2 A A A A"], "A": ["conv", "id", "pool"]},
        "S",
        topologies={"Diamond2": 4},
        primitives=["conv", "id", "pool"],
    )
    same = ["Diamond2(conv, id, pool, conv)", "Diamond2(id, conv, conv, pool)"]
    other = "Diamond2(conv, id, conv, pool)"
    for hierarchical in (False, True):
        x, _, blocks = architecture_features(grammar, [*same, other], hierarchical=hierarchical)
        K = gram(x, blocks)
        assert K[0, 1].item() == pytest.approx(1.0)
        assert K[0, 2].item() < 0.99
    # In hierarchical NB201, Linear1 and Linear1b name the same one-edge topology.
    hier = hierarchical_nb201()
    d = str(hier.sample(np.random.default_rng(1)))
    twin = (
        d.replace("Linear1b(", "Linear1(")
        if "Linear1b(" in d
        else d.replace("Linear1(", "Linear1b(")
    )
    assert twin != d
    x, _, blocks = architecture_features(hier, [d, twin])
    assert float(x[0] @ x[1]) == pytest.approx(1.0)


def test_reused_vocabulary_gives_the_training_columns() -> None:
    grammar = hierarchical_nb201()
    rng = np.random.default_rng(2)
    train = [str(grammar.sample(rng)) for _ in range(5)]
    cand = [str(grammar.sample(rng)) for _ in range(3)]
    x, vocabs, blocks = architecture_features(grammar, train, hierarchical=True)
    xc, again, cblocks = architecture_features(grammar, cand, hierarchical=True, vocabulary=vocabs)
    assert again is vocabs and cblocks == blocks and xc.shape == (3, x.shape[1])
    both, _, both_blocks = architecture_features(grammar, train + cand, hierarchical=True)
    full = gram(both, both_blocks)
    assert torch.allclose(gram(np.vstack([x, xc]), blocks)[5:, :5], full[5:, :5])
    with pytest.raises(ValueError, match="vocabular"):
        architecture_features(grammar, cand, hierarchical=True, vocabulary=vocabs[0])


def test_the_docs_examples_run() -> None:
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "graph-kernels.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)
    assert len(blocks) == 2
    scope: dict[str, object] = {}
    exec(blocks[0], scope)
    graph = scope["g"]
    assert isinstance(graph, LabelledGraph)
    for line in blocks[0].splitlines():  # the values the comments show
        if line.startswith(("g.labels", "g.edges")):
            expr, shown = line.split("#", 1)
            assert repr(eval(expr, scope)) == shown.strip()
    exec(blocks[1], scope)


@pytest.mark.slow  # imports BoTorch (4 s on a loaded machine), one GP fit
def test_batched_inputs_and_learnt_weights_favour_the_informative_block() -> None:
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from gpytorch.kernels import ScaleKernel
    from gpytorch.mlls import ExactMarginalLogLikelihood

    rng = np.random.default_rng(0)
    # Block A decides y (y = a's first coordinate); block B is noise unrelated to y.
    a = rng.normal(size=(40, 3))
    b = rng.normal(size=(40, 3))
    x = np.hstack(
        [a / np.linalg.norm(a, axis=1, keepdims=True), b / np.linalg.norm(b, axis=1, keepdims=True)]
    )
    y = torch.tensor(x[:, :1])
    tx = torch.tensor(x)
    kernel = WLKernel([3, 3]).to(torch.float64)
    with torch.no_grad():
        batched = kernel(tx.reshape(4, 10, 6), tx.reshape(4, 10, 6)).to_dense()
        assert batched.shape == (4, 10, 10)
        assert torch.allclose(batched[1], kernel(tx[10:20], tx[10:20]).to_dense())
    model = SingleTaskGP(tx, y, covar_module=ScaleKernel(kernel))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    weights = kernel.weights.detach()
    assert weights.sum().item() == pytest.approx(1.0)
    assert weights[0] > 0.9, weights


@pytest.mark.parametrize("h", [0, 1, 3])
def test_histogram_of_operations_equals_the_histogram_of_their_graph(h: int) -> None:
    # The junction form sorts neighbours once per junction: the same counts as the graph's.
    for grammar in (hierarchical_nb201(), nb201_cell()):
        rng = np.random.default_rng(h)
        for _ in range(20):
            d = grammar.sample(rng)
            ops = operations(grammar, d)
            assert wl_histogram(ops, h=h) == wl_histogram(architecture_graph(grammar, d), h=h)
    # A topology with an edge out of its output node (a loop) takes the graph's way: the same.
    odd = Grammar(
        {"S": ["Loop2 A A"], "A": ["x", "y"]}, "S", topologies={"Loop2": 2}, primitives=["x", "y"]
    )
    tops = {"Loop2": ((0, 1), (1, 0))}
    for text in ("Loop2(x, y)", "Loop2(y, y)"):
        ops = operations(odd, text, topologies=tops)
        graph = architecture_graph(odd, text, topologies=tops)
        assert 1 in ops.sources and len(graph.labels) == 4
        assert wl_histogram(ops, h=h) == wl_histogram(graph, h=h)


def test_fitted_histograms_are_kept_and_candidates_are_not() -> None:
    grammar = hierarchical_nb201()
    rng = np.random.default_rng(9)
    train, candidate = grammar.sample(rng), grammar.sample(rng)
    for levels in (None, 2):
        kept = histograms(grammar, train, h=2, levels=levels, keep=True)
        assert histograms(grammar, train, h=2, levels=levels, keep=False) is kept
        graphs = (
            [architecture_graph(grammar, train)]
            if levels is None
            else level_graphs(grammar, train, levels=levels)
        )
        assert kept == [wl_histogram(g, h=2) for g in graphs]
        once = histograms(grammar, candidate, h=2, levels=levels, keep=False)
        assert histograms(grammar, candidate, h=2, levels=levels, keep=False) is not once
    # Another iteration count is its own entry.
    assert histograms(grammar, train, h=1, levels=None, keep=True) != histograms(
        grammar, train, h=2, levels=None, keep=True
    )
