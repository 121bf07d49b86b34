"""Analytic stand-ins for a simulator, so the sizing loop is tested without ngspice.

``toy_opamp`` mimics a two-stage op-amp's trade-offs with square-law formulas: gain and bandwidth
need current and width, phase margin needs a large enough compensation capacitor and second-stage
current, and power grows with current. Unity-gain bandwidth and power span decades (log-modelled),
and one corner of the space "fails to simulate", so failure handling is exercised too.

Run as a script (``python tests/opt/fakes.py OUT [--resume]``) it sizes the toy op-amp with a slow
fake evaluator: the resume test kills that process with SIGKILL and resumes it.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ckt.opt.evaluator import Outcome, Provided  # noqa: E402
from ckt.opt.space import Variable  # noqa: E402
from ckt.opt.spec import Objective, Spec, Target  # noqa: E402

K = 200e-6  # A/V^2, transconductance factor per unit width


def toy_opamp(p: Mapping[str, float]) -> Outcome:
    """Square-law two-stage op-amp metrics; ``w1, w2 > 90`` together "fails to converge"."""
    w1, w2, ib, cc = p["w1"], p["w2"], p["ib"], p["cc"]
    if w1 > 90 and w2 > 90:
        return Outcome("nonconvergence", message="timestep too small (fake)")
    gm1 = math.sqrt(2 * K * w1 * ib)
    gm2 = math.sqrt(2 * K * w2 * 10 * ib)
    gain = math.sqrt(2 * K * w1 / ib) / 0.1 * math.sqrt(w2)
    ugbw = gm1 / (2 * math.pi * cc)
    p2 = gm2 / (2 * math.pi * (2e-12 + 0.2 * cc))
    # measured like a .meas would: phase at ugbw in radians, around -pi/2 - atan(ugbw/p2)
    ph = -math.pi / 2 - math.atan(ugbw / p2)
    power = 1.2 * ib * (1 + 10 * w2 / 50)
    # the closed-loop flag the op-amp testbench reports with pm_deg: a follower rings out below ~20 deg
    stable = 1.0 if 180 + ph * 180 / math.pi > 20 else 0.0
    return Outcome("ok", {"gain_db": 20 * math.log10(gain), "ugbw": ugbw, "ph_ugbw": ph, "power_w": power,
                          "stable": stable}, seconds=0.0)


def toy_spec(*, objective: bool = True, gain_min: float = 60.0, pm_min: float = 60.0) -> Spec:
    return Spec(
        variables=(Variable("w1", 1, 100, step=1), Variable("w2", 1, 100, step=1),
                   Variable("ib", 1e-6, 1e-4, log=True), Variable("cc", 0.1e-12, 10e-12, log=True)),
        targets=(Target("gain_db", lo=gain_min), Target("ugbw", lo=2e7), Target("pm_deg", lo=pm_min)),
        objective=Objective("power_w") if objective else None,
        derived=(("pm_deg", "180 + ph_ugbw*180/pi"),),
    )


TOY_INITIAL = {"w1": 10.0, "w2": 10.0, "ib": 5e-6, "cc": 1e-12}


def branin_constrained(p: Mapping[str, float]) -> Outcome:
    """Branin objective with a disk constraint (Gardner et al., 2014 style test problem)."""
    x1, x2 = p["x1"], p["x2"]
    a, b, c, r, s, t = 1, 5.1 / (4 * math.pi**2), 5 / math.pi, 6, 10, 1 / (8 * math.pi)
    f = a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s
    g = (x1 - 2.5) ** 2 + (x2 - 7.5) ** 2
    return Outcome("ok", {"f": f, "g": g})


def branin_spec() -> Spec:
    return Spec(variables=(Variable("x1", -5, 10), Variable("x2", 0, 15)), targets=(Target("g", hi=50.0),),
                objective=Objective("f"))


class FakeEvaluator:
    """Evaluates with a Python function, yielding out of order, and remembers every call.

    Args:
        fn: design -> Outcome.
        delay: seconds to sleep per design (makes a run slow enough to kill).
        log: optional file to append each finished design to (one JSON line), so a test can see
            what several processes simulated.
        provides: the names ``fn`` measures (None: not checked).
        context: the reuse key (a fake "netlist + testbench").
    """

    def __init__(self, fn: Callable[[Mapping[str, float]], Outcome], *, delay: float = 0.0, seed: int = 0,
                 log: str | Path | None = None, provides: Sequence[str] | None = None,
                 context: str = "toy") -> None:
        self.fn = fn
        self.provides = None if provides is None else Provided(frozenset(provides), "the fake's outputs")
        self.context = context
        self.delay = delay
        self.calls: list[dict[str, float]] = []
        self._rng = random.Random(seed)
        self.log = Path(log) if log else None

    def evaluate(self, batch: Sequence[Mapping[str, float]]) -> Iterator[tuple[int, Outcome]]:
        order = list(range(len(batch)))
        self._rng.shuffle(order)
        for i in order:
            if self.delay:
                time.sleep(self.delay)
            self.calls.append(dict(batch[i]))
            if self.log is not None:
                with self.log.open("a") as fh:
                    fh.write(json.dumps(dict(batch[i])) + "\n")
            yield i, self.fn(batch[i])


def run_sizing(spec: Spec, evaluator: FakeEvaluator, *, out_dir: str | Path, initial: Mapping[str, float] | None = None,
               netlist_hash: str | None = None, batch_size: int = 4, **options: object):
    """``ckt.opt.run.size`` with keyword options (``netlist_hash`` sets the fake's context)."""
    from ckt.opt.run import RunOptions, size

    if netlist_hash is not None:
        evaluator.context = netlist_hash
    return size(spec, evaluator, out_dir, RunOptions(batch=batch_size, **options), initial=initial)  # type: ignore[arg-type]


TOY_NAMES = ("gain_db", "ugbw", "ph_ugbw", "power_w", "stable")
"""What ``toy_opamp`` measures."""


def main(argv: list[str]) -> int:
    from ckt.opt.run import RunOptions, size

    out = Path(argv[0])
    resume = "--resume" in argv
    budget = int(argv[argv.index("--budget") + 1]) if "--budget" in argv else 24
    ev = FakeEvaluator(toy_opamp, delay=0.15, log=out / "calls.jsonl")
    size(toy_spec(), ev, out, RunOptions(budget=budget, batch=4, seed=3, resume=resume), initial=TOY_INITIAL)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
