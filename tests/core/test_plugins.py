"""Plugins arrive through the ``alignkit`` entry-point group and cannot replace built-ins."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

from alignkit.core import CHECKS, RegistryError, _registry, discover

PLUGIN = '''
from alignkit.core import MetricSpec, Direction, Severity, check

@check("{id}", failure_modes=["sycophancy"], target_kind="chat", cost="low",
       metrics=[MetricSpec("acme.metric_{n}", Direction.HIGHER_IS_WORSE, {{Severity.LOW: 0.1}})])
async def plugin_check(target, ctx):
    """A third-party check."""
    return []
'''


def _install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, check_id: str) -> None:
    (tmp_path / f"{name}.py").write_text(PLUGIN.format(id=check_id, n=name))
    monkeypatch.syspath_prepend(str(tmp_path))
    real = list(importlib.metadata.entry_points(group="alignkit"))
    fake = importlib.metadata.EntryPoint(name=name, value=name, group="alignkit")
    # third-party entries listed first, to show that built-ins still load before them
    monkeypatch.setattr(_registry.importlib.metadata, "entry_points", lambda group: [fake, *real])


def test_a_plugin_check_is_discovered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(tmp_path, monkeypatch, "acme_plugin_ok", "acme.demo")
    try:
        discover(force=True)
        assert "acme.demo" in CHECKS
        assert CHECKS.origin("acme.demo") == "acme_plugin_ok"
    finally:
        CHECKS.unregister("acme.demo")
        sys.modules.pop("acme_plugin_ok", None)


def test_a_plugin_cannot_replace_a_builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    builtin = CHECKS.get("capability.facts")
    _install(tmp_path, monkeypatch, "acme_plugin_bad", "capability.facts")
    try:
        with pytest.raises(RegistryError, match="capability.facts"):
            discover(force=True)
        assert CHECKS.get("capability.facts") is builtin
    finally:
        sys.modules.pop("acme_plugin_bad", None)
