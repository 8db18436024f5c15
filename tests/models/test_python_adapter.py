"""The python: adapter on real module files written to a temporary folder."""

from __future__ import annotations

import itertools
import logging
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from alignkit.core import ConfigError, Decoding, Message, Outcome
from alignkit.models import connect, generate_batch
from alignkit.models._python import PythonChatModel

_names = itertools.count()
HI: list[Message] = [{"role": "user", "content": "hello"}]


@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh current directory; sys.path and the apps' modules are cleaned up afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith(("user_app_", "_alignkit_app_"))]:
        del sys.modules[name]


def write_app(folder: Path, source: str) -> str:
    """Write a uniquely named module; return its name."""
    name = f"user_app_{next(_names)}"
    (folder / f"{name}.py").write_text(textwrap.dedent(source))
    return name


@pytest.mark.anyio
async def test_sync_function_from_cwd_module(app_dir: Path) -> None:
    mod = write_app(
        app_dir,
        """
        def respond(messages):
            return "you said " + messages[-1]["content"]
        """,
    )
    model = connect(f"python:{mod}:respond")
    c = await model.generate(HI)
    await model.aclose()
    assert c.outcome is Outcome.OK and c.text == "you said hello"
    assert c.latency_s >= 0
    assert model.uri == f"python:{mod}:respond"
    assert model.capabilities == frozenset()


@pytest.mark.anyio
async def test_async_function_and_file_path_form(app_dir: Path) -> None:
    mod = write_app(
        app_dir,
        """
        import asyncio

        async def respond(messages):
            await asyncio.sleep(0)
            return messages[0]["role"] + ":" + messages[0]["content"]
        """,
    )
    model = connect(f"python:{app_dir / (mod + '.py')}:respond")
    c = await model.generate(HI)
    assert c.ok and c.text == "user:hello"


@pytest.mark.anyio
async def test_sync_app_runs_in_parallel_threads(app_dir: Path) -> None:
    # All ten calls must be inside the app at once, or the barrier times out and raises
    # (more than the 6 threads asyncio's default executor allows on two cores).
    mod = write_app(
        app_dir,
        """
        import threading
        barrier = threading.Barrier(10, timeout=10)

        def respond(messages):
            barrier.wait()
            return "ok"
        """,
    )
    model = connect(f"python:{mod}:respond")
    results = await generate_batch(model, [HI] * 10, concurrency=10)
    await model.aclose()
    assert [c.text for c in results] == ["ok"] * 10


@pytest.mark.anyio
async def test_declared_decoding_parameters_are_passed(app_dir: Path) -> None:
    mod = write_app(
        app_dir,
        """
        def respond(messages, *, seed=None, temperature=None):
            return f"{seed} {temperature}"
        """,
    )
    model = connect(f"python:{mod}:respond")
    c = await model.generate(HI, seed=7, temperature=0.5, max_tokens=3)
    assert c.text == "7 0.5"


@pytest.mark.anyio
async def test_callable_object_with_async_call(app_dir: Path) -> None:
    mod = write_app(
        app_dir,
        """
        class App:
            async def __call__(self, messages):
                return "from object"

        app = App()
        """,
    )
    model = connect(f"python:{mod}:app")
    assert (await model.generate(HI)).text == "from object"


@pytest.mark.anyio
async def test_dotted_attribute(app_dir: Path) -> None:
    mod = write_app(
        app_dir,
        """
        class Bot:
            @staticmethod
            def reply(messages):
                return "static"
        """,
    )
    model = connect(f"python:{mod}:Bot.reply")
    assert (await model.generate(HI)).text == "static"


@pytest.mark.anyio
async def test_app_exception_is_error_completion(
    app_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mod = write_app(
        app_dir,
        """
        def respond(messages):
            if "boom" in messages[-1]["content"]:
                raise ValueError("boom\\nsecond line")
            return "fine"
        """,
    )
    model = connect(f"python:{mod}:respond")
    with caplog.at_level(logging.WARNING, logger="alignkit.models._python"):
        bad = [await model.generate([{"role": "user", "content": "boom"}]) for _ in range(3)]
        good = await model.generate(HI)
    await model.aclose()
    assert all(c.outcome is Outcome.ERROR and not c.ok and c.text == "" for c in bad)
    assert bad[0].error == "python target raised ValueError: boom second line"
    assert good.ok and good.text == "fine"
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


@pytest.mark.anyio
async def test_async_app_exception_and_non_str_return(app_dir: Path) -> None:
    mod = write_app(
        app_dir,
        """
        async def broken(messages):
            raise RuntimeError("nope")

        def numeric(messages):
            return 42
        """,
    )
    broken = await connect(f"python:{mod}:broken").generate(HI)
    numeric = await connect(f"python:{mod}:numeric").generate(HI)
    assert broken.outcome is Outcome.ERROR and "RuntimeError: nope" in broken.error
    assert numeric.outcome is Outcome.ERROR and "returned int, expected str" in numeric.error


@pytest.mark.anyio
async def test_an_apps_own_base_exception_is_its_failure(app_dir: Path) -> None:
    """`class Boom(BaseException)` crashed the server's request (a 500 with no audit entry)
    and the audit (a 95-line traceback); raised at import, a traceback too."""
    from alignkit.core import ConfigError

    mod = write_app(
        app_dir,
        """
        class Boom(BaseException):
            pass

        def respond(messages):
            raise Boom("out of band")

        async def respond_async(messages):
            raise Boom("async too")
        """,
    )
    for fn, said in (("respond", "Boom: out of band"), ("respond_async", "Boom: async too")):
        done = await connect(f"python:{mod}:{fn}").generate(HI)
        assert done.outcome is Outcome.ERROR and said in done.error
    bad = write_app(app_dir, "class Boom(BaseException):\n    pass\n\nraise Boom('at import')\n")
    with pytest.raises(ConfigError, match="cannot import .*Boom: at import"):
        connect(f"python:{bad}:respond")


@pytest.mark.anyio
async def test_app_exit_and_its_own_cancellation_are_errors_not_crashes(app_dir: Path) -> None:
    """sys.exit() in a sync app, or a CancelledError of its own, ended the whole audit."""
    mod = write_app(
        app_dir,
        """
        import asyncio, sys

        def quits(messages):
            sys.exit(5)

        async def cancels(messages):
            raise asyncio.CancelledError()
        """,
    )
    quits = await connect(f"python:{mod}:quits").generate(HI)
    cancels = await connect(f"python:{mod}:cancels").generate(HI)
    assert quits.outcome is Outcome.ERROR and "SystemExit" in quits.error
    assert cancels.outcome is Outcome.ERROR and "CancelledError" in cancels.error


def test_a_hung_app_cut_by_the_budget_does_not_keep_the_process_alive(app_dir: Path) -> None:
    """The worker threads are daemons: an abandoned call cannot block interpreter exit."""
    import subprocess

    mod = write_app(app_dir, "import time\ndef hang(messages):\n    time.sleep(3600)\n")
    script = textwrap.dedent(
        f"""
        import asyncio, time
        from alignkit.models import BoundedModel, connect

        async def main():
            model = BoundedModel(connect("python:{mod}:hang"), 2, time.monotonic() + 1.0)
            done = await model.generate([{{"role": "user", "content": "hi"}}])
            await model.aclose()
            print(done.error)

        asyncio.run(main())
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=app_dir, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "budget exhausted"


def test_sys_exit_at_import_is_config_error(app_dir: Path) -> None:
    mod = write_app(app_dir, "import sys\nsys.exit(5)\n")
    with pytest.raises(ConfigError, match=r"called sys.exit\(5\)"):
        connect(f"python:{mod}:respond")


@pytest.mark.anyio
async def test_app_cannot_mutate_callers_messages(app_dir: Path) -> None:
    mod = write_app(
        app_dir,
        """
        def respond(messages):
            messages[0]["content"] = "changed"
            messages.append({"role": "assistant", "content": "x"})
            return "ok"
        """,
    )
    msgs: list[Message] = [{"role": "user", "content": "original"}]
    await connect(f"python:{mod}:respond").generate(msgs)
    assert msgs == [{"role": "user", "content": "original"}]


def test_missing_module_is_config_error(app_dir: Path) -> None:
    with pytest.raises(ConfigError, match="cannot import 'no_such_module_xyz'"):
        connect("python:no_such_module_xyz:respond")


def test_missing_file_is_config_error(app_dir: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        connect("python:./missing_app.py:respond")


def test_import_time_exception_is_config_error(app_dir: Path) -> None:
    mod = write_app(app_dir, "raise RuntimeError('bad config at import')\n")
    with pytest.raises(ConfigError) as info:
        connect(f"python:{mod}:respond")
    assert "RuntimeError: bad config at import" in str(info.value)
    assert "\n" not in str(info.value)


def test_syntax_error_is_config_error(app_dir: Path) -> None:
    mod = write_app(app_dir, "def respond(messages)\n    return 'x'\n")
    with pytest.raises(ConfigError, match="SyntaxError"):
        connect(f"python:{mod}:respond")


def test_missing_attribute_and_not_callable(app_dir: Path) -> None:
    mod = write_app(app_dir, "NOT_A_FUNCTION = 3\n")
    with pytest.raises(ConfigError, match="has no attribute 'respond'"):
        connect(f"python:{mod}:respond")
    with pytest.raises(ConfigError, match="not a callable"):
        connect(f"python:{mod}:NOT_A_FUNCTION")


def test_callable_without_messages_parameter(app_dir: Path) -> None:
    mod = write_app(app_dir, "def respond():\n    return 'x'\n")
    with pytest.raises(ConfigError, match=r"cannot be called as fn\(messages\)"):
        connect(f"python:{mod}:respond")


def test_default_pack_and_decoding(app_dir: Path) -> None:
    pack = app_dir / "my_pack"
    pack.mkdir()
    mod = write_app(
        app_dir,
        """
        ALIGNKIT_DEFAULT_PACK = "my_pack"
        ALIGNKIT_DEFAULT_DECODING = {"temperature": 0.7, "samples": 3}

        def respond(messages):
            return "x"
        """,
    )
    model = connect(f"python:{mod}:respond")
    assert model.default_pack == pack
    assert model.default_decoding == Decoding(temperature=0.7, samples=3)
    plain = write_app(app_dir, "def respond(messages):\n    return 'x'\n")
    bare = connect(f"python:{plain}:respond")
    assert bare.default_pack is None and bare.default_decoding is None


def test_default_pack_is_found_beside_the_module(app_dir: Path) -> None:
    sub = app_dir / "apps"
    (sub / "pack").mkdir(parents=True)
    (sub / "pack_app.py").write_text(
        "ALIGNKIT_DEFAULT_PACK = 'pack'\ndef respond(messages):\n    return 'x'\n"
    )
    model = connect(f"python:{sub / 'pack_app.py'}:respond")
    assert model.default_pack == sub / "pack"


def test_default_pack_must_exist(app_dir: Path) -> None:
    mod = write_app(
        app_dir, "ALIGNKIT_DEFAULT_PACK = 'nowhere'\ndef respond(messages):\n    return 'x'\n"
    )
    with pytest.raises(ConfigError, match="ALIGNKIT_DEFAULT_PACK"):
        connect(f"python:{mod}:respond")


@pytest.mark.anyio
async def test_wrapping_a_callable_directly() -> None:
    model = PythonChatModel(lambda messages: str(len(messages)), uri="python:inline")
    assert (await model.generate(HI * 3)).text == "3"
    await model.aclose()


@pytest.mark.anyio
async def test_an_apps_keyboard_interrupt_is_an_error_not_the_end_of_the_audit(
    app_dir: Path,
) -> None:
    mod = write_app(
        app_dir,
        """
        def sync(messages):
            raise KeyboardInterrupt()

        async def not_sync(messages):
            raise KeyboardInterrupt()
        """,
    )
    for fn in ("sync", "not_sync"):
        done = await connect(f"python:{mod}:{fn}").generate(HI)
        assert done.outcome is Outcome.ERROR and "KeyboardInterrupt" in done.error


def test_file_targets_are_named_by_their_file_and_decoding_is_validated(app_dir: Path) -> None:
    (app_dir / "odd.py").write_text("X = 1\n")
    with pytest.raises(ConfigError, match="'odd.py' has no attribute 'missing'"):
        connect(f"python:{app_dir / 'odd.py'}:missing")
    for bad, field in (
        ('{"max_tokens": -5}', "max_tokens"),
        ('{"temperature": -1.0}', "temperature"),
        ('{"top_p": 5}', "top_p"),
        ('{"samples": 0}', "samples"),
        ('{"temperature": float("inf")}', "temperature"),
    ):
        mod = write_app(
            app_dir, f"ALIGNKIT_DEFAULT_DECODING = {bad}\ndef respond(m):\n    return 'x'\n"
        )
        with pytest.raises(ConfigError, match=f"ALIGNKIT_DEFAULT_DECODING.*{field} must be"):
            connect(f"python:{mod}:respond")


def test_an_audit_refuses_samples_it_would_ignore(app_dir: Path) -> None:
    import alignkit.audit

    mod = write_app(
        app_dir, "ALIGNKIT_DEFAULT_DECODING = {'samples': 3}\ndef respond(m):\n    return 'x'\n"
    )
    with pytest.raises(ConfigError, match="3 samples per prompt"):
        alignkit.audit.run(f"python:{mod}:respond", store=str(app_dir / "s.db"), max_items=2)


@pytest.mark.anyio
async def test_a_huge_answer_is_cut_and_marked(app_dir: Path) -> None:
    """10 MB answers took minutes and gigabytes per audit (stored twice, graded whole)."""
    from alignkit.core._chat import MAX_ANSWER_CHARS
    from alignkit.scoring import answer_matches

    mod = write_app(app_dir, "def respond(messages):\n    return 'Paris. ' + 'word ' * 2_000_000\n")
    done = await connect(f"python:{mod}:respond").generate(HI)
    assert done.ok and done.truncated and len(done.text) == MAX_ANSWER_CHARS
    assert answer_matches(done.text, "Paris")  # graded on its start
