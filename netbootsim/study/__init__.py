"""Capacity planning: studies over a scenario's designs (``netbootsim plan``).

- :mod:`.spec`: the study file, checked (:func:`load_study`).
- :mod:`.decide`: pure statistics: one-sided bounds, verdicts, the Pareto front.
- :mod:`.evaluate`: replications per design, decided by confidence, in waves.
- :mod:`.search`: grid, bisection, Optuna.
- :mod:`.sensitivity`: Morris screening with SALib.
- :mod:`.runner`: where runs execute (here, a process pool, Dask).
- :mod:`.ledger`: the record of finished runs (resume after any stop).
- :mod:`.run`: the command's work and its outputs.
"""

from .run import run_study
from .spec import Study, load_study

__all__ = ["run_study", "load_study", "Study"]
