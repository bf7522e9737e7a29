"""Exercises with instant feedback, student notebooks from one source, and a sandboxed autograder.

>>> from vizlab.exercises import E4        # doctest: +SKIP
>>> E4.gram.check(gram_matrix)             # doctest: +SKIP
✓ Correct: Gram matrix (2 cases passed)

``E1``…``E6`` group the exercises of each notebook; :data:`EXERCISES` maps names to :class:`Exercise` s.
"""
from types import SimpleNamespace

from . import catalog
from .catalog import EXERCISES, NOTEBOOKS, get
from .core import Case, CheckResult, Exercise, NotImplementedYet

E1 = SimpleNamespace(**{n: EXERCISES[n] for n in NOTEBOOKS["E1_attribution"]})
E2 = SimpleNamespace(**{n: EXERCISES[n] for n in NOTEBOOKS["E2_inside"]})
E3 = SimpleNamespace(**{n: EXERCISES[n] for n in NOTEBOOKS["E3_optimize"]})
E4 = SimpleNamespace(**{n: EXERCISES[n] for n in NOTEBOOKS["E4_style"]})
E5 = SimpleNamespace(**{n: EXERCISES[n] for n in NOTEBOOKS["E5_trust"]})
E6 = SimpleNamespace(**{n: EXERCISES[n] for n in NOTEBOOKS["E6_detective"]})

__all__ = ["EXERCISES", "NOTEBOOKS", "get", "Case", "CheckResult", "Exercise", "NotImplementedYet",
           "E1", "E2", "E3", "E4", "E5", "E6", "catalog"]
