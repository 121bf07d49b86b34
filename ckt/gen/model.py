"""The generator: a small decoder-only transformer over circuit token sequences, and its checkpoint file.

A sequence is ``<bos> <type:T> walk... <eos> <pad>...`` (``ckt.gen.vocab``); the type token right
after ``<bos>`` is the conditioning, so one model serves every circuit type. The network is the
plain GPT shape: token plus learned position embeddings, pre-norm blocks of causal self-attention
and a GELU MLP, a final LayerNorm, and the output layer tied to the token embedding (fewer
parameters, which matters on a small data set). Padding sits only at the end of a row, so causal
attention alone keeps real tokens from seeing it; the loss ignores pad targets.

``GeneratorModel.step`` runs one new token per row against a key/value cache, so sampling costs one
position per step instead of the whole prefix.

Checkpoints (``save_generator`` / ``load_trained``) hold the config, the vocabulary
(``Vocab.to_dict()``), the weights and, for the trainer's ``last.pt``, its state; they are read with
``weights_only=True`` through ``ckt.nn.checkpoint``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ckt.errors import CheckpointError, CktError, ModelConfigError
from ckt.gen.vocab import Vocab
from ckt.nn.checkpoint import config_differences, read_checkpoint, write_payload

FORMAT = "ckt.gen.checkpoint"
SCHEMA_VERSION = 1
"""Bumped whenever the generator checkpoint layout or the network's parameter layout changes."""

Cache = list[tuple[Tensor, Tensor]]
"""Per block: keys and values ``[B, heads, T, d_head]`` of every position run so far."""


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    """Everything that fixes the network's shape (the defaults train on a 2-core CPU within an hour).

    Attributes:
        vocab_size: number of tokens (``len(vocab)``).
        max_len: longest sequence, ``<bos>`` to ``<eos>``, the position table covers.
        d_model: width of the residual stream.
        n_layers: transformer blocks.
        n_heads: attention heads per block (``d_model`` must divide by it).
        d_ff: hidden width of each block's MLP.
        dropout: dropout on the embeddings and the residual branches while training.
        state_codes: size of the grammar-state embedding added to each position
            (``GrammarState.code``: how much is still open); 0 for none.
    """

    vocab_size: int
    max_len: int = 512
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 512
    dropout: float = 0.1
    state_codes: int = 0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "max_len", "d_model", "n_layers", "n_heads", "d_ff"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ModelConfigError(f"generator config: {name} must be a positive integer, got {value!r}")
        if self.d_model % self.n_heads:
            raise ModelConfigError(f"generator config: d_model {self.d_model} does not divide into "
                                   f"{self.n_heads} heads")
        if not isinstance(self.state_codes, int) or self.state_codes < 0:
            raise ModelConfigError(f"generator config: state_codes must be a non-negative integer, "
                                   f"got {self.state_codes!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ModelConfigError(f"generator config: dropout must be in [0, 1), got {self.dropout!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain builtins, as a checkpoint stores them."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GeneratorConfig:
        """The config ``to_dict`` wrote.

        Raises:
            ModelConfigError: an unknown key or an impossible value.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ModelConfigError(f"generator config: unknown keys {unknown}; known: {sorted(known)}")
        return cls(**d)


class _Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(ln(x))`` then ``x + mlp(ln(x))``."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.ln1 = nn.LayerNorm(config.d_model)
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.proj = nn.Linear(config.d_model, config.d_model)
        self.ln2 = nn.LayerNorm(config.d_model)
        self.fc1 = nn.Linear(config.d_model, config.d_ff)
        self.fc2 = nn.Linear(config.d_ff, config.d_model)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: Tensor, past: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=-1)
        q, k, v = (z.view(b, t, self.n_heads, d // self.n_heads).transpose(1, 2) for z in (q, k, v))
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        # A cached step runs one new token, which sees every cached position: no mask needed. No
        # dropout on the attention weights: it would force the CPU's slow unfused attention path.
        att = F.scaled_dot_product_attention(q, k, v, is_causal=past is None)
        x = x + self.drop(self.proj(att.transpose(1, 2).reshape(b, t, d)))
        x = x + self.drop(self.fc2(F.gelu(self.fc1(self.ln2(x)))))
        return x, (k, v)


class GeneratorModel(nn.Module):
    """Decoder-only transformer: ``ids [B, T] -> logits [B, T, vocab_size]`` (position ``t``
    predicts token ``t + 1``).

    Args:
        config: the network's shape.
    """

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        self.tok = nn.Embedding(config.vocab_size, config.d_model)
        self.pos = nn.Embedding(config.max_len, config.d_model)
        self.state = nn.Embedding(config.state_codes, config.d_model) if config.state_codes else None
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(_Block(config) for _ in range(config.n_layers))
        self.ln = nn.LayerNorm(config.d_model)
        self._init_weights()

    def _init_weights(self) -> None:
        # GPT-2's scheme: small normal weights, residual projections scaled down by depth.
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
        for block in self.blocks:
            assert isinstance(block, _Block)
            for proj in (block.proj, block.fc2):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * self.config.n_layers))

    def _run(self, ids: Tensor, codes: Tensor | None, offset: int, cache: Cache | None) -> tuple[Tensor, Cache]:
        t = ids.size(1)
        if offset + t > self.config.max_len:
            raise ModelConfigError(f"sequence of {offset + t} tokens is longer than the model's "
                                   f"max_len {self.config.max_len}")
        if (codes is None) != (self.state is None):
            raise ModelConfigError("this generator reads grammar-state codes with its tokens" if codes is None
                                   else "this generator has no grammar-state embedding: pass no codes")
        positions = torch.arange(offset, offset + t, device=ids.device)
        x = self.tok(ids) + self.pos(positions)
        if self.state is not None and codes is not None:
            x = x + self.state(codes)
        x = self.drop(x)
        new: Cache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, None if cache is None else cache[i])
            new.append(kv)
        return self.ln(x) @ self.tok.weight.T, new

    def forward(self, ids: Tensor, codes: Tensor | None = None) -> Tensor:
        """Logits ``[B, T, vocab_size]`` for token ids ``[B, T]`` (and their grammar-state codes
        ``[B, T]`` when the model has ``state_codes``).

        Raises:
            ModelConfigError: ``T`` exceeds ``config.max_len``, or codes given to a model without
                them (or missing for one with them).
        """
        return self._run(ids, codes, 0, None)[0]

    def start(self, ids: Tensor, codes: Tensor | None = None) -> tuple[Tensor, Cache]:
        """Run a prompt ``[B, T]`` (``<bos> <type>``): logits of its last position ``[B, vocab]`` and the cache."""
        logits, cache = self._run(ids, codes, 0, None)
        return logits[:, -1], cache

    def step(self, ids: Tensor, cache: Cache, codes: Tensor | None = None) -> tuple[Tensor, Cache]:
        """Run one new token per row ``[B]`` (with its code ``[B]``) after ``cache``: next-token
        logits ``[B, vocab]`` and the grown cache."""
        logits, cache = self._run(ids[:, None], None if codes is None else codes[:, None], cache[0][0].size(2), cache)
        return logits[:, -1], cache


def checkpoint_payload(model: GeneratorModel, vocab: Vocab, training: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dict ``save_generator`` writes (weights copied to the CPU)."""
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "config": model.config.to_dict(),
        "vocab": vocab.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "training": training or {},
    }


def save_generator(path: str | Path, model: GeneratorModel, vocab: Vocab,
                   training: dict[str, Any] | None = None) -> None:
    """Write ``model``, its vocabulary and an optional trainer state to ``path`` atomically."""
    write_payload(path, checkpoint_payload(model, vocab, training))


def read_generator(path: str | Path) -> dict[str, Any]:
    """The generator checkpoint dict at ``path`` (``weights_only=True``, on the CPU).

    Raises:
        CheckpointError: not a generator checkpoint, or another schema version.
    """
    return read_checkpoint(path, fmt=FORMAT, schema_version=SCHEMA_VERSION)


def _per_type(checkpoint: dict[str, Any], key: str) -> dict[str, list]:
    """The non-empty per-type lists stored under ``training[key]`` of a generator checkpoint."""
    training = checkpoint.get("training") or {}
    table = training.get(key) if isinstance(training, dict) else None
    if not isinstance(table, dict):
        return {}
    return {str(t): v for t, v in table.items() if isinstance(v, list) and v}


def check_generator(checkpoint: dict[str, Any], config: GeneratorConfig, vocab: Vocab, path: str | Path) -> None:
    """Refuse a checkpoint written for another network shape or another vocabulary.

    Raises:
        CheckpointError: naming what differs (checkpoint value first).
    """
    diffs = config_differences(checkpoint["config"], config.to_dict())
    if diffs:
        raise CheckpointError(f"{path}: checkpoint is for another generator ({'; '.join(diffs)})")
    if checkpoint["vocab"] != vocab.to_dict():
        raise CheckpointError(f"{path}: checkpoint was trained with another vocabulary")


@dataclass(frozen=True, slots=True)
class TrainedGenerator:
    """A generator checkpoint read once: the network (eval mode, CPU), its vocabulary, and what the
    trainer kept of its training circuits, per type: their encoding lengths
    (``ckt.gen.train.length_profile``), device families (``ckt.gen.train.family_profile``) and the
    pin sets a family puts on one net (``ckt.gen.train.pin_set_profile``, as ``(family, pins)``);
    empty for a checkpoint written before they were kept (or for a ``last.pt``)."""

    model: GeneratorModel
    vocab: Vocab
    lengths: dict[str, list[int]]
    families: dict[str, list[str]]
    pin_sets: dict[str, list[tuple[str, tuple[str, ...]]]]


def load_trained(path: str | Path) -> TrainedGenerator:
    """The generator saved at ``path`` with its training profiles, from one read of the file.

    Raises:
        CheckpointError: see ``read_generator``, or a config or weights that do not fit.
    """
    checkpoint = read_generator(path)
    try:
        config = GeneratorConfig.from_dict(dict(checkpoint["config"]))
        vocab = Vocab.from_dict(checkpoint["vocab"])
    except (CktError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: the checkpoint's generator cannot be built here: {exc}") from exc
    if len(vocab) != config.vocab_size:
        raise CheckpointError(f"{path}: vocabulary of {len(vocab)} tokens, config says {config.vocab_size}")
    model = GeneratorModel(config)
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the generator: {exc}") from exc
    lengths = {t: [int(n) for n in v] for t, v in _per_type(checkpoint, "lengths").items()}
    families = {t: [str(f) for f in v] for t, v in _per_type(checkpoint, "families").items()}
    try:
        pin_sets = {t: [(str(f), tuple(str(p) for p in pins)) for f, pins in v]
                    for t, v in _per_type(checkpoint, "pin_sets").items()}
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: the checkpoint's pin sets are not [family, [pins]] pairs: {exc}") from exc
    return TrainedGenerator(model.eval(), vocab, lengths, families, pin_sets)


def load_generator(path: str | Path) -> tuple[GeneratorModel, Vocab]:
    """The generator saved at ``path`` and its vocabulary (``load_trained`` without the profiles).

    Raises:
        CheckpointError: see ``load_trained``.
    """
    trained = load_trained(path)
    return trained.model, trained.vocab
