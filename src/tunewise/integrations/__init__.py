"""Bridges to tools deep-learning researchers already use, each an optional extra.

- :mod:`tunewise.integrations.lightning`: ``TunewiseCallback`` for PyTorch Lightning
  (``pip install 'tunewise[lightning]'``), and :mod:`tunewise.integrations.pytorch_lightning`
  for the older ``pytorch_lightning`` package;
- :mod:`tunewise.integrations.tensorboard`: one TensorBoard run folder per trial
  (``pip install 'tunewise[tensorboard]'``);
- ConfigSpace conversion lives with the space: ``Space.from_configspace`` /
  ``space.to_configspace()`` (``pip install 'tunewise[configspace]'``).

Nothing is imported here: each module imports its library itself and says which extra to install
when it is missing, so ``import tunewise`` never pays for them.
"""
