"""The guard feeds the traffic monitor: alarms reach the log, the breakers, /metrics and the CLI."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from guard_helpers import ListLog

from alignkit.cli import main
from alignkit.core import ChatModel, Message
from alignkit.guard import BreakerState, Guard, GuardServer, traffic_history
from alignkit.guard._traffic_worker import WORKER_NICENESS

TRAFFIC: dict[str, Any] = {
    "reference": 120, "window": 60, "every": 20, "rate_reference": 60,
    "breaker_severity": "low", "store_interval_s": 0.2,
}  # fmt: skip
ALARM = 'alignkit_traffic_alarm{metric="traffic.input_script_psi",severity="high"} 1'
TOPICS = ["invoice", "weather", "recipe", "travel", "garden", "music"]


def english(i: int) -> str:
    return f"please help me with the {TOPICS[i % 6]} question number {i:05d} for my team"


def russian(i: int) -> str:
    return f"пожалуйста помогите с вопросом номер {i:05d} про погоду и путешествия"


def user(text: str) -> list[Message]:
    return [{"role": "user", "content": text}]


@pytest.mark.anyio
async def test_a_shift_alarms_logs_and_opens_the_breaker(app: ChatModel) -> None:
    log = ListLog()
    guard = Guard({"traffic": TRAFFIC}, model=app, log=log)
    assert guard.traffic is not None
    for i in range(200):
        await guard.run(user(english(i)))
    assert not guard.traffic.monitor.alarms
    assert guard.breakers.state("global") is BreakerState.CLOSED
    for i in range(120):
        await guard.run(user(russian(i)))
    alarmed = {f.metric for f in guard.traffic.monitor.alarms}
    assert "traffic.input_script_psi" in alarmed
    alarms = [e for e in log.entries if e["kind"] == "alarm"]
    assert "traffic.input_script_psi" in {a["metric"] for a in alarms}
    assert guard.breakers.state("global") is BreakerState.OPEN
    refused = await guard.run(user("still there?"))
    assert refused.rail == "circuit-breaker" and "traffic alarm" in refused.reason


def test_server_metrics_history_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    appfile = tmp_path / "app.py"
    appfile.write_text("def respond(messages):\n    return 'fine: ' + messages[-1]['content']\n",
                       encoding="utf-8")  # fmt: skip
    url = f"sqlite:///{tmp_path / 'traffic.db'}"
    config = {"traffic": {**TRAFFIC, "breaker_severity": None}}
    with GuardServer(f"python:{appfile}:respond", config, store_url=url) as srv:
        root = srv.url.removesuffix("/v1")

        def chat(text: str) -> None:
            body = json.dumps({"model": "m", "messages": user(text)}).encode()
            req = urllib.request.Request(srv.url + "/chat/completions", data=body, method="POST")
            req.add_header("Content-Type", "application/json")
            urllib.request.urlopen(req, timeout=10).read()

        for i in range(160):
            chat(english(i))
        for i in range(100):
            chat(russian(i))
        deadline = time.monotonic() + 15
        metrics = ""
        while time.monotonic() < deadline:
            metrics = urllib.request.urlopen(root + "/metrics", timeout=10).read().decode()
            if "alignkit_traffic_requests_total 260" in metrics and ALARM in metrics:
                break  # both drained and reported (a report may lag its count briefly)
            time.sleep(0.2)
    assert "alignkit_traffic_requests_total 260" in metrics
    assert 'alignkit_traffic_value{metric="traffic.input_script_psi"}' in metrics
    assert ALARM in metrics
    history = traffic_history(url)
    script = next(m for m in history["metrics"] if m["metric"] == "traffic.input_script_psi")
    assert history["reports"] >= 1 and script["first_alarm"] is not None
    assert script["latest"]["severity"] != "info"

    with pytest.raises(SystemExit) as done:
        main(["monitor", "traffic", "--store", url, "--json", "--metric", "traffic.input_*"])
    assert done.value.code == 0
    doc = json.loads(capsys.readouterr().out)
    assert {m["metric"] for m in doc["metrics"]} <= {
        "traffic.input_length_psi", "traffic.input_script_psi", "traffic.input_ngrams_psi",
    }  # fmt: skip
    with pytest.raises(SystemExit) as done:
        main(["monitor", "traffic", "--store", url, "--fail-on", "low"])
    assert done.value.code == 1
    assert "traffic.input_script_psi" in capsys.readouterr().out
    with pytest.raises(SystemExit) as done:
        main(["monitor", "traffic", "--store", url, "--since", "soon"])
    assert done.value.code == 2
    assert "--since must look like 30m" in capsys.readouterr().err
    with pytest.raises(SystemExit) as done:  # a misspelt glob passed a --fail-on gate
        main(
            [
                "monitor",
                "traffic",
                "--store",
                url,
                "--metric",
                "traffic.inptu_*",
                "--fail-on",
                "info",
            ]
        )
    assert done.value.code == 2
    assert "no stored traffic metric matches 'traffic.inptu_*'" in capsys.readouterr().err


def test_refusal_labels_are_the_shared_classifiers() -> None:
    """The feed's shortcut (no refusal or deflection phrase: not refused) never disagrees
    with the shared classifier's rule tier, on every labelled response alignkit keeps."""
    from alignkit.guard._traffic_worker import Labeller
    from alignkit.scoring import ResponseClassifier

    root = Path(__file__).resolve().parents[2] / "datasets"
    pairs = []
    for path in sorted(root.glob("*/*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if isinstance(row, dict) and isinstance(row.get("response"), str):
                pairs.append((str(row.get("prompt", "")), row["response"]))
    assert len(pairs) >= 3000
    labeller, clf = Labeller(), ResponseClassifier(use_model=False)
    labels = [str(clf.classify(p, r).label) == "refused" for p, r in pairs]
    assert 0.1 < sum(labels) / len(labels) < 0.9  # both kinds are well represented
    assert [labeller.refused(p, r) for p, r in pairs] == labels


def test_the_monitor_process_alarms_and_its_death_is_survived() -> None:
    """``alignkit serve``'s worker process finds what the in-thread monitor finds; if it
    dies, the feed goes on monitoring in its own process (with a new reference)."""
    import multiprocessing

    from alignkit.guard import TrafficFeed, TrafficGuardConfig
    from alignkit.monitor import TrafficRecord

    SCRIPT = {"traffic.input_script_psi"}  # noqa: N806
    config = TrafficGuardConfig.model_validate({**TRAFFIC, "breaker_severity": None})
    log = ListLog()
    feed = TrafficFeed(config, log=log, auto_drain=False)
    feed.use_process()
    try:
        for i in range(200):
            feed._push(TrafficRecord(input=english(i), output="fine: " + english(i)), english(i))
        assert not {f.metric for f in feed.drain()} & SCRIPT and feed.requests == 200
        before = set(multiprocessing.active_children())
        assert before, "the monitor runs in a child process"
        # ... at a lower CPU priority than the server, which it must not slow down
        if hasattr(os, "getpriority"):  # POSIX
            mine = os.getpriority(os.PRIO_PROCESS, 0)
            theirs = {os.getpriority(os.PRIO_PROCESS, c.pid or 0) for c in before}
            assert theirs == {min(19, mine + WORKER_NICENESS)}
            assert mine == 19 or min(theirs) > mine
        for i in range(120):
            feed._push(TrafficRecord(input=russian(i), output="fine: " + russian(i)), russian(i))
        assert SCRIPT <= {f.metric for f in feed.drain()}
        assert "traffic.input_script_psi" in {e["metric"] for e in log.entries}
        assert feed.requests == 320 and feed.latest

        for child in before:
            child.kill()
            child.join(5)
        for i in range(40):
            feed._push(TrafficRecord(input=english(i), output="fine: " + english(i)), english(i))
        feed.drain()  # no traceback: the feed carries on in this process
        assert feed.requests == 40 and feed._worker is None
    finally:
        feed.close()


def test_an_alarm_that_rises_to_the_breakers_severity_opens_it() -> None:
    """A drift alarm that started at medium and grew to high never reached the breaker."""
    from alignkit.guard import TrafficFeed, TrafficGuardConfig
    from alignkit.monitor import TrafficRecord

    raw = {**TRAFFIC, "breaker_severity": "high"}
    breakers = Guard({"traffic": raw}).breakers
    log = ListLog()
    feed = TrafficFeed(TrafficGuardConfig.model_validate(raw), log=log, auto_drain=False,
                       breakers=breakers)  # fmt: skip

    def varied(i: int) -> str:  # lengths spread out: no tied top decile
        return english(i) + " thanks" * (i * 7 % 5)

    for i in range(200):
        feed._push(TrafficRecord(input=varied(i), output="fine: " + varied(i)), varied(i))
    feed.drain()
    for step in range(16):  # a growing share (5 % more each time) of much longer requests
        for i in range(20):
            text = varied(i) + " please answer urgently today" * 2 if i <= step else varied(i)
            feed._push(TrafficRecord(input=text, output="fine: " + text), text)
        feed.drain()
    length = [e["severity"] for e in log.entries if e["metric"] == "traffic.input_length_psi"]
    assert length[0] != "high" and length[-1] == "high"  # said again when it became high
    assert breakers.state("global") is BreakerState.OPEN
    feed.close()


@pytest.mark.anyio
async def test_a_breakers_own_refusals_are_no_traffic(app: ChatModel) -> None:
    """With the breaker open, its 503s were counted as blocks: a "misuse" block-rate alarm
    followed, re-opened the breaker and restarted its cooldown."""
    log = ListLog()
    guard = Guard({"traffic": TRAFFIC}, model=app, log=log)
    assert guard.traffic is not None
    for i in range(200):
        await guard.run(user(english(i)))
    guard.breakers.signal("global", "operator maintenance")
    for i in range(200):
        refused = await guard.run(user(english(i)))
        assert refused.rail == "circuit-breaker"
    guard.traffic.drain()
    assert [e for e in log.entries if e["kind"] == "alarm"] == []
    assert guard.traffic.requests == 200


@pytest.mark.anyio
@pytest.mark.parametrize("embedder", ["failing_embedder", "nan_embedder"])
async def test_a_failing_embedder_never_costs_a_caller_its_answer(
    app: ChatModel, embedder: str, caplog: pytest.LogCaptureFixture
) -> None:
    """In-process, the batch the monitor processed in line raised out of Guard.run after
    the model had answered (RuntimeError, or "SVD did not converge" for NaN vectors)."""
    settings = {**TRAFFIC, "features": ["length", "embedding"], "reference": 50, "every": 10,
                "embedder": f"guard_helpers:{embedder}"}  # fmt: skip
    guard = Guard({"traffic": settings}, model=app)
    for i in range(70):
        result = await guard.run(user(english(i)))
        assert result.text, i
    assert "traffic monitor failed on a batch" in caplog.text


def test_records_a_full_buffer_drops_are_counted_in_metrics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A monitor that falls behind (its worker yields the CPU to the server) drops the oldest
    records once the buffer is full; /metrics says how many went unmonitored."""
    from alignkit.guard import TrafficFeed, TrafficGuardConfig, _traffic_feed
    from alignkit.monitor import TrafficRecord

    monkeypatch.setattr(_traffic_feed, "_MAX_BUFFER", 5)
    feed = TrafficFeed(TrafficGuardConfig.model_validate(TRAFFIC), auto_drain=False)
    for i in range(8):
        feed._push(TrafficRecord(input=english(i)), english(i))
    assert "alignkit_traffic_dropped_total 3" in feed.render()
    feed.drain()
    assert feed.requests == 5


def test_a_feature_listed_twice_is_refused() -> None:
    """Listed twice, a feature was fitted and updated twice: its drift counted double, and
    stationary traffic alarmed."""
    from alignkit.core import ConfigError
    from alignkit.monitor import TrafficMonitor

    with pytest.raises(ConfigError, match="listed more than once: length"):
        TrafficMonitor({"features": ["length", "script", "length"]})


@pytest.mark.parametrize(("shift", "duty"), [("topic", 1.0), ("script", 1.0), ("length", 0.5)])
def test_the_paced_worker_finds_what_one_batch_finds(shift: str, duty: float) -> None:
    """The worker process works through a batch in small paced slices; the monitor must
    not notice: the same metrics alarm, with the same severity and value (the breaker
    reads them), at the same request for drift, and the counts agree."""
    from alignkit.guard._traffic_worker import Labeller, paced_batch, run_batch
    from alignkit.monitor import TrafficConfig, TrafficMonitor, synthetic_traffic

    stream = synthetic_traffic(6000, seed=3, shift=shift, psi=1.0, shift_at=3500)
    batches = [stream.records[i : i + 700] for i in range(0, 6000, 700)]
    whole, sliced = TrafficMonitor(TrafficConfig()), TrafficMonitor(TrafficConfig())
    labeller = Labeller()
    alarms: list[set[str]] = []

    def key(f: Any) -> tuple[str, str, float]:
        return f.metric, f.severity.value, round(f.value, 9)

    for records in batches:
        batch = [(r, r.input) for r in records]
        a = run_batch(whole, labeller, batch)
        b = paced_batch(sliced, labeller, batch, size=97, duty=duty, budget_s=0.02)
        assert [key(f) for f in a.fresh] == [key(f) for f in b.fresh]
        assert a.requests == b.requests
        assert (a.findings is None) == (b.findings is None)
        assert [key(f) for f in a.findings or []] == [key(f) for f in b.findings or []]
        alarms.append({f.metric for f in a.fresh})
    assert any(alarms[5:]), "the shift is found (else the comparison shows nothing)"
    assert any(f.severity.value != "low" for f in whole.alarms)  # the values matter
    assert sorted(set(whole.pop_alarms())) == sorted(set(sliced.pop_alarms()))
    drift = {k: v for k, v in whole.alarm_requests.items() if "_rate_" not in k}
    assert drift and drift == {k: v for k, v in sliced.alarm_requests.items() if k in drift}
