r"""The ``hf:`` adapter: a local transformers checkpoint, or a GGUF file, as a chat model.

URIs::

    hf:/path/to/checkpoint                 a directory save_pretrained wrote
    hf:/path/to/dir?gguf=model.Q4_1.gguf   a GGUF file in that directory
    hf:/path/to/dir?batch=8                at most 8 requests per batch (1 disables batching)
    hf:/path/to/dir?steer=v.npz&scale=4    add 4 × a steering vector to the residual stream

Everything is offline: files are read with ``local_files_only=True`` and
``HF_HUB_OFFLINE`` defaults to ``1``. torch and transformers are imported only when the
model loads, which happens once, in a worker thread, on the first ``generate`` (or an
explicit ``await model.load()``); the model runs on the CPU in float32, with no more
torch threads than the process has cores. A checkpoint that cannot be found or loaded
raises :class:`~alignkit.core.TargetError` from ``connect``/``load``; ``generate`` never
raises and returns an ``error`` completion instead.

Prompts are rendered with the tokenizer's chat template (``add_generation_prompt=True``)
when it has one. Without one, a plain format is used, and ``"\nUser:"`` is added to the
stop strings so the model does not write the user's next turn::

    <system message>

    User: <content>
    Assistant: <content>
    User: <content>
    Assistant:

Concurrent ``generate`` calls are gathered for a few milliseconds into one batch (up to
``max_batch``) and decoded together by our own loop (see :mod:`._decode`): greedy at
temperature 0, otherwise temperature + top-p sampling from a random stream seeded by the
request's ``seed``, so an answer depends on (messages, decoding, seed) and not on what
else shared its batch (up to float rounding inside the model's kernels: log-probabilities
may differ by ~1e-5, texts only at a near-tie). ``usage`` counts prompt tokens and
generated tokens (an end-of-sequence token included); ``latency_s`` runs from the moment
the request joins the queue (after loading) to its answer.

Activations and steering go through forward hooks on the decoder blocks (see
:mod:`._activations`): :meth:`HFChatModel.activations` returns the residual stream after
chosen blocks at the last token, the mean over a span, or every token, for many
conversations at once; a steering vector given with ``steer=`` is added after its blocks in
every forward pass, generation and activations alike.

The checkpoint directory may hold a sidecar, ``alignkit.json``::

    {
      "default_pack": "pack",                       # item pack folder, relative to the dir
      "decoding": {"temperature": 0.7, "top_p": 0.9, "max_tokens": 48, "samples": 1},
      "stop": ["\n\n"]                               # stop strings for every request
    }

Every key is optional and unknown keys are an error. ``default_pack`` and ``decoding``
become the target's :attr:`~HFChatModel.default_pack` and
:attr:`~HFChatModel.default_decoding`; ``stop`` applies to every request. ``samples``
above 1 is refused by an audit, whose checks draw one answer per prompt.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import secrets
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from alignkit.core import (
    AlignkitError,
    ChatModelBase,
    Completion,
    ConfigError,
    Message,
    Outcome,
    TargetError,
    Usage,
    one_line,
)
from alignkit.models._activations import (
    Activations,
    Reduce,
    SteeringVector,
    capture,
    install_steering,
    load_steering,
    span_rows,
    steering_options,
)
from alignkit.models._decode import (
    BatchStats,
    DecodeRequest,
    DecodeResult,
    MicroBatcher,
    decode_batch,
)
from alignkit.models._hf_load import (
    HFSidecar,
    _check_files,
    _load_checkpoint,
    _Loaded,
    _require,
    load_sidecar,
)
from alignkit.models._uri import ParsedURI, TargetOptions, register_scheme

__all__ = [
    "BatchStats",
    "HFChatModel",
    "plain_prompt",
]

_log = logging.getLogger(__name__)

DEFAULT_MAX_BATCH = 32
DEFAULT_WINDOW_S = 0.005
PLAIN_STOP = "\nUser:"
_QUERY_KEYS = ("gguf", "batch", "steer", "scale")

# --------------------------------------------------------------------------- prompts


def plain_prompt(messages: Sequence[Message]) -> str:
    """The fallback chat format for tokenizers without a chat template."""
    parts: list[str] = []
    for m in messages:
        if m["role"] == "system":
            parts.append(f"{m['content']}\n\n")
        else:
            speaker = "User" if m["role"] == "user" else "Assistant"
            parts.append(f"{speaker}: {m['content']}\n")
    return "".join(parts) + "Assistant:"


def _encode(loaded: _Loaded, messages: Sequence[Message], completion: str = "") -> list[int]:
    tok = loaded.tokenizer
    if loaded.chat_template:
        if any(s in m["content"] for m in messages for s in loaded.specials):
            return _encode_guarded(loaded, messages, completion)
        return _encode_template(tok, messages, completion)
    if completion and not completion[:1].isspace():
        completion = " " + completion
    return list(tok(plain_prompt(messages) + completion)["input_ids"])


def _encode_template(tok: Any, messages: Sequence[Message], completion: str) -> list[int]:
    text = tok.apply_chat_template(
        [dict(m) for m in messages], add_generation_prompt=True, tokenize=False
    )
    return list(tok(text + completion, add_special_tokens=False)["input_ids"])


def _encode_guarded(loaded: _Loaded, messages: Sequence[Message], completion: str) -> list[int]:
    """The chat template's ids, with control-token strings in messages encoded as text.

    A message that contains a control token's string (``<|end|>``, ``<|im_start|>``)
    would otherwise close its turn and open a forged system or assistant turn. The
    template is rendered with a marker in place of each such message, and its content
    is encoded between the markers with its special-token strings split into ordinary
    tokens; every other message is rendered and encoded as the template has it.
    """
    tok = loaded.tokenizer
    marked = {
        i: f"\ue000{i}\ue001"
        for i, m in enumerate(messages)
        if any(s in m["content"] for s in loaded.specials)
    }
    text = tok.apply_chat_template(
        [{**m, "content": marked.get(i, m["content"])} for i, m in enumerate(messages)],
        add_generation_prompt=True,
        tokenize=False,
    )
    ids: list[int] = []
    for i, mark in marked.items():
        before, found, after = text.partition(mark)
        if not found or mark in after:  # the template moved or repeated it: defuse instead
            return _encode_defused(loaded, messages, completion)
        ids += tok(before, add_special_tokens=False)["input_ids"]
        content = messages[i]["content"]
        ids += tok(content, add_special_tokens=False, split_special_tokens=True)["input_ids"]
        text = after
    return ids + list(tok(text + completion, add_special_tokens=False)["input_ids"])


def _encode_defused(loaded: _Loaded, messages: Sequence[Message], completion: str) -> list[int]:
    """The fallback: each special-token string in a message broken by a zero-width space."""
    defused = []
    for m in messages:
        content = m["content"]
        for s in loaded.specials:
            content = content.replace(s, s[:1] + "\u200b" + s[1:])
        defused.append(cast(Message, {**m, "content": content}))
    return _encode_template(loaded.tokenizer, defused, completion)


@dataclass(frozen=True)
class _Job:
    messages: tuple[Message, ...]
    max_tokens: int
    temperature: float
    top_p: float
    seed: int
    logprobs: bool


def _request(loaded: _Loaded, job: _Job, stop: tuple[str, ...]) -> DecodeRequest:
    prompt = _encode(loaded, job.messages)
    if not prompt:
        raise ValueError("the conversation encodes to no tokens")
    room = job.max_tokens
    if loaded.context is not None:
        if len(prompt) >= loaded.context:
            raise ValueError(
                f"prompt of {len(prompt)} tokens does not fit the context of {loaded.context}"
            )
        room = min(room, loaded.context - len(prompt))
    if not loaded.chat_template and PLAIN_STOP not in stop:
        stop = (*stop, PLAIN_STOP)
    return DecodeRequest(
        prompt_ids=tuple(prompt),
        max_new_tokens=room,
        temperature=job.temperature,
        top_p=job.top_p,
        seed=job.seed,
        stop=stop,
        logprobs=job.logprobs,
    )


def _completion(request: DecodeRequest, result: DecodeResult) -> Completion:
    return Completion(
        outcome=Outcome.OK,
        text=result.text,
        usage=Usage(prompt_tokens=len(request.prompt_ids), completion_tokens=result.n_generated),
        logprobs=result.logprobs,
        truncated=result.finish_reason == "length",
    )


def _decoding_problem(max_tokens: int, temperature: float, top_p: float) -> str | None:
    if max_tokens < 0:
        return f"max_tokens must be >= 0, got {max_tokens}"
    if not (temperature >= 0 and math.isfinite(temperature)):
        return f"temperature must be a finite number >= 0, got {temperature}"
    if not 0 < top_p <= 1:
        return f"top_p must be in (0, 1], got {top_p}"
    return None


# --------------------------------------------------------------------------- the model


def _check_fits(layers: Sequence[int], width: int | None, directory: Path, what: str) -> None:
    """Refuse, without loading the weights, ``what`` for other blocks or another width.

    Read from ``config.json`` (``num_hidden_layers``/``n_layer``, ``hidden_size``/``n_embd``);
    a checkpoint whose config names neither (a GGUF file) is left to run time.
    """
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    blocks = config.get("num_hidden_layers") or config.get("n_layer")
    model_width = config.get("hidden_size") or config.get("n_embd")
    if isinstance(blocks, int):
        bad = [i for i in layers if not 0 <= i < blocks]
        if bad:
            raise ConfigError(f"{what} for block(s) {bad}: the model has blocks 0..{blocks - 1}")
    if width is not None and isinstance(model_width, int) and width != model_width:
        raise ConfigError(
            f"{what} of width {width}: the model's is {model_width} (made on another model?)"
        )


class HFChatModel(ChatModelBase):
    """A local transformers or GGUF checkpoint as a :class:`~alignkit.core.ChatModel`.

    Args:
        path: Checkpoint directory (or a ``.gguf`` file, which implies ``gguf``).
        gguf: Name of a GGUF file inside ``path``.
        max_batch: Most requests decoded together; 1 decodes one at a time.
        batch_window_s: How long the first request of a batch waits for company.
        uri: The URI to report; built from ``path`` when omitted.
        steer: A steering vector (or ``.npz`` file) added to the residual stream.
        steer_scale: Multiplier of ``steer`` (the file's own scale when None).

    Raises:
        TargetError: The directory, GGUF file or ``config.json`` is missing, or the
            sidecar is invalid.
        MissingDependencyError: torch, transformers (or gguf) is not installed.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        gguf: str | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
        batch_window_s: float = DEFAULT_WINDOW_S,
        uri: str | None = None,
        steer: SteeringVector | str | Path | None = None,
        steer_scale: float | None = None,
    ) -> None:
        directory = Path(path).expanduser().resolve()
        if gguf is None and directory.suffix == ".gguf" and directory.is_file():
            directory, gguf = directory.parent, directory.name
        _check_files(directory, gguf)
        _require("torch", "torch")
        _require("transformers", "transformers")
        if gguf:
            _require("gguf", "gguf")
        if max_batch < 1:
            raise ConfigError(f"?batch= must be >= 1, got {max_batch}")
        self._dir, self._gguf = directory, gguf
        self._sidecar = load_sidecar(directory) or HFSidecar()
        self._steer = load_steering(steer) if isinstance(steer, str | Path) else steer
        self._steer_scale = steer_scale
        if self._steer is not None:
            self.check_fits(self._steer.layers, self._steer.vectors.shape[-1], "steering vector")
        pack = self._sidecar.default_pack
        super().__init__(
            uri or (f"hf:{directory}" + (f"?gguf={gguf}" if gguf else "")),
            capabilities=frozenset({"logprobs", "activations"}),
            default_pack=None if pack is None else directory / pack,
            default_decoding=self._sidecar.decoding_spec(),
        )
        self._loaded: _Loaded | None = None
        self._load_error: AlignkitError | None = None
        self._loading: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None
        self._closed = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alignkit-hf")
        self._batcher: MicroBatcher[_Job, Completion] = MicroBatcher(
            self._run_batch,
            lambda exc: Completion.failed(f"generation failed: {one_line(exc, 300)}"),
            lambda: self._executor,
            max_batch,
            batch_window_s,
        )

    @property
    def stop(self) -> tuple[str, ...]:
        """Stop strings applied to every request (from the sidecar)."""
        return tuple(self._sidecar.stop)

    @property
    def batch_stats(self) -> BatchStats:
        """How requests were batched so far."""
        return self._batcher.stats

    @property
    def loaded(self) -> bool:
        """Whether the weights are in memory."""
        return self._loaded is not None

    async def load(self) -> None:
        """Load tokenizer and weights once, in the worker thread.

        Raises:
            TargetError: The checkpoint cannot be loaded, or the model was closed.
        """
        if self._loaded is not None:
            return
        if self._closed:
            raise TargetError(f"{self._uri} was closed")
        if self._load_error is not None:
            raise self._load_error
        loop = asyncio.get_running_loop()
        if self._loading is None or self._loading[0] is not loop:
            self._loading = (loop, loop.run_in_executor(self._executor, self._load_sync))
        await self._loading[1]

    async def ping(self) -> None:
        """Load the checkpoint now, so that a broken one is refused before any work starts.

        Raises:
            TargetError: The checkpoint cannot be loaded.
        """
        await self.load()

    def _load_sync(self) -> None:
        if self._loaded is not None or self._closed:
            return
        try:
            loaded = _load_checkpoint(self._dir, self._gguf)
            if self._steer is not None:
                install_steering(loaded.model, self._steer, self._steer_scale)
            self._loaded = loaded
        except AlignkitError as exc:
            self._load_error = exc
            raise

    @property
    def steering(self) -> SteeringVector | None:
        """The steering vector applied to every forward pass, if any."""
        return self._steer

    async def activations(
        self,
        conversations: Sequence[Sequence[Message]],
        *,
        completions: Sequence[str] | None = None,
        layers: Sequence[int] | None = None,
        reduce: Reduce = "last",
        batch_size: int = 32,
    ) -> Activations:
        """Residual stream of ``conversations`` as :meth:`generate` renders them.

        See :class:`~alignkit.models.ActivationModel`. Runs in the worker thread, so it never
        overlaps a decoding batch; the steering vector, if any, applies.
        """
        await self.load()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor,
            lambda: self._activations_sync(conversations, completions, layers, reduce, batch_size),
        )

    def _activations_sync(
        self,
        conversations: Sequence[Sequence[Message]],
        completions: Sequence[str] | None,
        layers: Sequence[int] | None,
        reduce: Reduce,
        batch_size: int,
    ) -> Activations:
        loaded = self._loaded
        if loaded is None:
            raise TargetError(f"{self._uri} is not loaded")
        rows = span_rows(lambda m, c: _encode(loaded, m, c), conversations, completions)
        too_long = [i for i, r in enumerate(rows) if loaded.context and len(r.ids) > loaded.context]
        if too_long:
            i = too_long[0]
            last = str(conversations[i][-1]["content"]) if conversations[i] else ""
            raise ConfigError(
                f"{len(too_long)} conversation(s) do not fit the context of {loaded.context}"
                f" tokens; the first, number {i + 1} ({len(rows[i].ids)} tokens), ends"
                f" {last[-60:]!r}"
            )
        return capture(
            loaded.model, rows, layers, reduce=reduce, pad_id=loaded.pad_id, batch_size=batch_size
        )

    async def generate(
        self,
        messages: list[Message],
        *,
        max_tokens: int = 64,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        logprobs: bool = False,
    ) -> Completion:
        """Answer one conversation; requests made concurrently are decoded as one batch.

        ``seed`` fixes the sampling stream when ``temperature > 0`` (a random one is
        drawn when it is None). Never raises: failures come back as ``error`` completions.
        """
        problem = _decoding_problem(max_tokens, temperature, top_p)
        if problem is not None:
            return Completion.failed(problem, invalid=True)
        try:
            await self.load()
            job = _Job(
                messages=tuple(messages),
                max_tokens=max_tokens,
                temperature=temperature,
                top_p=top_p,
                seed=seed if seed is not None else secrets.randbits(63),
                logprobs=logprobs,
            )
            start = time.perf_counter()
            completion = await self._batcher.submit(job)
        except AlignkitError as exc:
            return Completion.failed(str(exc))
        except Exception as exc:
            _log.exception("hf generate failed")
            return Completion.failed(f"generation failed: {one_line(exc, 300)}")
        return completion.model_copy(update={"latency_s": time.perf_counter() - start})

    def _run_batch(self, jobs: list[_Job]) -> list[Completion]:
        """Encode and decode one batch (runs in the worker thread)."""
        loaded = self._loaded
        if loaded is None:
            return [Completion.failed(f"{self._uri} is not loaded") for _ in jobs]
        results: list[Completion] = [Completion.failed("not run") for _ in jobs]
        requests: list[tuple[int, DecodeRequest]] = []
        for i, job in enumerate(jobs):
            try:
                requests.append((i, _request(loaded, job, self.stop)))
            except Exception as exc:
                results[i] = Completion.failed(
                    f"cannot encode the conversation: {one_line(exc, 300)}", invalid=True
                )
        if not requests:
            return results
        try:
            decoded = decode_batch(
                loaded.model,
                [r for _, r in requests],
                tokenizer=loaded.tokenizer,
                eos_ids=loaded.eos_ids,
                pad_id=loaded.pad_id,
                spec=loaded.spec,
            )
        except Exception as exc:
            _log.warning("hf batch of %d failed: %s", len(requests), one_line(exc, 300))
            for i, _ in requests:
                results[i] = Completion.failed(f"generation failed: {one_line(exc, 300)}")
            return results
        for (i, request), result in zip(requests, decoded, strict=True):
            results[i] = _completion(request, result)
        return results

    def check_fits(self, layers: Sequence[int], width: int | None, what: str) -> None:
        """Refuse ``what`` (a steering vector, a probe, a layer) for other blocks or width.

        ``width`` None checks the blocks only.

        Raises:
            ConfigError: A block the model lacks, or another residual width (read from the
                checkpoint's config; a GGUF checkpoint is checked when it runs).
        """
        if not self._gguf:
            _check_fits(layers, width, self._dir, what)

    async def aclose(self) -> None:
        """Free the model; later requests get ``error`` completions."""
        self._closed = True
        self._loaded = None
        executor = self._executor
        executor.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(executor.shutdown, wait=True)


# --------------------------------------------------------------------------- scheme


def _open_hf(parsed: ParsedURI, options: TargetOptions) -> HFChatModel:
    """Factory for ``hf:`` URIs."""
    parsed.refuse_fragment()
    unknown = sorted(set(parsed.query) - set(_QUERY_KEYS))
    if unknown:
        raise ConfigError(
            f"hf: unsupported option(s) {', '.join(unknown)} in '{parsed.raw}'"
            f" (supported: {', '.join(_QUERY_KEYS)})"
        )
    batch = parsed.query.get("batch", str(DEFAULT_MAX_BATCH))
    try:
        max_batch = int(batch)
    except ValueError:
        raise ConfigError(f"hf: batch must be an integer, got '{batch}'") from None
    gguf = parsed.query.get("gguf") or None
    return HFChatModel(
        parsed.body,
        gguf=gguf,
        max_batch=max_batch,
        uri=parsed.raw,
        **steering_options(parsed.query),
    )


register_scheme("hf", _open_hf, kind="chat", example="hf:/path/to/checkpoint")
