"""Imported first by the worker forkserver: it must die with the process that started it.

multiprocessing's forkserver exits on its own when its parent's pipe closes, but only between
requests; the parent-death signal makes it certain. Nothing else imports this module.
"""

from __future__ import annotations

from ckt.sim.lifeline import die_with_parent

die_with_parent()
