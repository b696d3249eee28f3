"""Weisfeiler–Lehman subtree kernels as feature vectors, and a GPyTorch kernel over them.

The WL subtree kernel after ``h`` iterations (Shervashidze et al., JMLR 2011) is the inner product
of label-count histograms (ALGORITHMS.md §12): iteration 0 counts the node labels; iteration ``i``
relabels each node by its label and the sorted multisets of its in- and out-neighbours' labels
(separately: graphs are directed); the histogram counts the labels of all iterations 0..h.
Normalized, ``k(G, G') / sqrt(k(G, G) k(G', G'))``, every graph has ``k(G, G) = 1``.

A :class:`WLVocabulary` fitted over the training and candidate graphs turns histograms into fixed
length rows whose dot products are the normalized kernel, so a GP uses them like any other input
and the cost grows with the number of distinct labels, not with graph size squared (Ru et al.,
"Interpretable neural architecture search via Bayesian optimisation with Weisfeiler–Lehman
kernels", ICLR 2021). The hierarchical WL kernel (Schrodi et al., NeurIPS 2023; §7) is a weighted
sum of such kernels over a derivation's level graphs: one block of columns per level, weighted by
:class:`WLKernel`'s learnt softmax weights.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import gpytorch
import numpy as np
import torch

from tunewise.nas.derivation import Derivation
from tunewise.nas.grammar import Grammar
from tunewise.nas.graph import (
    LabelledGraph,
    Operations,
    level_graphs,
    line_graph,
    max_level,
    operations,
)
from tunewise.nas.memo import IdentityMemo

_DIGESTS: dict[tuple[str, tuple[str, ...], tuple[str, ...]], str] = {}
_MAX_DIGESTS = 1_000_000  # a memo, cleared when full: the digests themselves never change


def _digest(key: tuple[str, tuple[str, ...], tuple[str, ...]]) -> str:
    text = "\x1f".join([key[0], "\x1e".join(key[1]), "\x1e".join(key[2])])
    hit = hashlib.blake2b(text.encode(), digest_size=10).hexdigest()
    if len(_DIGESTS) >= _MAX_DIGESTS:
        _DIGESTS.clear()
    _DIGESTS[key] = hit
    return hit


def wl_histogram(graph: LabelledGraph | Operations, *, h: int) -> Counter[str]:
    """WL subtree label counts of iterations ``0..h``; keys ``"<iteration>:<label>"``.

    Iteration 0 keys carry the node labels' text, later ones a BLAKE2 digest of (label, sorted
    in-neighbour labels, sorted out-neighbour labels): the same in every process. ``graph``: a
    graph, or the :class:`~tunewise.nas.graph.Operations` whose line graph it is (the same
    counts, cheaper: the neighbours of every operation at a junction are sorted once).
    """
    if h < 0:
        raise ValueError(f"wl_histogram: h must be >= 0, got {h}")
    if isinstance(graph, Operations):
        if 1 not in graph.sources:  # else the output junction has an edge out: draw the graph
            return _operations_histogram(graph, h)
        graph = line_graph(graph)
    n = len(graph.labels)
    ins: list[list[int]] = [[] for _ in range(n)]
    outs: list[list[int]] = [[] for _ in range(n)]
    for u, v in graph.edges:
        outs[u].append(v)
        ins[v].append(u)
    labels = list(graph.labels)
    hist: Counter[str] = Counter(f"0:{lab}" for lab in labels)
    memo = _DIGESTS
    for it in range(1, h + 1):
        new = []
        for i in range(n):
            key = (
                labels[i],
                tuple(sorted([labels[j] for j in ins[i]])),
                tuple(sorted([labels[j] for j in outs[i]])),
            )
            lab = memo.get(key)
            new.append(_digest(key) if lab is None else lab)
        labels = new
        hist.update([f"{it}:{lab}" for lab in labels])
    return hist


def _operations_histogram(ops: Operations, h: int) -> Counter[str]:
    """:func:`wl_histogram` of the line graph of ``ops``: node ``i``'s in-neighbours are the
    nodes ending at its source junction, its out-neighbours those starting at its target; the
    input node ends at junction 0 and the output node starts at junction 1."""
    labels = ["input", *ops.labels, "output"]
    sources = (-1, *ops.sources, 1)
    targets = (0, *ops.targets, -1)
    ending: dict[int, list[int]] = {}
    starting: dict[int, list[int]] = {}
    for i, dst in enumerate(targets):
        ending.setdefault(dst, []).append(i)
    for i, src in enumerate(sources):
        starting.setdefault(src, []).append(i)
    del ending[-1], starting[-1]
    # Most junctions see one operation: their neighbour tuples need no sorting.
    end_one = [(j, at[0]) for j, at in ending.items() if len(at) == 1]
    end_many = [(j, at) for j, at in ending.items() if len(at) > 1]
    start_one = [(j, at[0]) for j, at in starting.items() if len(at) == 1]
    start_many = [(j, at) for j, at in starting.items() if len(at) > 1]
    hist: Counter[str] = Counter([f"0:{lab}" for lab in labels])
    get = _DIGESTS.get
    empty: tuple[str, ...] = ()
    for it in range(1, h + 1):
        into: dict[int, tuple[str, ...]] = {j: (labels[i],) for j, i in end_one}
        for j, at in end_many:
            into[j] = tuple(sorted([labels[i] for i in at]))
        out_of: dict[int, tuple[str, ...]] = {j: (labels[i],) for j, i in start_one}
        for j, at in start_many:
            out_of[j] = tuple(sorted([labels[i] for i in at]))
        keys = [
            (lab, into.get(src, empty), out_of.get(dst, empty))
            for lab, src, dst in zip(labels, sources, targets, strict=True)
        ]
        labels = [get(key) or _digest(key) for key in keys]
        prefix = f"{it}:"
        hist.update([prefix + lab for lab in labels])
    return hist


class WLVocabulary:
    """Maps WL histograms to rows of fixed width ``V``, fitted on a set of histograms.

    Columns: one per label that at least two fitted histograms share (:attr:`labels`, sorted),
    then one *private* column per fitted histogram that has labels of its own. A label only one
    graph has adds to no kernel value between two fitted graphs but that graph's own, so its
    labels of its own share one column, the projection on that graph's own-label counts ``g_S``:
    a histogram ``c`` puts ``sum_l c_l g_l / |g_S|`` there (the owner: ``|g_S|``). The dot product
    is unchanged wherever one side is the owner, and ``V`` stays near the number of shared labels
    plus ``n`` instead of every label seen (hierarchical NAS-Bench-201, 100 architectures, h = 2:
    about 3,900 columns instead of 36,000).

    :meth:`transform` divides each row by the norm of the histogram's *full* counts (labels
    outside the vocabulary included), so ``rows[i] @ rows[j]`` is exactly the normalized WL kernel
    whenever one of the two graphs was in the fitted set.
    """

    def __init__(self) -> None:
        self.labels: tuple[str, ...] = ()
        self.index: dict[str, int] = {}
        self.private: dict[str, tuple[int, float]] = {}  # own label -> (column, g_l / |g_S|)
        self.width = 0

    def fit(self, histograms: Iterable[Counter[str]]) -> WLVocabulary:
        """Fit the columns on ``histograms`` (see the class docstring); returns ``self``."""
        hists = list(histograms)
        seen: Counter[str] = Counter()
        for hist in hists:
            seen.update(hist.keys())
        self.labels = tuple(sorted(lab for lab, n in seen.items() if n > 1))
        self.index = {lab: i for i, lab in enumerate(self.labels)}
        self.private = {}
        column = len(self.labels)
        for hist in hists:
            own = {lab: c for lab, c in hist.items() if seen[lab] == 1}
            if not own:
                continue
            norm = math.sqrt(sum(c * c for c in own.values()))
            self.private.update((lab, (column, c / norm)) for lab, c in own.items())
            column += 1
        self.width = column
        return self

    def __len__(self) -> int:
        return self.width

    def transform(
        self, histograms: Sequence[Counter[str]]
    ) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Rows of shape (n, V), float64; a fitted histogram's row has unit norm."""
        out = np.zeros((len(histograms), self.width), dtype=np.float64)
        self._fill(histograms, out)
        return out

    def _fill(self, histograms: Sequence[Counter[str]], out: np.ndarray[Any, Any]) -> None:
        index, private = self.index, self.private
        for r, hist in enumerate(histograms):
            norm = math.sqrt(sum(c * c for c in hist.values()))
            if norm == 0.0:
                continue
            row = out[r]
            for lab, c in hist.items():
                j = index.get(lab)
                if j is not None:
                    row[j] = c / norm
                    continue
                own = private.get(lab)
                if own is not None:
                    row[own[0]] += c * own[1] / norm


class WLKernel(gpytorch.kernels.Kernel):  # type: ignore[misc]  # gpytorch is untyped
    """``k(x, y) = sum_l softmax(w)_l <x_l, y_l>`` over column blocks ``x_l`` (one per level graph).

    Inputs are :class:`WLVocabulary` rows concatenated block by block (``block_sizes``, summing to
    the number of active columns); one block gives the plain WL kernel. ``raw_weights`` (shape
    ``(*batch_shape, len(block_sizes))``, zeros = uniform at the start) is learnt by marginal
    likelihood with the GP. A nonnegative sum of linear kernels: positive semi-definite by
    construction, ``k(x, x) = 1`` for unit-norm blocks. Wrap in a ``ScaleKernel`` (and/or multiply
    by another kernel over other columns) as the caller needs.
    """

    has_lengthscale = False

    def __init__(self, block_sizes: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        sizes = [int(s) for s in block_sizes]
        if not sizes or any(s < 0 for s in sizes):
            raise ValueError(f"WLKernel: block_sizes must be nonnegative, got {block_sizes}")
        self.block_sizes = tuple(sizes)
        self.register_parameter(
            "raw_weights", torch.nn.Parameter(torch.zeros(*self.batch_shape, len(sizes)))
        )

    @property
    def weights(self) -> torch.Tensor:
        """The level weights ``softmax(raw_weights)``, shape ``(*batch_shape, n_blocks)``."""
        return torch.softmax(self.raw_weights, dim=-1)

    def forward(
        self,
        x1: torch.Tensor,
        x2: torch.Tensor,
        diag: bool = False,
        last_dim_is_batch: bool = False,
        **params: Any,
    ) -> torch.Tensor:
        if last_dim_is_batch:
            raise NotImplementedError("WLKernel does not support last_dim_is_batch")
        if x1.shape[-1] != sum(self.block_sizes):
            raise ValueError(
                f"WLKernel: inputs have {x1.shape[-1]} columns, blocks {self.block_sizes} "
                f"sum to {sum(self.block_sizes)}"
            )
        sizes = torch.tensor(self.block_sizes, device=x1.device)
        per_col = torch.repeat_interleave(self.weights.to(x1), sizes, dim=-1)
        scaled = x1 * per_col.unsqueeze(-2)
        if diag:
            return (scaled * x2).sum(-1)
        return scaled @ x2.transpose(-2, -1)


HISTOGRAMS = 2048
"""Derivations whose raw WL histograms are kept between fits (least recently used dropped)."""
_HISTOGRAMS: IdentityMemo[dict[tuple[int, int | None], list[Counter[str]]]] = IdentityMemo(
    HISTOGRAMS
)


def histograms(
    grammar: Grammar, derivation: str | Derivation, *, h: int, levels: int | None, keep: bool
) -> list[Counter[str]]:
    """The WL histograms of ``derivation``'s full graph (``levels=None``) or of its level graphs
    ``0..levels``; shared, not to be changed. They do not depend on a vocabulary: ``keep`` stores
    those of a :class:`Derivation` (a study's training set, refitted at every ask, is parsed
    once), so a refit only re-indexes counts; candidates, each scored once, are not kept.
    """
    cached = _HISTOGRAMS.get(grammar, derivation) if isinstance(derivation, Derivation) else None
    hit = None if cached is None else cached.get((h, levels))
    if hit is not None:
        return hit
    if levels is None:
        hit = [wl_histogram(operations(grammar, derivation), h=h)]
    else:
        hit = [wl_histogram(g, h=h) for g in level_graphs(grammar, derivation, levels=levels)]
    if keep and isinstance(derivation, Derivation):
        if cached is None:
            cached = {}
            _HISTOGRAMS.put((grammar, derivation), cached)
        cached[(h, levels)] = hit
    return hit


def architecture_features(
    grammar: Grammar,
    derivations: Sequence[str | Derivation],
    *,
    h: int = 2,
    hierarchical: bool = False,
    vocabulary: WLVocabulary | list[WLVocabulary] | None = None,
) -> tuple[np.ndarray[Any, np.dtype[np.float64]], WLVocabulary | list[WLVocabulary], list[int]]:
    """WL feature rows of ``derivations`` (n, sum of block sizes), for :class:`WLKernel`.

    Plain: one block over the full :func:`~tunewise.nas.graph.architecture_graph`. Hierarchical:
    one block per :func:`~tunewise.nas.graph.level_graphs` level (the last is the full graph).
    ``vocabulary``: reuse one fitted before (a list, one per level, when hierarchical); else it is
    fitted on ``derivations``, which should hold training and candidate architectures together.
    Returns (features, the vocabulary or vocabularies, block sizes).
    """
    parsed = list(derivations)
    keep = vocabulary is None  # fitted derivations are the training set: the next ask's too
    if hierarchical:
        top = max_level(grammar)
        per_level: list[list[Counter[str]]] = [[] for _ in range(top + 1)]
        for d in parsed:
            for lvl, hist in enumerate(histograms(grammar, d, h=h, levels=top, keep=keep)):
                per_level[lvl].append(hist)
        if vocabulary is None:
            vocabs = [WLVocabulary().fit(hs) for hs in per_level]
        elif isinstance(vocabulary, list) and len(vocabulary) == top + 1:
            vocabs = vocabulary
        else:
            raise ValueError(f"architecture_features: need a list of {top + 1} vocabularies")
        sizes = [len(v) for v in vocabs]
        out = np.zeros((len(parsed), sum(sizes)), dtype=np.float64)
        start = 0
        for v, hs in zip(vocabs, per_level, strict=True):
            v._fill(hs, out[:, start : start + len(v)])
            start += len(v)
        return out, vocabs, sizes
    hists = [histograms(grammar, d, h=h, levels=None, keep=keep)[0] for d in parsed]
    if vocabulary is None:
        vocab = WLVocabulary().fit(hists)
    elif isinstance(vocabulary, WLVocabulary):
        vocab = vocabulary
    else:
        raise ValueError("architecture_features: need one WLVocabulary when not hierarchical")
    return vocab.transform(hists), vocab, [len(vocab)]
