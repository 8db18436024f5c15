"""The lab's experiment registry and the result every experiment returns."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from alignkit.core import Finding, Plot, Registry, Table, caller_module
from alignkit.lab.envs._base import whole_number

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
    return whole_number(seed, "seed", 0, 2**32 - 1)


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
    """Register the decorated ``fn(seed, quick)`` as experiment ``id`` (group = its prefix).

    The function registered and returned checks ``seed`` first (:func:`check_seed`).
    """
    origin = caller_module()  # a partial's or a library function's module is not the plugin

    def wrap(
        fn: Callable[[int, bool], ExperimentOutput],
    ) -> Callable[[int, bool], ExperimentOutput]:
        @functools.wraps(fn)
        def checked(seed: int = 0, quick: bool = False) -> ExperimentOutput:
            return fn(check_seed(seed), quick)  # numpy's own error named no option

        group = id.split(".", 1)[0]
        EXPERIMENTS.register(
            id, Experiment(id, group, title, failure_modes, checked), origin=origin
        )
        return checked

    return wrap
