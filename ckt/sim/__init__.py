"""Running ngspice: jobs and results, the shared-library and subprocess backends, worker pools,
Ray, and the result cache."""

from __future__ import annotations

from ckt.sim.cache import ResultCache
from ckt.sim.executor import Executor, LocalExecutor, make_executor
from ckt.sim.ngspice import simulate
from ckt.sim.result import SimJob, SimResult

__all__ = ["Executor", "LocalExecutor", "ResultCache", "SimJob", "SimResult", "make_executor", "simulate"]
