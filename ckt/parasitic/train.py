"""Training and evaluation of parasitic estimators on one labelled pin-level graph (digtime).

``fit(request, data)`` runs one ``TrainRequest``: the split (``ckt.parasitic.splits``), then for the
``gcl`` model a contrastive pretraining of the encoder on the training side's graph (two views by
edge dropping and feature masking, InfoNCE plus representation scattering), then supervised
training of all three heads together: each step encodes the whole training-side graph, scores every
training net and a sampled batch of ``batch_links`` training links, and sums the ground-cap
regression, ground-cap bucket and coupling-cap losses — MSE and cross-entropy with ``loss="mse"``,
balanced MSE (BMC) and balanced softmax with ``loss="balanced"``.

It follows ``ckt.nn.train``'s conventions: seeded, a progress line per epoch on stderr, ``OUT/last.pt``
(with optimizer and random-number states) and ``OUT/best.pt`` written each epoch, ``resume=True``
continuing from ``last.pt`` (a run stopped during the short pretraining redoes it), early
stopping and model selection on the validation side only (score: ``(1 - R²_ground) + (1 - macro-F1)
+ (1 - R²_coupling)``), the test side touched once at the end (``OUT/metrics.json``). Full-batch
on the CPU (the graph is ~17.6k nodes); CUDA when present.
Checkpoints are tensors and builtins, read with ``weights_only=True``.

Metrics: R² on log10 farads, MAE in farads and in decades, macro-F1 over the buckets, and per true
bucket its count, MAE and F1; per coupling link type its count and R².
"""

from __future__ import annotations

import copy
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data

from ckt.errors import CheckpointError, ModelConfigError
from ckt.nn.checkpoint import read_checkpoint, write_payload
from ckt.nn.train import pick_device, rng_state, seed_everything, set_rng_state
from ckt.parasitic.features import FEATURES, GraphInputs, graph_inputs, pair_features
from ckt.parasitic.losses import balanced_mse, balanced_softmax_ce, info_nce, scattering
from ckt.parasitic.model import ModelConfig, ParasiticModel
from ckt.parasitic.splits import SIDES, SPLITS, Split, make_split
from ckt.parasitic.tasks import (
    BUCKET_SCHEMES,
    N_BUCKETS,
    Labels,
    bucket_edges,
    bucket_names,
    bucket_of,
    labels,
    macro_f1,
    r2,
)

FORMAT = "ckt.parasitic"
SCHEMA_VERSION = 1
MODELS = ("gnn", "gcl")
LOSSES = ("mse", "balanced")
LINK_TYPES = ("p2n", "p2p", "n2n")
_RUN_KEYS = ("out", "epochs", "resume", "device", "progress")
"""Request fields a resumed run may change; the rest must match its checkpoint."""


@dataclass(frozen=True, slots=True)
class TrainRequest:
    """One training run.

    Attributes:
        out: checkpoint folder (None: no files).
        model: ``gnn`` (supervised only) or ``gcl`` (contrastive pretraining first).
        loss: ``mse`` (MSE, cross-entropy) or ``balanced`` (BMC, balanced softmax).
        split: ``region`` (leak-free) or ``random`` (random links, transductive).
        epochs, steps_per_epoch: supervised epochs and optimizer steps in each.
        pretrain_epochs: ``gcl`` pretraining epochs (of ``steps_per_epoch`` steps).
        patience: epochs without a better validation score before stopping.
        batch_links: training links scored per step (BMC's Monte-Carlo batch).
        bmc_noise: BMC's label-noise variance, in standardised log10 units (0.1: the best of 0.02,
            0.1 and 0.5 on the validation side of the region split, gnn, seed 0).
        region_size: nodes per region of the region split.
        buckets: the ground-cap classes (``ckt.parasitic.tasks.BUCKET_SCHEMES``): ``quantile`` (the
            training labels' quintiles) or ``circuitgcl`` (the anchor's fixed 1.2-decade buckets).
        drop_edge, mask_feature, scatter_weight, temperature: the pretraining's augmentations and
            loss weights.
    """

    out: str | None = None
    model: str = "gnn"
    loss: str = "mse"
    split: str = "region"
    seed: int = 0
    epochs: int = 60
    steps_per_epoch: int = 4
    pretrain_epochs: int = 15
    lr: float = 3e-3
    weight_decay: float = 1e-5
    patience: int = 12
    batch_links: int = 1024
    bmc_noise: float = 0.1
    region_size: int = 400
    buckets: str = "quantile"
    hidden: int = 32
    layers: int = 3
    dropout: float = 0.1
    drop_edge: float = 0.2
    mask_feature: float = 0.2
    scatter_weight: float = 1.0
    temperature: float = 0.5
    resume: bool = False
    device: str | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        for name, value, allowed in (("model", self.model, MODELS), ("loss", self.loss, LOSSES),
                                     ("split", self.split, SPLITS), ("buckets", self.buckets, BUCKET_SCHEMES)):
            if value not in allowed:
                raise ModelConfigError(f"unknown {name} {value!r}; use one of {', '.join(allowed)}")
        if min(self.epochs, self.steps_per_epoch, self.batch_links, self.patience) < 1 or self.pretrain_epochs < 0:
            raise ModelConfigError("epochs, steps_per_epoch, batch_links and patience must be positive")
        if self.bmc_noise <= 0 or self.lr <= 0:
            raise ModelConfigError("bmc_noise and lr must be positive")

    @property
    def config(self) -> ModelConfig:
        return ModelConfig(hidden=self.hidden, layers=self.layers, dropout=self.dropout)


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What ``fit`` returns (and writes to ``OUT/metrics.json``)."""

    request: dict[str, Any]
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    val: dict[str, Any]
    test: dict[str, Any]
    split: dict[str, Any]
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Problem:
    """A graph's inputs, labels and split, as one request sees them."""

    inputs: GraphInputs
    labels: Labels
    split: Split


def problem(data: Data, request: TrainRequest) -> Problem:
    """The inputs, labels and split ``request`` trains on."""
    inputs = graph_inputs(data)
    labs = labels(data, inputs)
    return Problem(inputs, labs, make_split(request.split, inputs, labs, seed=request.seed,
                                            region_size=request.region_size))


def _payload(model: ParasiticModel, request: TrainRequest, **extra: Any) -> dict[str, Any]:
    return {"format": FORMAT, "schema_version": SCHEMA_VERSION, "request": asdict(request), "features": list(FEATURES),
            "config": asdict(model.config), "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            **extra}


def load_model(path: str | Path) -> tuple[ParasiticModel, dict[str, Any]]:
    """The model in a ``best.pt``/``last.pt`` (or a folder holding ``best.pt``) and its payload.

    Raises:
        CheckpointError: not a parasitic checkpoint of this schema, or its weights do not fit.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "best.pt"
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    payload = read_checkpoint(path, FORMAT, SCHEMA_VERSION)
    if payload.get("features") != list(FEATURES):
        raise CheckpointError(f"{path}: trained on other input features ({payload.get('features')}); this ckt "
                              f"computes {list(FEATURES)}: retrain it")
    model = ParasiticModel(ModelConfig(**payload["config"]))
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the recorded model config: {exc}") from exc
    return model, payload


def _sides_data(prob: Problem, side: str, device: torch.device) -> dict[str, Tensor]:
    ei, et = prob.split.side_edges(prob.inputs, side)
    lab = prob.labels
    nets, links = prob.split.nets[side], prob.split.links[side]
    pair = pair_features(ei, et, prob.inputs.node_type, lab.links[:, links])
    return {"edge_index": ei.to(device), "edge_type": et.to(device), "pair": pair.to(device),
            "nets": lab.nets[nets].to(device), "net_y": lab.net_y[nets].to(device),
            "links": lab.links[:, links].to(device), "link_type": lab.link_type[links].to(device),
            "link_y": lab.link_y[links].to(device)}


@torch.no_grad()
def evaluate(model: ParasiticModel, prob: Problem, side: str, device: torch.device | None = None) -> dict[str, Any]:
    """Metrics of ``model`` on one side of ``prob`` (see the module docstring)."""
    device = device or next(model.parameters()).device
    model.eval()
    d = _sides_data(prob, side, device)
    x = prob.inputs.x.to(device)
    h = model.encode(x, d["edge_index"], d["edge_type"])
    g_std, logits = model.ground_outputs(h, x, d["nets"])
    g_pred = (g_std * model.net_std + model.net_mean).cpu()
    c_pred = (model.coupling_output(h, d["links"], d["link_type"], d["pair"]) * model.link_std + model.link_mean).cpu()
    g_true, c_true = d["net_y"].cpu(), d["link_y"].cpu()
    edges = model.edges.cpu()
    true_bucket, pred_bucket = bucket_of(g_true, edges), logits.argmax(1).cpu()
    f1, per_f1 = macro_f1(pred_bucket, true_bucket, N_BUCKETS)
    per_bucket = []
    for k, name in enumerate(bucket_names(edges)):
        m = true_bucket == k
        per_bucket.append({"bucket": name, "n": int(m.sum()), "f1": per_f1[k],
                           "mae_log10": _mean((g_pred[m] - g_true[m]).abs()),
                           "mae_farads": _mean((10 ** g_pred[m].double() - 10 ** g_true[m].double()).abs())})
    link_type = d["link_type"].cpu()
    return {
        "ground": {"n": int(g_true.numel()), "r2_log10": r2(g_pred, g_true),
                   "mae_farads": _mean((10 ** g_pred.double() - 10 ** g_true.double()).abs()),
                   "mae_log10": _mean((g_pred - g_true).abs()),
                   "macro_f1": f1, "accuracy": _mean((pred_bucket == true_bucket).float()),
                   "per_bucket": per_bucket},
        "coupling": {"n": int(c_true.numel()), "r2_log10": r2(c_pred, c_true),
                     "mae_farads": _mean((10 ** c_pred.double() - 10 ** c_true.double()).abs()),
                     "mae_log10": _mean((c_pred - c_true).abs()),
                     "per_type": {t: {"n": int((link_type == k).sum()),
                                      "r2_log10": r2(c_pred[link_type == k], c_true[link_type == k])}
                                  for k, t in enumerate(LINK_TYPES)}},
    }


def _mean(t: Tensor) -> float:
    return float(t.double().mean()) if t.numel() else math.nan


def score(metrics: dict[str, Any]) -> float:
    """Validation score, lower is better: ``(1 - R²_ground) + (1 - macro-F1) + (1 - R²_coupling)``."""
    parts = (metrics["ground"]["r2_log10"], metrics["ground"]["macro_f1"], metrics["coupling"]["r2_log10"])
    return sum(1.0 - (p if math.isfinite(p) else 0.0) for p in parts)


def _augment(x: Tensor, ei: Tensor, et: Tensor, request: TrainRequest,
             g: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    keep = torch.rand(ei.shape[1], generator=g) >= request.drop_edge
    cols = (torch.rand(x.shape[1], generator=g) >= request.mask_feature).to(x.device, x.dtype)
    keep = keep.to(ei.device)
    return x * cols, ei[:, keep], et[keep]


def _pretrain_step(model: ParasiticModel, prob: Problem, d: dict[str, Tensor], x: Tensor,
                   request: TrainRequest, g: torch.Generator, pool: Tensor) -> Tensor:
    idx = pool[torch.randperm(pool.numel(), generator=g)[:request.batch_links]].to(x.device)
    zs = []
    for _ in range(2):
        xa, ea, ta = _augment(x, d["edge_index"], d["edge_type"], request, g)
        zs.append(model.proj(model.encode(xa, ea, ta))[idx])
    return info_nce(zs[0], zs[1], request.temperature) + \
        request.scatter_weight * (scattering(zs[0]) + scattering(zs[1])) / 2


def _supervised_step(model: ParasiticModel, d: dict[str, Tensor], x: Tensor, request: TrainRequest,
                     g: torch.Generator, prior: Tensor) -> Tensor:
    h = model.encode(x, d["edge_index"], d["edge_type"])
    g_pred, logits = model.ground_outputs(h, x, d["nets"])
    g_true = (d["net_y"] - model.net_mean) / model.net_std
    buckets = bucket_of(d["net_y"], model.edges)
    pick = torch.randperm(d["link_y"].numel(), generator=g)[:request.batch_links].to(x.device)
    c_pred = model.coupling_output(h, d["links"][:, pick], d["link_type"][pick], d["pair"][pick])
    c_true = (d["link_y"][pick] - model.link_mean) / model.link_std
    if request.loss == "balanced":
        return (balanced_mse(g_pred, g_true, request.bmc_noise) + balanced_softmax_ce(logits, buckets, prior)
                + balanced_mse(c_pred, c_true, request.bmc_noise))
    return F.mse_loss(g_pred, g_true) + F.cross_entropy(logits, buckets) + F.mse_loss(c_pred, c_true)


def _check_resume(saved: dict[str, Any], request: TrainRequest, path: Path) -> None:
    now = asdict(request)
    differ = [k for k in now if k not in _RUN_KEYS and saved.get(k) != now[k]]
    if differ:
        raise CheckpointError(f"{path}: cannot resume: the request differs in {', '.join(differ)} "
                              f"(saved {[saved.get(k) for k in differ]}, now {[now[k] for k in differ]})")


def fit(request: TrainRequest, data: Data) -> TrainResult:
    """Train one model on a labelled pin-level graph (see the module docstring).

    Raises:
        CheckpointError: ``resume`` without a usable ``OUT/last.pt``, or one of another request.
        ModelConfigError: a bad request, or an unknown device.
    """
    start = time.perf_counter()
    device = pick_device(request.device)
    seed_everything(request.seed)
    prob = problem(data, request)
    g = torch.Generator().manual_seed(request.seed)
    model = ParasiticModel(request.config).to(device)
    train = _sides_data(prob, "train", device)
    edges = bucket_edges(train["net_y"].cpu(), request.buckets)
    model.set_statistics(train["net_y"], train["link_y"], edges.to(device))
    prior = torch.bincount(bucket_of(train["net_y"].cpu(), edges), minlength=N_BUCKETS).float()
    prior = (prior / prior.sum()).to(device)
    x = prob.inputs.x.to(device)
    out = Path(request.out) if request.out else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    history: list[dict[str, float]] = []
    epoch, best_score, bad, best_state, best_epoch, pretrained = 0, math.inf, 0, None, 0, False
    optim = torch.optim.AdamW(model.parameters(), lr=request.lr, weight_decay=request.weight_decay)
    if request.resume:
        last = out / "last.pt" if out is not None else None
        if last is None or not last.is_file():
            raise CheckpointError(f"{last}: nothing to resume (no last.pt)")
        saved = read_checkpoint(last, FORMAT, SCHEMA_VERSION)
        _check_resume(saved["request"], request, last)
        model.load_state_dict(saved["state_dict"])
        t = saved["training"]
        optim.load_state_dict(t["optimizer"])
        set_rng_state(t["rng"], g)
        epoch, best_score, bad, best_epoch = t["epoch"], t["best_score"], t["bad"], t["best_epoch"]
        history, best_state, pretrained = t["history"], t["best_state"], t["pretrained"]

    def save(path: Path, **extra: Any) -> None:
        write_payload(path, _payload(model, request, **extra))

    def checkpoint() -> None:
        if out is None:
            return
        save(out / "last.pt", training={
            "optimizer": optim.state_dict(), "rng": rng_state(g), "epoch": epoch, "best_score": best_score,
            "bad": bad, "best_epoch": best_epoch, "history": history, "best_state": best_state,
            "pretrained": pretrained})

    if request.model == "gcl" and not pretrained:
        pool = torch.nonzero(~prob.inputs.rail & ((prob.split.node_side == 0) if prob.split.node_side is not None
                                                  else torch.ones_like(prob.inputs.rail))).flatten()
        pre_optim = torch.optim.AdamW(model.parameters(), lr=request.lr, weight_decay=request.weight_decay)
        for pre_epoch in range(1, request.pretrain_epochs + 1):
            model.train()
            total = 0.0
            for _ in range(request.steps_per_epoch):
                loss = _pretrain_step(model, prob, train, x, request, g, pool)
                pre_optim.zero_grad()
                loss.backward()
                pre_optim.step()
                total += float(loss.detach())
            if request.progress:
                print(f"pretrain {pre_epoch}/{request.pretrain_epochs}: contrastive loss "
                      f"{total / request.steps_per_epoch:.4f}", file=sys.stderr, flush=True)
        pretrained = True
        checkpoint()
    stopped = False
    while epoch < request.epochs:
        if bad >= request.patience:
            stopped = True
            break
        epoch += 1
        model.train()
        total = 0.0
        for _ in range(request.steps_per_epoch):
            loss = _supervised_step(model, train, x, request, g, prior)
            optim.zero_grad()
            loss.backward()
            optim.step()
            total += float(loss.detach())
        val = evaluate(model, prob, "val", device)
        s = score(val)
        history.append({"epoch": epoch, "train_loss": total / request.steps_per_epoch, "val_score": s,
                        "val_ground_r2": val["ground"]["r2_log10"], "val_macro_f1": val["ground"]["macro_f1"],
                        "val_coupling_r2": val["coupling"]["r2_log10"]})
        if s < best_score:
            best_score, bad, best_epoch = s, 0, epoch
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            if out is not None:
                save(out / "best.pt", epoch=epoch, val=val)
        else:
            bad += 1
        if request.progress:
            print(f"epoch {epoch}/{request.epochs}: loss {history[-1]['train_loss']:.4f}, val ground R2 "
                  f"{val['ground']['r2_log10']:.3f} F1 {val['ground']['macro_f1']:.3f}, coupling R2 "
                  f"{val['coupling']['r2_log10']:.3f}{' *' if bad == 0 else ''}", file=sys.stderr, flush=True)
        checkpoint()
    if bad >= request.patience:
        stopped = True
    if best_state is not None:
        model.load_state_dict(copy.deepcopy(best_state))
    val, test = evaluate(model, prob, "val", device), evaluate(model, prob, "test", device)
    result = TrainResult(
        request=asdict(request), best_epoch=best_epoch, epochs_run=epoch, stopped_early=stopped, val=val, test=test,
        split=split_summary(prob), seconds=round(time.perf_counter() - start, 2), history=history)
    if out is not None:
        (out / "metrics.json").write_text(json.dumps(asdict(result), indent=1) + "\n")
    return result


def split_summary(prob: Problem) -> dict[str, Any]:
    """Label counts per side and the links the split dropped."""
    s = prob.split
    return {"kind": s.kind, "nets": {k: int(v.numel()) for k, v in s.nets.items()},
            "links": {k: int(v.numel()) for k, v in s.links.items()}, "dropped_links": s.dropped_links,
            "inductive": s.node_side is not None}


def evaluate_checkpoint(path: str | Path, data: Data, side: str = "test") -> dict[str, Any]:
    """Metrics of a saved model on ``side`` of the split it was trained with (same seed and kind).

    Raises:
        CheckpointError: not a parasitic checkpoint.
        ModelConfigError: an unknown side.
    """
    if side not in SIDES:
        raise ModelConfigError(f"unknown side {side!r}; use one of {', '.join(SIDES)}")
    model, payload = load_model(path)
    known = {f.name for f in fields(TrainRequest)}
    request = replace(TrainRequest(), **{k: v for k, v in payload["request"].items() if k in known})
    prob = problem(data, request)
    return {"split": split_summary(prob), "side": side, **evaluate(model, prob, side, torch.device("cpu"))}
