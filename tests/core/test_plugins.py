"""Plugins arrive through the ``alignkit`` entry-point group and cannot replace built-ins."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path
from typing import Any

import pytest

from alignkit import taxonomy
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


def _offer(monkeypatch: pytest.MonkeyPatch, folder: Path, named: Any) -> None:
    """Offer ``(name, module[:attr])`` entry points from ``folder`` ahead of the real ones."""
    monkeypatch.syspath_prepend(str(folder))
    real = list(importlib.metadata.entry_points(group="alignkit"))
    fakes = [importlib.metadata.EntryPoint(name=n, value=v, group="alignkit") for n, v in named]
    monkeypatch.setattr(_registry.importlib.metadata, "entry_points", lambda group: [*fakes, *real])


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


def test_a_refused_plugin_does_not_keep_the_others_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the first lookup's error, later lookups silently lacked every later plugin."""
    (tmp_path / "acme_aaa_dup.py").write_text(PLUGIN.format(id="capability.facts", n="dup"))
    (tmp_path / "acme_zzz_ok.py").write_text(PLUGIN.format(id="acme.later", n="later"))
    monkeypatch.syspath_prepend(str(tmp_path))
    real = list(importlib.metadata.entry_points(group="alignkit"))
    fakes = [importlib.metadata.EntryPoint(name=n, value=n, group="alignkit")
             for n in ("acme_aaa_dup", "acme_zzz_ok")]  # fmt: skip
    monkeypatch.setattr(_registry.importlib.metadata, "entry_points", lambda group: [*fakes, *real])
    try:
        with pytest.raises(RegistryError, match="capability.facts"):
            discover(force=True)
        assert "acme.later" in CHECKS
    finally:
        CHECKS.unregister("acme.later")
        for name in ("acme_aaa_dup", "acme_zzz_ok"):
            sys.modules.pop(name, None)


def test_a_refused_plugin_is_withdrawn_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its ids registered before the clash stayed, so the half-loaded plugin ran after the
    first lookup's error had been caught."""
    (tmp_path / "acme_half.py").write_text(
        PLUGIN.format(id="acme.first", n="first")
        + PLUGIN.format(id="capability.facts", n="clash").replace("plugin_check", "clash")
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    real = list(importlib.metadata.entry_points(group="alignkit"))
    fake = importlib.metadata.EntryPoint(name="acme_half", value="acme_half", group="alignkit")
    monkeypatch.setattr(_registry.importlib.metadata, "entry_points", lambda group: [fake, *real])
    try:
        with pytest.raises(RegistryError, match="capability.facts"):
            discover(force=True)
        assert "acme.first" not in CHECKS
    finally:
        CHECKS.unregister("acme.first")
        sys.modules.pop("acme_half", None)


@pytest.mark.parametrize(
    ("tail", "refused"),
    [
        # a taken failure-mode id is refused like a taken check id, not logged and skipped
        ("from alignkit import taxonomy\n"
         "taxonomy.register(taxonomy.FailureMode(id='sycophancy', title='t', definition='d'))\n",
         True),
        ("from alignkit import taxonomy\n"
         "taxonomy.register(taxonomy.FailureMode(id='acme.tailmode', title='t', definition='d'))\n"
         "raise RuntimeError('plugin broke after registering')\n", False),
    ],
)  # fmt: skip
def test_a_plugin_failing_after_a_registration_is_withdrawn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tail: str, refused: bool
) -> None:
    """A taxonomy clash only logged a warning, and a plugin that raised part-way kept
    the checks it had registered before the error."""
    (tmp_path / "acme_tail.py").write_text(PLUGIN.format(id="acme.tail", n="tail") + tail)
    monkeypatch.syspath_prepend(str(tmp_path))
    real = list(importlib.metadata.entry_points(group="alignkit"))
    fake = importlib.metadata.EntryPoint(name="acme_tail", value="acme_tail", group="alignkit")
    monkeypatch.setattr(_registry.importlib.metadata, "entry_points", lambda group: [fake, *real])
    try:
        if refused:
            with pytest.raises(RegistryError, match="'sycophancy' already exists"):
                discover(force=True)
        else:
            discover(force=True)
            sys.modules.pop("acme_tail", None)
            discover(force=True)  # loading it again is the same warning, not a clash
        assert "acme.tail" not in CHECKS
        assert "acme.tailmode" not in taxonomy.ids()  # its failure mode went with it
    finally:
        CHECKS.unregister("acme.tail")
        sys.modules.pop("acme_tail", None)


@pytest.mark.parametrize(
    "tail",
    [
        "import acme_missing_dependency\n",
        "from alignkit.models import register_scheme\n"
        "register_scheme('openai', lambda parsed, opts: None, kind='chat', example='x')\n",
    ],
)
def test_what_a_sibling_module_registered_goes_with_the_failed_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tail: str
) -> None:
    """An entry point ``acme_pkg.plugin`` that imported ``acme_pkg.checks`` and then failed
    kept the sibling's check, failure mode and scheme: the "unloaded" plugin ran."""
    pkg = tmp_path / "acme_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "checks.py").write_text(
        PLUGIN.format(id="acme.sibling", n="sibling") + "from alignkit import taxonomy\n"
        "taxonomy.register(taxonomy.FailureMode(id='acme.siblingmode', title='t',"
        " definition='d'))\n"
        "from alignkit.models import register_scheme\n"
        "register_scheme('acmesib', lambda parsed, opts: None, kind='chat', example='acmesib:x')\n"
    )
    (pkg / "plugin.py").write_text("import acme_pkg.checks\n" + tail)
    monkeypatch.syspath_prepend(str(tmp_path))
    real = list(importlib.metadata.entry_points(group="alignkit"))
    fake = importlib.metadata.EntryPoint(name="acme", value="acme_pkg.plugin", group="alignkit")
    monkeypatch.setattr(_registry.importlib.metadata, "entry_points", lambda group: [fake, *real])
    from alignkit.models import SCHEMES

    try:
        if "openai" in tail:
            with pytest.raises(RegistryError, match=r"plugin acme \(acme_pkg.plugin\)"):
                discover(force=True)
        else:
            discover(force=True)
        assert "acme.sibling" not in CHECKS
        assert "acme.siblingmode" not in taxonomy.ids()
        assert "acmesib" not in SCHEMES.registered()
        assert "openai" in SCHEMES.registered() and "capability.facts" in CHECKS
    finally:
        CHECKS.unregister("acme.sibling")
        SCHEMES.unregister("acmesib")
        taxonomy.withdraw("acme_pkg")
        for name in ("acme_pkg", "acme_pkg.checks", "acme_pkg.plugin"):
            sys.modules.pop(name, None)


def test_a_report_knows_a_plugin_failure_mode_before_any_registry_lookup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``runs show`` touched no registry, so plugins never loaded: the report said the
    plugin's failure mode "is not in the taxonomy" and the scorecard showed the raw id."""
    from alignkit.report._html_findings import lookup_mode

    (tmp_path / "acme_modes.py").write_text(
        "from alignkit import taxonomy\n"
        "taxonomy.register(taxonomy.FailureMode(id='acme.rudeness', title='Rudeness',"
        " definition='d'))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    fake = importlib.metadata.EntryPoint(name="acme_modes", value="acme_modes", group="alignkit")
    real = list(importlib.metadata.entry_points(group="alignkit"))
    monkeypatch.setattr(_registry.importlib.metadata, "entry_points", lambda group: [fake, *real])
    monkeypatch.setattr(_registry, "_discovered", False)
    try:
        mode = lookup_mode("acme.rudeness")
        assert mode is not None and mode.title == "Rudeness"
    finally:
        taxonomy.withdraw("acme_modes")
        sys.modules.pop("acme_modes", None)


def test_a_failing_plugin_leaves_another_plugin_it_imported_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken plugin that imported another plugin's module (or a shared helper) took
    that one's checks down with it, with no warning about the healthy one."""
    (tmp_path / "acme_zzz_plugin.py").write_text(PLUGIN.format(id="zzz.demo", n="zzz"))
    (tmp_path / "acme_shared.py").write_text(PLUGIN.format(id="shared.demo", n="shared"))
    (tmp_path / "acme_aaa_plugin.py").write_text(
        "import acme_zzz_plugin\nimport acme_shared\nimport acme_missing_dependency\n"
    )
    (tmp_path / "acme_bbb_plugin.py").write_text("import acme_shared\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    real = list(importlib.metadata.entry_points(group="alignkit"))
    fakes = [importlib.metadata.EntryPoint(name=n, value=f"acme_{n}_plugin", group="alignkit")
             for n in ("aaa", "bbb", "zzz")]  # fmt: skip
    monkeypatch.setattr(_registry.importlib.metadata, "entry_points", lambda group: [*fakes, *real])
    try:
        discover(force=True)
        assert "zzz.demo" in CHECKS  # another plugin's own module: judged on its own
        assert "shared.demo" in CHECKS  # withdrawn with aaa, registered again for bbb
    finally:
        for cid in ("zzz.demo", "shared.demo"):
            CHECKS.unregister(cid)
        for name in ("acme_aaa_plugin", "acme_bbb_plugin", "acme_zzz_plugin", "acme_shared"):
            sys.modules.pop(name, None)


def test_a_failing_plugin_leaves_the_package_of_another_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plugin zzz (entry ``acme_zzzpkg.plugin``) registers in ``acme_zzzpkg.checks``; a
    broken plugin that imported it took the check down (only the entry module was spared)."""
    pkg = tmp_path / "acme_zzzpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "checks.py").write_text(PLUGIN.format(id="zzzpkg.demo", n="zzzpkg"))
    (pkg / "plugin.py").write_text("from acme_zzzpkg import checks\n")
    (tmp_path / "acme_aaa2_plugin.py").write_text(
        "import acme_zzzpkg.plugin\nimport acme_missing_dependency\n"
    )
    _offer(monkeypatch, tmp_path, (("aaa2", "acme_aaa2_plugin"), ("zzz", "acme_zzzpkg.plugin")))
    try:
        discover(force=True)
        assert "zzzpkg.demo" in CHECKS
    finally:
        CHECKS.unregister("zzzpkg.demo")
        for name in ("acme_aaa2_plugin", "acme_zzzpkg", "acme_zzzpkg.checks", "acme_zzzpkg.plugin"):
            sys.modules.pop(name, None)


def test_a_failing_plugin_spares_another_plugin_inside_its_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Entry points ``acmepk.good`` (fine) and ``acmepk:register`` (no such attribute):
    withdrawing the second removed the first's check, which never came back."""
    pkg = tmp_path / "acmepk"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "good.py").write_text(PLUGIN.format(id="acmepk.good", n="pkgood"))
    _offer(monkeypatch, tmp_path, (("a-good", "acmepk.good"), ("b-broken", "acmepk:register")))
    try:
        discover(force=True)
        assert "acmepk.good" in CHECKS
    finally:
        CHECKS.unregister("acmepk.good")
        for name in ("acmepk", "acmepk.good"):
            sys.modules.pop(name, None)


def test_a_failed_plugin_withdraws_partials_and_library_callables_it_registered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The origin was the callable's module: a rail registered as a functools.partial (no
    module) or a check whose function lives in a library stayed after the plugin failed."""
    from alignkit.core import RAILS

    (tmp_path / "acme_lib.py").write_text(
        "async def shared_check(target, ctx):\n    '''A library's check.'''\n    return []\n"
    )
    (tmp_path / "acme_partial.py").write_text(
        "import functools\n"
        "import acme_lib\n"
        "from alignkit.core import Direction, MetricSpec, Severity, check, rail\n"
        "rail('acme-partial', stages=['input'], failure_modes=['misuse'])("
        "functools.partial(dict))\n"
        "check('acme.lib', failure_modes=['sycophancy'], target_kind='chat', cost='low',"
        " metrics=[MetricSpec('acme.lib_metric', Direction.HIGHER_IS_WORSE,"
        " {Severity.LOW: 0.1})])(acme_lib.shared_check)\n"
        "raise ImportError('acme_partial needs something missing')\n"
    )
    _offer(monkeypatch, tmp_path, [("acme_partial", "acme_partial")])
    try:
        discover(force=True)
        assert "acme-partial" not in RAILS and "acme.lib" not in CHECKS
    finally:
        RAILS.unregister("acme-partial")
        CHECKS.unregister("acme.lib")
        for name in ("acme_partial", "acme_lib"):
            sys.modules.pop(name, None)
