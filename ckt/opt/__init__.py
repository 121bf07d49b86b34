"""Sizing: constrained trust-region Bayesian optimisation (TuRBO + SCBO) and baselines.

Entry points: ``load_spec`` reads a spec; ``ckt.opt.loop.optimize`` is the pure loop against any
``Evaluator`` (``SimEvaluator`` for ngspice) with observers; ``ckt.opt.run.size`` composes it with
the history folder and the outputs (what ``ckt size`` runs); ``make_method`` builds ``turbo``,
``bo``, ``random`` or ``cmaes``.
Heavy modules (torch, BoTorch) load only when a method or the loop is used.
"""

from __future__ import annotations

from ckt.opt.evaluator import Evaluator, Outcome
from ckt.opt.space import Space, Variable
from ckt.opt.spec import Objective, Score, Spec, Target, load_spec, parse_spec

__all__ = ["Evaluator", "Objective", "Outcome", "Score", "Space", "Spec", "Target", "Variable", "load_spec",
           "parse_spec"]
