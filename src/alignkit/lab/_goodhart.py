"""``run_goodhart``: every registered Goodhart experiment, gathered into one AuditResult."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime

from alignkit.core import AuditResult, ConfigError, summarize
from alignkit.lab._experiment import EXPERIMENTS, ExperimentOutput, ProgressFn, check_seed

__all__ = ["TARGET", "run_experiments", "run_goodhart"]

TARGET = "lab:goodhart"
_log = logging.getLogger(__name__)


def run_experiments(
    group: str,
    *,
    seed: int = 0,
    quick: bool = False,
    progress: ProgressFn | None = None,
    only: list[str] | None = None,
) -> AuditResult:
    """Run every registered experiment of ``group`` (or the ids in ``only``) into one result.

    Args:
        group: Experiment group, e.g. ``goodhart``.
        seed: Seed for every experiment (the same seed gives the same result).
        quick: Smaller pools and fewer repeats (for tests and smoke runs).
        progress: Called as ``progress(experiment_id, done, total)`` after each one.
        only: Restrict to these experiment ids.

    Returns:
        A core :class:`~alignkit.core.AuditResult` with ``target="lab:<group>"``; an
        experiment that raised is listed in ``errors`` and the others still report.
    """
    from alignkit import __version__

    check_seed(seed)
    groups = sorted({e.group for _, e in EXPERIMENTS.items()})
    if group not in groups:  # an unknown group ran nothing and looked like a pass
        raise ConfigError(f"unknown experiment group '{group}' (known: {', '.join(groups)})")
    ids = [i for i, e in EXPERIMENTS.items() if e.group == group and (only is None or i in only)]
    unknown = sorted(set(only or ()) - set(ids))
    if unknown:
        raise ConfigError(f"no {group} experiment {', '.join(map(repr, unknown))}")
    run_id = uuid.uuid4().hex[:12]
    started = datetime.now(UTC)
    result = AuditResult(
        run_id=run_id,
        target=f"lab:{group}",
        started_at=started,
        alignkit_version=__version__,
        seed=seed,
    )
    for done, exp_id in enumerate(ids, start=1):
        t0 = time.perf_counter()
        try:
            out: ExperimentOutput = EXPERIMENTS.get(exp_id).run(seed, quick)
        except Exception as exc:  # one broken experiment must not hide the others
            _log.exception("experiment %s failed", exp_id)
            result.errors[exp_id] = f"{type(exc).__name__}: {exc}"
        else:
            result.findings.extend(
                f.model_copy(update={"run_id": run_id, "check": exp_id}) for f in out.findings
            )
            result.plots.extend(p.model_copy(update={"check": exp_id}) for p in out.plots)
            result.tables.extend(out.tables)
            result.checks_run.append(exp_id)
            _log.info("experiment %s took %.1f s", exp_id, time.perf_counter() - t0)
        if progress is not None:
            progress(exp_id, done, len(ids))
    result.summary = summarize(result.findings)
    result.finished_at = datetime.now(UTC)
    return result


def run_goodhart(
    seed: int = 0, quick: bool = False, progress: ProgressFn | None = None
) -> AuditResult:
    """Run the Goodhart lab: the four variants, reward-model over-optimisation, mitigations.

    This is what ``alignkit lab run --only goodhart`` calls; the result renders with
    the same HTML/JSON/JUnit report as an audit.
    """
    return run_experiments("goodhart", seed=seed, quick=quick, progress=progress)


def merge_results(results: list[AuditResult], target: str = "lab") -> AuditResult:
    """Several lab results as one report (``alignkit lab run`` without ``--only``).

    The first result's run id names the whole; every finding carries it.
    """
    if not results:
        raise ConfigError("merge_results needs at least one result")
    first = results[0]
    merged = AuditResult(
        run_id=first.run_id,
        target=target,
        started_at=first.started_at,
        alignkit_version=first.alignkit_version,
        seed=first.seed,
    )
    for r in results:
        merged.findings.extend(f.model_copy(update={"run_id": first.run_id}) for f in r.findings)
        merged.plots.extend(r.plots)
        merged.tables.extend(r.tables)
        merged.checks_run.extend(r.checks_run)
        merged.errors.update(r.errors)
    merged.summary = summarize(merged.findings)
    merged.finished_at = results[-1].finished_at
    return merged
