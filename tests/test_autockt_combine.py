"""Merging AutoCkt runs: one table over the targets every labelled method finished."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "experiments"))
import autockt_combine  # noqa: E402


def _run(path: Path, methods: list[str], results: dict[tuple[int, str], int | None], budget: int = 200) -> str:
    records = [{"target_index": t, "method": m, "target": {}, "success": s is not None, "sims_to_feasible": s,
                "sims": s or budget, "best_violation": 0.0, "wall_s": 1.0} for (t, m), s in results.items()]
    config = {"targets": 100, "budget": budget, "methods": methods, "seed": 0, "batch": 4, "workers": 1,
              "netlist": "netlists/autockt_two_stage.cir"}
    path.write_text(json.dumps({"config": config, "records": records}))
    return str(path)


def test_runs_merge_on_shared_targets_and_count_head_to_head(tmp_path: Path, capsys) -> None:
    old = _run(tmp_path / "old.json", ["bo", "turbo"],
               {(0, "bo"): 50, (0, "turbo"): 90, (1, "bo"): None, (1, "turbo"): None, (2, "bo"): 80, (2, "turbo"): 40})
    new = _run(tmp_path / "new.json", ["turbo"], {(0, "turbo"): 60, (1, "turbo"): 120})  # target 2 not run yet
    assert autockt_combine.main([f"{old}:old:bo", f"{new}:new", "--first", "new/turbo", "--name", "c",
                                 "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["targets_done"] == [0, 1]
    methods = report["summary"]["methods"]
    assert set(methods) == {"old/bo", "new/turbo"} and methods["new/turbo"]["success_feasible"] == 1.0
    assert methods["old/bo"]["success_feasible"] == 0.5
    assert report["head_to_head"]["others"]["old/bo"] == {"both_met": 1, "first_fewer": 0, "ties": 0,
                                                          "only_other_met": 0}
    assert (tmp_path / "c.png").exists()


def test_runs_of_another_budget_are_refused(tmp_path: Path) -> None:
    a = _run(tmp_path / "a.json", ["bo"], {(0, "bo"): 5})
    b = _run(tmp_path / "b.json", ["bo"], {(0, "bo"): 5}, budget=150)
    with pytest.raises(SystemExit, match="another configuration"):
        autockt_combine.main([f"{a}:a", f"{b}:b", "--first", "a/bo", "--out", str(tmp_path)])


def test_a_malformed_run_argument_or_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="PATH:LABEL"):
        autockt_combine.main([str(tmp_path / "a.json"), "--first", "a/bo"])
    with pytest.raises(SystemExit, match="not a readable"):
        autockt_combine.main([f"{tmp_path / 'missing.json'}:a", "--first", "a/bo"])
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(SystemExit, match="no config or records"):
        autockt_combine.main([f"{tmp_path / 'other.json'}:a", "--first", "a/bo"])
