"""uvicorn adapted: each response's writes sent as one, and a patient second Ctrl-C.

uvicorn writes a response's status line and headers as soon as the app starts the
response, then the body in a second write: two ``send`` calls, two TCP segments and two
wake-ups of the client for every answer. Here the connection's transport holds the writes
made during one step of the event loop and sends them together when the response is
complete, or at the end of the step (so a streamed answer still goes out event by
event as it is produced). The server class (:func:`server_class`) answers the requests
in flight when a second Ctrl-C comes during the shutdown grace, instead of dropping them.
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any, cast

__all__ = ["CorkedTransport", "bind_route_types", "http_protocol", "server_class"]


class CorkedTransport(asyncio.Transport):
    """An asyncio transport whose writes within one event-loop step leave as one write."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue ``data``; it is sent at :meth:`flush` or at the end of this loop step."""
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, list_of_data: Any) -> None:
        """Queue each piece (see :meth:`write`)."""
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        """Send what is queued, in one write."""
        if self._pending:
            data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
            self._pending = []
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        """Send what is queued, then close."""
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        """Send what is queued, then half-close."""
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        """Drop what is queued and close at once."""
        self._pending = []
        self._transport.abort()

    def can_write_eof(self) -> bool:
        """Whether the transport can half-close."""
        return self._transport.can_write_eof()

    def is_closing(self) -> bool:
        """Whether the transport is closing or closed."""
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The wrapped transport's extra info (peername, sockname, ssl_object, ...)."""
        return self._transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        """Hand the connection to another protocol (after sending what is queued)."""
        self.flush()
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        """The protocol the wrapped transport delivers to."""
        return self._transport.get_protocol()

    def is_reading(self) -> bool:
        """Whether the transport is receiving."""
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        """Stop receiving until :meth:`resume_reading`."""
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        """Receive again."""
        self._transport.resume_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Flow-control limits of the wrapped transport."""
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        """Bytes queued here and in the wrapped transport."""
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def get_write_buffer_limits(self) -> tuple[int, int]:
        """Flow-control limits of the wrapped transport."""
        return self._transport.get_write_buffer_limits()


def http_protocol() -> type[asyncio.Protocol] | str:
    """Uvicorn's httptools protocol with corked writes, or ``"auto"`` without httptools."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "auto"

    class CorkedHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            # uvloop's transports quack like asyncio.Transport without subclassing it
            super().connection_made(CorkedTransport(cast(asyncio.Transport, transport), self.loop))

        def on_response_complete(self) -> None:
            if isinstance(self.transport, CorkedTransport):
                self.transport.flush()
            super().on_response_complete()

    return CorkedHttpToolsProtocol


def server_class(uvicorn: Any) -> Any:
    """Uvicorn's server, but a second Ctrl-C ends the grace without dropping anything.

    uvicorn quits at once on the second one: requests in flight got a traceback and a
    plain-text 500 with no audit entry, and the log's last entries were not committed.
    Here it answers them now (503, logged) and shuts down as usual; a third one quits.
    """

    class _Server(uvicorn.Server):  # type: ignore[misc]
        hurry = False

        def handle_exit(self, sig: int, frame: Any) -> None:
            if self.should_exit and sig == signal.SIGINT and not self.hurry:
                self.hurry = True
                return
            super().handle_exit(sig, frame)

    return _Server


def bind_route_types(namespace: dict[str, Any]) -> None:
    """Bind ``Request`` and ``Response`` in a routes module's ``namespace`` (its globals).

    Route annotations are strings (postponed evaluation) naming types imported lazily;
    FastAPI resolves them in the module's globals. Unbound, ``request: Request`` was taken
    for a query parameter: every call of the route was a 422.
    """
    import fastapi

    namespace.setdefault("Request", fastapi.Request)
    namespace.setdefault("Response", fastapi.Response)
