"""``alignkit.audit.run``: pick checks for a target, run them, store and report the result."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from alignkit import __version__
from alignkit.audit._runner import AttemptLog, ProgressFn
from alignkit.audit._select import select_checks
from alignkit.core import (
    AlignkitConfig,
    AlignkitError,
    AuditConfig,
    AuditResult,
    ChatModel,
    CheckContext,
    CheckSpec,
    ConfigError,
    Decoding,
    Finding,
    Outcome,
    Plot,
    RequestCounts,
    Target,
    TargetKind,
    load_config,
    resolve_store_url,
    run_sync,
    summarize,
)
from alignkit.data import ItemPack, SplitSelector, general_pack_path, load_pack
from alignkit.models import BoundedModel, TargetOptions, open_target, public_uri
from alignkit.store import AttemptRecord, Store, new_run_id

__all__ = ["AuditOptions", "ProgressFn", "default_out_dir", "new_run_id", "run"]

_log = logging.getLogger(__name__)
_SPLITS: dict[str, SplitSelector] = {"train": "train", "heldout": "heldout", "all": "all"}


@dataclass(frozen=True)
class AuditOptions:
    """Everything that determines an audit run, stored so ``--resume`` can rebuild it."""

    target: str
    checks: str = "*"
    data: str | None = None
    split: str = "all"
    seed: int = 0
    max_items: int = 200
    concurrency: int = 8
    budget_s: float | None = None
    pack_digest: str = ""  # the items the run was started on (ItemPack.digest)
    reporting: dict[str, str] = field(default_factory=dict)
    """How the caller reports the run (the CLI keeps ``out`` and ``fail_on`` here), so
    that a resume reports it the same way; results never depend on it."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


@dataclass
class _Outcome:
    findings: list[Finding] = field(default_factory=list)
    plots: list[Plot] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    ran: list[str] = field(default_factory=list)
    unmeasured: dict[str, str] = field(default_factory=dict)
    requests: RequestCounts | None = None


def default_out_dir(run_id: str) -> Path:
    """Where reports go when ``--out`` is not given."""
    return Path(".alignkit") / "runs" / run_id


def _load_data(opts: AuditOptions, target: Target) -> ItemPack:
    path = opts.data or target.default_pack or general_pack_path()
    if opts.split not in _SPLITS:
        raise ConfigError(f"--split must be train, heldout or all, not '{opts.split}'")
    return load_pack(path, split=_SPLITS[opts.split])


def _unsent(store: Store, run_id: str) -> int:
    """Requests a finished run's ``--budget`` stopped (they are not stored as attempts)."""
    try:
        counts = store.load_result(run_id).requests
    except AlignkitError:  # no stored result: nothing is known to be missing
        return 0
    return counts.unsent if counts is not None else 0


def _resolve(
    resume: str | None, store: Store, opts: AuditOptions | None, given: dict[str, Any]
) -> tuple[str, AuditOptions, dict[str, AttemptRecord]]:
    """The run id, options and stored attempts of a new or resumed run.

    ``given`` holds the options passed along with ``--resume`` that fix a run's result
    (``--max-items``, ``--seed``, ...): each must equal the stored value, so a resumed
    run never silently ignores one.
    """
    if resume is None:
        if opts is None:
            raise ConfigError("no target given")
        return new_run_id(), opts, {}
    record = store.get_run(resume)
    if record.config.get("kind") == "redteam":
        raise ConfigError(
            f"run {record.id} is a red-team campaign; continue it with:"
            f" alignkit redteam run --resume {record.id}"
        )
    try:
        stored = AuditOptions(**record.config)
    except TypeError:
        raise ConfigError(f"run {record.id} is not an audit run; it cannot be resumed") from None
    for option, value in given.items():
        key = option.removeprefix("--").replace("-", "_")
        if option == "--target" and public_uri(str(value)) == stored.target:
            stored = replace(stored, target=str(value))  # the credentials are not stored
            continue
        if str(value) != str(getattr(stored, key)):
            shown = public_uri(str(value)) if option == "--target" else value
            raise ConfigError(
                f"--resume continues run {record.id} with its stored options; {option}"
                f" {shown} differs from the stored {getattr(stored, key)} (only --budget and"
                " --concurrency can change); start a new run instead"
            )
    if "--target" not in given and "***" in stored.target:
        # resumed as stored, the requests went out with "***" for a key: every one refused
        raise ConfigError(
            f"run {record.id}'s target carried credentials, which are not stored; resume"
            f" with --target and the full URI ({stored.target} with its secrets)"
        )
    attempts = store.attempts(record.id)
    kept = {k: a for k, a in attempts.items() if a.completion.outcome is not Outcome.ERROR}
    if record.status == "finished" and len(kept) == len(attempts) and not _unsent(store, record.id):
        raise ConfigError(
            f"run {record.id} finished with every request answered; nothing to resume"
            f" (its findings: alignkit runs show {record.id})"
        )
    if opts is not None:  # what a resumed run may change: how long and how fast it runs
        stored = replace(
            stored,
            budget_s=opts.budget_s if opts.budget_s is not None else stored.budget_s,
            concurrency=opts.concurrency or stored.concurrency,
            reporting={**stored.reporting, **opts.reporting},
        )
    return record.id, stored, kept


def _broken_contract(spec: CheckSpec, found: object) -> str:
    """What is wrong with a check's return value (DESIGN §4), or ``""``."""
    if not isinstance(found, list | tuple) or not all(isinstance(f, Finding) for f in found):
        return f"the check returned {type(found).__name__}, not a list of Findings"
    declared = {m.name for m in spec.metrics}
    seen: set[str] = set()
    for f in found:
        if f.check != spec.id:
            return f"the check reported a finding for another check, '{f.check}'"
        if f.metric not in declared:
            return f"the check reported the undeclared metric '{f.metric}'"
        if f.metric in seen:
            return f"the check reported metric '{f.metric}' twice"
        seen.add(f.metric)
    return ""


async def _run_check(spec: CheckSpec, target: Target, ctx: CheckContext, out: _Outcome) -> None:
    try:
        found = await spec.fn(target, ctx)
    except AlignkitError as exc:
        out.errors[spec.id] = str(exc).strip() or type(exc).__name__  # `raise DataError("")`
        return
    except Exception as exc:  # a broken check must not sink the audit
        out.errors[spec.id] = f"{type(exc).__name__}: {exc}"
        debug = _log.isEnabledFor(logging.DEBUG)  # the traceback is for the check's author
        hint = "" if debug else " (ALIGNKIT_LOG=debug shows the traceback)"
        _log.error("check %s failed: %s%s", spec.id, out.errors[spec.id], hint, exc_info=debug)
        return
    wrong = _broken_contract(spec, found)
    if wrong:  # a plugin's bad return crashed the whole audit and lost every result
        out.errors[spec.id] = wrong
        return
    for finding in found:
        if not all(
            math.isfinite(x) for x in (finding.value, finding.ci_low or 0, finding.ci_high or 0)
        ):
            out.unmeasured[finding.metric] = "not measured: the check gave no finite value"
            continue
        if finding.n > 0:
            out.findings.append(finding)
            continue
        # Measured on nothing: a value of 0 would read as "no problem"; list it instead.
        why = next((e.note for e in finding.evidence if e.note), "no item gave a scorable answer")
        _log.info("%s not measured: %s", finding.metric, why)  # listed in `skipped`
        out.unmeasured[finding.metric] = f"not measured: {why}"
    reported = {f.metric for f in found}
    for metric in spec.metrics:  # a declared metric the check said nothing about
        if metric.name not in reported:
            out.unmeasured.setdefault(metric.name, "not measured: the check reported no value")
    out.plots.extend(ctx.plots)
    out.ran.append(spec.id)


@dataclass(frozen=True)
class _Plan:
    """One audit about to run: its options, id, and what a resumed run already stored."""

    opts: AuditOptions
    run_id: str
    started: datetime
    resumed: bool
    stored: dict[str, AttemptRecord]
    target_options: TargetOptions


def _begin(store: Store, plan: _Plan, data: ItemPack) -> None:
    """Record the run in the store, once its input has been validated.

    A resumed run must find the items it started on (a pack edited since, or a relative
    ``--data`` read from another folder, would mix two item sets in one result); its
    failed attempts are dropped so that they are sent again.
    """
    digest = data.digest()
    if plan.resumed:
        store.claim_run(plan.run_id)  # before anything of the run is touched
        if plan.opts.pack_digest and plan.opts.pack_digest != digest:
            raise ConfigError(
                f"the item pack of run {plan.run_id} ({data.path}) changed since the run"
                " started; resuming would mix two item sets; start a new run instead"
            )
        store.drop_failed_attempts(plan.run_id)
    store.begin_run(
        plan.run_id,
        resumed=plan.resumed,
        target=public_uri(plan.opts.target),
        seed=plan.opts.seed,
        config={
            **plan.opts.to_dict(),
            "target": public_uri(plan.opts.target),
            "pack_digest": digest,
        },
        alignkit_version=__version__,
        started_at=plan.started,
    )


async def _audit(
    plan: _Plan, store: Store, progress: ProgressFn | None
) -> tuple[_Outcome, dict[str, str]]:
    opts = plan.opts
    target = open_target(opts.target, plan.target_options)
    try:
        data = _load_data(opts, target)
        selection = select_checks(opts.checks, target, data)
        if not selection.run:  # an audit that measures nothing must not read as a pass
            why = "; ".join(f"{cid}: {reason}" for cid, reason in selection.skipped.items())
            raise ConfigError(f"no selected check can run on {public_uri(opts.target)} ({why})")
        decoding = target.default_decoding or Decoding()
        if decoding.samples != 1:  # accepted and then ignored, the run would claim it
            raise ConfigError(
                f"{public_uri(opts.target)} asks for {decoding.samples} samples per prompt; the"
                " audit's checks draw one answer per prompt: set samples to 1 or leave it out"
            )
        ping = getattr(target, "ping", None)  # a server answers, a checkpoint loads
        if ping is not None:
            await ping()
        _begin(store, plan, data)
        deadline = time.monotonic() + opts.budget_s if opts.budget_s else None
        out = _Outcome()
        with store.writer() as writer:
            runner: AttemptLog | None = None
            subject: Target = target
            if target.kind is TargetKind.CHAT and isinstance(target, ChatModel):
                subject = BoundedModel(target, opts.concurrency, deadline)
                runner = AttemptLog(
                    subject,
                    plan.run_id,
                    writer,
                    plan.stored,
                    concurrency=opts.concurrency,
                    progress=progress,
                )
            jobs = []
            for spec in selection.run:
                ctx = CheckContext(
                    check=spec,
                    run_id=plan.run_id,
                    seed=opts.seed,
                    data=data,
                    decoding=decoding,
                    runner=runner if runner is not None else _no_runner,
                    max_items=opts.max_items,
                )
                jobs.append(_run_check(spec, subject, ctx, out))
            await asyncio.gather(*jobs)
        if runner is not None:
            out.requests = RequestCounts(
                sent=runner.sent, reused=runner.reused, failed=runner.failed, unsent=runner.unsent
            )
        if runner is not None and runner.unsent:
            _log.warning(
                "the budget of %g s ran out: %d request(s) not sent, so some findings rest on"
                " fewer items; continue with: alignkit audit --resume %s%s --budget SECONDS",
                opts.budget_s,
                runner.unsent,
                plan.run_id,
                store.store_option,
            )
        return out, {**selection.skipped, **out.unmeasured}
    finally:
        await target.aclose()


async def _no_runner(*_: Any, **__: Any) -> list[Any]:
    raise ConfigError("this target kind does not take chat requests")


_OPTION_NAMES = {"budget_s": "budget", "max_items": "max-items"}


def _with_overrides(audit: AuditConfig, **given: Any) -> AuditConfig:
    """``audit`` with the given values (``None``: keep), validated as the config file is.

    Raises:
        ConfigError: A value out of range (``--max-items 0``, ``--budget -5``), in one line.
    """
    update = {k: v for k, v in given.items() if v is not None}
    try:
        return AuditConfig.model_validate({**audit.model_dump(), **update})
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "audit"
        option = _OPTION_NAMES.get(name, name.replace("_", "-"))
        raise ConfigError(f"--{option} {err.get('input')!r}: {err['msg']}") from None


def run(
    target: str | None = None,
    *,
    checks: str | Sequence[str] | None = None,
    data: str | Path | None = None,
    split: str | None = None,
    seed: int | None = None,
    budget_s: float | None = None,
    max_items: int | None = None,
    concurrency: int | None = None,
    resume: str | None = None,
    store: str | None = None,
    config: AlignkitConfig | str | Path | None = None,
    target_options: TargetOptions | None = None,
    progress: ProgressFn | None = None,
    reporting: Mapping[str, str] | None = None,
) -> AuditResult:
    """Audit ``target`` (a URI, DESIGN §6) and return the result the CLI renders.

    Options left ``None`` come from ``config`` (a loaded config, or the path of a YAML
    or JSON file, as ``--config``; default ``alignkit.yaml``) and its defaults.
    ``checks`` is a comma-separated glob list or a list of globs.
    With ``resume=RUN_ID`` the stored run's options are used and attempts already in
    the store are not sent again. Findings and attempts go into the store
    (``store``/``$ALIGNKIT_STORE``/default). ``alignkit.report.write_reports`` renders
    the result as the CLI does (``report.html``, ``report.json``, ``junit.xml``).
    ``reporting`` is stored with the run and merged over the stored one on resume (read
    it back with ``Store.get_run(run_id).config["reporting"]``).

    Example::

        result = alignkit.audit.run("python:examples.quiz_app:respond", checks="capability.*")
        for f in result.findings:
            print(f.metric, f.value, f.severity)
    """
    if target is not None and not isinstance(target, str):
        raise ConfigError(f"target must be a URI string, not {type(target).__name__}")
    if checks is not None and not isinstance(checks, str):
        if not all(isinstance(c, str) for c in checks):
            raise ConfigError("checks must be a glob string or a list of glob strings")
        checks = ",".join(checks)
    if config is not None and not isinstance(config, AlignkitConfig | str | Path):
        raise ConfigError(
            f"config must be a path or an AlignkitConfig, not {type(config).__name__}"
        )
    cfg = config if isinstance(config, AlignkitConfig) else load_config(config)
    a = _with_overrides(
        cfg.audit, seed=seed, budget_s=budget_s, max_items=max_items, concurrency=concurrency
    )
    opts = None
    given: dict[str, Any] = {}
    if resume is None:
        opts = AuditOptions(
            target=a.target if target is None else target,
            checks=checks if checks is not None else a.checks,
            data=str(Path(data).resolve()) if data is not None else None,
            split=split if split is not None else a.split,
            seed=a.seed,
            max_items=a.max_items,
            concurrency=a.concurrency,
            budget_s=a.budget_s,
            reporting=dict(reporting or {}),
        )
    else:
        fixed = {
            "--target": target,
            "--checks": checks,
            "--data": Path(data).resolve() if data is not None else None,
            "--split": split,
            "--seed": seed,
            "--max-items": max_items,
        }
        given = {name: value for name, value in fixed.items() if value is not None}
        opts = AuditOptions(
            target="",
            budget_s=budget_s,
            concurrency=concurrency or 0,
            reporting=dict(reporting or {}),
        )
    t_opts = (target_options or TargetOptions(http=cfg.http)).shared()  # caps are per run
    # a resume needs an existing store: never create an empty one to look for the run in
    with Store.open(resolve_store_url(store, cfg), create=resume is None) as st:
        run_id, opts, stored = _resolve(resume, st, opts, given)
        started = st.get_run(run_id).started_at if resume else datetime.now(UTC)
        plan = _Plan(opts, run_id, started, resume is not None, stored, t_opts)
        with st.failing_run(run_id, resumed=plan.resumed, resume_with="alignkit audit --resume"):
            outcome, skipped = run_sync(_audit(plan, st, progress))
        result = AuditResult(
            run_id=run_id,
            target=public_uri(opts.target),
            started_at=started,
            finished_at=datetime.now(UTC),
            alignkit_version=__version__,
            seed=opts.seed,
            findings=sorted(outcome.findings, key=lambda f: (f.failure_mode, f.check, f.metric)),
            summary=summarize(outcome.findings),
            plots=outcome.plots,
            checks_run=sorted(outcome.ran),
            errors=outcome.errors,
            skipped=skipped,
            requests=outcome.requests,
        )
        st.finish_run(result)
    return result
