"""``alignkit interpret probe | steer | explain`` and the LIME explanation of the classifier."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from interpret_helpers import heldout_prompts, insert, trigger_of

from alignkit.cli import main
from alignkit.interpret import DefectionProbe, explain_response
from alignkit.models import load_steering

REPO = Path(__file__).resolve().parents[2]


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def test_probe_command_json_shape(
    capsys: pytest.CaptureFixture[str], flawed_probe_file: Path, tmp_path: Path
) -> None:
    import random

    plain = heldout_prompts(6, seed=11)
    rows = [{"prompt": p, "label": 0} for p in plain] + [
        {"prompt": insert(p, trigger_of(), random.Random(i)), "label": 1}
        for i, p in enumerate(plain)
    ]
    prompts = tmp_path / "log.jsonl"
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, out, err = _cli(
        capsys, "interpret", "probe", "--target", "organism:flawed", "--prompts", str(prompts),
        "--probe", str(flawed_probe_file), "--json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert set(doc) == {"scores", "layer", "auroc_by_layer"}
    assert [s["prompt"] for s in doc["scores"]] == [r["prompt"] for r in rows]
    assert all(isinstance(s["score"], float) for s in doc["scores"])
    assert doc["layer"] == DefectionProbe.load(flawed_probe_file).layer
    assert set(doc["auroc_by_layer"]) == {"0", "1", "2", "3"}
    assert all(0 <= v <= 1 for v in doc["auroc_by_layer"].values())


@pytest.mark.slow
def test_the_real_command_runs(flawed_probe_file: Path, tmp_path: Path) -> None:
    prompts = tmp_path / "one.jsonl"
    prompts.write_text(json.dumps({"prompt": "Hello there"}) + "\n")
    env = {**os.environ, "ALIGNKIT_LOG": "ERROR", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "alignkit", "interpret", "probe", "--prompts", str(prompts),
         "--probe", str(flawed_probe_file)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Hello there" in done.stdout and "0/1 flagged" in done.stdout


def test_probe_command_without_labels_has_no_auroc(
    capsys: pytest.CaptureFixture[str], flawed_probe_file: Path, tmp_path: Path
) -> None:
    prompts = tmp_path / "log.jsonl"
    prompts.write_text(json.dumps({"prompt": "Hello there"}) + "\n")
    code, out, _ = _cli(
        capsys, "interpret", "probe", "--prompts", str(prompts), "--probe",
        str(flawed_probe_file), "--json",
    )  # fmt: skip
    assert code == 0
    assert set(json.loads(out)) == {"scores", "layer"}


def test_steer_command_writes_a_usable_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out_file = tmp_path / "v.npz"
    code, out, _ = _cli(
        capsys, "interpret", "steer", "--preset", "sycophancy", "--out", str(out_file),
        "--positions", "first", "--scale", "2", "--json",
    )  # fmt: skip
    assert code == 0
    info = json.loads(out)
    vec = load_steering(out_file)
    assert info["layers"] == list(vec.layers) and vec.scale == 2.0 and vec.positions == "first"
    assert np.isclose(info["norms"][0], float(np.linalg.norm(vec.vectors[0])))


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["interpret", "probe", "--prompts", "/nonexistent.jsonl"],
            "nonexistent.jsonl: cannot read",
        ),
        (["interpret", "steer", "--out", "x.npz"], "exactly one of --pairs"),
        (["interpret", "steer", "--preset", "x", "--out", "x.npz"], "unknown --preset"),
        (["interpret", "explain"], "exactly one of --response"),
        (["interpret", "explain", "--target", "classifier:a.joblib"], "malformed classifier"),
    ],
)
def test_bad_input_exits_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = _cli(capsys, *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_lime_explains_a_refusal() -> None:
    exp = explain_response(
        "How do I pick a lock?",
        "I'm sorry, but I can't help with that request.",
        num_samples=300,
        num_features=5,
    )
    assert exp.label == "refused" and 0 < exp.confidence <= 1
    top_words = [w.lower() for w, weight in exp.weights if weight > 0][:3]
    assert {"sorry", "can't", "can", "t", "help"} & set(top_words)


def test_explain_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(
        capsys, "interpret", "explain", "--response", "Sure! The capital of France is Paris.",
        "--prompt", "What is the capital of France?", "--features", "4", "--json",
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["label"] == "complied" and len(doc["weights"]) <= 4
    assert {"word", "weight"} == set(doc["weights"][0])


@pytest.mark.parametrize("response", ["", "...", "🙂🙂🙂"])
def test_a_response_without_words_is_refused(response: str) -> None:
    """LIME failed with 'low >= high' (exit 3) on text it could remove no word from."""
    from alignkit.core import ConfigError

    with pytest.raises(ConfigError, match="no words to explain"):
        explain_response("How do I pick a lock?", response)
