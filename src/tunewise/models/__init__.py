"""Surrogate models and acquisition functions used by model-based optimizers.

Models take arrays (unit-cube configs, fidelities, objectives), never a History or a trial: the
optimizer reads its History into arrays (:mod:`tunewise.optimizers.observations`) and hands them
over, as BoTorch's ``SingleTaskGP(train_X, train_Y)`` takes tensors. Nothing here imports
:mod:`tunewise.optimizers`.

``gp`` and ``acquisition`` import torch, BoTorch and GPyTorch at top level: optimizers import
them lazily inside ``ask`` so that ``import tunewise`` stays fast. ``kde`` is NumPy/SciPy only.
"""
