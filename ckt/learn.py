"""Encoders on datasets: train one, evaluate it on its test split, predict specs of netlists.

The library behind ``ckt train encoder``, ``ckt eval encoder`` and ``ckt predict``: it joins
``ckt.data`` (datasets and their splits) to ``ckt.nn`` (models, ``fit``, ``evaluate``), which know
nothing of each other. A trained model is a folder: ``best.pt`` (the checkpoint chosen on the
validation split), ``last.pt`` (for ``--resume``), ``history.json`` and ``model.json`` — what the
model was trained on (dataset, view, block basis, targets, split, seed) and its validation and test
metrics, so evaluating or predicting later rebuilds the same inputs.

Splits (``SPLITS``): ``group`` 80/10/10 with no circuit group (an OCB topology, an AnalogGenie
source page) on two sides; ``random`` 80/10/10 by sample (upstream's protocol, for comparison);
``ood`` trains and validates on 3-stage OCB amplifiers and tests on 2-stage ones.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch_geometric.data import Data

from ckt.data import registry
from ckt.data.base import CircuitDataset, Decomposer
from ckt.data.splits import group_split
from ckt.errors import CktError, DatasetError, ModelConfigError, NetlistError, NotDecomposableError
from ckt.netlist.ir import Netlist

SPLITS = ("group", "random", "ood")
FRACTIONS = (0.8, 0.1, 0.1)
CLASS_TARGET = "ckt_type"
"""The target name of circuit-type classification."""
BLOCK_ENCODERS = ("two_level",)
"""Encoders that need the subgraph view (the others read the flat graph the view carries too)."""
MODEL_FILE = "model.json"
DEFAULT_MODEL = Path(__file__).resolve().parent / "checkpoints" / "ocb_two_level"
"""The shipped OCB spec predictor ``ckt predict`` uses by default."""


def decomposer_for(dataset: str) -> Decomposer:
    """The block basis of a dataset's subgraph view: OCB's own for OCB, device-level blocks else."""
    if dataset == "ocb":
        from ckt.data.ocb import OCB_DECOMPOSER

        return OCB_DECOMPOSER
    from ckt.graph.blocks import BLOCK_TYPES, decompose_blocks

    return Decomposer("blocks", decompose_blocks, tuple(BLOCK_TYPES))


def open_dataset(name: str, encoder: str, root: str | Path | None = None, n: int | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 options: dict[str, Any] | None = None) -> CircuitDataset:
    """Dataset ``name`` in the view ``encoder`` reads (prepared on first use, cached after);
    ``options`` are the dataset's own arguments (the folder dataset's ``source``, ``labels``,
    ``label``, ``targets``)."""
    cls = registry.get(name)
    kwargs: dict[str, Any] = {"n": n, "progress": progress, **(options or {})}
    if cls.name == "ocb":
        pass  # always the subgraph view: it carries the flat tensors too
    elif encoder in BLOCK_ENCODERS:
        kwargs.update(view="subgraphs", decomposer=decomposer_for(cls.name))
    return cls(root, **kwargs)


def preparing(name: str, say: Callable[[str], None]) -> Callable[[int, int], None]:
    """A dataset ``progress`` callback saying ``NAME: preparing done/total circuits`` every tenth, so
    a first run that builds the cache (minutes for OCB) shows it is working, in a log as on a terminal."""
    def show(done: int, total: int) -> None:
        if done == total or done % max(total // 10, 1) == 0:
            say(f"{name}: preparing {done}/{total} circuits")

    return show


def split_dataset(ds: CircuitDataset, kind: str, seed: int) -> dict[str, torch.Tensor]:
    """Index tensors ``train``/``val``/``test`` for split ``kind`` (module docstring).

    Raises:
        DatasetError: an unknown split, or ``ood`` on a dataset without stage counts.
    """
    if kind in ("group", "random"):
        return ds.split(kind, FRACTIONS, seed)
    if kind != "ood":
        raise DatasetError(f"unknown split {kind!r}; use one of {', '.join(SPLITS)}")
    stages = ds.extra_values("stages")
    if stages is None:
        raise DatasetError(f"{ds.name}: the ood split needs OCB stage counts (train 3-stage, test 2-stage)")
    stages = stages.flatten()
    three = torch.nonzero(stages == 3).flatten()
    inner = group_split(ds.groups[three], (0.9, 0.1), seed)  # two sides: train and (named test) val
    return {"train": three[inner["train"]], "val": three[inner["test"]],
            "test": torch.nonzero(stages == 2).flatten()}


@dataclass(frozen=True)
class TrainRequest:
    """What ``train_encoder`` trains, on what, and how (``fit`` options included)."""

    dataset: str
    encoder: str
    targets: tuple[str, ...]
    out: Path
    root: Path | None = None
    n: int | None = None
    split: str = "group"
    seed: int = 0
    epochs: int = 100
    batch_size: int = 64
    lr: float = 1e-3
    patience: int = 20
    lr_patience: int = 0
    hidden: int = 64
    log_targets: tuple[str, ...] = ()
    circular_targets: tuple[str, ...] = ()
    positive_targets: tuple[str, ...] = ()
    balanced: bool = False
    resume: bool = False
    device: str | None = None
    progress: bool = True
    encoder_options: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)
    """The dataset's own arguments (folder: ``source``, ``labels``, ``label``, ``targets``)."""


class _Targets:
    """Keeps the requested columns of a regression dataset's ``y``."""

    def __init__(self, columns: Sequence[int]) -> None:
        self.columns = list(columns)

    def __call__(self, data: Data) -> Data:
        data.y = data.y[:, self.columns]
        return data


def _items(ds: CircuitDataset, index: torch.Tensor, targets: Sequence[str]) -> list[Data]:
    """The items at ``index`` with ``y`` cut to ``targets`` (materialised once: every epoch reads them)."""
    if targets == (CLASS_TARGET,):
        return [ds[int(i)] for i in index]
    pick = _Targets([ds.target_names.index(t) for t in targets])
    return [pick(ds[int(i)]) for i in index]


def _model_config(req: TrainRequest, ds: CircuitDataset) -> dict[str, Any]:
    encoder: dict[str, Any] = {"name": req.encoder, "hidden": req.hidden, "out_dim": req.hidden,
                               **req.encoder_options}
    if req.encoder in ("two_level", "dagnn") and ds.decomposer is not None:
        encoder.setdefault("num_block_types", len(ds.decomposer.block_types))
    if req.targets == (CLASS_TARGET,):
        head: dict[str, Any] = {"task": "classification", "classes": list(ds.classes), "hidden": req.hidden}
        if req.balanced:
            head["balanced"] = True
    elif req.balanced:
        raise ModelConfigError(f"balanced weights classes; {', '.join(req.targets)} is regression")
    else:
        head = {"task": "regression", "targets": list(req.targets), "hidden": req.hidden,
                "log_targets": list(req.log_targets)}
        if req.circular_targets:
            head["circular_targets"] = list(req.circular_targets)
        if req.positive_targets:
            head["positive_targets"] = list(req.positive_targets)
    return {"encoder": encoder, "head": head}


def check_targets(ds: CircuitDataset, targets: Sequence[str]) -> tuple[str, ...]:
    """``targets`` as a tuple, checked against what ``ds`` labels (default: all of them).

    Raises:
        DatasetError: a target the dataset does not have, or classification mixed with regression.
    """
    if not targets:
        return (CLASS_TARGET,) if ds.classes else tuple(ds.target_names)
    if CLASS_TARGET in targets:
        if len(targets) > 1 or not ds.classes:
            raise DatasetError(f"{ds.name}: {CLASS_TARGET} is a classification target on its own, on a typed "
                               f"dataset (this one has {', '.join(ds.target_names) or 'no targets'})")
        return (CLASS_TARGET,)
    unknown = [t for t in targets if t not in ds.target_names]
    if unknown:
        have = ", ".join(ds.target_names) or f"only {CLASS_TARGET}"
        raise DatasetError(f"{ds.name} has no target {', '.join(unknown)} (it has {have})")
    return tuple(targets)


def train_encoder(req: TrainRequest, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train ``req.encoder`` on ``req.dataset``'s train split, select on validation, report test.

    Returns the ``model.json`` record (also written to ``req.out``).

    Raises:
        DatasetError, ModelConfigError, CheckpointError: bad dataset, targets, split or model.
    """
    from ckt.nn import build_model, evaluate, fit

    quiet: Callable[[str], None] = lambda line: None  # noqa: E731
    say = log or ((lambda line: print(line, file=sys.stderr, flush=True)) if req.progress else quiet)
    ds = open_dataset(req.dataset, req.encoder, req.root, req.n, options=req.dataset_options,
                      progress=preparing(req.dataset, say) if req.progress else None)
    targets = check_targets(ds, req.targets)
    req = TrainRequest(**{**asdict(req), "targets": targets})
    split = split_dataset(ds, req.split, req.seed)
    parts = {k: _items(ds, v, targets) for k, v in split.items()}
    say(f"{ds.name}: {len(ds)} circuits; split {req.split} (seed {req.seed}): "
        + ", ".join(f"{k} {len(v)}" for k, v in parts.items()))
    model = build_model(_model_config(req, ds))
    out = Path(req.out)
    fit(model, parts["train"], parts["val"],
        {"epochs": req.epochs, "batch_size": req.batch_size, "lr": req.lr, "seed": req.seed,
         "patience": req.patience, "lr_patience": req.lr_patience, "out": str(out), "resume": req.resume,
         "device": req.device, "progress": req.progress}, log=say)
    record = {
        "dataset": ds.name, "view": ds.view, "basis": ds.decomposer.name if ds.decomposer else None,
        "encoder": req.encoder, "targets": list(targets), "split": req.split, "seed": req.seed,
        "n": req.n, "sizes": {k: len(v) for k, v in parts.items()},
        "provenance": asdict(ds.provenance), "config": model.config,
        "request": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(req).items()},
        "val": evaluate(model, parts["val"], device=req.device),
        "test": evaluate(model, parts["test"], device=req.device) if parts["test"] else None,
    }
    (out / MODEL_FILE).write_text(json.dumps(_finite(record), indent=1) + "\n")
    return record


def read_model_record(folder: str | Path) -> dict[str, Any]:
    """A trained model folder's ``model.json``.

    Raises:
        ModelConfigError: the folder holds no trained model.
    """
    path = Path(folder) / MODEL_FILE
    if not path.is_file() or not (Path(folder) / "best.pt").is_file():
        raise ModelConfigError(f"{folder}: not a trained model folder (needs best.pt and {MODEL_FILE}; "
                               f"make one with: ckt train encoder ... --out {folder})")
    return json.loads(path.read_text())


def evaluate_encoder(folder: str | Path, dataset: str | None = None, root: str | Path | None = None,
                     split: str | None = None) -> dict[str, Any]:
    """Metrics of a trained model on the test side of its split (or of ``split``) of ``dataset``
    (default: the one it was trained on, from the ``root`` it was trained from unless given); on
    another dataset, on all of it (transfer).

    Raises:
        ModelConfigError, CheckpointError, DatasetError: see ``read_model_record``, ``load_model``.
    """
    from ckt.nn import evaluate, load_model

    record = read_model_record(folder)
    model = load_model(Path(folder) / "best.pt")
    name = dataset or record["dataset"]
    if root is None and name == record["dataset"]:
        root = record["request"].get("root")  # the cache it was trained from, not the default one
    same = name == record["dataset"]
    ds = open_dataset(name, record["encoder"], root, record["n"] if same else None,
                      options=record["request"].get("dataset_options") if same else None)
    targets = check_targets(ds, record["targets"])
    if name == record["dataset"]:
        index = split_dataset(ds, split or record["split"], record["seed"])["test"]
    else:
        index = torch.arange(len(ds))
    items = _items(ds, index, targets)
    if targets == (CLASS_TARGET,):
        items = _as_model_classes(items, ds, record["config"]["head"]["classes"])
    metrics = evaluate(model, items)
    side = (split or record["split"]) if name == record["dataset"] else "all"
    return _finite({"model": str(folder), "dataset": name, "split": side, **metrics})


def _as_model_classes(items: list[Data], ds: CircuitDataset, model_classes: Sequence[str]) -> list[Data]:
    """Relabel ``ds``'s class indices into the model's class list (through ``ds.class_aliases``);
    circuits of a class the model does not know are left out (transfer between datasets with
    different type lists)."""
    if list(ds.classes) == list(model_classes):
        return items
    where = {c: i for i, c in enumerate(model_classes)}
    out = []
    for d in items:
        name = ds.classes[int(d.y)]
        mapped = name if name in where else ds.class_aliases.get(name)
        if mapped in where:
            d.y = torch.tensor([where[mapped]])
            out.append(d)
    if not out:
        raise DatasetError(f"{ds.name}: none of its classes is one the model knows ({', '.join(model_classes)})")
    return out


def predict_netlists(paths: Sequence[str | Path], folder: str | Path | None = None,
                     include_path: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Per netlist file, the model's predictions in raw units, or why it cannot predict that netlist
    (``{"netlist", "error"}``: unreadable, or not decomposable into the model's block basis).

    Raises:
        ModelConfigError, CheckpointError: the model folder is not usable.
    """
    from ckt.netlist.flatten import flatten
    from ckt.netlist.read import read_netlist

    netlists: list[Netlist | str] = []
    for path in paths:
        try:
            netlists.append(flatten(read_netlist(path, include_path=list(include_path))))
        except (NetlistError, CktError, OSError) as exc:
            netlists.append(f"{type(exc).__name__}: {exc}")
    rows = predict_circuits([n for n in netlists if not isinstance(n, str)], folder)
    ok = iter(rows)
    return [{"netlist": str(p), "error": n} if isinstance(n, str) else {"netlist": str(p), **next(ok)}
            for p, n in zip(paths, netlists)]


def predict_circuits(netlists: Sequence[Netlist], folder: str | Path | None = None) -> list[dict[str, Any]]:
    """Per flat netlist, the model's predictions (``{target: value}``, or ``{"ckt_type": name}`` for a
    classifier), or ``{"error": why}`` for one outside the model's block basis.

    Raises:
        ModelConfigError, CheckpointError: the model folder is not usable.
    """
    from ckt.graph.to_pyg import to_bipartite_pyg
    from ckt.graph.two_level import to_two_level_pyg
    from ckt.nn import load_model, predict

    folder = Path(folder) if folder is not None else DEFAULT_MODEL
    record = read_model_record(folder)
    model = load_model(folder / "best.pt")
    decomposer = decomposer_for(record["dataset"]) if record["view"] == "subgraphs" else None
    rows: list[dict[str, Any]] = []
    graphs: list[Data] = []
    for netlist in netlists:
        try:
            if decomposer is not None:
                data = to_two_level_pyg(netlist, decomposer.decompose(netlist), decomposer.block_types)
            else:
                data = to_bipartite_pyg(netlist)
        except (NetlistError, CktError) as exc:
            why = str(exc) if isinstance(exc, NotDecomposableError) else f"{type(exc).__name__}: {exc}"
            rows.append({"error": why})
            continue
        rows.append({})
        graphs.append(data)
    if graphs:
        values = iter(predict(model, graphs).tolist())
        for row in rows:
            if "error" in row:
                continue
            v = next(values)
            if record["targets"] == [CLASS_TARGET]:
                row[CLASS_TARGET] = record["config"]["head"]["classes"][int(v)]
            else:
                row.update(dict(zip(record["targets"], v)))
    return rows


def _finite(obj: Any) -> Any:
    """NaN (a constant target's Pearson r) as None, so the JSON is standard."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj
