"""Running ngspice: jobs and results, the shared-library and subprocess backends, the scheduler
with its local and Ray workers, and the result cache."""

from __future__ import annotations

from ckt.sim.api import simulate
from ckt.sim.cache import ResultCache
from ckt.sim.executor import Executor, LocalExecutor, make_executor
from ckt.sim.result import SimJob, SimResult, Status

__all__ = ["Executor", "LocalExecutor", "ResultCache", "SimJob", "SimResult", "Status", "make_executor", "simulate"]
