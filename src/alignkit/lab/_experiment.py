"""The lab's experiment registry and the result every experiment returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from alignkit.core import ConfigError, Finding, Plot, Registry, Table, caller_module

__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "ExperimentOutput",
    "ProgressFn",
    "check_seed",
    "experiment",
]

ProgressFn = Callable[[str, int, int], None]
"""``progress(experiment_id, done, total)``, called after each experiment."""


def check_seed(seed: object) -> int:
    """``seed`` if it is a whole number from 0 to 2**32 − 1 (what every RNG here takes).

    Raises:
        ConfigError: Otherwise; checked before any experiment runs, since each of them
            would fail on it.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ConfigError(f"seed must be a whole number from 0 to 2**32 - 1, got {seed!r}")
    return seed


@dataclass
class ExperimentOutput:
    """What one experiment produced.

    Attributes:
        findings: Core findings (one per declared metric).
        plots: Figures (core :class:`~alignkit.core.Plot`).
        tables: Tables (core :class:`~alignkit.core.Table`).
        numbers: Raw measured numbers by name, for benchmarks and tests.
    """

    findings: list[Finding] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    numbers: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Experiment:
    """A registered lab experiment.

    Attributes:
        id: Stable id, ``<group>.<name>`` (e.g. ``goodhart.regressional``).
        group: What ``alignkit lab run --only GROUP`` selects.
        title: One line for ``alignkit lab list``.
        failure_modes: Taxonomy ids it demonstrates.
        run: ``run(seed, quick) -> ExperimentOutput``.
    """

    id: str
    group: str
    title: str
    failure_modes: tuple[str, ...]
    run: Callable[[int, bool], ExperimentOutput]


EXPERIMENTS: Registry[Experiment] = Registry("lab experiment")


def experiment(
    id: str, *, title: str, failure_modes: tuple[str, ...]
) -> Callable[[Callable[[int, bool], ExperimentOutput]], Callable[[int, bool], ExperimentOutput]]:
    """Register the decorated ``fn(seed, quick)`` as experiment ``id`` (group = its prefix)."""
    origin = caller_module()  # a partial's or a library function's module is not the plugin

    def wrap(
        fn: Callable[[int, bool], ExperimentOutput],
    ) -> Callable[[int, bool], ExperimentOutput]:
        group = id.split(".", 1)[0]
        EXPERIMENTS.register(id, Experiment(id, group, title, failure_modes, fn), origin=origin)
        return fn

    return wrap
