"""``ckt.learn`` and ``ckt train encoder`` / ``ckt eval encoder`` on tiny datasets written in the tests."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from ckt.cli import main
from ckt.data import AnalogGenie, FolderDataset, Image2Net, registry
from ckt.errors import DatasetError, ModelConfigError
from ckt.learn import MODEL_FILE, TrainRequest, check_targets, evaluate_encoder, split_dataset, train_encoder
from ckt.nn import load_model
from tests.datasets.fixtures import I2N_AMP, I2N_BANDGAP, LDO_DUPLICATES, OPAMP_A, analoggenie_tar, image2net_tar

PORTS = "VDD VSS VIN1 VIN2 VOUT1 VB1"
pytestmark = pytest.mark.filterwarnings("ignore:analoggenie. .* reuse instance names")


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _ag_circuits() -> dict[int, tuple[str, str, str | None]]:
    """Six op-amps (IDs 5..10) and six LDOs (IDs 2200..2205), each its own page and topology
    (k parallel load devices make the k-th variant), so a group split can fill train, val and test."""
    circuits: dict[int, tuple[str, str, str | None]] = {}
    for k in range(6):
        circuits[5 + k] = (OPAMP_A + "".join(f"CC{j} (VOUT1 VSS) capacitor\n" for j in range(k)), PORTS, f"p{k}")
        circuits[2200 + k] = (LDO_DUPLICATES + "".join(f"RL{j} (VOUT1 VSS) resistor\n" for j in range(k)),
                              "VIN1 VSS VOUT1", f"q{k}")
    return circuits


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Prepared caches of a 12-circuit AnalogGenie and a 3-circuit Image2Net (read later without a source)."""
    tmp = tmp_path_factory.mktemp("learn")
    ag, i2n = tmp / "ag", tmp / "i2n"
    AnalogGenie(ag, source=analoggenie_tar(tmp / "ag.tar.gz", _ag_circuits()))
    files = {"1.txt": I2N_AMP, "2.txt": I2N_BANDGAP, "3.txt": I2N_AMP.replace("SISO-Amplifier", "DIDO-Amplifier")}
    Image2Net(i2n, source=image2net_tar(tmp / "i2n.tar.gz", files))
    return {"analoggenie": ag, "image2net": i2n}


def _request(roots: dict[str, Path], out: Path, **kw: object) -> TrainRequest:
    options: dict = dict(dataset="analoggenie", encoder="gin", targets=("ckt_type",), out=out,
                         root=roots["analoggenie"], epochs=2, batch_size=4, hidden=16, progress=False)
    options.update(kw)
    return TrainRequest(**options)


@pytest.fixture(scope="module")
def trained(roots: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("model") / "gin"
    return out, train_encoder(_request(roots, out), log=lambda line: None)


def test_train_writes_a_model_folder(trained: tuple[Path, dict]) -> None:
    out, record = trained
    assert {p.name for p in out.iterdir()} >= {"best.pt", "last.pt", "history.json", MODEL_FILE}
    saved = json.loads((out / MODEL_FILE).read_text())
    assert saved == json.loads(json.dumps(record))  # the record returned is the one written
    assert saved["dataset"] == "analoggenie" and saved["encoder"] == "gin" and saved["targets"] == ["ckt_type"]
    assert saved["split"] == "group" and sum(saved["sizes"].values()) == 12
    assert all(saved["sizes"][k] > 0 for k in ("train", "val", "test"))
    assert saved["config"]["head"]["task"] == "classification" and saved["config"]["head"]["classes"][-1] == "General"
    assert len(saved["config"]["head"]["classes"]) == 15  # 14 AnalogToBi types and General
    assert len(json.loads((out / "history.json").read_text())) == 2
    assert saved["test"]["n"] == saved["sizes"]["test"]
    assert sum(map(sum, saved["test"]["confusion"])) == saved["test"]["n"]


def test_evaluate_rebuilds_the_test_side_from_the_training_cache(trained: tuple[Path, dict], tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    out, record = trained
    monkeypatch.setenv("CKT_DATA", str(tmp_path))  # the default cache is elsewhere (and empty)
    metrics = evaluate_encoder(out)  # no root: the one it was trained from
    assert metrics["dataset"] == "analoggenie" and metrics["split"] == "group"
    assert {k: metrics[k] for k in ("n", "accuracy", "confusion")} == \
        {k: record["test"][k] for k in ("n", "accuracy", "confusion")}


def test_transfer_keeps_the_shared_types_as_the_model_classes(trained: tuple[Path, dict],
                                                              roots: dict[str, Path]) -> None:
    out, record = trained
    metrics = evaluate_encoder(out, dataset="image2net", root=roots["image2net"])
    classes = record["config"]["head"]["classes"]
    assert metrics["split"] == "all" and metrics["n"] == 3 and metrics["classes"] == classes
    truth = [sum(row) for row in metrics["confusion"]]
    assert truth[classes.index("Opamp")] == 2 and truth[classes.index("Bandgap_Ref")] == 1 and sum(truth) == 3


def test_unknown_target_is_refused(roots: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="has no target gain"):
        train_encoder(_request(roots, tmp_path / "m", targets=("gain",)), log=lambda line: None)
    assert not (tmp_path / "m").exists()


def test_classification_target_needs_a_typed_dataset(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    for i in range(3):
        (folder / f"amp{i}.scs").write_text(OPAMP_A + "CC0 (VOUT1 VSS) capacitor\n" * i)
    (folder / "labels.csv").write_text("circuit,gain\n" + "".join(f"amp{i},{i}\n" for i in range(3)))
    ds = FolderDataset(tmp_path / "root", source=folder, targets=["gain"])
    assert check_targets(ds, ()) == ("gain",)
    with pytest.raises(DatasetError, match="ckt_type is a classification target on its own, on a typed dataset"):
        check_targets(ds, ("ckt_type",))
    with pytest.raises(DatasetError, match="classification target on its own"):
        check_targets(ds, ("ckt_type", "gain"))


def test_a_folder_without_a_model_is_refused(tmp_path: Path) -> None:
    (tmp_path / MODEL_FILE).write_text("{}")  # a record without best.pt is no model either
    with pytest.raises(ModelConfigError, match="not a trained model folder"):
        evaluate_encoder(tmp_path)


def test_cli_train_then_eval(roots: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "cli"
    runner = CliRunner()
    result = runner.invoke(main, ["train", "encoder", "--dataset", "analoggenie", "--root", str(roots["analoggenie"]),
                                  "--model", "gcn", "--target", "ckt_type", "--out", str(out), "--epochs", "1",
                                  "--batch-size", "4", "--hidden", "16", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout[result.stdout.index("{"):])
    assert record["encoder"] == "gcn" and (out / "best.pt").is_file()
    result = runner.invoke(main, ["eval", "encoder", str(out), "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.stdout)
    assert metrics["dataset"] == "analoggenie" and metrics["accuracy"] == record["test"]["accuracy"]
    result = runner.invoke(main, ["eval", "encoder", str(out), "--dataset", "image2net", "--root",
                                  str(roots["image2net"]), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n"] == 3


def test_balanced_classification(roots: dict[str, Path], tmp_path: Path) -> None:
    record = train_encoder(_request(roots, tmp_path / "b", epochs=1, balanced=True), log=lambda line: None)
    assert record["config"]["head"]["balanced"] is True
    ds = AnalogGenie(roots["analoggenie"])
    labels = [int(ds[int(i)].y) for i in split_dataset(ds, "group", 0)["train"]]
    counts = Counter(labels)
    expected = [len(labels) / (len(counts) * counts[c]) if c in counts else 1.0 for c in range(len(ds.classes))]
    assert load_model(tmp_path / "b" / "best.pt").head.class_weight.tolist() == pytest.approx(expected)


def test_balanced_needs_classification(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    for i in range(3):
        (folder / f"amp{i}.scs").write_text(OPAMP_A + "CC0 (VOUT1 VSS) capacitor\n" * i)
    (folder / "labels.csv").write_text("circuit,gain\n" + "".join(f"amp{i},{i}\n" for i in range(3)))

    class Mine(FolderDataset):
        def __init__(self, root: Path | None = None, **kw: object) -> None:
            super().__init__(tmp_path / "root", source=folder, targets=["gain"], **kw)  # type: ignore[arg-type]

    monkeypatch.setitem(registry._DATASETS, "mine", Mine)
    req = TrainRequest(dataset="mine", encoder="gin", targets=("gain",), out=tmp_path / "m", split="random",
                       balanced=True, epochs=1, progress=False)
    with pytest.raises(ModelConfigError, match="balanced weights classes; gain is regression"):
        train_encoder(req, log=lambda line: None)


def test_a_folder_of_ones_own_netlists_trains_and_evaluates_from_the_cli(tmp_path: Path) -> None:
    """``ckt train encoder --dataset folder --source DIR``: the dataset's own options ride in
    model.json, so ``ckt eval encoder`` rebuilds the same data."""
    from ckt.cli import run

    src = tmp_path / "mine"
    src.mkdir()
    rows = ["circuit,tau"]
    for k in range(1, 10):  # RC ladders of 1..9 sections: nine topologies, nine groups
        lines = [f"ladder {k}"] + [f"R{i} n{i} n{i + 1} 1k\nC{i} n{i + 1} 0 1p" for i in range(k)] + [".end"]
        (src / f"l{k}.cir").write_text("\n".join(lines) + "\n")
        rows.append(f"l{k},{k * 1e-9}")
    (src / "labels.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "model"
    argv = ["train", "encoder", "--dataset", "folder", "--source", str(src), "--target", "tau", "--model", "gin",
            "--root", str(tmp_path / "cache"), "--out", str(out), "--epochs", "2", "--hidden", "8"]
    assert run(argv) == 0
    record = json.loads((out / "model.json").read_text())
    assert record["request"]["dataset_options"]["source"] == str(src)
    assert run(["eval", "encoder", str(out), "--json"]) == 0


def test_a_first_run_says_it_is_preparing_the_dataset(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    for i in range(4):
        (folder / f"amp{i}.scs").write_text(OPAMP_A + "CC0 (VOUT1 VSS) capacitor\n" * i)
    (folder / "labels.csv").write_text("circuit,gain\n" + "".join(f"amp{i},{i}\n" for i in range(4)))
    lines: list[str] = []
    train_encoder(TrainRequest(dataset="folder", encoder="gin", targets=("gain",), out=tmp_path / "m",
                               root=tmp_path / "root", split="random", epochs=1, hidden=8,
                               dataset_options={"source": str(folder), "targets": ["gain"]}), log=lines.append)
    assert [line for line in lines if "preparing" in line][-1] == "folder: preparing 4/4 circuits"
    lines.clear()  # the cache is there now: nothing to prepare
    train_encoder(TrainRequest(dataset="folder", encoder="gin", targets=("gain",), out=tmp_path / "m2",
                               root=tmp_path / "root", split="random", epochs=1, hidden=8,
                               dataset_options={"source": str(folder), "targets": ["gain"]}), log=lines.append)
    assert not [line for line in lines if "preparing" in line]
