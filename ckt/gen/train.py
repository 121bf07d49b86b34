"""Training the generator on dataset circuits, the way a careful experiment needs it.

Data: AnalogGenie circuits (``ckt.data.analoggenie.read_archive``), each kept when the tokenizer
encodes it and (by default) ``ckt.gen.rules.check_circuit`` finds nothing wrong with it: the
grammar only ever lets the sampler build rule-abiding circuits, so the model learns from those.
Every circuit left out is counted with its reason in the log, never dropped silently.

Split: by circuit, never by sequence. Circuits that share a source page or a topology hash
(``ckt.data.base.assign_groups``) form one group, and ``ckt.data.splits.group_split`` puts each group
wholly on one side, so no walk of a validation circuit (or of a relabelled copy) is trained on.
The test split never enters training; its circuit ids are written out (``split.json``) for evaluation.

Augmentation: every epoch each training circuit is encoded afresh with a random walk and random
device/net renaming, from a ``random.Random`` seeded by (seed, epoch, circuit id), so the data of an
epoch is a pure function of the run's options and a resumed run sees exactly what it would have.
Validation circuits get one fixed random walk each, so validation losses compare across epochs.

Loss: next-token cross-entropy averaged over the tokens after the type token (``<pad>`` targets are
ignored; the type token itself is the condition, not a prediction). Early stopping and model
selection use the validation loss only. Each epoch writes ``OUT/last.pt`` (weights, optimizer, random
number generator state, history), ``OUT/best.pt`` (the best validation epoch, with the training
circuits' encoding lengths, device families and the pin sets each family puts on one net, per
type, for the sampler: ``length_profile``, ``family_profile``, ``pin_set_profile``) and
``OUT/history.json``;
``resume=True`` continues from ``last.pt`` as if never stopped. CPU by default, CUDA when present.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ckt.data.analoggenie import read_archive
from ckt.data.base import Circuit, assign_groups, reference_data, topology_hash
from ckt.data.splits import group_split
from ckt.errors import CheckpointError, DatasetError, ModelConfigError, TokenizeError
from ckt.gen.grammar import STATE_CODES, Grammar
from ckt.gen.model import GeneratorConfig, GeneratorModel, check_generator, read_generator, save_generator
from ckt.gen.rules import check_circuit
from ckt.gen.tokens import encode, ties
from ckt.gen.vocab import Vocab
from ckt.nn.checkpoint import config_differences
from ckt.nn.train import pick_device

ANALOGGENIE = "analoggenie/analoggenie-dataset.tar.gz"
"""The AnalogGenie archive's place in the reference-data folder."""

_RUN_KEYS = ("out", "archive", "epochs", "resume", "device", "threads", "progress", "log_every")
"""Options a resumed run may change; every other one must match the checkpoint."""

_REDRAWS = 20
"""Fresh walks tried for a circuit whose random walk runs past ``max_len`` before it sits out the epoch."""


@dataclass(frozen=True, slots=True)
class GeneratorTrainRequest:
    """What to train and how (the defaults: ~1 M parameters, trains on a 2-core CPU within an hour).

    Attributes:
        out: checkpoint folder (None: no checkpoints, no resume).
        archive: the AnalogGenie archive (None: the reference-data copy).
        types: circuit types to train on (empty: all).
        fractions: train, validation, test shares of the circuit-level split.
        split_seed: seed of the split.
        max_len: the model's longest sequence (None: the longest canonical encoding of the data plus
            a quarter, rounded up to a multiple of 32).
        d_model, n_layers, n_heads, d_ff, dropout: the network (``GeneratorConfig``).
        rename: renaming augmentation (random device and net numbers in each walk). Off by
            default: with it, a new device's probability is spread over ~40 unused numbers while a
            revisit needs one, and the default model, never learning to revisit, opened devices
            until the length limit (every sample ~75 devices); numbered by first appearance, a new
            device is one token and the model closes its circuits.
        state_codes: the grammar-state embedding (``GrammarState.code`` beside each token, so the
            model knows how much is still open and when the circuit could end); 0 for none.
        epochs: the most epochs to run.
        batch_size: sequences per step.
        lr: AdamW learning rate after a linear warm-up of ``warmup`` steps.
        weight_decay: AdamW weight decay.
        warmup: warm-up steps.
        grad_clip: gradient norm clip (0: none).
        patience: epochs without a better validation loss before stopping.
        seed: seeds the weights, the walks, the batch order and dropout.
        check_rules: train only on circuits ``ckt.gen.rules.check_circuit`` accepts.
        device: ``"cpu"``, ``"cuda"``... (None: CUDA when available).
        threads: CPU threads for torch (None: torch's default; 1 is faster on a CPU other jobs share).
        resume: continue from ``out/last.pt`` when it exists.
        progress: print progress lines (to the log callback or stderr).
        log_every: a progress line every this many batches (0: per epoch only).
    """

    out: str | None = None
    archive: str | None = None
    types: tuple[str, ...] = ()
    fractions: tuple[float, ...] = (0.8, 0.1, 0.1)
    split_seed: int = 0
    max_len: int | None = None
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 512
    dropout: float = 0.1
    state_codes: int = STATE_CODES
    rename: bool = False
    epochs: int = 20
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 0.01
    warmup: int = 200
    grad_clip: float = 1.0
    patience: int = 5
    seed: int = 0
    check_rules: bool = True
    device: str | None = None
    threads: int | None = None
    resume: bool = False
    progress: bool = True
    log_every: int = 50

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ModelConfigError(f"generator training: {name} must be at least 1, got {getattr(self, name)}")
        for name in ("warmup", "patience", "log_every"):
            if getattr(self, name) < 0:
                raise ModelConfigError(f"generator training: {name} must not be negative, got {getattr(self, name)}")
        if self.state_codes and self.state_codes < STATE_CODES:
            raise ModelConfigError(f"generator training: state_codes must be 0 or at least {STATE_CODES} "
                                   f"(the grammar's codes), got {self.state_codes}")
        if self.threads is not None and self.threads < 1:
            raise ModelConfigError(f"generator training: threads must be at least 1, got {self.threads}")
        if not self.lr > 0:
            raise ModelConfigError(f"generator training: lr must be positive, got {self.lr}")
        if self.resume and self.out is None:
            raise ModelConfigError("generator training: resume needs out (the folder holding last.pt)")


@dataclass(frozen=True, slots=True)
class Corpus:
    """The circuits a run trains on, split by circuit, and the ones it left out.

    Attributes:
        train, val, test: the circuits of each split.
        skipped: ``(circuit id, reason)`` for every circuit left out.
        max_canonical: the longest canonical encoding among the kept circuits (tokens).
    """

    train: tuple[Circuit, ...]
    val: tuple[Circuit, ...]
    test: tuple[Circuit, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    max_canonical: int = 0

    def ids(self) -> dict[str, list[str]]:
        """Circuit ids per split (what ``split.json`` holds)."""
        return {"train": [c.id for c in self.train], "val": [c.id for c in self.val],
                "test": [c.id for c in self.test]}


@dataclass(frozen=True)
class TrainResult:
    """What a run leaves: the model at its best validation epoch and how it got there."""

    model: GeneratorModel
    vocab: Vocab
    history: tuple[dict[str, float], ...]
    best_epoch: int
    best_val_loss: float
    corpus: Corpus = field(repr=False)


def read_analoggenie(archive: str | None = None) -> list[Circuit]:
    """AnalogGenie's circuits, ids prefixed ``analoggenie/``; failures of the reader raise.

    Raises:
        DatasetError: no archive given and no reference-data copy, an unreadable archive, or
            circuits the reader could not read (named with their reasons).
    """
    if archive is None:
        home = reference_data()
        if home is None or not (home / ANALOGGENIE).is_file():
            raise DatasetError("no AnalogGenie archive: pass its path (the dataset's "
                               "analoggenie-dataset.tar.gz) or set CKT_REFERENCE_DATA")
        archive = str(home / ANALOGGENIE)
    raw = read_archive(archive)
    if raw.failures:
        listed = "; ".join(f"{f.file}: {f.reason}" for f in raw.failures[:5])
        raise DatasetError(f"{archive}: {len(raw.failures)} circuit(s) could not be read ({listed})")
    return [replace(c, id=f"analoggenie/{c.id}") for c in raw.circuits]


def build_corpus(circuits: Sequence[Circuit], vocab: Vocab, types: Sequence[str] = (),
                 fractions: Sequence[float] = (0.8, 0.1, 0.1), split_seed: int = 0,
                 check_rules: bool = True) -> Corpus:
    """Keep the circuits that can be learned from and split them by circuit group.

    Groups come from every given circuit (``assign_groups`` over topology hash and source key)
    before any is left out, so a left-out circuit cannot break a group apart.

    Raises:
        DatasetError: no circuit is left, or too few groups for the split.
    """
    circuits = [c for c in circuits if not types or c.ckt_type in types]
    groups = assign_groups(circuits, [topology_hash(c.netlist) for c in circuits])
    kept: list[int] = []
    skipped: list[tuple[str, str]] = []
    longest = 0
    for i, c in enumerate(circuits):
        try:
            ids = encode(c.netlist, c.ckt_type, c.ports, vocab)
        except TokenizeError as exc:
            skipped.append((c.id, f"TokenizeError: {exc}"))
            continue
        violations = check_circuit(c.netlist, c.ckt_type, c.ports) if check_rules else ()
        if violations:
            skipped.append((c.id, "rules: " + ", ".join(sorted({v.rule for v in violations}))))
            continue
        kept.append(i)
        longest = max(longest, len(ids))
    if not kept:
        raise DatasetError(f"none of {len(circuits)} circuit(s) can be trained on"
                           + (f" (first reason: {skipped[0][1]})" if skipped else ""))
    split = group_split([groups[i] for i in kept], fractions, seed=split_seed)
    parts = {name: tuple(circuits[kept[j]] for j in idx.tolist()) for name, idx in split.items()}
    return Corpus(train=parts["train"], val=parts.get("val", ()), test=parts.get("test", ()),
                  skipped=tuple(skipped), max_canonical=longest)


def length_profile(circuits: Sequence[Circuit], vocab: Vocab) -> dict[str, list[int]]:
    """Per circuit type, the sorted lengths (tokens, ``<bos>`` to ``<eos>``) of the canonical
    encodings of ``circuits``: the sizes the sampler draws its length budgets from, because a
    decoder that is never told when to stop grows circuits past any it was trained on."""
    lengths: dict[str, list[int]] = {}
    for c in circuits:
        lengths.setdefault(c.ckt_type, []).append(len(encode(c.netlist, c.ckt_type, c.ports, vocab)))
    return {t: sorted(v) for t, v in sorted(lengths.items())}


def family_profile(circuits: Sequence[Circuit], vocab: Vocab) -> dict[str, list[str]]:
    """Per circuit type, the device families (``NM``, ``R``, ``INV``...) ``circuits`` of that type
    use: what the sampler's grammar lets a generated circuit of the type hold."""
    families: dict[str, set[str]] = {}
    for c in circuits:
        ids = encode(c.netlist, c.ckt_type, c.ports, vocab)
        families.setdefault(c.ckt_type, set()).update(vocab.device(i)[0] for i in ids if vocab.kind(i) == "device")
    return {t: sorted(v) for t, v in sorted(families.items())}


def pin_set_profile(circuits: Sequence[Circuit], vocab: Vocab) -> dict[str, list[list]]:
    """Per circuit type, the pin sets of two or more pins that ``circuits`` of that type put on one
    net, as ``[family, [pins]]`` (``["NM", ["s", "b"]]``: a source tied to its bulk). The sampler's
    grammar lets a generated circuit of the type tie only these: left free, the shipped model tied
    gate, source and bulk (an always-off device) or drain, source and bulk in about one op-amp
    MOSFET in ten, which no real op-amp does."""
    sets: dict[str, set[tuple[str, tuple[str, ...]]]] = {}
    for c in circuits:
        sets.setdefault(c.ckt_type, set()).update(ties(encode(c.netlist, c.ckt_type, c.ports, vocab), vocab))
    return {t: [[f, list(pins)] for f, pins in sorted(v)] for t, v in sorted(sets.items())}


def default_max_len(longest: int) -> int:
    """Room for random walks longer than the canonical one: a quarter more, to a multiple of 32."""
    return 32 * math.ceil(1.25 * longest / 32)


Walk = tuple[list[int], list[int] | None]
"""A sequence's token ids and its grammar-state codes (None for a model without them)."""


def _walk(circuit: Circuit, vocab: Vocab, seed: str, max_len: int, rename: bool = True) -> list[int] | None:
    """A random encoding of ``circuit`` from a generator seeded by ``seed`` that fits ``max_len``
    (a few redraws from the same generator), or None when none fits."""
    rng = random.Random(seed)
    for _ in range(_REDRAWS):
        ids = encode(circuit.netlist, circuit.ckt_type, circuit.ports, vocab, rng=rng, rename=rename)
        if len(ids) <= max_len:
            return ids
    return None


def epoch_sequences(circuits: Sequence[Circuit], vocab: Vocab, seed: str, max_len: int,
                    grammar: Grammar | None = None, rename: bool = True) -> tuple[list[Walk], int]:
    """One random encoding per circuit (seeded by ``seed`` and the circuit id), with its grammar-state
    codes when ``grammar`` is given (else None), and how many did not fit."""
    out: list[Walk] = []
    missed = 0
    for c in circuits:
        ids = _walk(c, vocab, f"{seed}/{c.id}", max_len, rename)
        if ids is None:
            missed += 1
        else:
            out.append((ids, grammar.codes(ids) if grammar is not None else None))
    return out, missed


def batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Index batches in random order, each cut from a run of similar lengths (less padding):
    shuffle, sort within chunks of 16 batches, cut, shuffle the batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    chunk = 16 * batch_size
    out: list[list[int]] = []
    for a in range(0, len(order), chunk):
        part = sorted(order[a:a + chunk], key=lambda i: lengths[i])
        out += [part[b:b + batch_size] for b in range(0, len(part), batch_size)]
    rng.shuffle(out)
    return out


def pad_batch(seqs: Sequence[Walk], pad: int) -> tuple[Tensor, Tensor | None]:
    """``[B, longest]`` token ids, rows padded at the end with ``pad``, and the codes padded with 0
    (None when the walks carry none)."""
    width = max(len(ids) for ids, _ in seqs)
    ids = torch.tensor([list(i) + [pad] * (width - len(i)) for i, _ in seqs], dtype=torch.long)
    if seqs[0][1] is None:
        return ids, None
    return ids, torch.tensor([list(c or ()) + [0] * (width - len(c or ())) for _, c in seqs], dtype=torch.long)


def sequence_loss(model: GeneratorModel, ids: Tensor, codes: Tensor | None, pad: int) -> tuple[Tensor, int]:
    """Summed next-token cross-entropy over the targets after the type token, and their count."""
    target = ids[:, 1:].clone()
    target[:, 0] = pad  # the type token is given, not predicted
    logits = model(ids[:, :-1], None if codes is None else codes[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=pad,
                           reduction="sum")
    return loss, int((target != pad).sum())


@torch.no_grad()
def mean_loss(model: GeneratorModel, seqs: Sequence[Walk], pad: int, batch_size: int,
              device: torch.device) -> float:
    """Token-averaged loss of ``model`` on ``seqs`` (eval mode)."""
    model.eval()
    total, count = 0.0, 0
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i][0]))
    for a in range(0, len(order), batch_size):
        ids, codes = pad_batch([seqs[i] for i in order[a:a + batch_size]], pad)
        loss, n = sequence_loss(model, ids.to(device), None if codes is None else codes.to(device), pad)
        total, count = total + float(loss), count + n
    return total / max(count, 1)


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _options(request: GeneratorTrainRequest) -> dict[str, Any]:
    """The options that decide the result (a resumed run must repeat them), as builtins."""
    d = asdict(request)
    d["types"], d["fractions"] = list(d["types"]), list(d["fractions"])
    return {k: v for k, v in d.items() if k not in _RUN_KEYS}


def _train_epoch(model: GeneratorModel, optimizer: torch.optim.Optimizer, seqs: Sequence[Walk],
                 request: GeneratorTrainRequest, state: dict[str, Any], epoch: int, pad: int, device: torch.device,
                 log: Callable[[str], None]) -> float:
    """One pass over ``seqs`` in the epoch's batch order (advancing ``state["step"]``); the
    token-averaged training loss."""
    start = time.perf_counter()
    plan = batches([len(ids) for ids, _ in seqs], request.batch_size, random.Random(f"{request.seed}/order/{epoch}"))
    model.train()
    total, count, tokens_seen = 0.0, 0, 0
    for b, rows in enumerate(plan, 1):
        ids, codes = pad_batch([seqs[i] for i in rows], pad)
        ids = ids.to(device)
        codes = None if codes is None else codes.to(device)
        for group in optimizer.param_groups:
            group["lr"] = request.lr * min(1.0, (state["step"] + 1) / max(request.warmup, 1))
        loss_sum, n = sequence_loss(model, ids, codes, pad)
        optimizer.zero_grad(set_to_none=True)
        (loss_sum / max(n, 1)).backward()
        if request.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), request.grad_clip)
        optimizer.step()
        state["step"] += 1
        total, count, tokens_seen = total + float(loss_sum.detach()), count + n, tokens_seen + ids.numel()
        if request.log_every and b % request.log_every == 0:
            elapsed = time.perf_counter() - start
            log(f"  epoch {epoch} batch {b}/{len(plan)}  loss {total / count:.4g}  "
                f"{tokens_seen / elapsed:,.0f} tokens/s  {elapsed:.0f}s")
    return total / max(count, 1)


def train_generator(request: GeneratorTrainRequest, circuits: Sequence[Circuit] | None = None,
                    vocab: Vocab | None = None, log: Callable[[str], None] | None = None) -> TrainResult:
    """Train a generator as ``request`` says; leave it at its best validation epoch.

    Args:
        request: the run's options.
        circuits: the circuits to learn from (None: AnalogGenie from ``request.archive``).
        vocab: the token vocabulary (None: ``Vocab.default()``).
        log: where progress lines go (default: stderr while ``request.progress``).

    Raises:
        DatasetError: no usable circuit, or too few for the split.
        ModelConfigError: an impossible option or network shape.
        CheckpointError: resuming from a checkpoint of another network, vocabulary, options or split.
    """
    if log is None:
        log = (lambda line: print(line, file=sys.stderr, flush=True)) if request.progress else (lambda line: None)
    vocab = vocab or Vocab.default()
    corpus = build_corpus(read_analoggenie(request.archive) if circuits is None else circuits, vocab,
                          request.types, request.fractions, request.split_seed, request.check_rules)
    if not corpus.val:
        raise DatasetError("generator training needs a validation split (give three fractions)")
    reasons = Counter(r if r.startswith("rules:") else r.split(":")[0] for _, r in corpus.skipped)
    log(f"circuits: {len(corpus.train)} train, {len(corpus.val)} val, {len(corpus.test)} test; "
        f"{len(corpus.skipped)} left out" + (f" ({', '.join(f'{k} {n}' for k, n in sorted(reasons.items()))})"
                                              if reasons else ""))
    max_len = request.max_len or default_max_len(corpus.max_canonical)
    if corpus.max_canonical > max_len:
        raise ModelConfigError(f"max_len {max_len} is shorter than the longest circuit's encoding "
                               f"({corpus.max_canonical} tokens)")
    config = GeneratorConfig(vocab_size=len(vocab), max_len=max_len, d_model=request.d_model,
                             n_layers=request.n_layers, n_heads=request.n_heads, d_ff=request.d_ff,
                             dropout=request.dropout, state_codes=request.state_codes)
    device = pick_device(request.device)
    if request.threads is not None:
        torch.set_num_threads(request.threads)
    out = Path(request.out) if request.out is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    options = _options(request)

    torch.manual_seed(request.seed)
    model = GeneratorModel(config).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"generator: {n_params:,} parameters, max_len {max_len}, vocabulary {len(vocab)}, device {device}")
    optimizer = torch.optim.AdamW(model.parameters(), lr=request.lr, weight_decay=request.weight_decay)
    state: dict[str, Any] = {"epoch": 0, "step": 0, "history": [], "best_val_loss": math.inf, "best_epoch": 0,
                             "best_state": None, "bad_epochs": 0}
    last = out / "last.pt" if out is not None else None
    if request.resume and last is not None and last.exists():
        checkpoint = read_generator(last)
        check_generator(checkpoint, config, vocab, last)
        saved = checkpoint["training"]
        diffs = config_differences(saved.get("options", {}), options)
        if diffs:
            raise CheckpointError(f"{last}: training options differ from the run being resumed ({'; '.join(diffs)})")
        if saved.get("split") != corpus.ids():
            raise CheckpointError(f"{last}: the data split differs from the run being resumed "
                                  "(another archive or another tokenizer?)")
        model.load_state_dict(checkpoint["state_dict"])
        optimizer.load_state_dict(saved["optimizer"])
        _set_rng_state(saved["rng"])
        state = {k: saved[k] for k in state}
        log(f"resumed from {last} after epoch {state['epoch']}")
    elif request.resume:
        log(f"no checkpoint at {last}: starting a new run")
    if out is not None:
        (out / "split.json").write_text(json.dumps(corpus.ids(), indent=1) + "\n")

    grammar = Grammar(vocab, max_len=max_len) if request.state_codes else None
    lengths = length_profile(corpus.train, vocab)
    families = family_profile(corpus.train, vocab)
    pin_sets = pin_set_profile(corpus.train, vocab)
    val_seqs, val_missed = epoch_sequences(corpus.val, vocab, f"{request.seed}/val", max_len, grammar,
                                           request.rename)
    for epoch in range(state["epoch"] + 1, request.epochs + 1):
        if state["bad_epochs"] >= request.patience > 0:
            log(f"early stop: no better validation loss for {request.patience} epochs")
            break
        start, cpu_start = time.perf_counter(), time.process_time()
        seqs, missed = epoch_sequences(corpus.train, vocab, f"{request.seed}/train/{epoch}", max_len, grammar,
                                      request.rename)
        train_loss = _train_epoch(model, optimizer, seqs, request, state, epoch, vocab.pad, device, log)
        val_loss = mean_loss(model, val_seqs, vocab.pad, request.batch_size, device)
        improved = val_loss < state["best_val_loss"]
        if improved:
            state.update(best_val_loss=val_loss, best_epoch=epoch, bad_epochs=0,
                         best_state={k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        else:
            state["bad_epochs"] += 1
        row = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
               "best_val_loss": state["best_val_loss"], "seconds": time.perf_counter() - start,
               "cpu_seconds": time.process_time() - cpu_start, "steps": state["step"], "too_long": missed}
        state["history"].append(row)
        state["epoch"] = epoch
        log(f"epoch {epoch}/{request.epochs}  train {row['train_loss']:.4g}  val {val_loss:.4g}  "
            f"best {state['best_val_loss']:.4g} (epoch {state['best_epoch']})  {row['seconds']:.1f}s "
            f"({row['cpu_seconds']:.0f} CPU s)"
            + (f"  ({missed} circuit(s) sat out: no walk within max_len)" if missed else ""))
        if out is not None:
            training = {**state, "options": options, "split": corpus.ids(), "optimizer": optimizer.state_dict(),
                        "rng": _rng_state()}
            save_generator(out / "last.pt", model, vocab, training)
            if improved:
                save_generator(out / "best.pt", model, vocab,
                               {"epoch": epoch, "val_loss": val_loss, "lengths": lengths,
                                "families": families, "pin_sets": pin_sets})
            (out / "history.json").write_text(json.dumps(state["history"], indent=1) + "\n")
    if val_missed:
        log(f"{val_missed} validation circuit(s) had no walk within max_len and were not scored")
    if state["best_state"] is not None:
        model.load_state_dict(state["best_state"])
    return TrainResult(model=model.eval(), vocab=vocab, history=tuple(state["history"]),
                       best_epoch=state["best_epoch"], best_val_loss=state["best_val_loss"], corpus=corpus)
