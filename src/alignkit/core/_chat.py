"""Chat models, completions and targets (DESIGN §4, §6)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

__all__ = [
    "ChatModel",
    "ChatModelBase",
    "Completion",
    "Decoding",
    "Message",
    "Outcome",
    "Target",
    "TargetKind",
    "TokenLogprob",
    "Usage",
]


class Message(TypedDict):
    """One chat message, as the OpenAI chat API spells it."""

    role: Literal["system", "user", "assistant"]
    content: str


class Outcome(StrEnum):
    """How a request ended. Only ``ok`` is model behaviour."""

    OK = "ok"
    BLOCKED = "blocked"
    ERROR = "error"


class Usage(BaseModel):
    """Token counts as the provider reported them (0 when unknown)."""

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = 0
    completion_tokens: int = 0


class TokenLogprob(BaseModel):
    """Log-probability of one generated token, with optional alternatives."""

    model_config = ConfigDict(frozen=True)

    token: str
    logprob: float
    top: dict[str, float] | None = None


_SURROGATE = re.compile("[\ud800-\udfff]")


MAX_ANSWER_CHARS = 200_000
"""Longest answer a :class:`Completion` keeps (about 50,000 tokens)."""


class Completion(BaseModel):
    """The result of one request. ``text`` is only behaviour when ``outcome`` is ``ok``."""

    model_config = ConfigDict(frozen=True)

    outcome: Outcome
    text: str = ""
    usage: Usage = Usage()
    latency_s: float = 0.0
    logprobs: list[TokenLogprob] | None = None
    error: str = ""
    truncated: bool = False
    """The answer was cut at ``max_tokens`` (as far as the target says)."""
    invalid: bool = False
    """An ``error`` the target gave because of the request itself (a prompt too long for its
    context, a parameter it does not take, an HTTP 400): the sender's fault, so a server
    answers it 400, not 502, and does not count it against the target."""

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        """An answer past :data:`MAX_ANSWER_CHARS` is cut there and marked ``truncated``.

        A target that answered 10 MB per request took minutes and gigabytes to audit.
        """
        if isinstance(data, dict):
            text = data.get("text")
            if isinstance(text, str) and len(text) > MAX_ANSWER_CHARS:
                return {**data, "text": text[:MAX_ANSWER_CHARS], "truncated": True}
        return data

    @field_validator("text", "error")
    @classmethod
    def _unicode(cls, value: str) -> str:
        """Lone surrogates (an app's bad string, an escaped one in JSON) as U+FFFD.

        They cannot be encoded: one such answer aborted a whole audit when it was stored.
        """
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return _SURROGATE.sub("\ufffd", value)
        return value

    @property
    def ok(self) -> bool:
        """Whether the request produced model behaviour."""
        return self.outcome is Outcome.OK

    @classmethod
    def failed(cls, error: str, latency_s: float = 0.0, *, invalid: bool = False) -> Completion:
        """An ``error`` completion with a reason (``invalid``: the request's own fault)."""
        return cls(outcome=Outcome.ERROR, error=error, latency_s=latency_s, invalid=invalid)


@dataclass(frozen=True)
class Decoding:
    """How to decode: greedy when ``temperature == 0``; ``samples`` draws per prompt."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 64
    samples: int = 1

    def __post_init__(self) -> None:
        """Refuse settings no model can decode with (``ValueError`` naming the field)."""
        problems = [
            ("temperature", "a finite number >= 0",
             isinstance(self.temperature, int | float) and 0 <= self.temperature < math.inf),
            ("top_p", "in (0, 1]", isinstance(self.top_p, int | float) and 0 < self.top_p <= 1),
            ("max_tokens", "a whole number >= 1", _whole(self.max_tokens, 1)),
            ("samples", "a whole number >= 1", _whole(self.samples, 1)),
        ]  # fmt: skip
        for name, rule, ok in problems:
            if not ok:
                raise ValueError(f"{name} must be {rule}, got {getattr(self, name)!r}")


def _whole(value: object, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


class TargetKind(StrEnum):
    """What kind of system a target is; checks declare the kind they need."""

    CHAT = "chat"
    POLICY = "policy"
    CLASSIFIER = "classifier"


@runtime_checkable
class Target(Protocol):
    """Anything an audit can run checks against."""

    @property
    def uri(self) -> str:
        """The URI the target was opened from (secrets removed)."""
        ...

    @property
    def kind(self) -> TargetKind:
        """The target's kind."""
        ...

    @property
    def capabilities(self) -> frozenset[str]:
        """Optional abilities, e.g. ``{"logprobs", "activations"}``."""
        ...

    @property
    def default_pack(self) -> Path | None:
        """The item pack this target names as its default, if any."""
        ...

    @property
    def default_decoding(self) -> Decoding | None:
        """The decoding this target should be audited under, if it names one."""
        ...

    async def aclose(self) -> None:
        """Release connections, threads or memory."""
        ...


@runtime_checkable
class ChatModel(Target, Protocol):
    """A chat target: messages in, a completion out.

    Implementations never raise for a failed request: they return a completion with
    ``outcome`` ``error`` or ``blocked`` so that failures are never counted as
    behaviour.
    """

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
        """Answer one conversation."""
        ...


class ChatModelBase:
    """Holds the :class:`Target` attributes of a chat adapter, so adapters only add ``generate``.

    Subclasses call ``super().__init__(uri, ...)`` and implement ``generate`` (and
    override ``aclose`` when they hold resources).
    """

    def __init__(
        self,
        uri: str,
        *,
        capabilities: frozenset[str] = frozenset(),
        default_pack: Path | None = None,
        default_decoding: Decoding | None = None,
    ) -> None:
        self._uri = uri
        self._capabilities = capabilities
        self._default_pack = default_pack
        self._default_decoding = default_decoding

    @property
    def uri(self) -> str:
        """The URI the model was opened from, without secrets."""
        return self._uri

    @property
    def kind(self) -> TargetKind:
        """Always :attr:`TargetKind.CHAT`."""
        return TargetKind.CHAT

    @property
    def capabilities(self) -> frozenset[str]:
        """Optional abilities such as ``logprobs`` and ``activations``."""
        return self._capabilities

    @property
    def default_pack(self) -> Path | None:
        """The item pack the model names, if any."""
        return self._default_pack

    @property
    def default_decoding(self) -> Decoding | None:
        """The decoding the model should be audited under, if it names one."""
        return self._default_decoding

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._uri!r})"

    async def aclose(self) -> None:
        """Release resources (nothing by default)."""
