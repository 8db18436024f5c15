"""Bad input to the lab's commands and API: one clear error before any work, never a wrong run."""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from tests.cli.cli_helpers import main_in_process

import alignkit.lab as lab
from alignkit.core import ConfigError
from alignkit.lab import QConfig, fit_form, make_env, merge_results, run_experiments, run_gaming


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return main_in_process(capsys, *args)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--agent", "ppo", "--seed", str(2**32)), "--seed"),  # PPO's seeding: internal error
        (("--steps", str(10**20)), "--steps"),  # ran silently while its log filled memory
    ],
)
def test_lab_train_refuses_out_of_range_numbers(
    args: tuple[str, ...], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / ("p.zip" if "ppo" in args else "p.npz")
    code, _, stderr = _main(capsys, "lab", "train", "BoatRace", *args, "--out", str(out))
    assert code == 2 and fragment in stderr and "internal error" not in stderr, stderr
    assert not out.exists()


def test_lab_train_reports_the_steps_it_ran(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """LavaShift's episodes end early: the summary said 25,000 steps for 9,480."""
    code, stdout, stderr = _main(capsys, "lab", "train", "LavaShift", "--steps", "3000",
                                 "--out", str(tmp_path / "l.npz"), "--json")  # fmt: skip
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["step_budget"] == 3000
    assert summary["steps"] == summary["log"][-1]["steps"] < 3000


def test_lab_run_refuses_a_report_folder_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder named junit.xml was found after the experiments ran; their results were lost."""
    (tmp_path / "junit.xml").mkdir()
    code, _, stderr = _main(capsys, "lab", "run", "--only", "gaming", "--envs", "BoatRace",
                            "--out", str(tmp_path))  # fmt: skip
    assert code == 2 and "junit.xml" in stderr and "folder" in stderr
    assert not (tmp_path / "report.json").exists()
    code, _, stderr = _main(capsys, "lab", "run", "--only", "goodhart", "--seeds", "7")
    assert code == 2 and "--seeds" in stderr  # was ignored silently


def test_lab_api_refuses_what_would_run_nothing_or_something_else() -> None:
    with pytest.raises(ConfigError, match="unknown experiment group"):
        run_experiments("Goodhart", quick=True)  # returned an empty, passing result
    with pytest.raises(ConfigError, match="goodhart.regresional"):
        run_experiments("goodhart", only=["goodhart.regresional"], quick=True)
    for seeds in (0, -5, 1.5, True):
        with pytest.raises(ConfigError, match="seeds"):
            run_gaming(["BoatRace"], seeds=seeds, quick=True)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="2\\*\\*32"):  # the last seeds failed one by one
        run_gaming(["BoatRace"], seed=2**32 - 1, seeds=2, quick=True)
    with pytest.raises(ConfigError, match="list of names"):
        run_gaming("BoatRace", quick=True)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        merge_results([])


def test_lab_api_translates_bad_numbers() -> None:
    for horizon in (math.nan, math.inf, 2.7, 0):
        with pytest.raises(ConfigError, match="horizon"):
            make_env("BoatRace", horizon=horizon)
    assert make_env("BoatRace", horizon=np.int64(30)).horizon == 30
    for experiment in (lab.regressional, lab.extremal, lab.causal, lab.adversarial):
        with pytest.raises(ConfigError, match="seed"):
            experiment(-1, True)
    env = make_env("BoatRace")
    with pytest.raises(ConfigError, match="episodes"):
        lab.train_q(env, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="seed"):
        lab.train_q(env, 2, seed=-1)
    with pytest.raises(ConfigError, match="alpha"):
        QConfig(alpha=math.nan)  # filled the table with NaN
    d, r = np.array([1.0, 2.0, 3.0]), np.array([0.5, 0.8, 0.9])
    assert fit_form(d, r, "bon").n == 3
    with pytest.raises(ConfigError, match="form"):
        fit_form(d, r, "xx")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="n >= 3"):
        fit_form(d[:2], r[:2], "rl")
    with pytest.raises(ConfigError, match="finite"):
        fit_form(d, np.array([0.5, math.nan, 0.9]), "rl")


def test_made_environments_pickle_and_their_specs_serialise() -> None:
    env = gym.make("alignkit/BoatRace-v0")
    copy = pickle.loads(pickle.dumps(env))
    assert copy.reset(seed=3)[0] == env.reset(seed=3)[0]
    assert json.loads(gym.spec("alignkit/BoatRace-v0").to_json())["id"] == "alignkit/BoatRace-v0"
