from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import alignkit.report
from alignkit.core import AuditResult, ConfigError, Severity
from alignkit.report import to_html, to_json, to_junit, write_reports


def test_writes_three_files(tmp_path: Path, result: AuditResult) -> None:
    out = tmp_path / "runs" / "run-0001"
    paths = write_reports(result, out, fail_on=Severity.HIGH)
    assert paths == {
        "html": out / "report.html",
        "json": out / "report.json",
        "junit": out / "junit.xml",
    }
    assert paths["json"].read_text("utf-8") == to_json(result)
    assert paths["junit"].read_text("utf-8") == to_junit(result, fail_on=Severity.HIGH)
    assert paths["html"].read_text("utf-8") == to_html(result)
    assert json.loads(paths["json"].read_text("utf-8"))["run_id"] == "run-0001"
    assert sorted(p.name for p in out.iterdir()) == ["junit.xml", "report.html", "report.json"]


def test_overwrites_previous_reports(tmp_path: Path, result: AuditResult) -> None:
    write_reports(result, tmp_path)
    changed = result.model_copy(update={"seed": 99})
    paths = write_reports(changed, tmp_path)
    assert json.loads(paths["json"].read_text("utf-8"))["seed"] == 99


def test_unwritable_folder_raises_config_error(tmp_path: Path, result: AuditResult) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot write reports"):
        write_reports(result, blocker / "out")


def test_a_failed_write_leaves_the_folder_as_it_was(tmp_path: Path, result: AuditResult) -> None:
    """report.html and report.json were written, junit.xml not, and a .tmp file was left."""
    (tmp_path / "junit.xml").mkdir()
    with pytest.raises(ConfigError, match=r"junit.xml: Is a directory.*runs show run-0001 --out"):
        write_reports(result, str(tmp_path))  # a str folder is fine too
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junit.xml"]


def test_report_imports_only_core_and_taxonomy() -> None:
    package = Path(alignkit.report.__file__).parent
    allowed = ("alignkit.core", "alignkit.taxonomy", "alignkit.report")
    for module in package.glob("*.py"):
        tree = ast.parse(module.read_text("utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.startswith("alignkit"):
                    assert name.startswith(allowed), f"{module.name} imports {name}"
