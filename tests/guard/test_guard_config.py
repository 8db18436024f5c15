"""Guard configs: the shipped default loads; every kind of mistake is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignkit.core import RAILS, ConfigError, RailStage
from alignkit.guard import DEFAULT_GUARD, Guard, load_guard_config


def test_shipped_default_names_the_default_rail_set() -> None:
    config = load_guard_config(None)
    assert [e.rail for e in config.input] == ["secrets", "pii", "injection"]
    assert [e.rail for e in config.output] == [
        "secrets",
        "pii",
        "unsafe-markers",
        "output-classifier",
    ]
    assert load_guard_config(DEFAULT_GUARD) == config


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"input": [{"rail": "injectoin"}]}, "input[0]: unknown rail 'injectoin' (did you mean"),
        ({"input": [{"rail": "unsafe-markers"}]}, "cannot act at the input stage"),
        ({"output": [{"rail": "injection"}]}, "cannot act at the output stage"),
        ({"input": [{"action": "block"}]}, "input.0.rail: missing field"),
        ({"inputs": []}, "inputs: unknown field"),
        ({"breakers": {"window": 3}}, "breakers.window: unknown field"),
        ({"input": [{"rail": "pii"}, {"rail": "pii"}]}, "two rails named 'pii'"),
        ({"version": 2}, "version"),
    ],
)
def test_bad_configs_are_refused_with_one_line(config: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_guard_config(config)
    text = str(info.value)
    assert message in text and "\n" not in text


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"rail": "regex"}, "rail 'regex': patterns: Field required"),
        ({"rail": "regex", "patterns": ["("]}, "invalid pattern"),
        ({"rail": "pii", "kinds": ["dna"]}, "rail 'pii': kinds.0"),
        ({"rail": "secrets", "colour": "red"}, "rail 'secrets': colour: Extra inputs"),
        ({"rail": "injection", "action": "redact"}, "cannot be redacted"),
    ],
)
def test_bad_rail_options_refuse_to_build(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Guard({"input": [entry]})
    assert message in str(info.value) and "\n" not in str(info.value)


def test_yaml_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "g.yaml"
    bad.write_text("input: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_guard_config(bad)
    with pytest.raises(ConfigError, match="cannot read guard config"):
        load_guard_config(tmp_path / "missing.yaml")


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    """YAML keeps the last of two equal keys: the first ``input`` rails were dropped."""
    twice = tmp_path / "twice.yaml"
    twice.write_text("version: 1\ninput:\n  - rail: secrets\ninput:\n  - rail: pii\n")
    with pytest.raises(ConfigError, match=r"\(line 4\): key 'input' appears twice"):
        load_guard_config(twice)


def test_yaml_merge_keys_are_valid_yaml(tmp_path: Path) -> None:
    """``<<: *anchor`` was refused as "not valid YAML" by the duplicate-key check."""
    merged = tmp_path / "merged.yaml"
    merged.write_text(
        "version: 1\ninput:\n  - &sec {rail: secrets, action: block}\n"
        "output:\n  - {<<: *sec, action: redact}\n"
    )
    cfg = load_guard_config(merged)
    assert cfg.model_dump()["output"] == [{**cfg.model_dump()["input"][0], "action": "redact"}]
    twice = tmp_path / "twice-merged.yaml"
    twice.write_text("version: 1\nx: &a {rail: pii}\ninput:\n  - {<<: *a, rail: x, rail: y}\n")
    with pytest.raises(ConfigError, match="key 'rail' appears twice"):
        load_guard_config(twice)


def test_a_chain_of_merges_is_no_duplicate_key() -> None:
    """An anchored mapping that merges another, merged in turn from a shallower mapping,
    was seen after PyYAML had flattened it: "key 'k' appears twice"."""
    import yaml

    from alignkit.core._config import parse_yaml

    chains = (
        "defs:\n  - &b1 {k: 1}\n  - &b2 {<<: *b1, k: 2}\nc: {<<: *b2, j: 3}\n",
        "defs:\n  b1: &b1 {k: 1}\n  x: &b2 {<<: *b1, k: 2}\nc: {<<: *b2, j: 3}\n",
    )
    for text in chains:
        assert parse_yaml(text) == yaml.safe_load(text)


def test_an_empty_config_file_is_refused(tmp_path: Path) -> None:
    """An empty guard.yaml served every request with no rail at all."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="is empty: no rail would run"):
        load_guard_config(empty)


@pytest.mark.parametrize("text", ["{}\n", "version: 1\n", "breakers: {cooldown_s: 5}\n"])
def test_a_config_file_that_names_no_rails_is_refused(tmp_path: Path, text: str) -> None:
    """A file written to tune the breakers turned every default rail off, silently."""
    path = tmp_path / "g.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match="names no rails"):
        load_guard_config(path)
    path.write_text(text.replace("{}", "") + "input: []\n")  # none, on purpose
    assert load_guard_config(path).input == []


def test_every_registered_rail_meets_the_contract(app_path: Path) -> None:
    import alignkit.guard  # noqa: F401  (registers the built-ins)
    from alignkit import taxonomy

    known = set(taxonomy.ids())
    assert {"regex", "keywords", "pii", "secrets", "unsafe-markers", "injection",
            "output-classifier"} <= set(RAILS.ids())  # fmt: skip
    for name, spec in RAILS.items():
        assert spec.doc, f"rail {name} has no docstring"
        assert spec.stages and spec.failure_modes
        assert set(spec.failure_modes) <= known, name
        assert spec.tier in ("rules", "classifier", "judge")
        rail = spec.factory(_required(name, app_path))
        assert rail.stages <= spec.stages
        assert isinstance(rail.name, str) and rail.name
        assert all(isinstance(s, RailStage) for s in rail.stages)


def _required(name: str, app_path: Path) -> dict[str, object]:
    needs: dict[str, dict[str, object]] = {
        "regex": {"patterns": ["x"]},
        "keywords": {"words": ["x"]},
        "llm-judge": {"target": f"python:{app_path}:respond"},
        "defection-probe": {"target": "organism:clean"},  # registered by alignkit.interpret
    }
    return needs.get(name, {})


def test_a_traffic_breaker_key_that_names_no_breaker_is_refused_at_load() -> None:
    """It was accepted; the first alarm then failed in the feed, no breaker opened, and
    later alarms never reached the audit log."""
    with pytest.raises(ConfigError, match="breaker key 'foo' is not global"):
        load_guard_config({"traffic": {"breaker_key": "foo"}})
    assert load_guard_config({"traffic": {"breaker_key": "model:m"}}).traffic.breaker_key


@pytest.mark.parametrize("name", ["provider", "circuit-breaker"])
def test_a_rail_cannot_take_the_name_of_the_guards_own_blocks(name: str) -> None:
    """A rail with id 'provider' made its blocks read "blocked by the model's provider"."""
    from alignkit.guard import Guard

    with pytest.raises(ConfigError, match=f"'{name}' names the guard's own blocks"):
        Guard({"input": [{"rail": "regex", "id": name, "patterns": ["x"]}]})
