"""``alignkit train preferences | constitution | reward | dpo | bon | grpo`` (DESIGN §5)."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from alignkit.cli._common import (
    JsonOpt,
    NoStoreOpt,
    StoreOpt,
    err,
    literal,
    no_input_inside,
    not_an_input,
    note_replaced_file,
    out,
    out_path,
    print_json,
    working,
    writable_out,
)
from alignkit.cli._train_bon import run_bon
from alignkit.cli._train_data import (
    ContrastOpt,
    HelperOpt,
    constitution_run,
    contrast_stage,
    helper_model,
)
from alignkit.core import (
    ConfigError,
    DataError,
    staged_folder,
)

if TYPE_CHECKING:
    from alignkit.core import ChatModel
    from alignkit.data import ItemPack
    from alignkit.train import PreferenceBuild, PreferencePair, TrainReport

train_app = typer.Typer(
    help="Repair a model: preference data, Constitutional AI, reward models, DPO, best-of-n, GRPO."
    "\n\nExample: alignkit train --help",
    no_args_is_help=True,
)

TargetOpt = Annotated[str, typer.Option("--target", help="The model to repair (hf: or organism:).")]
RunOpt = Annotated[
    str | None, typer.Option("--from-run", help="Audit run whose failing evidence feeds the data.")
]
DataOpt = Annotated[
    Path | None, typer.Option("--data", help="Item pack (default: the target's own pack).")
]
PairsOpt = Annotated[
    list[Path] | None, typer.Option("--pairs", help="Preference file(s), JSONL or CSV.")
]
SeedOpt = Annotated[int, typer.Option(min=0, max=2**32 - 1, help="Seed for sampling and training.")]
PackSamplesOpt = Annotated[
    int,
    typer.Option(min=0, help="Answers per train item of the pack (0: skip the pack source)."),
]
MaxPerKindOpt = Annotated[
    int | None,
    typer.Option(min=1, help="At most this many train items per kind (quick runs)."),
]


def _max_steps(value: int) -> int:
    """``--max-steps``: -1 (all) or a positive count (0 would still take a step)."""
    if value == 0:
        raise ConfigError("--max-steps must be -1 (all) or at least 1, not 0")
    return value


def _not_the_base(out_dir: Path, target: str | ChatModel) -> None:
    """Refuse, before any work, a target with no local weights or an --out that is them.

    Raises:
        ConfigError: ``out_dir`` is the base checkpoint's own folder.
        TargetError: The target is not a local transformers checkpoint.
    """
    from alignkit.train import checkpoint_dir

    base = checkpoint_dir(_connect(target) if isinstance(target, str) else target)
    if out_dir.resolve() == base.resolve():
        raise ConfigError(f"--out {out_dir} is the base checkpoint itself; choose a new folder")


def _base_dir(uri: str) -> Path:
    from alignkit.train import checkpoint_dir

    return checkpoint_dir(_connect(uri))


def _connect(uri: str) -> ChatModel:
    from alignkit.models import connect

    return connect(uri)


def _pair_files(files: list[Path] | None) -> list[Path]:
    """``files``, checked before any work: each exists and is .jsonl or .csv."""
    from alignkit.train import check_pair_file

    return [check_pair_file(f) for f in files or []]


def _not_an_input(written: Path, inputs: dict[str, Path | None], *, folder: bool = False) -> None:
    """Refuse an --out that is, or is inside, an input; a folder --out may not hold one.

    Raises:
        ConfigError: ``written`` would replace or go inside what the command reads.
    """
    not_an_input(written, "--out", inputs)
    if folder:  # a folder output is replaced as a whole: an input inside would go with it
        no_input_inside(written, "--out", inputs)


def _imports(files: list[Path] | None, option: str) -> dict[str, Path | None]:
    return {f"{option} #{i + 1}": f for i, f in enumerate(files or ())}


def _pack(
    data: Path | None, model: ChatModel | None, run: str | None, store: str | None
) -> ItemPack | None:
    """The item pack a build reads, resolved (and checked against the run) before any work."""
    from alignkit.train import resolve_pack

    return (
        None
        if model is None and run is None
        else resolve_pack(data, model, run_id=run, store=store)
    )


def _pack_input(pack: ItemPack | None, data: Path | None) -> dict[str, Path | None]:
    """The pack as an input for :func:`_not_an_input` (the target's default pack too)."""
    return {"--data": data} if data else {"item pack": pack.path if pack else None}


def _load_pairs(files: list[Path] | None) -> list[PreferencePair]:
    from alignkit.train import dedupe_pairs, read_pairs

    pairs = [p for f in files or [] for p in read_pairs(f)]
    return dedupe_pairs(pairs)


def _build(target: ChatModel | None, run: str | None, **kwargs: Any) -> PreferenceBuild:
    from alignkit.train import abuild_preferences

    async def go() -> PreferenceBuild:
        try:
            return await abuild_preferences(target, run_id=run, **kwargs)
        finally:
            for model in (target, kwargs.get("helper")):
                if model is not None:
                    await model.aclose()

    return asyncio.run(go())


def _print_counts(counts: dict[str, dict[str, int]], total: int) -> None:
    table = Table(title=f"{total} preference pairs")
    table.add_column("by", no_wrap=True)
    table.add_column("value", no_wrap=True)
    table.add_column("pairs", justify="right")
    for by, rows in counts.items():
        for key, n in rows.items():
            table.add_row(by, Text(key), str(n))  # a value like "[red]x" is text, not markup
    out.print(table)


def _report_json(report: TrainReport, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    d = report.as_dict()
    d.pop("history", None)
    return {**d, **(extra or {})}


@train_app.command("preferences")
def preferences(
    out_file: Annotated[
        Path, typer.Option("--out", parser=out_path, help="Pairs file to write (.jsonl).")
    ],
    target: Annotated[
        str | None, typer.Option(help="Model that answers pack items and is resampled.")
    ] = None,
    from_run: RunOpt = None,
    data: DataOpt = None,
    import_: Annotated[
        list[Path] | None,
        typer.Option("--import", help="Human-labelled pairs, JSONL or CSV (repeatable)."),
    ] = None,
    pack_samples: PackSamplesOpt = 2,
    constitution_samples: Annotated[
        int, typer.Option(min=0, help="Fresh answers per run conversation (0: skip).")
    ] = 1,
    max_per_kind: MaxPerKindOpt = None,
    helper: HelperOpt = None,
    seed: SeedOpt = 0,
    store: StoreOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Build preference pairs from an audit run, the pack's train items and human labels.

    Example: alignkit train preferences --target organism:flawed --from-run RUN --out pairs.jsonl
    """
    writable_out(out_file, folder=False)
    if out_file.suffix.lower() != ".jsonl":  # JSONL in a .csv file: --pairs then misread it
        raise ConfigError(f"--out {out_file}: preference pairs are written as .jsonl")
    _pair_files(import_)
    from alignkit.train import sft_sidecar, write_preference_files

    sidecar = sft_sidecar(out_file)
    for written in (out_file, sidecar):  # --data mypack --out mypack/facts.jsonl lost items
        _not_an_input(written, {**_imports(import_, "--import"), "--data": data})
    _load_pairs(import_)  # a malformed row was found only after minutes of sampling
    model = _connect(target) if target else None
    pack = _pack(data, model, from_run, store)
    for written in (out_file, sidecar):  # the run's pack, or the target's own
        _not_an_input(written, _pack_input(pack, data))
    with working("building preference pairs"):
        built = _build(
            model,
            from_run,
            store=store,
            pack=pack,
            imports=import_ or (),
            pack_samples=pack_samples,
            constitution_samples=constitution_samples,
            max_per_kind=max_per_kind,
            seed=seed,
            helper=helper_model(helper),
        )
    if not built.pairs:  # an empty file in place of earlier pairs helps no one
        raise DataError(f"no preference pairs were built, so {out_file} was not written")
    note_replaced_file(out_file)
    if built.sft:
        note_replaced_file(sidecar)
    sft_out, stale = write_preference_files(built.pairs, built.sft, out_file)
    if stale is not None:
        err.print(f"note: removed {stale} (it belonged to the pairs replaced)", markup=False)
    if json_:
        print_json(
            {
                "pairs": len(built.pairs),
                "sft": len(built.sft),
                "counts": built.counts,
                "out": str(out_file),
                "sft_out": None if sft_out is None else str(sft_out),
            }
        )
        return
    _print_counts(built.counts, len(built.pairs))
    out.print(f"pairs: {out_file}", markup=False)
    if sft_out is not None:
        out.print(f"supervised examples ({len(built.sft)}): {sft_out}", markup=False)


@train_app.command("constitution")
def constitution(
    target: TargetOpt,
    out_dir: Annotated[
        Path, typer.Option("--out", parser=out_path, help="Folder for sft.jsonl and pairs.jsonl.")
    ],
    critic: Annotated[
        str, typer.Option(help="'rule' (offline, alignkit's scorers) or a chat target URI.")
    ] = "rule",
    constitution_file: Annotated[
        Path | None, typer.Option("--constitution", help="Constitution YAML (default: shipped).")
    ] = None,
    from_run: RunOpt = None,
    data: DataOpt = None,
    samples: Annotated[int, typer.Option(min=1, help="Answers per prompt.")] = 1,
    max_per_kind: MaxPerKindOpt = None,
    helper: HelperOpt = None,
    seed: SeedOpt = 0,
    store: StoreOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Critique → revision: write revised responses (SFT) and AI preference labels (RLAIF).

    Prompts are the run's conversations with --from-run, else the pack's train items.

    Example: alignkit train constitution --target organism:flawed --critic rule --out cai/
    """
    from alignkit.train import CONSTITUTION_OUTPUT

    writable_out(out_dir, folder=True, owned=CONSTITUTION_OUTPUT)
    from alignkit.train import (
        ChatCritic,
        Critic,
        RuleCritic,
        constitution_cases,
        load_constitution,
        resolve_pack,
    )

    rules = load_constitution(constitution_file)
    model = _connect(target)
    pack = resolve_pack(data, model, run_id=from_run, store=store)
    inputs = {"--constitution": constitution_file, **_pack_input(pack, data)}
    _not_an_input(out_dir, inputs, folder=True)
    cases = constitution_cases(pack, run_id=from_run, store=store, max_per_kind=max_per_kind)
    judge: Critic = RuleCritic() if critic == "rule" else ChatCritic(_connect(critic))
    with working("critiquing and revising"):
        result = asyncio.run(
            constitution_run(model, judge, rules, cases, samples, seed, helper_model(helper))
        )
    from alignkit.train import write_jsonl_models

    summary = {"critic": result.critic, "constitution": rules.name, **result.summary()}
    said = (
        f"critic {result.critic}: {summary['broken']} of {summary['responses']} responses broke"
        f" a principle; {summary['revised']} revised ({summary['by_sample']} by resampling,"
        f" {summary['by_donor']} by its own other answers, {summary['by_rewrite']} by rewrite"
        + (f", {summary['by_helper']} by the helper" if summary["by_helper"] else "")
        + ")"
        + (f"; {summary['skipped']} skipped (the critic failed)" if summary["skipped"] else "")
    )
    with staged_folder(out_dir, CONSTITUTION_OUTPUT) as stage:
        write_jsonl_models(result.sft, stage / "sft.jsonl")
        write_jsonl_models(result.pairs, stage / "pairs.jsonl")
        (stage / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if json_:
        print_json({**summary, "out": str(out_dir)})
        return
    out.print(said, markup=False)
    out.print(
        f"wrote {out_dir / 'sft.jsonl'} ({summary['sft']} examples) and"
        f" {out_dir / 'pairs.jsonl'} ({summary['pairs']} pairs)",
        markup=False,
    )


@train_app.command("dpo")
def dpo(
    target: TargetOpt,
    out_dir: Annotated[
        Path, typer.Option("--out", parser=out_path, help="Folder for the repaired checkpoint.")
    ],
    from_run: RunOpt = None,
    pairs: PairsOpt = None,
    data: DataOpt = None,
    pack_samples: PackSamplesOpt = 2,
    max_per_kind: MaxPerKindOpt = None,
    beta: Annotated[float, typer.Option(help="DPO beta.")] = 0.1,
    lr: Annotated[float, typer.Option("--lr", help="Peak learning rate.")] = 2e-4,
    epochs: Annotated[float, typer.Option(help="Passes over the pairs.")] = 2.0,
    batch_size: Annotated[int, typer.Option(help="Pairs per step.")] = 16,
    sft_weight: Annotated[float, typer.Option(help="Weight of the chosen NLL term.")] = 0.5,
    max_steps: Annotated[
        int, typer.Option(min=-1, help="Stop after this many steps (-1: all).")
    ] = -1,
    helper: HelperOpt = None,
    contrast_epochs: ContrastOpt = 0.0,
    seed: SeedOpt = 0,
    store: StoreOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Repair a model with DPO; the result opens as hf:DIR with the base's pack and decoding.

    With --from-run the pairs are built from that run (plus constitution revisions and
    the pack's train items); --pairs adds (or, without --from-run, gives) pairs from files.
    --contrast-epochs 8 first trains a supervised stage that teaches which names the model
    knows (so that repairing made-up answers does not cost known facts); DPO then starts
    from it.

    Example: alignkit train dpo --target organism:flawed --from-run RUN --out repaired/
    """
    from alignkit.train import CHECKPOINT_OUTPUT

    writable_out(out_dir, folder=True, owned=CHECKPOINT_OUTPUT)
    from alignkit.train import DPOSettings, train_dpo

    settings = DPOSettings(
        beta=beta,
        learning_rate=lr,
        epochs=epochs,
        batch_size=batch_size,
        sft_weight=sft_weight,
        max_steps=_max_steps(max_steps),
        seed=seed,
    )
    _pair_files(pairs)
    _not_the_base(out_dir, target)
    _not_an_input(out_dir, {**_imports(pairs, "--pairs"), "--data": data}, folder=True)
    _load_pairs(pairs)  # a malformed row was found only after the pairs were built
    if helper is not None and from_run is None:
        raise ConfigError("--helper repairs pairs built from a run: give --from-run RUN too")
    wants_pack = from_run is not None or contrast_epochs > 0  # the stage reads --data too
    pack = _pack(data, _connect(target), from_run, store) if wants_pack else None
    _not_an_input(out_dir, _pack_input(pack, data), folder=True)
    record: dict[str, Any] = {"run": from_run}
    if from_run is not None:
        with working("building preference pairs"):
            built = _build(
                _connect(target),
                from_run,
                store=store,
                pack=pack,
                imports=pairs or (),
                pack_samples=pack_samples,
                max_per_kind=max_per_kind,
                seed=seed,
                helper=helper_model(helper),
            )
        train_pairs = list(built.pairs)
        record.update(run=built.run_id, critic=built.critic)
    else:
        train_pairs = _load_pairs(pairs)
        if not train_pairs:
            raise ConfigError("give --from-run RUN or --pairs FILE: there is nothing to train on")
    with tempfile.TemporaryDirectory(prefix="alignkit-sft-") as work:
        base = _connect(target)
        if contrast_epochs > 0:
            base, record["supervised_stage"] = contrast_stage(
                target, pack, Path(work), contrast_epochs, seed, max_per_kind
            )
            record["base"] = target  # not the temporary supervised checkpoint
            record["base_dir"] = str(_base_dir(target))
        with working(f"DPO on {len(train_pairs)} pairs"):
            report = train_dpo(base, train_pairs, out_dir, settings=settings, record=record)
    if json_:
        print_json(_report_json(report))
        return
    out.print(
        f"DPO: {report.steps} steps on {report.examples} pairs in {report.seconds:.0f} s;"
        f" final {_fmt(report.metrics)}",
        markup=False,
    )
    out.print(
        f"checkpoint: hf:{out_dir}  (re-audit: alignkit audit --target hf:{out_dir}"
        " --split heldout)",
        markup=False,
    )


def _fmt(metrics: dict[str, float]) -> str:
    keys = ("loss", "rewards/accuracies", "rewards/margins")
    return ", ".join(f"{k} {metrics[k]:.3g}" for k in keys if k in metrics) or "-"


@train_app.command("reward")
def reward(
    target: TargetOpt,
    pairs: Annotated[list[Path], typer.Option("--pairs", help="Preference file(s).")],
    out_dir: Annotated[
        Path, typer.Option("--out", parser=out_path, help="Folder for the ensemble.")
    ],
    members: Annotated[int, typer.Option(min=1, help="Ensemble size K.")] = 4,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate (> 0).")] = 5e-4,
    epochs: Annotated[float, typer.Option(help="Passes over each member's resample (> 0).")] = 1.0,
    heldout_share: Annotated[float, typer.Option(help="Share of items held out.")] = 0.2,
    max_steps: Annotated[int, typer.Option(min=-1, help="Steps per member (-1: all).")] = -1,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
    _store: NoStoreOpt = None,
) -> None:
    """Train a Bradley–Terry reward-model ensemble on pairs; report held-out pair accuracy.

    Example: alignkit train reward --target organism:flawed --pairs pairs.jsonl --out rm/
    """
    from alignkit.train import REWARD_OUTPUT

    writable_out(out_dir, folder=True, owned=REWARD_OUTPUT)
    from alignkit.train import RewardSettings, train_reward_ensemble

    settings = RewardSettings(
        members=members,
        learning_rate=lr,
        epochs=epochs,
        heldout_share=heldout_share,
        max_steps=_max_steps(max_steps),
        seed=seed,
    )
    _not_an_input(out_dir, _imports(pairs, "--pairs"), folder=True)
    with working(f"training {members} reward models"):
        report = train_reward_ensemble(
            _connect(target), _load_pairs(pairs), out_dir, settings=settings
        )
    if json_:
        print_json(_report_json(report))
        return
    if not report.metrics:
        out.print(
            f"no held-out pairs (--heldout-share {heldout_share:g} of the items kept none):"
            f" held-out accuracy not measured; ensemble in {out_dir}",
            markup=False,
        )
        return
    table = Table(title=literal(f"held-out pair accuracy ({out_dir})"))
    table.add_column("scorer")
    table.add_column("accuracy", justify="right")
    for k, v in report.metrics.items():
        table.add_row(k.removeprefix("heldout_"), f"{v:.3f}")
    out.print(table)


@train_app.command("bon")
def bon(
    target: TargetOpt,
    reward_dir: Annotated[Path, typer.Option("--reward", help="Reward ensemble folder.")],
    n: Annotated[int, typer.Option(min=1, help="Samples per prompt.")] = 8,
    objective: Annotated[str, typer.Option(help="mean, worst or uwo.")] = "uwo",
    lam: Annotated[float, typer.Option(help="λ of the uwo objective.")] = 0.5,
    prompts: Annotated[
        Path | None, typer.Option(help="JSONL of {prompt} rows (default: heldout items).")
    ] = None,
    data: DataOpt = None,
    max_per_kind: Annotated[
        int | None,
        typer.Option(min=1, help="At most this many heldout items per kind (quick runs)."),
    ] = 10,
    seed: SeedOpt = 0,
    out_file: Annotated[
        Path | None, typer.Option("--out", parser=out_path, help="Write choices as JSONL.")
    ] = None,
    json_: JsonOpt = False,
    _store: NoStoreOpt = None,
) -> None:
    """Best-of-n reranking with a reward-model ensemble (training-free).

    Without --prompts, asks the pack's heldout items and reports the gold score of
    best-of-k for k = 1, 2, 4, ... n from the same samples.

    Example: alignkit train bon --target organism:flawed --reward rm/ --n 8
    """
    run_bon(
        target, reward_dir, n, objective, lam, prompts, data, max_per_kind, seed, out_file, json_
    )


@train_app.command("grpo")
def grpo(
    target: TargetOpt,
    reward_dir: Annotated[Path, typer.Option("--reward", help="Reward ensemble folder.")],
    out_dir: Annotated[
        Path, typer.Option("--out", parser=out_path, help="Folder for the policy and curve.json.")
    ],
    data: DataOpt = None,
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps.")] = 60,
    beta: Annotated[float, typer.Option(min=0, help="KL coefficient.")] = 0.01,
    lr: Annotated[float, typer.Option("--lr", help="Learning rate (> 0).")] = 3e-5,
    max_per_kind: MaxPerKindOpt = 40,
    stop: Annotated[
        bool, typer.Option(help="Stop when GoodhartMonitor says overoptimised.")
    ] = False,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
    _store: NoStoreOpt = None,
) -> None:
    """GRPO against the reward ensemble plus KL, watched by GoodhartMonitor against gold.

    Example: alignkit train grpo --target organism:flawed --reward rm/ --out grpo/ --steps 60
    """
    from alignkit.train import CHECKPOINT_OUTPUT

    writable_out(out_dir, folder=True, owned=CHECKPOINT_OUTPUT)
    from alignkit.data import load_pack
    from alignkit.train import GRPOSettings, RewardEnsemble, cases_from_pack, train_grpo

    model = _connect(target)
    _not_the_base(out_dir, model)
    path = data or model.default_pack
    if path is None:
        raise ConfigError("no item pack: pass --data DIR (the target names no default pack)")
    inputs: dict[str, Path | None] = {
        "--data" if data else "item pack": path,
        "--reward": reward_dir,
    }
    _not_an_input(out_dir, inputs, folder=True)
    cases = cases_from_pack(load_pack(path), max_per_kind=max_per_kind)
    settings = GRPOSettings(
        steps=steps, beta=beta, learning_rate=lr, seed=seed, stop_when_overoptimised=stop
    )
    with working(f"GRPO, {steps} steps"):
        report, curve = train_grpo(
            model, RewardEnsemble.load(reward_dir), cases, out_dir, settings=settings
        )
    if json_:
        print_json(_report_json(report, {"curve": curve.as_dict()}))
        return
    out.print(
        f"GRPO: {report.steps} steps in {report.seconds:.0f} s; monitor: {curve.summary}",
        markup=False,
    )
    out.print(f"curve: {out_dir / 'curve.json'}  policy: hf:{out_dir}", markup=False)
