"""Monte Carlo mismatch samples of a testbench, each one reproducible from its own seed.

The randomness lives in the PDK's model cards, not here: sky130's cards add
``MC_MM_SWITCH*AGAUSS(0,1.0,1)*slope/sqrt(l*w*mult)`` to ``vth0``, ``toxe``, ``voff``... of every
device, and ngspice draws a value per device instance when it loads the deck. A sample is the
testbench's netlist with that switch (``Pdk.mismatch_param``) set to 1 by a ``.param`` written after
the PDK's include (which sets it to 0; ngspice keeps the last definition) and ngspice's random
generator seeded with ``.options seed=N``. Sample ``k`` of a run seeded ``S`` uses ``N = S + k``, so
any one sample reproduces alone, in any order and on any worker.
"""

from __future__ import annotations

import re
from dataclasses import replace

from ckt.errors import CktError, PdkError
from ckt.netlist.ir import Netlist, Param, Statement
from ckt.pdk.registry import Pdk, get_pdk
from ckt.sim.testbench.opamp import OpAmpTestbench

_SEED = re.compile(r"\bseed\s*=\s*\S+", re.IGNORECASE)


def mismatch_switch(pdk: Pdk | str | None) -> str:
    """The ``.param`` that turns ``pdk``'s device mismatch on.

    Raises:
        PdkError: no PDK, or one whose models carry no mismatch (the message names those that do).
    """
    if pdk is None:
        raise PdkError("Monte Carlo mismatch needs a PDK whose models carry mismatch (pdk: sky130)")
    p = get_pdk(pdk, check_files=False) if isinstance(pdk, str) else pdk
    if p.mismatch_param is None:
        from ckt.pdk.registry import list_pdks

        having = [q.name for q in list_pdks() if q.mismatch_param is not None]
        raise PdkError(f"PDK {p.name}: its models carry no device mismatch, so there is no Monte Carlo to run "
                       f"(PDKs with mismatch: {', '.join(having) or 'none'})")
    return p.mismatch_param


def sample_seeds(seed: int, n: int) -> tuple[int, ...]:
    """The ngspice seeds of ``n`` samples of a run seeded ``seed`` (``seed``, ``seed + 1``...).

    Raises:
        CktError: ``seed < 1`` (ngspice wants a positive seed) or ``n < 1``.
    """
    if seed < 1:
        raise CktError(f"the Monte Carlo seed must be a positive integer, got {seed}")
    if n < 1:
        raise CktError(f"the number of Monte Carlo samples must be at least 1, got {n}")
    return tuple(range(seed, seed + n))


def with_mismatch(netlist: Netlist, switch: str, seed: int) -> Netlist:
    """``netlist`` with mismatch switched on by ``.param switch=1`` and ngspice seeded with ``seed``."""
    params = tuple(p for p in netlist.params if p.name.lower() != switch.lower()) + (Param(switch, 1.0),)
    statements = []
    for st in netlist.statements:
        if st.keyword.startswith("opt"):  # an earlier seed goes; the line's other options stay
            text = _SEED.sub("", st.text).strip()
            if len(text.split()) < 2:
                continue
            st = replace(st, text=text)
        statements.append(st)
    return replace(netlist, params=params,
                   statements=(*statements, Statement("options", f".options seed={seed}")))


def sample(tb: OpAmpTestbench, seed: int) -> OpAmpTestbench:
    """``tb`` as one mismatch sample drawn with ngspice seed ``seed``.

    Raises:
        PdkError: the testbench's PDK carries no mismatch.
    """
    switch = mismatch_switch(tb.pdk)
    return replace(tb, netlist=with_mismatch(tb.netlist, switch, seed))  # type: ignore[arg-type]
