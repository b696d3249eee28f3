"""The demo objective that ``tunewise demo`` tunes: a PyTorch MLP on scikit-learn's digits."""

from tunewise.demo.mlp import FIDELITY, demo_space, evaluate, load_digits_split

__all__ = ["FIDELITY", "demo_space", "evaluate", "load_digits_split"]
