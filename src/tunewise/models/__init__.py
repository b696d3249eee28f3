"""Surrogate models and acquisition functions used by model-based optimizers.

``gp`` and ``acquisition`` import torch, BoTorch and GPyTorch at top level: optimizers import
them lazily inside ``ask`` so that ``import tunewise`` stays fast. ``kde`` is NumPy/SciPy only.
"""
