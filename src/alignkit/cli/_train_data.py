"""Pieces of ``alignkit train``: the helper model, the supervised stage, a constitution run."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from alignkit.cli._common import working

if TYPE_CHECKING:
    from alignkit.core import ChatModel
    from alignkit.data import ItemPack
    from alignkit.train import ContrastBuild

HelperOpt = Annotated[
    str | None,
    typer.Option(
        "--helper",
        help="Chat target that writes help with benign requests the target always refuses"
        " ('smollm2': SmolLM2-135M-Instruct as installed by make setup).",
    ),
]
ContrastOpt = Annotated[
    float,
    typer.Option(
        "--contrast-epochs",
        min=0,
        help="Epochs of a supervised stage before DPO on contrast data (the same question"
        " about a known and a nonexistent name, in the target's own answers); 0: none.",
    ),
]


def helper_model(spec: str | None) -> ChatModel | None:
    """The ``--helper`` model (``smollm2`` names the installed SmolLM2), or None."""
    if spec is None:
        return None
    from alignkit.models import connect, smollm2_uri

    return connect(smollm2_uri() if spec == "smollm2" else spec)


def contrast_stage(
    target: str,
    pack: ItemPack | None,
    work: Path,
    epochs: float,
    seed: int,
    max_per_kind: int | None = None,
) -> tuple[ChatModel, dict[str, Any]]:
    """Train the supervised stage into ``work`` and return it as the DPO base, with a record.

    ``pack`` is the build's pack; None: the target's own.

    Raises:
        ConfigError: The pack gives no contrast data.
    """
    from alignkit.core import ConfigError
    from alignkit.models import connect
    from alignkit.train import SFTSettings, abuild_contrast, resolve_pack, train_sft

    base = connect(target)
    items = pack or resolve_pack(None, base)

    async def build() -> ContrastBuild:
        try:
            return await abuild_contrast(base, items, seed=seed, max_per_kind=max_per_kind)
        finally:
            await base.aclose()

    with working("building contrast data"):
        built = asyncio.run(build())
    if not built.examples:
        raise ConfigError(f"the pack {items.path} gives no contrast data (facts, arithmetic, ...)")
    with working(f"supervised stage on {len(built.examples)} examples"):
        report = train_sft(
            connect(target), built.examples, work, settings=SFTSettings(epochs=epochs, seed=seed)
        )
    record = {"epochs": epochs, "steps": report.steps, "examples": built.counts}
    return connect(f"hf:{work}"), record


async def constitution_run(
    model: ChatModel,
    judge: Any,
    rules: Any,
    cases: Any,
    samples: int,
    seed: int,
    helper: ChatModel | None,
) -> Any:
    """Run the constitution, closing the target, the critic's model and the helper."""
    from alignkit.train import run_constitution

    try:
        return await run_constitution(
            model, judge, cases, rules, samples=samples, seed=seed, helper=helper
        )
    finally:
        await model.aclose()
        if helper is not None:
            await helper.aclose()
        critic_model = getattr(judge, "model", None)
        if critic_model is not None:
            await critic_model.aclose()
