"""``ckt dataset prepare`` and ``ckt dataset info`` on archives and folders written in the tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ckt.cli import run
from tests.datasets.fixtures import OPAMP_A, analoggenie_tar, image2net_tar


def test_prepare_then_info_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = analoggenie_tar(tmp_path / "ag.tar.gz")
    root = tmp_path / "root"
    assert run(["dataset", "prepare", "analoggenie", "--root", str(root), "--source", str(src)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("analoggenie: 3 circuits, 0 failed, 2 groups")
    assert "warning: analoggenie: 1 circuit(s) reuse instance names" in err
    assert run(["dataset", "info", "analoggenie", "--root", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["circuits"] == 3 and report["failed"] == 0 and report["groups"] == 2
    assert report["classes"]["Opamp"] == 2 and report["classes"]["LDO"] == 1 and report["classes"]["General"] == 0
    assert report["renamed_circuits"] == 1 and report["provenance"]["source"] == str(src)
    # two groups cannot fill train, val and test: said, not faked
    assert "group" not in report["splits"] and report["notes"] == ["no group split: 2 group(s) cannot fill 3 splits"]
    assert report["splits"]["random"] == {"train": 2, "val": 1, "test": 0}


def test_info_text_and_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = image2net_tar(tmp_path / "i2n.tar.gz")
    root = tmp_path / "root"
    assert run(["dataset", "prepare", "image2net", "--root", str(root), "--source", str(src), "-n", "1",
                "--view", "pins"]) == 0
    capsys.readouterr()
    assert run(["dataset", "info", "image2net", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "image2net: 1 circuits (pins view, sample of 1), 0 failed" in out
    assert "SISO-Amplifier       1" in out and "Bandgap              0" in out


def test_folder_with_targets(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    for i in range(4):
        (folder / f"amp{i}.scs").write_text(OPAMP_A + f"CC0 (VOUT1 VSS) capacitor c={i + 1}p\n" * (i % 2))
    (folder / "labels.csv").write_text("circuit,gain\n" + "".join(f"amp{i},{10 * i}\n" for i in range(4)))
    root = tmp_path / "root"
    assert run(["dataset", "prepare", "folder", "--root", str(root), "--source", str(folder), "--target",
                "gain", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["targets"]["gain"] == {"mean": 15.0, "std": pytest.approx(11.1803, 1e-4),
                                                                      "min": 0.0, "max": 30.0}
    assert run(["dataset", "info", "folder", "--root", str(root)]) == 0
    assert "target gain: mean 15, std 11.18, min 0, max 30" in capsys.readouterr().out


def test_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["dataset", "info", "analoggenie", "--root", str(tmp_path)]) == 2
    assert "analoggenie is not prepared" in capsys.readouterr().err
    assert run(["dataset", "prepare", "nosuch", "--root", str(tmp_path)]) == 2
    assert "unknown dataset 'nosuch'" in capsys.readouterr().err
    assert run(["dataset", "prepare", "image2net", "--root", str(tmp_path), "--label", "x"]) == 2
    assert "image2net takes no --label (its own: --source)" in capsys.readouterr().err
    assert run(["dataset", "prepare", "analoggenie", "--root", str(tmp_path), "--seed", "3"]) == 2
    assert "analoggenie takes no --seed" in capsys.readouterr().err
    assert run(["dataset", "prepare", "ocb", "--root", str(tmp_path), "--target", "gain"]) == 2
    assert "ocb takes no --target (its own: --seed, --workers, --executor, --address)" in capsys.readouterr().err
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "labels.csv").write_text("circuit,kind\nmissing_one,x\n")
    assert run(["dataset", "prepare", "folder", "--root", str(tmp_path / "r"), "--source", str(folder)]) == 2
    assert "1 circuit(s) not found" in capsys.readouterr().err
    assert run(["dataset", "info", "folder"]) == 2
    assert "needs source" in capsys.readouterr().err
