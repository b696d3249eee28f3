"""tunewise: tune deep-learning pipelines with expert priors, cheap fidelities and many workers.

import tunewise as tw
space = tw.Space(lr=tw.Float(1e-5, 1e-1, log=True, prior=3e-4), epochs=tw.Fidelity(1, 27))
result = tw.run(evaluate, space, root="runs/mlp", budget=tw.Budget(evaluations=50))
result = tw.run(evaluate, new_space, root="runs/mlp-v2", transfer_from="runs/mlp")  # space changed

study = tw.Study(root="runs/mine", space=space)  # or ask-and-tell, in your own loop
trial = study.ask(); study.tell(trial, train(trial.config))
"""

from tunewise import nas, plot, transfer
from tunewise.nas import Grammar
from tunewise.runtime import Budget, EarlyStopping, Result, TrialContext, TrialFailed, load, run
from tunewise.runtime.ask_tell import Study
from tunewise.runtime.trials_io import export_trials, import_trials
from tunewise.space import (
    Architecture,
    Categorical,
    Constant,
    Fidelity,
    Float,
    Integer,
    Parameter,
    Space,
    SpaceError,
)
from tunewise.transfer import OldStudy, priors_from
from tunewise.trial import History, Suggestion, Trial, TrialStatus

__version__ = "0.1.0"

__all__ = [
    "Architecture",
    "Budget",
    "Categorical",
    "Constant",
    "EarlyStopping",
    "Fidelity",
    "Float",
    "Grammar",
    "History",
    "Integer",
    "OldStudy",
    "Parameter",
    "Result",
    "Space",
    "SpaceError",
    "Study",
    "Suggestion",
    "Trial",
    "TrialContext",
    "TrialFailed",
    "TrialStatus",
    "__version__",
    "export_trials",
    "import_trials",
    "load",
    "nas",
    "plot",
    "priors_from",
    "run",
    "transfer",
]
