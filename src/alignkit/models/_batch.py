"""Placeholder: generate_batch is written by the adapter work."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alignkit.core import ChatModel, Completion, Message


async def generate_batch(
    model: ChatModel, requests: Sequence[list[Message]], concurrency: int = 8, **params: Any
) -> list[Completion]:
    """Placeholder."""
    raise NotImplementedError
