"""Residual-stream activations and steering vectors for local transformers models.

Both work through forward hooks on the model's decoder blocks, so nothing is copied and
the weights are never changed:

* :func:`capture` runs a batch of token sequences through the model once and keeps, for
  every requested block, the block's output (the residual stream after that block) at
  the positions asked for — the last token, the mean over a span, or every position;
* :func:`install_steering` adds ``scale * vector`` to the output of chosen blocks at every
  position of every forward pass (prompt and generated tokens alike) until its handles
  are removed.

Layer ``i`` means the output of decoder block ``i`` (0-based), so a model with ``L``
blocks has layers ``0 … L-1``; the token embeddings themselves are not a layer here.

A steering file is an ``.npz`` archive with ``layers`` (``(k,)`` ints) and ``vectors``
(``(k, d_model)`` floats), optionally ``scale`` (a default multiplier, 1 when absent),
``positions`` (where to add: ``all`` positions, the ``answer`` — the last prompt token and
every generated token — or only the ``first``: the last prompt token, which picks the
first answer token) and ``meta`` (a JSON string saying how the vector was built)::

    hf:/path/to/ckpt?steer=honesty.npz&scale=4
    organism:flawed?steer=honesty.npz&scale=4
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

from alignkit.core import ConfigError, Message, Target, TargetError, atomic_file

if TYPE_CHECKING:
    import torch

__all__ = [
    "ActivationModel",
    "Activations",
    "POSITIONS",
    "Positions",
    "Reduce",
    "SteeringVector",
    "capture",
    "SpanRow",
    "decoder_blocks",
    "install_steering",
    "load_steering",
    "save_steering",
    "span_rows",
    "steering",
    "steering_options",
]

Reduce = Literal["last", "mean", "none"]
Positions = Literal["all", "answer", "first"]
"""Where a steering vector is added (see the module docstring)."""
POSITIONS: tuple[Positions, ...] = ("all", "answer", "first")
"""Which positions :func:`capture` keeps: the last token, the span mean, or every token."""


@dataclass(frozen=True)
class Activations:
    """Residual-stream activations of ``n`` sequences.

    Attributes:
        layers: The block indices captured, in the order of axis 1 of ``values``.
        values: ``(n, len(layers), d_model)`` float32 for ``last``/``mean``;
            ``(n, len(layers), T, d_model)`` for ``none``, right-padded with zeros to the
            longest span ``T``.
        lengths: ``(n,)`` tokens in each sequence's span (1 for ``last``).
        reduce: How positions were reduced.
    """

    layers: tuple[int, ...]
    values: np.ndarray
    lengths: np.ndarray
    reduce: Reduce = "last"

    def at(self, layer: int) -> np.ndarray:
        """Values of one captured block: ``(n, d_model)`` (or ``(n, T, d_model)`` for ``none``)."""
        try:
            i = self.layers.index(layer)
        except ValueError:
            raise ConfigError(f"layer {layer} was not captured (captured: {self.layers})") from None
        return np.asarray(self.values[:, i])


@runtime_checkable
class ActivationModel(Target, Protocol):
    """A chat target that exposes its residual stream (``"activations"`` in capabilities)."""

    async def activations(
        self,
        conversations: Sequence[Sequence[Message]],
        *,
        completions: Sequence[str] | None = None,
        layers: Sequence[int] | None = None,
        reduce: Reduce = "last",
        batch_size: int = 32,
    ) -> Activations:
        """Activations of each conversation as the model sees it before answering.

        With ``completions``, each one is appended after the assistant turn opens and
        ``mean`` averages over the completion's tokens (``last`` takes its last token).
        """
        ...


# --------------------------------------------------------------------------- blocks


def decoder_blocks(model: Any) -> Any:
    """The ``ModuleList`` of decoder blocks (``transformer.h``, ``model.layers``, ...).

    Found as the shallowest module list whose length equals the config's layer count,
    so it works for GPT-2, Llama-style and most other causal LMs without a table.
    """
    import torch

    config = getattr(model, "config", None)
    want = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
    best: tuple[int, Any] | None = None
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) > 0:
            if want is not None and len(module) != int(want):
                continue
            depth = name.count(".")
            if best is None or depth < best[0]:
                best = (depth, module)
    if best is None:
        raise TargetError(f"cannot find the decoder blocks of {type(model).__name__}")
    return best[1]


def _hidden(output: Any) -> torch.Tensor:
    """The hidden states in a block's output (a tensor, or a tuple that starts with one)."""
    hidden: torch.Tensor = output[0] if isinstance(output, tuple) else output
    return hidden


def _replace_hidden(output: Any, hidden: torch.Tensor) -> Any:
    if isinstance(output, tuple):
        return (hidden, *output[1:])
    return hidden


def _check_layers(layers: Sequence[int], count: int) -> tuple[int, ...]:
    out = tuple(int(i) for i in layers)
    bad = [i for i in out if not 0 <= i < count]
    if bad:
        raise ConfigError(f"layer(s) {bad} out of range: the model has layers 0..{count - 1}")
    return out


# --------------------------------------------------------------------------- capture


@dataclass(frozen=True)
class SpanRow:
    """One row to capture: token ids and the span ``[start, len(ids))`` to reduce over."""

    ids: tuple[int, ...]
    start: int


Encoder = Callable[[Sequence[Message], str], list[int]]
"""Token ids of a conversation with the assistant turn opened, plus a completion (may be "")."""


def span_rows(
    encode: Encoder,
    conversations: Sequence[Sequence[Message]],
    completions: Sequence[str] | None = None,
) -> list[SpanRow]:
    """Rows for :func:`capture`: with a completion, its span is the completion's tokens."""
    if completions is not None and len(completions) != len(conversations):
        raise ConfigError("activations: one completion per conversation is needed")
    rows = []
    for i, messages in enumerate(conversations):
        prompt = encode(messages, "")
        if not prompt:
            raise ConfigError("a conversation encodes to no tokens")
        completion = completions[i] if completions is not None else ""
        if not completion:
            rows.append(SpanRow(tuple(prompt), 0))
            continue
        full = encode(messages, completion)
        pairs = enumerate(zip(prompt, full, strict=False))
        shared = next((k for k, (a, b) in pairs if a != b), len(prompt))
        rows.append(SpanRow(tuple(full), min(shared, len(full) - 1)))
    return rows


@dataclass
class _Sink:
    reduce: Reduce
    mask: torch.Tensor | None = None
    store: dict[int, list[np.ndarray]] = field(default_factory=dict)


def capture(
    model: Any,
    rows: Sequence[SpanRow],
    layers: Sequence[int] | None,
    *,
    reduce: Reduce = "last",
    pad_id: int = 0,
    batch_size: int = 32,
) -> Activations:
    """Run ``rows`` through ``model`` in batches and keep the residual stream of ``layers``.

    Rows are left-padded with explicit position ids (as in decoding), so a padded row sees
    the positions it would see alone. Only the reduced values leave the hooks.

    Args:
        model: A transformers causal LM in eval mode.
        rows: Token ids per sequence, with the start of the span that ``mean``/``none``
            keep (the last token is always the sequence's last id).
        layers: Block indices; all blocks when None.
        reduce: ``last``, ``mean`` or ``none``.
        pad_id: Id used for the (masked) padding.
        batch_size: Sequences per forward pass.

    Returns:
        The :class:`Activations`, rows in input order.
    """
    import torch

    blocks = decoder_blocks(model)
    chosen = _check_layers(range(len(blocks)) if layers is None else layers, len(blocks))
    if not rows:
        raise ConfigError("no sequences to capture activations for")
    if any(not 0 <= r.start < len(r.ids) for r in rows):
        raise ConfigError("every sequence needs at least one token in its span")
    sink = _Sink(reduce)
    handles = [blocks[i].register_forward_hook(_recorder(sink, i)) for i in chosen]
    try:
        with torch.inference_mode():
            for k in range(0, len(rows), max(1, batch_size)):
                _capture_batch(model, rows[k : k + max(1, batch_size)], sink, pad_id)
    finally:
        for h in handles:
            h.remove()
    lengths = np.array([1 if reduce == "last" else len(r.ids) - r.start for r in rows])
    return Activations(chosen, _stack(sink, chosen, lengths, reduce), lengths, reduce)


def _recorder(sink: _Sink, layer: int) -> Any:
    def hook(module: Any, args: Any, output: Any) -> None:
        h = _hidden(output).detach().float()
        mask = sink.mask
        out = sink.store.setdefault(layer, [])
        if sink.reduce == "last" or mask is None:
            out.append(h[:, -1, :].cpu().numpy())
        elif sink.reduce == "mean":
            m = mask.unsqueeze(-1).to(h.dtype)
            out.append(((h * m).sum(1) / m.sum(1).clamp(min=1)).cpu().numpy())
        else:
            out.extend(h[i, mask[i]].cpu().numpy() for i in range(h.shape[0]))

    return hook


def _capture_batch(model: Any, batch: Sequence[SpanRow], sink: _Sink, pad_id: int) -> None:
    import torch

    device = next(model.parameters()).device
    width = max(len(r.ids) for r in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(batch), width), dtype=torch.long)
    span = torch.zeros((len(batch), width), dtype=torch.bool)
    for i, r in enumerate(batch):
        off = width - len(r.ids)
        ids[i, off:] = torch.tensor(r.ids, dtype=torch.long)
        attn[i, off:] = 1
        span[i, off + r.start :] = True
    pos = (attn.cumsum(-1) - 1).clamp(min=0)
    sink.mask = span.to(device)
    model(
        input_ids=ids.to(device),
        attention_mask=attn.to(device),
        position_ids=pos.to(device),
        use_cache=False,
    )


def _stack(sink: _Sink, layers: tuple[int, ...], lengths: np.ndarray, reduce: Reduce) -> np.ndarray:
    """Per-layer parts → ``(n, layers, d)`` or, for ``none``, ``(n, layers, T, d)``."""
    per_layer = []
    for layer in layers:
        parts = sink.store[layer]
        if reduce != "none":
            per_layer.append(np.concatenate(parts, axis=0))
            continue
        longest = int(lengths.max())
        padded = np.zeros((len(parts), longest, parts[0].shape[-1]), dtype=np.float32)
        for i, part in enumerate(parts):
            padded[i, : part.shape[0]] = part
        per_layer.append(padded)
    return np.stack(per_layer, axis=1).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- steering


@dataclass(frozen=True)
class SteeringVector:
    """Vectors to add to the residual stream after some blocks.

    Attributes:
        layers: Block indices, one per row of ``vectors``.
        vectors: ``(len(layers), d_model)`` float32.
        scale: Default multiplier (a URI's ``scale`` replaces it).
        meta: How the vector was built (free-form, JSON-serialisable).
        positions: Where it is added: ``all``, ``answer`` or ``first``.
    """

    layers: tuple[int, ...]
    vectors: np.ndarray
    scale: float = 1.0
    meta: Mapping[str, Any] = field(default_factory=dict)
    positions: Positions = "all"

    def __post_init__(self) -> None:
        if self.vectors.ndim != 2 or self.vectors.shape[0] != len(self.layers):
            raise ConfigError(
                f"steering vectors must be (layers, d_model); got {self.vectors.shape}"
                f" for {len(self.layers)} layer(s)"
            )
        if len(set(self.layers)) != len(self.layers):
            raise ConfigError(f"steering layers repeat: {self.layers}")
        if not np.all(np.isfinite(self.vectors)):
            raise ConfigError("steering vectors contain NaN or infinity")
        if self.positions not in POSITIONS:
            raise ConfigError(
                f"steering positions must be one of {POSITIONS}, not {self.positions!r}"
            )

    @property
    def d_model(self) -> int:
        """Width of the residual stream the vectors were built for."""
        return int(self.vectors.shape[1])


def save_steering(vector: SteeringVector, path: str | Path) -> Path:
    """Write ``vector`` as an ``.npz`` steering file (format in the module docstring).

    Raises:
        ConfigError: The scale or a vector entry is not a finite number.
    """
    if not math.isfinite(vector.scale) or not np.isfinite(np.asarray(vector.vectors)).all():
        raise ConfigError(f"a steering vector needs a finite scale and entries, not {vector.scale}")
    out = Path(path)
    with atomic_file(out) as fh:  # whole or not at all (ConfigError when it cannot be)
        np.savez(
            fh,
            layers=np.asarray(vector.layers, dtype=np.int64),
            vectors=np.asarray(vector.vectors, dtype=np.float32),
            scale=np.float64(vector.scale),
            positions=np.asarray(vector.positions),
            meta=np.asarray(json.dumps(dict(vector.meta), sort_keys=True)),
        )
    return out


def load_steering(path: str | Path) -> SteeringVector:
    """Read a steering file; :class:`ConfigError` naming the file when it is unusable."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise ConfigError(f"steering file not found: {p}")
    try:
        with np.load(p, allow_pickle=False) as data:
            layers = tuple(int(i) for i in np.atleast_1d(data["layers"]))
            vectors = np.atleast_2d(np.asarray(data["vectors"], dtype=np.float32))
            scale = float(data["scale"]) if "scale" in data.files else 1.0
            meta = json.loads(str(data["meta"])) if "meta" in data.files else {}
            positions = str(data["positions"]) if "positions" in data.files else "all"
    except (OSError, EOFError, ValueError, zipfile.BadZipFile):
        raise ConfigError(
            f"invalid steering file {p}: not an .npz file written by alignkit interpret steer"
        ) from None
    except KeyError as exc:
        raise ConfigError(f"invalid steering file {p}: no {exc} array in it") from None
    if positions not in POSITIONS:
        raise ConfigError(f"invalid steering file {p}: positions '{positions}'")
    if not math.isfinite(scale) or not np.isfinite(vectors).all():
        raise ConfigError(f"invalid steering file {p}: a scale or entry is not finite")
    return SteeringVector(layers, vectors, scale, meta, positions)


def install_steering(model: Any, vector: SteeringVector, scale: float | None = None) -> list[Any]:
    """Add ``scale * vector`` after each of its blocks; returns the hook handles to remove.

    Raises:
        ConfigError: A layer is out of range or the width does not match the model.
    """
    import torch

    blocks = decoder_blocks(model)
    layers = _check_layers(vector.layers, len(blocks))
    factor = vector.scale if scale is None else scale
    handles = []
    for layer, row in zip(layers, vector.vectors, strict=True):
        param = next(blocks[layer].parameters())
        width = _hidden_width(model)
        if width is not None and width != vector.d_model:
            raise ConfigError(
                f"steering vector has width {vector.d_model}, the model's residual stream {width}"
            )
        delta = torch.tensor(row * factor, dtype=param.dtype, device=param.device)
        handles.append(blocks[layer].register_forward_hook(_adder(delta, vector.positions)))
    return handles


def _hidden_width(model: Any) -> int | None:
    config = getattr(model, "config", None)
    width = getattr(config, "hidden_size", None) or getattr(config, "n_embd", None)
    return int(width) if width else None


def _adder(delta: torch.Tensor, positions: Positions) -> Any:
    def hook(module: Any, args: Any, output: Any) -> Any:
        h = _hidden(output)
        d = delta.to(h.dtype)
        if positions == "all":
            return _replace_hidden(output, h + d)
        if positions == "first" and h.shape[1] < 2:
            return output  # a decoding step: the first answer token is already chosen
        h = h.clone()
        h[:, -1, :] += d
        return _replace_hidden(output, h)

    return hook


@contextmanager
def steering(model: Any, vector: SteeringVector, scale: float | None = None) -> Iterator[None]:
    """Apply ``vector`` inside a ``with`` block only."""
    handles = install_steering(model, vector, scale)
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def steering_options(query: Mapping[str, str]) -> dict[str, Any]:
    """``steer``/``scale`` of a target URI's query as keyword arguments of the hf adapter.

    Example: ``{"steer": "v.npz", "scale": "4"}`` → ``{"steer": <SteeringVector>,
    "steer_scale": 4.0}``; an empty dict when there is no ``steer``.
    """
    path = query.get("steer")
    raw_scale = query.get("scale")
    if path is not None and not path.strip():  # `?steer=$UNSET`: it ran unsteered, silently
        raise ConfigError("steer= names no file (empty); give steer=FILE.npz or leave it out")
    if not path:
        if raw_scale is not None:
            raise ConfigError("scale= needs steer=FILE in the target URI")
        return {}
    try:
        scale = None if raw_scale is None else float(raw_scale)
    except ValueError:
        raise ConfigError(f"scale must be a number, got '{raw_scale}'") from None
    if scale is not None and not np.isfinite(scale):
        raise ConfigError(f"scale must be finite, got '{raw_scale}'")
    return {"steer": load_steering(path), "steer_scale": scale}
