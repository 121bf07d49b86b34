"""Sizing: constrained trust-region Bayesian optimisation (TuRBO + SCBO) and baselines.

Entry points: ``load_spec`` reads a spec, ``run_sizing`` runs the loop against any ``Evaluator``
(``SimEvaluator`` for ngspice), ``make_method`` builds ``turbo``, ``bo``, ``random`` or ``cmaes``.
Heavy modules (torch, BoTorch) load only when a method or the loop is used.
"""

from __future__ import annotations

from ckt.opt.evaluator import Evaluator, Outcome
from ckt.opt.space import Space, Variable
from ckt.opt.spec import Objective, Score, Spec, Target, load_spec, parse_spec

__all__ = ["Evaluator", "Objective", "Outcome", "Score", "Space", "Spec", "Target", "Variable", "load_spec",
           "parse_spec"]
