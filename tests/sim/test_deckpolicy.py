"""The deck policy: every hostile deck of ours is refused with its command, file and line; every deck
the project ships (and every deck its testbenches generate) passes; and plain ngspice shows the hostile
decks really do what the policy stops."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ckt.errors import CktError, DeckPolicyError
from ckt.sim.deckpolicy import check_deck, path_refusal
from tests.conftest import ROOT, TEST_DATA, requires_ngspice

HOSTILE = TEST_DATA / "hostile"
HOSTILE_DECKS = sorted(HOSTILE.glob("*.cir"))


def _annotation(deck: Path, key: str) -> str | None:
    match = re.search(rf"^\* {key}: (.+)$", deck.read_text(), re.MULTILINE)
    return match.group(1).strip() if match else None


def _text(deck: Path, tmp: Path) -> str:
    """The deck with ``@TMP@`` (the absolute-path deck's target folder) filled in."""
    return deck.read_text().replace("@TMP@", str(tmp))


def _run_dir(tmp: Path) -> Path:
    run = tmp / "run"
    run.mkdir(exist_ok=True)
    return run


def test_there_are_hostile_decks() -> None:
    assert len(HOSTILE_DECKS) >= 20
    assert all(_annotation(d, "refused") for d in HOSTILE_DECKS)


@pytest.mark.parametrize("deck", HOSTILE_DECKS, ids=lambda p: p.stem)
def test_hostile_deck_is_refused_with_command_file_and_line(deck: Path, tmp_path: Path) -> None:
    file, line, command = _annotation(deck, "refused").split(" ", 2)
    check = check_deck(_text(deck, tmp_path), source=str(deck), run_dir=_run_dir(tmp_path))
    assert not check.ok
    first = check.refusals[0]
    assert (first.command, Path(first.file).name, first.line) == (command, file, int(line))
    with pytest.raises(DeckPolicyError) as info:
        check.raise_if_refused()
    err = info.value
    assert isinstance(err, CktError)
    assert (err.command, Path(err.file).name, err.line) == (command, file, int(line))
    assert f"{file}:{line}: deck policy refuses `{command}`" in str(err)
    assert "--trust-deck" in str(err)


@pytest.mark.parametrize("deck", HOSTILE_DECKS[:3], ids=lambda p: p.stem)
def test_trusted_skips_the_refusals(deck: Path, tmp_path: Path) -> None:
    check = check_deck(_text(deck, tmp_path), source=str(deck), run_dir=tmp_path, trusted=True)
    assert check.ok and check.trusted
    check.raise_if_refused()


def _legitimate_decks() -> list[Path]:
    decks = sorted(ROOT.joinpath("netlists").glob("*.cir"))
    for suffix in ("*.cir", "*.sp", "*.spice", "*.net"):
        decks += [p for p in TEST_DATA.rglob(suffix) if HOSTILE not in p.parents]
    return sorted(set(decks))


@pytest.mark.parametrize("deck", _legitimate_decks(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_deck_passes(deck: Path, tmp_path: Path) -> None:
    check = check_deck(deck.read_text(errors="replace"), source=str(deck), run_dir=tmp_path)
    assert check.refusals == ()


@pytest.mark.parametrize("name", ["two_stage_miller", "ota_5t", "folded_cascode"])
def test_every_generated_testbench_deck_passes(name: str, tmp_path: Path) -> None:
    from ckt.opt.spec import load_spec
    from ckt.sim.testbench.opamp import METRICS, OpAmpTestbench

    spec = load_spec(ROOT / "netlists" / f"{name}.yaml")
    tb = OpAmpTestbench(ROOT / "netlists" / f"{name}.cir", spec.testbench.dut, ports=dict(spec.testbench.ports),
                        pdk=spec.pdk, models=spec.models, metric_names=tuple(METRICS))
    jobs = tb.jobs()
    assert jobs
    for job in jobs:
        check = check_deck(job.deck, source=f"<{name} testbench>", run_dir=tmp_path)
        assert check.refusals == (), job.deck
        assert len(check.files) > 1  # the PDK model files were followed and scanned too


def _check(body: str, tmp_path: Path, **kw) -> tuple:
    deck = "title\nV1 a 0 1\nR1 a 0 1k\n" + body + "\n.end\n"
    return check_deck(deck, source="deck.cir", run_dir=tmp_path, **kw).refusals


@pytest.mark.parametrize(
    "body",
    [
        ".control\nop\nwrdata out.txt v(a)\nwrite sub/result.raw v(a)\nprint v(a) > log.txt\n.endc",
        ".control\nset wr_singlescale\nset filetype = ascii\noption reltol=1e-4\nrun\n.endc",
        ".control\nforeach v 1 2\nalter V1 dc = $v\nop\nif v(a) > 0.5\necho high ; comment\nend\nend\n.endc",
        ".control\nmeas ac gain max vdb(a)\nlet g = 2*v(a)\nsetplot op1\nhardcopy plot.ps v(a)\nquit\n.endc",
        ".options reltol=1e-4 abstol=1e-12\n.lib tt\nR2 a 0 1k\n.endl tt",
    ],
)
def test_what_an_analysis_needs_passes(body: str, tmp_path: Path) -> None:
    assert _check(body, tmp_path) == ()


@pytest.mark.parametrize(
    ("body", "command", "line"),
    [
        (".control\nfrobnicate\n.endc", "frobnicate", 5),
        (".control\nset sourcepath = ( /tmp )\n.endc", "set", 5),
        (".control\nset hcopydev=lp\n.endc", "set", 5),
        (".options sourcepath=/tmp", ".options", 4),
        (".control\n$cmd touch x\n.endc", "$cmd", 5),
        (".control\nrun\n* comment\n  shell echo no .endc", "shell", 7),
        (".control\ncd /tmp\n.endc", "cd", 5),
        (".controls\nshell touch x\n.endc", "shell", 5),
        (".control\nwrdata C:\\\\out v(a)\n.endc", "wrdata", 5),
        (".control\nwrdata out* v(a)\n.endc", "wrdata", 5),
        (".include /nowhere/missing.inc", ".include", 4),
        (".lib ./models.dylib tt", ".lib", 4),
        (".include '/usr/lib/libc.so.6'", ".include", 4),
        (".INC devices.OSDI", ".inc", 4),
        (".control\ngnuplot out v(a)\n.endc", "gnuplot", 5),
        (".control\nset x = 1\nset editor=vi\n.endc", "set", 6),
        (".control\nprint v(a) >> /tmp/log\n.endc", "print >>", 5),
    ],
)
def test_refusals(body: str, command: str, line: int, tmp_path: Path) -> None:
    refusals = _check(body, tmp_path)
    assert refusals, body
    assert (refusals[0].command, refusals[0].file, refusals[0].line) == (command, "deck.cir", line)


def test_symlink_out_of_the_run_dir_is_refused(tmp_path: Path) -> None:
    run = _run_dir(tmp_path)
    (run / "out").symlink_to(tmp_path)
    assert path_refusal("out/x.txt", run) is not None
    assert path_refusal("inside/x.txt", run) is None
    refusals = check_deck("t\n.control\nwrdata out/x v(a)\n.endc\n", source="d.cir", run_dir=run).refusals
    assert [r.command for r in refusals] == ["wrdata"]


def test_include_cycle_ends_and_included_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "a.inc").write_text(".include b.inc\n")
    (tmp_path / "b.inc").write_text(".include a.inc\n.control\nunknowncmd\n.endc\n")
    deck = tmp_path / "top.cir"
    deck.write_text("t\n.include a.inc\n.end\n")
    check = check_deck(deck.read_text(), source=str(deck), run_dir=tmp_path)
    assert [Path(f).name for f in check.files] == ["top.cir", "a.inc", "b.inc"]
    assert [(r.command, Path(r.file).name, r.line) for r in check.refusals] == [("unknowncmd", "b.inc", 3)]


def test_deep_include_chain_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    for i in range(2000):
        (tmp_path / f"{i}.inc").write_text(f".include {i + 1}.inc\n")
    (tmp_path / "2000.inc").write_text("R1 a 0 1k\n")
    refusals = check_deck("t\n.include 0.inc\n", source=str(tmp_path / "top.cir"), run_dir=tmp_path).refusals
    assert [(r.command, Path(r.file).name, r.line) for r in refusals] == [(".include", "63.inc", 1)]


def test_read_file_callback_is_used(tmp_path: Path) -> None:
    asked: list[tuple[str, str]] = []

    def read(path: str, including: str) -> tuple[str, str] | None:
        asked.append((path, including))
        return ("virtual.inc", ".control\nshell ls\n.endc\n")

    refusals = check_deck("t\n.inc 'models.inc'\n", source="top.cir", run_dir=tmp_path, read_file=read).refusals
    assert asked == [("models.inc", "top.cir")]
    assert [(r.command, r.file, r.line) for r in refusals] == [("shell", "virtual.inc", 2)]


# ---- proof: without the policy, plain ngspice really does what each hostile deck asks ----------------

PROOF_DECKS = [d for d in HOSTILE_DECKS if _annotation(d, "creates")]


@requires_ngspice
@pytest.mark.ngspice
@pytest.mark.parametrize("deck", PROOF_DECKS, ids=lambda p: p.stem)
def test_plain_ngspice_runs_the_hostile_deck(deck: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(HOSTILE, run)
    (tmp_path / "home").mkdir()
    if "codemodel" in deck.read_text():
        if shutil.which("cc") is None:
            pytest.skip("no C compiler to build the native library")
        subprocess.run(["cc", "-shared", "-fPIC", "-o", str(run / "evil.so"), str(run / "evil.c")], check=True)
    (run / deck.name).write_text(_text(deck, tmp_path))
    marker = tmp_path / _annotation(deck, "creates")
    assert not marker.exists()
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    subprocess.run(["ngspice", "-b", deck.name], check=False, cwd=run, env=env, capture_output=True, timeout=60)
    # ngspice lower-cases some control lines before running them
    assert marker.exists() or marker.with_name(marker.name.lower()).exists(), f"{deck.name} created nothing"
    assert not check_deck(_text(deck, tmp_path), source=str(deck), run_dir=tmp_path / "fresh").ok
