"""The ``python:`` adapter: the user's own LLM app as a chat target.

``python:my_app:respond`` (or ``python:path/to/app.py:respond``) names a callable that
takes ``messages: list[dict]`` (OpenAI-style ``{"role", "content"}`` dicts) and returns
the reply as ``str``. It may be sync or async; sync callables run in worker threads so
that many requests can be in flight. The current directory is importable, as it is for
``python -m``. If the callable declares any of the parameters ``max_tokens``,
``temperature``, ``top_p`` or ``seed`` by name, the request's values are passed to it.

The app's module may define:

- ``ALIGNKIT_DEFAULT_PACK``: path of the item pack to audit it with (relative paths are
  taken from the module's folder, else from the current directory);
- ``ALIGNKIT_DEFAULT_DECODING``: a dict of :class:`~alignkit.core.Decoding` fields.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import importlib
import importlib.util
import inspect
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from pathlib import Path
from types import ModuleType
from typing import Any

from alignkit.core import (
    ChatModelBase,
    Completion,
    ConfigError,
    Decoding,
    Message,
    Outcome,
    one_line,
)
from alignkit.models._uri import ParsedURI, TargetOptions, register_scheme

__all__ = ["PythonChatModel"]

_log = logging.getLogger(__name__)

MAX_THREADS = 64
"""Worker threads for a sync app (the default executor allows only ``cpu + 4``)."""

_PASSABLE = ("max_tokens", "temperature", "top_p", "seed")


def _ensure_importable(folder: str) -> None:
    if folder not in sys.path:
        sys.path.insert(0, folder)


def _load_module(spec: str, uri: str) -> ModuleType:
    """Import ``spec``, a dotted module name or a ``.py`` file path."""
    try:
        if spec.endswith(".py") or "/" in spec or os.sep in spec:
            return _load_file(Path(spec).expanduser().resolve(), uri)
        _ensure_importable(os.getcwd())
        return importlib.import_module(spec)
    except ConfigError:
        raise
    except SystemExit as exc:  # the module called sys.exit() while being imported
        raise ConfigError(
            f"cannot import '{spec}' for target '{uri}': it called sys.exit({exc.code!r})"
        ) from None
    except (KeyboardInterrupt, GeneratorExit):  # a real Ctrl-C while importing
        raise
    except BaseException as exc:  # `class Boom(BaseException)` too: a traceback before
        reason = f"{type(exc).__name__}: {one_line(str(exc))}"
        raise ConfigError(f"cannot import '{spec}' for target '{uri}': {reason}") from exc


def _load_file(path: Path, uri: str) -> ModuleType:
    if not path.is_file():
        raise ConfigError(f"target '{uri}': no such file {path}")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    name = f"_alignkit_app_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    _ensure_importable(str(path.parent))
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ConfigError(f"target '{uri}': {path} is not an importable Python file")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _resolve(module: ModuleType, attr: str, uri: str) -> Callable[..., Any]:
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            where = getattr(module, "__file__", None) if module.__name__.startswith(
                "_alignkit_app_") else None  # fmt: skip
            name = Path(where).name if where else module.__name__  # not the internal name
            raise ConfigError(f"target '{uri}': '{name}' has no attribute '{attr}'") from None
    if not callable(obj):
        raise ConfigError(
            f"target '{uri}': '{attr}' is a {type(obj).__name__}, not a callable"
            " taking messages and returning str"
        )
    return obj  # type: ignore[no-any-return]


def _passable_params(fn: Callable[..., Any], uri: str) -> tuple[str, ...]:
    """Names in :data:`_PASSABLE` that ``fn`` declares; checks ``fn(messages)`` binds."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature: call and see
        return ()
    named = {
        p.name
        for p in sig.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    extras = tuple(n for n in _PASSABLE if n in named)
    try:
        sig.bind([], **dict.fromkeys(extras))
    except TypeError as exc:
        raise ConfigError(
            f"target '{uri}': the callable cannot be called as fn(messages): {exc}"
        ) from None
    return extras


def _is_async(fn: Callable[..., Any]) -> bool:
    call = getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)


def _default_pack(module: ModuleType, uri: str) -> Path | None:
    value = getattr(module, "ALIGNKIT_DEFAULT_PACK", None)
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike):
        raise ConfigError(f"target '{uri}': ALIGNKIT_DEFAULT_PACK must be a path")
    path = Path(value).expanduser()
    if not path.is_absolute():
        file = getattr(module, "__file__", None)
        here = Path(file).parent if file else None
        beside = here / path if here is not None else None
        path = beside if beside is not None and beside.exists() else Path.cwd() / path
    if not path.exists():
        raise ConfigError(f"target '{uri}': ALIGNKIT_DEFAULT_PACK {path} does not exist")
    return path


def _default_decoding(module: ModuleType, uri: str) -> Decoding | None:
    value = getattr(module, "ALIGNKIT_DEFAULT_DECODING", None)
    if value is None or isinstance(value, Decoding):
        return value
    try:
        return Decoding(**dict(value))
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"target '{uri}': ALIGNKIT_DEFAULT_DECODING is not a dict of Decoding fields: {exc}"
        ) from None


class _DaemonPool(Executor):
    """Up to ``size`` daemon worker threads for the app's sync calls.

    Unlike :class:`~concurrent.futures.ThreadPoolExecutor`, whose threads the interpreter
    joins at exit, a call that never returns (a hung app abandoned at the run's budget)
    cannot keep the process alive after the audit has finished.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the app's worker pool is shut down")
            self._queue.put((future, functools.partial(fn, *args, **kwargs)))
            if len(self._threads) < self._size:
                worker = threading.Thread(target=self._work, name="alignkit-app", daemon=True)
                self._threads.append(worker)
                worker.start()
        return future

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            future, call = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(call())
            except BaseException as exc:  # the app's SystemExit too: reported, not raised here
                future.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
        for _ in threads:
            self._queue.put(None)
        if wait:
            for t in threads:
                t.join()


class PythonChatModel(ChatModelBase):
    """Wraps ``fn(messages) -> str`` (sync or async) as a :class:`~alignkit.core.ChatModel`.

    Args:
        fn: The app's entry point.
        uri: The URI it was opened from.
        default_pack: The item pack the app names, if any.
        default_decoding: The decoding the app names, if any.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        uri: str = "python:<callable>",
        default_pack: Path | None = None,
        default_decoding: Decoding | None = None,
    ) -> None:
        super().__init__(uri, default_pack=default_pack, default_decoding=default_decoding)
        self._fn = fn
        self._async = _is_async(fn)
        self._extras = _passable_params(fn, uri)
        self._executor: _DaemonPool | None = None
        self._warned = False

    async def aclose(self) -> None:
        """Stop the worker threads (calls still running finish on their own)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

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
        """Call the app; its exceptions and non-str answers become ``error`` completions."""
        values = {"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p}
        kwargs = {n: (seed if n == "seed" else values[n]) for n in self._extras}
        arg = [dict(m) for m in messages]  # the app may mutate its copy freely
        start = time.perf_counter()
        try:
            if self._async:
                result = await self._fn(arg, **kwargs)
            else:
                result = await self._in_thread(arg, kwargs)
                if inspect.isawaitable(result):
                    result = await result
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this request was cancelled (a budget ran out), not failed by the app
            return self._app_failed(exc, time.perf_counter() - start)
        except GeneratorExit:  # this coroutine is being closed
            raise
        except BaseException as exc:  # noqa: BLE001 - the app's failure, reported as such
            # an app's sys.exit(), raise KeyboardInterrupt or its own BaseException subclass
            # must not end the audit or the server's request (Ctrl-C reaches the event loop
            # as a cancellation, not as this exception)
            return self._app_failed(exc, time.perf_counter() - start)
        latency = time.perf_counter() - start
        if not isinstance(result, str):
            return Completion.failed(
                f"python target returned {type(result).__name__}, expected str", latency
            )
        return Completion(outcome=Outcome.OK, text=result, latency_s=latency)

    async def _in_thread(self, arg: list[dict[str, Any]], kwargs: dict[str, Any]) -> Any:
        if self._executor is None:
            self._executor = _DaemonPool(MAX_THREADS)
        call = functools.partial(contextvars.copy_context().run, self._fn, arg, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def _app_failed(self, exc: BaseException, latency: float) -> Completion:
        reason = f"python target raised {type(exc).__name__}: {one_line(str(exc))}"
        if not self._warned:
            self._warned = True
            _log.warning("%s: %s (further app errors are logged at debug level)", self._uri, reason)
        else:
            _log.debug("%s: %s", self._uri, reason)
        return Completion.failed(reason, latency)


def _open(parsed: ParsedURI, options: TargetOptions) -> PythonChatModel:
    uri = parsed.raw.strip()
    body = parsed.body
    if parsed.fragment or parsed.query:  # a '#' or '?' inside a file path is unusual but legal
        body = uri.split(":", 1)[1]
    module_spec, sep, attr = body.rpartition(":")
    if not sep or not module_spec or not attr:
        raise ConfigError(
            f"target '{uri}' must be python:module:function or python:path/to/app.py:function"
        )
    module = _load_module(module_spec, uri)
    fn = _resolve(module, attr, uri)
    return PythonChatModel(
        fn,
        uri=uri,
        default_pack=_default_pack(module, uri),
        default_decoding=_default_decoding(module, uri),
    )


register_scheme("python", _open, kind="chat", example="python:my_app:respond")
