"""OCB labelling: the hand-check record, the encoding, invalid circuits, the resumable store."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ckt.data.label_store import LabelStore
from ckt.data.ocb_label import (
    INVALID,
    NO_UNITY_CROSSING,
    OcbLabel,
    Progress,
    check_netlist,
    decode,
    encode,
    label_netlists,
    ocb_deck,
    wrap_deg,
)
from ckt.errors import NetlistError
from ckt.netlist.ir import Netlist
from ckt.netlist.parse_spice import parse_spice
from tests.conftest import ROOT, requires_ngspice, shared

# ngspice G: the current gm*v(cp, cn) flows from the first node through the source to the second,
# so "G 0 n1 in 0" pushes current into n1: a non-inverting stage. Upstream's Spectre netlists write
# "G (OUT GND IN GND)", an inverting one; two equal-sign stages give the same labels either way.
ROW_1506 = """* OCB row 1506: two +gm+ stages, each with its fixed 1 MOhm and 50 fF load
G1 0 n1 in 0 9.8m
R1 n1 0 1Meg
C1 n1 0 50f
G2 0 out n1 0 8.9m
R2 out 0 1Meg
C2 out 0 50f
.end
"""


def two_stage(gm1: float, gm2: float, cc: float | None = None) -> str:
    """A two-stage behavioural op-amp (non-inverting stages), optionally Miller-compensated."""
    miller = f"C3 n1 out {cc}\n" if cc is not None else ""
    return (f"* two stage\nG1 0 n1 in 0 {gm1}\nR1 n1 0 1Meg\nC1 n1 0 50f\n"
            f"G2 0 out n1 0 {gm2}\nR2 out 0 1Meg\nC2 out 0 50f\n{miller}.end\n")


def batch(n: int) -> list[Netlist]:
    """``n`` distinct Miller-compensated two-stage op-amps."""
    return [parse_spice(two_stage(1e-4 * (1 + i % 97), 1e-4 * (1 + i // 97), cc=1e-15 * (1 + i))) for i in range(n)]


def csv_row(index: int) -> dict[str, float]:
    with open(shared("ocb", "perform101.csv"), newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r[""] == str(index))
    return {k: float(row[k]) for k in ("gain", "bw", "pm", "fom")}


def sig6(x: float) -> str:
    return f"{x:.6g}"


# --- encoding ------------------------------------------------------------------------------------


def test_encoding_round_trips_and_zero_is_the_invalid_row() -> None:
    e = encode(158.8, 29.73e9, 45.0)
    assert decode(e.gain, e.bw, e.pm) == pytest.approx((158.8, 29.73e9, 45.0))
    assert e.fom == pytest.approx(1.2 * 1.588 + 1.6 * (2.00001 - 0.5) + 10 * 29.73)
    assert (INVALID.gain, INVALID.bw, INVALID.pm) == (1.19531, 1e-5, 2.00001)
    assert INVALID.fom == pytest.approx(1.6 * 2.00001)


def test_fom_formula_with_the_bw_offset_reproduces_the_csv() -> None:
    """perform101's FoM is the formula on the unit offsets: a constant 6.3e-6 away on 97 % of rows."""
    with open(shared("ocb", "perform101.csv"), newline="") as fh:
        rows = [{k: float(r[k]) for k in ("gain", "bw", "pm", "fom")} for r in csv.DictReader(fh)]
    residuals = [r["fom"] - encode(*decode(r["gain"], r["bw"], r["pm"])).fom for r in rows]
    close = [x for x in residuals if abs(x + 6.27e-6) < 2e-6]
    assert len(close) / len(rows) > 0.97


# --- simulation ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hand_labels() -> list[OcbLabel]:
    upstream_signs = ROW_1506.replace("G1 0 n1 in 0", "G1 n1 0 in 0").replace("G2 0 out n1 0", "G2 out 0 n1 0")
    mixed = ROW_1506.replace("G2 0 out n1 0", "G2 out 0 n1 0")
    passive = "* divider\nR1 in out 1k\nR2 out 0 1k\n.end\n"
    floating = "* out has no DC path\nG1 0 out in 0 1m\n.end\n"
    nets = [parse_spice(t) for t in (ROW_1506, upstream_signs, mixed, passive, floating)]
    return label_netlists(nets, workers=1, progress=None)


@pytest.mark.ngspice
@requires_ngspice
def test_hand_check_record_matches_notes_and_csv(hand_labels: list[OcbLabel]) -> None:
    label = hand_labels[0]
    assert label.valid and label.dc_phase_deg == 0.0  # non-inverting: +158.8 dB at 0 deg
    assert round(label.gain_db, 1) == 158.8
    assert round(label.ugbw_hz / 1e9, 2) == 29.73
    assert round(label.pm_deg, 4) == 0.0123
    row = csv_row(1506)
    gain_db, ugbw, pm_deg = decode(row["gain"], row["bw"], row["pm"])
    # the CSV prints six significant digits of each raw value
    assert (sig6(label.gain_db), sig6(label.ugbw_hz), sig6(label.pm_deg)) == (sig6(gain_db), sig6(ugbw), sig6(pm_deg))
    assert round(label.gain, 5) == round(row["gain"], 5)
    assert label.pm == pytest.approx(row["pm"], abs=1e-9)
    assert sig6(label.bw - 1e-5) == sig6(row["bw"] - 1e-5)
    assert label.fom == pytest.approx(row["fom"], abs=1e-3)
    assert label.ugbw_hz == pytest.approx(math.sqrt(9.8e-3 * 8.9e-3) / (2 * math.pi * 50e-15), rel=1e-3)


@pytest.mark.ngspice
@requires_ngspice
def test_stage_sign_convention(hand_labels: list[OcbLabel]) -> None:
    plain, upstream, mixed = hand_labels[:3]
    assert (upstream.gain, upstream.bw, upstream.pm) == pytest.approx((plain.gain, plain.bw, plain.pm), rel=1e-12)
    # one inverting stage: same magnitude; the benchmark's margin is not referred to the DC phase
    assert mixed.gain_db == pytest.approx(plain.gain_db, rel=1e-12)
    assert abs(mixed.dc_phase_deg) == 180.0
    assert mixed.pm_deg == pytest.approx(plain.pm_deg - 180.0, abs=1e-9)  # 180.0123 wrapped


def test_margins_wrap_into_half_open_turn() -> None:
    assert [wrap_deg(a) for a in (0.0, 180.0, -180.0, 270.0, -190.0, 540.0)] == [0.0, 180.0, 180.0, -90.0, 170.0, 180.0]


@pytest.mark.ngspice
@requires_ngspice
def test_failed_circuits_get_invalid_records_with_their_reason(hand_labels: list[OcbLabel]) -> None:
    passive, floating = hand_labels[3:]
    assert passive.status == NO_UNITY_CROSSING and "never crosses" in passive.message
    assert floating.status in ("error", "nonconvergence") and floating.message
    for label in (passive, floating):
        assert not label.valid and label.gain_db is None and label.ugbw_hz is None and label.pm_deg is None
        assert (label.gain, label.bw, label.pm, label.fom) == (INVALID.gain, INVALID.bw, INVALID.pm, INVALID.fom)


def test_netlists_outside_the_family_are_refused_before_simulation() -> None:
    with pytest.raises(NetlistError, match=r"M1 \(mosfet\)"):
        check_netlist(parse_spice("* mos\nM1 out in 0 0 nmos\nR1 out 0 1k\n.end\n"))
    with pytest.raises(NetlistError, match="'out'"):
        check_netlist(parse_spice("* no out\nG1 0 n1 in 0 1m\nR1 n1 0 1k\n.end\n"))
    with pytest.raises(NetlistError, match="circuit 1: .*V1"):
        label_netlists([parse_spice(ROW_1506), parse_spice("* src\nV1 in 0 1\nR1 in out 1k\nR2 out 0 1k\n.end\n")],
                       progress=None)


def test_deck_key_follows_the_circuit() -> None:
    a, b = ocb_deck(parse_spice(two_stage(1e-3, 2e-3))), ocb_deck(parse_spice(two_stage(1e-3, 2.1e-3)))
    assert a != b and ".ac dec 100 1 0.1t" in a.lower() and "temp=27" in a


@pytest.mark.ngspice
@requires_ngspice
def test_two_workers_label_like_one() -> None:
    nets = [parse_spice(two_stage(0.1e-3 * (i + 1), 1e-3, cc=10e-15 * (i + 1))) for i in range(6)]
    one = label_netlists(nets, workers=1, progress=None)
    two = label_netlists(nets, workers=2, progress=None)
    assert [lab.index for lab in two] == list(range(6))
    assert [(lab.gain, lab.bw, lab.pm, lab.fom) for lab in one] == [(lab.gain, lab.bw, lab.pm, lab.fom) for lab in two]
    assert all(lab.valid for lab in one)


# --- store and resume ----------------------------------------------------------------------------


def test_store_drops_a_torn_line_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    with LabelStore(path) as store:
        store.append(0, "k0", {"status": "ok"})
        store.append(1, "k1", {"status": "ok"})
    with open(path, "ab") as fh:
        fh.write(b'{"schema":1,"index":2,"key":"k2","sta')  # what a kill mid-write leaves
    with LabelStore(path) as store:
        assert len(store) == 2 and store.get(1, "k1") is not None and store.get(2, "k2") is None
        store.append(2, "k2", {"status": "ok"})
    lines = path.read_text().splitlines()
    assert [json.loads(line)["index"] for line in lines] == [0, 1, 2]


@pytest.mark.ngspice
@requires_ngspice
def test_a_changed_circuit_is_relabelled_and_the_rest_reused(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    nets = [parse_spice(two_stage(1e-3, 1e-3 * (i + 1))) for i in range(3)]
    first = label_netlists(nets, store=path, workers=1, progress=None)
    nets[1] = parse_spice(two_stage(1e-3, 5e-3))
    second = label_netlists(nets, store=path, workers=1, progress=None)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["index"] for r in lines] == [0, 1, 2, 1]  # one worker: completion order is input order
    assert second[0] == first[0] and second[2] == first[2]
    assert second[1].key != first[1].key and second[1].ugbw_hz > first[1].ugbw_hz


_LABELLER = """
import sys
from ckt.data.ocb_label import label_netlists
from tests.datasets.test_ocb_label import batch
label_netlists(batch(int(sys.argv[2])), store=sys.argv[1], workers=1, progress=None)
"""


@pytest.mark.ngspice
@requires_ngspice
def test_labelling_resumes_after_sigkill(tmp_path: Path) -> None:
    path, total = tmp_path / "labels.jsonl", 300
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", _LABELLER, str(path), str(total)], cwd=ROOT, env=env)
    deadline = time.monotonic() + 120
    try:
        while not (path.exists() and path.read_bytes().count(b"\n") >= 20):
            assert proc.poll() is None, "the labelling run ended before it could be killed"
            assert time.monotonic() < deadline, "no labels after 120 s"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    before = LabelStore(path)
    done = len(before)
    before.close()
    assert 20 <= done < total
    labels = label_netlists(batch(total), store=path, workers=1, progress=None)
    assert [lab.index for lab in labels] == list(range(total))
    indices = [json.loads(line)["index"] for line in path.read_text().splitlines()]
    assert sorted(indices) == list(range(total))  # each circuit simulated exactly once over both runs


def test_progress_line_counts_rate_and_eta() -> None:
    now = [100.0]
    bar = Progress(100, resumed=20, stream=None, clock=lambda: now[0])
    assert bar.line() == "20/100 circuits (20 resumed), 0.0/s, ETA ?"
    now[0] += 4.0
    bar.step(10)
    assert bar.line() == "30/100 circuits (20 resumed), 2.5/s, ETA 28s"
    bar.step(70)
    assert bar.line().endswith("ETA 0s")


@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.ngspice
@requires_ngspice
def test_ray_executor_labels_like_local() -> None:
    pytest.importorskip("ray")
    nets = [parse_spice(ROW_1506), parse_spice(two_stage(1e-3, 2e-3, cc=100e-15))]
    local = label_netlists(nets, workers=1, progress=None)
    remote = label_netlists(nets, kind="ray", workers=1, progress=None)
    assert [(lab.status, lab.gain, lab.bw, lab.pm) for lab in remote] == [(lab.status, lab.gain, lab.bw, lab.pm)
                                                                        for lab in local]
