"""``ckt simulate``: run a deck as is, or characterise an op-amp subcircuit with the built-in testbench.

Without ``--testbench`` the file's own analyses and ``.meas`` lines run (after ``--set`` overrides,
PDK binding and absolute include paths). With ``--testbench opamp`` the file only supplies the
``--dut`` subcircuit and its sizes; the testbench builds the decks the requested ``--metrics`` need.

Exit status: 0 when every simulation ran; 2 with one line on stderr when a simulation failed or the
input is wrong (``--debug`` on ``ckt`` shows tracebacks).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from ckt.cli.netlist import include_options
from ckt.errors import CktError, SimulationError
from ckt.netlist.ir import Netlist
from ckt.sim.deck import parse_quantity
from ckt.sim.executor import Executor
from ckt.sim.result import SimJob, SimResult, Status

if TYPE_CHECKING:
    from ckt.sim.testbench.opamp import OpAmpTestbench

NewExecutor = Callable[[], Executor]


@dataclass(frozen=True)
class _Trust:
    """Whether the user vouched for the deck (``--trust-deck``), and which file it came from."""

    trusted: bool
    source: str

    def apply(self, job: SimJob) -> SimJob:
        return replace(job, trusted=self.trusted, source=self.source)


def _pairs(items: tuple[str, ...] | list[str], option: str) -> dict[str, str]:
    """``NAME=VALUE`` strings as a dict (names as written)."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise CktError(f"{option} expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value.strip()
    return out


def _ports(ports: str | None, port_list: tuple[str, ...]) -> dict[str, str]:
    mapping = _pairs((ports or "").split(), "--ports")
    mapping.update(_pairs(port_list, "--port"))
    return {role.lower(): port for role, port in mapping.items()}


def _quantity(text: str | None, option: str) -> float | None:
    return None if text is None else parse_quantity(text, option)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--pdk", help="Bind generic nmos4/pmos4 to this PDK (see `ckt pdk`).")
@click.option("--corner", help="PDK corner (default: the PDK's default).")
@click.option("--models", "models", multiple=True, metavar="FILE", help="Extra model file to include (repeatable).")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Override a .param (SPICE units: cc=2p).")
@click.option("--temp", help="Temperature in Celsius.")
@click.option("--testbench", type=click.Choice(["opamp"]), help="Use a built-in testbench on a subcircuit.")
@click.option("--dut", help="The subcircuit under test (with --testbench).")
@click.option("--ports", help='Role mapping, e.g. "vss=gnda vdd=vdda inn=vinn inp=vinp out=vout".')
@click.option("--port", "port_list", multiple=True, metavar="ROLE=PORT", help="One role mapping (repeatable).")
@click.option("--bias", "bias_list", multiple=True, metavar="ROLE=VALUE",
              help="Value of a bias role: i* roles are currents (A), v* roles voltages (V).")
@click.option("--ibias", help="Current into the port mapped to role ibias (A; negative: out of it).")
@click.option("--vdd", help="Supply (V; default: the PDK's, else .param vdd).")
@click.option("--vss", default="0", show_default=True, help="Negative rail (V).")
@click.option("--vcm", help="Input common mode (V; default mid-supply).")
@click.option("--cload", default="1p", show_default=True, help="Load capacitance (F).")
@click.option("--rload", help="Load resistance to vcm (ohm; default none).")
@click.option("--metrics", "metric_list",
              help="Comma-separated metrics, or 'all' (default: gain_db,ugbw,pm_deg,gbw,power_w).")
@click.option("--backend", type=click.Choice(["shared", "subprocess"]), default="shared", show_default=True)
@click.option("--executor", "executor_kind", type=click.Choice(["local", "ray"]), default="local", show_default=True)
@click.option("--address", help="Ray cluster address (auto, HOST:PORT) with --executor ray.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Worker processes (default: 1 for a deck, 2 for a testbench).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=60.0, show_default=True,
              help="Seconds per simulation.")
@include_options
@click.option("--trust-deck", is_flag=True,
              help="Run the deck's control commands unchecked (shell, file writes...): only for decks you trust.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Write a Bode plot (PNG).")
@click.option("--plot-vector", default="v(out)", show_default=True,
              help="The AC vector to plot when running a deck as is (its AC source must be 1).")
def simulate(file: str, pdk: str | None, corner: str | None, models: tuple[str, ...], sets: tuple[str, ...],
             temp: str | None, testbench: str | None, dut: str | None, ports: str | None,
             port_list: tuple[str, ...], bias_list: tuple[str, ...], ibias: str | None, vdd: str | None,
             vss: str, vcm: str | None, cload: str, rload: str | None, metric_list: str | None, backend: str,
             executor_kind: str, address: str | None, workers: int | None, timeout: float,
             include_path: tuple[str, ...], trust_deck: bool,
             as_json: bool, plot_path: str | None, plot_vector: str) -> None:
    """Simulate FILE with ngspice: its own analyses and .meas, or --testbench opamp metrics."""
    path = Path(file)
    if not path.is_file():
        raise CktError(f"{file}: no such file")
    from ckt.sim.deckpolicy import check_file

    check_file(path, trusted=trust_deck, include_path=include_path).raise_if_refused()
    trust = _Trust(trust_deck, str(path))
    from ckt.netlist.read import read_netlist

    netlist = read_netlist(path.resolve(), include_path=include_path)  # parsed once; everything below takes it
    overrides = _pairs(sets, "--set")
    temperature = _quantity(temp, "--temp")
    from ckt.sim.executor import make_executor

    if testbench is None:
        used = [name for name, value in (("--dut", dut), ("--ports", ports), ("--port", port_list),
                                         ("--bias", bias_list), ("--ibias", ibias), ("--vdd", vdd),
                                         ("--vcm", vcm), ("--rload", rload), ("--metrics", metric_list))
                if value]
        if used:
            raise CktError(f"{', '.join(used)} need --testbench opamp")
        report = _run_deck(path, netlist, overrides, pdk, models, corner, temperature, backend, timeout, trust,
                           lambda: make_executor(executor_kind, workers=workers or 1, address=address),
                           plot_path, plot_vector)
    else:
        if not dut:
            raise CktError("--testbench opamp needs --dut SUBCKT")
        from ckt.sim.testbench.opamp import DEFAULT_METRICS, METRICS, OpAmpTestbench

        names: tuple[str, ...]
        if metric_list is None:
            names = DEFAULT_METRICS
        elif metric_list.strip().lower() == "all":
            names = tuple(METRICS)
        else:
            names = tuple(m.strip() for m in metric_list.split(",") if m.strip())
        bias = {role.lower(): parse_quantity(v, f"--bias {role}") for role, v in _pairs(bias_list, "--bias").items()}
        tb = OpAmpTestbench(
            netlist, dut, ports=_ports(ports, port_list), vdd=_quantity(vdd, "--vdd"), vss=parse_quantity(vss, "--vss"),
            vcm=_quantity(vcm, "--vcm"), cload=parse_quantity(cload, "--cload"), rload=_quantity(rload, "--rload"),
            ibias=_quantity(ibias, "--ibias"), bias=bias, temp=temperature, pdk=pdk, corner=corner,
            models=tuple(models), metric_names=names, timeout_s=timeout, backend=backend,
        )
        report = _run_testbench(tb, overrides, trust, lambda: make_executor(executor_kind, workers=workers or 2,
                                                                     address=address),
                                plot_path, title=f"{path.name}: {dut}")
    _emit(report, as_json, plot_path)


def _run_deck(path: Path, netlist: Netlist, overrides: Mapping[str, str], pdk: str | None, models: tuple[str, ...],
              corner: str | None, temp: float | None, backend: str, timeout: float, trust: _Trust,
              new_executor: NewExecutor, plot_path: str | None, plot_vector: str) -> dict[str, Any]:
    from ckt.sim.deck import prepare_deck
    deck, files = prepare_deck(netlist, overrides=overrides, pdk=pdk, models=models, corner=corner, temp=temp)
    job = trust.apply(SimJob(deck=deck, vectors=plot_path is not None, timeout_s=timeout, backend=backend,
                             files=files))
    executor = new_executor()  # only once the deck is known to be good: a Ray start is not free
    try:
        result = executor.map([job])[0]
    finally:
        executor.close()
    report = {
        "file": str(path),
        "status": result.status,
        "trusted_deck": trust.trusted,
        "elapsed_s": result.elapsed_s,
        "measurements": {k: _finite(v) for k, v in result.measurements.items()},
        "metrics": None,
        "missing": {},
    }
    if not result.ok:
        report["message"] = result.message or result.status
    elif plot_path is not None:
        report["_bode"] = _deck_bode(result, plot_vector)
        report["_title"] = path.name
    return report


def _deck_bode(result: SimResult, vector: str) -> tuple[np.ndarray, np.ndarray]:
    name = vector.lower()
    for plot, vectors in result.vectors.items():
        if plot.startswith("ac") and name in vectors and "frequency" in vectors:
            return vectors["frequency"].real, vectors[name]
    raise CktError(f"--plot: no AC vector {vector!r} in the results (choose one with --plot-vector)")


def _run_testbench(tb: OpAmpTestbench, overrides: Mapping[str, str], trust: _Trust, new_executor: NewExecutor,
                   plot_path: str | None, title: str) -> dict[str, Any]:
    import time

    from ckt.sim.testbench.opamp import one_line

    start = time.perf_counter()
    jobs = [trust.apply(job) for job in tb.jobs(overrides)]
    executor = new_executor()
    try:
        results = executor.map(jobs)
    finally:
        executor.close()
    ms = tb.metrics(results)
    report = {
        "file": title,
        "status": Status.OK if not ms.failed else ms.status,
        "trusted_deck": trust.trusted,
        "elapsed_s": time.perf_counter() - start,
        "measurements": {},
        "metrics": dict(ms.values),
        "missing": dict(ms.missing),
    }
    if ms.failed:
        report["message"] = "; ".join(f"{deck}: {one_line(msg)}" for deck, msg in ms.messages.items())
    elif plot_path is not None:
        if ms.bode is None:
            raise CktError("--plot: the testbench produced no AC response (add an AC metric such as ugbw)")
        report["_bode"] = ms.bode
        report["_title"] = title
    return report


def _emit(report: dict[str, Any], as_json: bool, plot_path: str | None) -> None:
    bode = report.pop("_bode", None)
    title = report.pop("_title", "")
    if bode is not None and plot_path is not None:
        from ckt.report.bode import plot_bode

        plot_bode(bode[0], bode[1], plot_path, title=title)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        _table(report)
    if report["status"] != Status.OK:
        from ckt.sim.testbench.opamp import one_line

        raise SimulationError(f"{report['file']}: simulation {report['status']}: "
                              f"{one_line(report.get('message') or report['status'])}")


def _table(report: dict[str, Any]) -> None:
    click.echo(f"{report['file']}: {report['status']} in {report['elapsed_s']:.2f} s")
    if report["trusted_deck"]:
        click.echo("  deck trusted (--trust-deck): its control commands ran unchecked")
    rows: list[tuple[str, str]] = []
    for name, value in report["measurements"].items():
        rows.append((name, "failed" if value is None else f"{value:.6g}"))
    if report["metrics"] is not None:
        from ckt.sim.testbench.opamp import METRICS

        for name, value in report["metrics"].items():
            unit = METRICS[name].unit if name in METRICS else ""
            rows.append((name, f"{value:.6g} {unit}".rstrip()))
        for name, why in report["missing"].items():
            rows.append((name, f"missing: {why}"))
    width = max((len(n) for n, _ in rows), default=0)
    for name, text in rows:
        click.echo(f"  {name:<{width}}  {text}")
