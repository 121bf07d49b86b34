"""Training a link model (``ckt train linkpred``) and scoring one (``ckt eval linkpred``).

A run is a folder: ``last.pt`` (weights, optimizer, random-number states, history: ``resume``
continues from it exactly), ``best.pt`` (the epoch of lowest validation loss), ``history.json`` and
``model.json`` (the request, the task sizes, validation and test metrics). The test side never enters
training; early stopping and model selection read the validation loss only.

Protocols (``samples``): ``hard`` — circuits split by group, per-circuit queries with same-circuit
negatives; ``aclp`` — GNN-ACLP's random edge split over the merged graph with uniform negatives.

CPU-friendly defaults: ``pins_per_circuit=3`` positives per training circuit (a seeded subsample of
its ~76 pins on AnalogGenie), one hard negative each, at most 10 epochs; AnalogGenie's ~2,800
training circuits then make ~17,000 pairs, about a minute an epoch on one CPU thread. GPU when
present (``ckt.nn.train.pick_device``). Batches hold whole queries (a positive and its negatives),
and a query's negatives together weigh as much as its positive in the loss, so a model trained on
every negative (``negatives=None``, what the anchored GNN affords) still sees balanced classes.
``loss="listwise"`` adds to that pairwise cross-entropy the softmax cross-entropy of each query's
positive among its candidates — the ranking completion reads; with every negative it is the full
softmax over the circuit's nets. ``lr_patience`` halves the rate on a validation plateau.
SEAL's defaults were chosen on the validation side of an
800-circuit AnalogGenie sample: 4 hops (validation accuracy 0.84, against 0.81 for 3 and 0.75 for 2),
the ``center`` readout (DGCNN's sort pooling trailed it on Image2Net's validation side), GCN layers
(GIN layers tied on validation loss and cost half as much again).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ckt.errors import CheckpointError, ModelConfigError
from ckt.linkpred.datasets import PinCircuits, open_circuits
from ckt.linkpred.evaluate import MODEL_FILE, PROTOCOLS, finite, item_probabilities, pair_metrics, protocol_metrics
from ckt.linkpred.model import KINDS, LinkModel, build_model, model_config, read_model, save_model
from ckt.linkpred.samples import Pair, aclp_split, balanced_pairs, hard_queries, isolated_positives, positive_groups
from ckt.linkpred.seal import enclosing_subgraph, sort_k
from ckt.nn.checkpoint import config_differences
from ckt.nn.train import pick_device, plateau_scheduler, rng_state, set_rng_state

DEFAULT_NEGATIVES: dict[str, int | None] = {"seal": 1, "anchored": None, "gnn": 1}
"""Hard negatives per training positive each model is trained with by default (the CLI's ``auto``):
SEAL and the baseline score one pair a pass, the anchored GNN every net of a circuit in one (None:
all of them)."""

LOSSES = ("pairwise", "listwise")

_RUN_KEYS = ("out", "root", "source", "epochs", "resume", "device", "threads", "progress")
"""Request fields a resumed run may change; the rest must match the checkpoint."""


@dataclass(frozen=True)
class LinkTrainRequest:
    """What to train, on what, and how.

    Attributes:
        dataset: a registered dataset (``analoggenie``, ``image2net``, ``folder``...).
        model: ``seal``, ``anchored`` or ``gnn`` (``model.KINDS``).
        out: the run folder (None: no checkpoints).
        root, source, n: the dataset's cache folder, raw source and circuit count (None: defaults, all).
        protocol: ``hard`` or ``aclp``.
        hops: SEAL's enclosing-subgraph radius in the pin graph.
        readout: SEAL's readout (``seal.READOUTS``: DGCNN's ``sort``, or ``center``).
        conv: SEAL's message passing (``seal.CONVS``: ``gcn`` or ``gin``).
        hidden, layers: network width and depth (None: the model's own default).
        name_dropout: anchored model only: the share of training graphs shown without the columns
            read from net names (rail flags, port roles), so it learns to do without them (None: the
            model's default, 0.5; names differ across datasets and users).
        pins_per_circuit: training positives per circuit (seeded subsample; None: every pin).
        eval_pins: positives per circuit on the validation and test sides.
        negatives: hard negatives per training positive (None: every other net of the circuit).
        loss: ``pairwise`` (binary cross-entropy of each pair) or ``listwise`` (that plus the softmax
            cross-entropy of the positive among its query's candidates, the ranking completion reads).
        epochs, batch_size, lr, patience: optimisation (patience: epochs without a better
            validation loss before stopping).
        lr_patience: N > 0 halves the learning rate after N epochs without a better validation
            loss (``ckt.nn.train.plateau_scheduler``; 0: a constant rate).
        seed: seeds the split, the pins, the negatives, the weights and the batch order.
        threads: CPU threads for torch (None: torch's default; 1 is fastest on a shared CPU).
        device: ``cpu`` or ``cuda`` (None: CUDA when present).
        resume: continue from ``out/last.pt``.
        progress: print progress lines.
        dataset_options: the dataset's own arguments (folder: ``labels``, ``label``).
    """

    dataset: str = "analoggenie"
    model: str = "seal"
    out: str | None = None
    root: str | None = None
    source: str | None = None
    n: int | None = None
    protocol: str = "hard"
    hops: int = 4
    readout: str = "center"
    conv: str = "gcn"
    hidden: int | None = None
    layers: int | None = None
    name_dropout: float | None = None
    pins_per_circuit: int | None = 3
    eval_pins: int | None = 4
    negatives: int | None = 1
    loss: str = "pairwise"
    epochs: int = 10
    batch_size: int = 64
    lr: float = 3e-3
    patience: int = 3
    lr_patience: int = 0
    seed: int = 0
    threads: int | None = None
    device: str | None = None
    resume: bool = False
    progress: bool = True
    dataset_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.model not in KINDS:
            raise ModelConfigError(f"unknown link model {self.model!r}; choose one of {', '.join(KINDS)}")
        if self.protocol not in PROTOCOLS:
            raise ModelConfigError(f"unknown protocol {self.protocol!r}; choose one of {', '.join(PROTOCOLS)}")
        for name in ("epochs", "batch_size", "hops"):
            if getattr(self, name) < 1:
                raise ModelConfigError(f"linkpred training: {name} must be at least 1, got {getattr(self, name)}")
        for name in ("hidden", "layers", "negatives", "pins_per_circuit", "eval_pins", "threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ModelConfigError(f"linkpred training: {name} must be at least 1, got {value}")
        if self.patience < 0 or self.lr_patience < 0 or not self.lr > 0:
            raise ModelConfigError(f"linkpred training: patience and lr_patience must be >= 0 and lr > 0 "
                                   f"(got {self.patience}, {self.lr_patience}, {self.lr})")
        if self.name_dropout is not None and self.model != "anchored":
            raise ModelConfigError(f"linkpred training: name_dropout applies to the anchored model only, "
                                   f"not {self.model}")
        if self.name_dropout is not None and not 0.0 <= self.name_dropout <= 1.0:
            raise ModelConfigError(f"linkpred training: name_dropout must be in [0, 1], got {self.name_dropout}")
        if self.loss not in LOSSES:
            raise ModelConfigError(f"unknown linkpred loss {self.loss!r}; choose one of {', '.join(LOSSES)}")
        if self.resume and self.out is None:
            raise ModelConfigError("linkpred training: resume needs out (the folder holding last.pt)")


@dataclass(frozen=True)
class TaskData:
    """The pairs a run trains and selects on, and how it was made."""

    train: tuple[Pair, ...]
    val: tuple[Pair, ...]
    sizes: dict[str, int]


def task_data(circuits: PinCircuits, request: LinkTrainRequest) -> TaskData:
    """Training and validation pairs of ``request.protocol`` (module docstring)."""
    if request.protocol == "hard":
        train_q = hard_queries(circuits.side("train"), request.pins_per_circuit, request.seed)
        val_q = hard_queries(circuits.side("val"), request.eval_pins, request.seed)
        train = balanced_pairs(train_q, request.seed, request.negatives)
        val = balanced_pairs(val_q, request.seed)
        sizes = {"circuits_train": len(circuits.split["train"]), "circuits_val": len(circuits.split["val"]),
                 "circuits_test": len(circuits.split["test"]), "train_queries": len(train_q),
                 "val_queries": len(val_q), "train_isolated": isolated_positives(train_q)}
    else:
        n = len(circuits.graphs)
        split = aclp_split(circuits.graphs, seed=request.seed,
                           max_train=None if request.pins_per_circuit is None
                           else math.ceil(0.8 * n * request.pins_per_circuit),
                           max_eval=None if request.eval_pins is None else math.ceil(0.1 * n * request.eval_pins))
        train, val = list(split.train), list(split.val)
        sizes = {"circuits": n}
    sizes.update(train_pairs=len(train), val_pairs=len(val))
    return TaskData(tuple(train), tuple(val), sizes)


def _build(request: LinkTrainRequest, train: Sequence[Pair]) -> tuple[LinkModel, list[Any]]:
    """The model (SEAL's sort size from the training subgraphs) and its prepared training items."""
    sizes = {k: v for k, v in (("hidden", request.hidden), ("layers", request.layers),
                                ("name_dropout", request.name_dropout)) if v is not None}
    if request.model == "seal":
        cache: dict[int, Any] = {}
        items: list[Any] = [enclosing_subgraph(p, request.hops, 40, cache) for p in train]
        model: LinkModel = build_model({"kind": "seal", "hops": request.hops, "readout": request.readout,
                                        "conv": request.conv, "k": sort_k([it.num_nodes for it in items]), **sizes})
        return model, items
    model = build_model({"kind": request.model, **sizes})
    return model, model.prepare(list(train))


def _pair_weights(pairs: Sequence[Pair]) -> torch.Tensor:
    """1 for a positive; its ``k`` negatives 1/k each (module docstring)."""
    weights = torch.ones(len(pairs))
    for group in positive_groups(pairs):
        negatives = [i for i in group if pairs[i].label <= 0.5]
        weights[negatives] = 1.0 / len(negatives) if negatives else 1.0
    return weights


def _listwise(logits: torch.Tensor, labels: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """Mean over the batch's queries of ``-log softmax`` of the positive among its query's pairs."""
    _, segment = torch.unique_consecutive(query, return_inverse=True)
    n = int(segment.max()) + 1
    top = torch.full((n,), -math.inf, device=logits.device).scatter_reduce(0, segment, logits.detach(), "amax")
    total = torch.zeros(n, device=logits.device).index_add_(0, segment, torch.exp(logits - top[segment]))
    positive = torch.zeros(n, device=logits.device).index_add_(0, segment, logits * (labels > 0.5))
    return (top + torch.log(total) - positive).mean()


def _batches(groups: Sequence[range], order: Sequence[int], size: int) -> list[list[int]]:
    """Pair indices in batches of whole groups (in ``order``), each batch at least ``size`` pairs but
    the last."""
    out: list[list[int]] = [[]]
    for g in order:
        if len(out[-1]) >= size:
            out.append([])
        out[-1].extend(groups[g])
    return [b for b in out if b]


def _options(request: LinkTrainRequest) -> dict[str, Any]:
    return {k: v for k, v in asdict(request).items() if k not in _RUN_KEYS}


@torch.no_grad()
def _val_metrics(model: LinkModel, items: Sequence[Any], labels: torch.Tensor, batch_size: int) -> dict[str, Any]:
    probs = item_probabilities(model, items, batch_size).clamp(1e-7, 1 - 1e-7)
    loss = float(torch.nn.functional.binary_cross_entropy(probs, labels))
    return {"loss": loss, **pair_metrics(labels, probs)}


def train_linkpred(request: LinkTrainRequest, circuits: PinCircuits | None = None,
                   log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train as ``request`` says, select on validation, report validation and test metrics.

    Args:
        request: the run.
        circuits: the circuits to use (None: open ``request.dataset``).
        log: where progress lines go (default: stderr while ``request.progress``).

    Returns:
        the ``model.json`` record (also written to ``request.out``).

    Raises:
        DatasetError, ModelConfigError: bad dataset or options.
        CheckpointError: resuming from a run of another model, options or data.
    """
    if log is None:
        log = (lambda line: print(line, file=sys.stderr, flush=True)) if request.progress else (lambda line: None)
    if request.threads is not None:
        torch.set_num_threads(request.threads)
    if circuits is None:
        circuits = open_circuits(request.dataset, request.seed, request.root, request.source, request.n,
                                 request.dataset_options)
    start = time.perf_counter()
    data = task_data(circuits, request)
    if not data.train or not data.val:
        raise ModelConfigError(f"{circuits.name}: no training or validation pairs ({data.sizes})")
    torch.manual_seed(request.seed)
    model, items = _build(request, data.train)
    labels = torch.tensor([p.label for p in data.train])
    val_items = model.prepare(list(data.val))
    val_labels = torch.tensor([p.label for p in data.val])
    log(f"{circuits.name} ({request.protocol}): {data.sizes}; {request.model} prepared in "
        f"{time.perf_counter() - start:.1f}s")
    device = pick_device(request.device)
    model.set_input_normalisation(torch.cat([g.x for g in circuits.side("train")]) if request.protocol == "hard"
                                  else torch.cat([g.x for g in circuits.graphs]))
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=request.lr)
    scheduler = plateau_scheduler(optimizer, request.lr_patience)
    generator = torch.Generator().manual_seed(request.seed)
    options = _options(request)
    out = Path(request.out) if request.out is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {"epoch": 0, "history": [], "best_val_loss": math.inf, "best_epoch": 0,
                             "best_state": None, "bad_epochs": 0}
    last = out / "last.pt" if out is not None else None
    if request.resume and last is not None and last.exists():
        checkpoint = read_model(last)
        diffs = config_differences(checkpoint["config"], model_config(model))
        diffs += config_differences(checkpoint["training"].get("options", {}), options)
        if diffs:
            raise CheckpointError(f"{last}: the run being resumed differs ({'; '.join(diffs)})")
        saved = checkpoint["training"]
        model.load_state_dict(checkpoint["state_dict"])
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(saved["scheduler"])
        set_rng_state(saved["rng"], generator)
        state = {k: saved[k] for k in state}
        log(f"resumed from {last} after epoch {state['epoch']}")
    elif request.resume:
        log(f"no checkpoint at {last}: starting a new run")

    weights = _pair_weights(data.train)
    groups = positive_groups(data.train)
    query_of = torch.zeros(len(data.train), dtype=torch.long)
    for q, group in enumerate(groups):
        query_of[list(group)] = q
    for epoch in range(state["epoch"] + 1, request.epochs + 1):
        if state["bad_epochs"] >= request.patience > 0:
            log(f"early stop: no better validation loss for {request.patience} epochs")
            break
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(groups), generator=generator).tolist()
        total = 0.0
        for rows in _batches(groups, order, request.batch_size):
            logits = model([items[i] for i in rows])
            w = weights[rows].to(device)
            y = labels[rows].to(device)
            pairwise = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
            loss = (pairwise * w).sum() / w.sum()
            if request.loss == "listwise":
                loss = loss + _listwise(logits, y, query_of[rows].to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * float(w.sum())
        val = _val_metrics(model, val_items, val_labels, request.batch_size * 4)
        if scheduler is not None:
            scheduler.step(val["loss"])
        improved = val["loss"] < state["best_val_loss"]
        if improved:
            state.update(best_val_loss=val["loss"], best_epoch=epoch, bad_epochs=0,
                         best_state={k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        else:
            state["bad_epochs"] += 1
        row = {"epoch": epoch, "train_loss": total / float(weights.sum()), "val_loss": val["loss"],
               "val_accuracy": val["accuracy"], "val_auc": val["auc"], "lr": optimizer.param_groups[0]["lr"],
               "seconds": time.perf_counter() - t0}
        state["history"].append(row)
        state["epoch"] = epoch
        log(f"epoch {epoch}/{request.epochs}  train {row['train_loss']:.4f}  val {val['loss']:.4f} "
            f"acc {val['accuracy']:.3f} auc {val['auc']:.3f}  best {state['best_val_loss']:.4f} "
            f"(epoch {state['best_epoch']})  lr {row['lr']:.3g}  {row['seconds']:.1f}s")
        if out is not None:
            training = {**state, "options": options, "optimizer": optimizer.state_dict(),
                        "rng": rng_state(generator),
                        **({"scheduler": scheduler.state_dict()} if scheduler is not None else {})}
            save_model(out / "last.pt", model, training)
            if improved:
                save_model(out / "best.pt", model, {"epoch": epoch, "val_loss": val["loss"]})
            (out / "history.json").write_text(json.dumps(state["history"], indent=1) + "\n")
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    model.eval()
    record = {
        "dataset": circuits.name, "protocol": request.protocol, "config": model_config(model),
        "request": asdict(request), "sizes": data.sizes, "best_epoch": state["best_epoch"],
        "val": _val_metrics(model, val_items, val_labels, request.batch_size * 4),
        "test": protocol_metrics(model, circuits, request.protocol, trained_on=circuits.name,
                                 trained_protocol=request.protocol, eval_pins=request.eval_pins,
                                 seed=request.seed),
        "history": state["history"],
    }
    if out is not None:
        (out / MODEL_FILE).write_text(json.dumps(finite(record), indent=1) + "\n")
    return finite(record)
