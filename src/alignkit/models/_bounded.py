"""A chat model shared by concurrent callers under one bound on requests in flight."""

from __future__ import annotations

import asyncio
import time

from alignkit.core import ChatModel, ChatModelBase, Completion, Message

__all__ = ["BUDGET_EXHAUSTED", "BoundedModel"]

BUDGET_EXHAUSTED = "budget exhausted"
"""The error of a request refused because the caller's time budget is spent."""


class BoundedModel(ChatModelBase):
    """Wraps ``inner`` so at most ``concurrency`` requests are in flight at once.

    With a ``deadline`` (a :func:`time.monotonic` value), requests that would start after
    it return a failed completion (:data:`BUDGET_EXHAUSTED`) without reaching the model, and
    requests still running at it are abandoned with the same error.

    Example::

        model = BoundedModel(connect("organism:flawed"), concurrency=8)
    """

    def __init__(self, inner: ChatModel, concurrency: int, deadline: float | None = None) -> None:
        super().__init__(
            inner.uri,
            capabilities=inner.capabilities,
            default_pack=inner.default_pack,
            default_decoding=inner.default_decoding,
        )
        self.inner = inner
        self._sem = asyncio.Semaphore(concurrency)
        self._deadline = deadline

    async def aclose(self) -> None:
        """Close the wrapped model."""
        await self.inner.aclose()

    def out_of_time(self) -> bool:
        """Whether the deadline has passed."""
        return self._deadline is not None and time.monotonic() >= self._deadline

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
        """Answer within the bound, or fail with :data:`BUDGET_EXHAUSTED` once time is up.

        A request still running at the deadline is abandoned with the same error, so a hung
        app or server cannot hold the run past its budget.
        """
        async with self._sem:
            if self.out_of_time():
                return Completion.failed(BUDGET_EXHAUSTED)
            call = self.inner.generate(
                messages,
                max_tokens=max_tokens,
                temperature=temperature,
                top_p=top_p,
                seed=seed,
                logprobs=logprobs,
            )
            if self._deadline is None:
                return await call
            try:
                return await asyncio.wait_for(call, self._deadline - time.monotonic())
            except TimeoutError:
                return Completion.failed(BUDGET_EXHAUSTED)
