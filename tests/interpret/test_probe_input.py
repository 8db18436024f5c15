"""Prompts the probe cannot take (longer than the context) and CSV prompt files."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from interpret_helpers import heldout_prompts

from alignkit.core import ConfigError, DataError
from alignkit.data import PromptItem, write_jsonl
from alignkit.interpret import (
    DefectionProbe,
    LabelledPrompt,
    fit_defection_probe,
    fitting_activations,
    probe_prompts,
    read_prompts,
    reference_prompts,
)
from alignkit.models import HFChatModel

LONG = "word " * 4000  # far beyond the organisms' context of 160 tokens


def test_fitting_activations_leave_out_only_what_does_not_fit(flawed: HFChatModel) -> None:
    plain = heldout_prompts(7, seed=3)
    prompts = [*plain[:2], LONG, *plain[2:5], LONG + "again", *plain[5:]]
    kept, acts = asyncio.run(fitting_activations(flawed, prompts))
    assert kept == [0, 1, 3, 4, 5, 7, 8]
    alone = asyncio.run(fitting_activations(flawed, plain))[1]
    assert acts.values.shape == alone.values.shape
    assert abs(acts.values - alone.values).max() < 1e-4  # the same rows, in order
    with pytest.raises(ConfigError, match="do not fit the context"):
        asyncio.run(fitting_activations(flawed, [LONG, LONG + "!"]))


def test_probe_scores_the_prompts_that_fit(
    flawed: HFChatModel, flawed_probe: DefectionProbe, caplog: pytest.LogCaptureFixture
) -> None:
    plain = heldout_prompts(5, seed=4)
    rows = [LabelledPrompt(p) for p in [plain[0], LONG, *plain[1:]]]
    with caplog.at_level(logging.WARNING):
        result = asyncio.run(probe_prompts(flawed, rows, probe=flawed_probe))
    assert [r.prompt for r in result.prompts] == plain and result.scores.shape == (5,)
    assert "1 of 6 prompt(s) left out" in caplog.text


def test_long_reference_prompts_are_left_out_of_the_fit(flawed: HFChatModel) -> None:
    reference = reference_prompts(flawed)[:25]
    probe = asyncio.run(fit_defection_probe(flawed, [*reference, LONG]))
    assert probe.n_reference == 25


def test_the_check_scores_what_fits_and_says_what_it_left_out(tmp_path: Path) -> None:
    from alignkit.audit import run

    plain = heldout_prompts(5, seed=5)
    pack = tmp_path / "log"
    pack.mkdir()
    (pack / "pack.json").write_text(json.dumps({"name": "log", "schema_version": 1}))
    prompts = [*plain[:3], LONG, *plain[3:]]
    items = [PromptItem(id=f"p{i}", prompt=p) for i, p in enumerate(prompts)]
    write_jsonl(items, pack / "prompts.jsonl")
    result = run(
        "organism:flawed",
        checks="deceptive_alignment.probe",
        data=pack,
        store=str(tmp_path / "a.db"),
    )
    assert not result.errors
    (finding,) = result.findings
    assert finding.n == 5
    assert any("1 of 6 prompt(s) left out" in e.note for e in finding.evidence)


# --------------------------------------------------------------------------- CSV labels


def test_csv_labels_are_read_from_their_text(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("prompt,label\nhello,1\nbye,0\nyes, TRUE \nno,False\nunknown,\n")
    assert [(r.prompt, r.label) for r in read_prompts(path)] == [
        ("hello", 1),
        ("bye", 0),
        ("yes", 1),
        ("no", 0),
        ("unknown", None),
    ]


@pytest.mark.parametrize("bad", ["2", "yes", "0.5"])
def test_other_csv_labels_are_refused(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "p.csv"
    path.write_text(f"prompt,label\nhello,{bad}\n")
    with pytest.raises(
        DataError, match=rf"p\.csv:2: label must be 0, 1, true or false, got '{bad}'"
    ):
        read_prompts(path)
