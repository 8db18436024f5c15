"""``alignkit interpret probe | steer | explain``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from alignkit.cli._common import (
    JsonOpt,
    NoStoreOpt,
    err,
    not_an_input,
    note_replaced_file,
    out,
    out_path,
    print_json,
    writable_folder,
)
from alignkit.core import ConfigError

if TYPE_CHECKING:
    from alignkit.interpret import ContrastPair

interpret_app = typer.Typer(
    help="Look inside models: defection probes, steering vectors, SHAP/LIME attributions.\n\n"
    "Example: alignkit interpret probe --target organism:flawed --prompts prompts.jsonl",
    no_args_is_help=True,
)
TargetOpt = Annotated[str, typer.Option("--target", help="Target URI (hf: or organism:).")]
SeedOpt = Annotated[
    int, typer.Option("--seed", min=0, max=2**32 - 1, help="Seed for sampling and folds.")
]


@interpret_app.command("probe")
def probe(
    target: TargetOpt = "organism:flawed",
    prompts: Annotated[
        Path | None,
        typer.Option(
            "--prompts",
            help="JSONL rows {prompt, label?}; default: the target's pack requests.",
        ),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="Pack or prompts file of ordinary traffic."),
    ] = None,
    layer: Annotated[int | None, typer.Option("--layer", help="Deciding block.")] = None,
    threshold: Annotated[
        float | None,
        typer.Option("--threshold", help="Flag from this score (default 4, or a --probe's own)."),
    ] = None,
    probe_file: Annotated[
        Path | None, typer.Option("--probe", help="Use a saved probe instead of fitting one.")
    ] = None,
    save: Annotated[
        Path | None, typer.Option("--save", parser=out_path, help="Save the fitted probe.")
    ] = None,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
    _store: NoStoreOpt = None,
) -> None:
    """Score prompts with the contrast-pair defection probe on the target's activations.

    Example: alignkit interpret probe --target organism:flawed --prompts log.jsonl --json
    """
    from alignkit.interpret import LabelledPrompt, read_prompts, run_probe

    if save is not None:  # checked before the fit, which was lost when the save failed
        writable_folder(save, "--save")  # first: a name too long for is_dir() to ask
        if save.is_dir():
            raise ConfigError(f"--save {save} is a folder; give a file name (.npz)")
        not_an_input(save, "--save", {"--prompts": prompts, "--probe": probe_file})
    if prompts is not None:
        rows = read_prompts(prompts)
    else:
        rows = [LabelledPrompt(t) for t in _default_requests(target)]
    with err.status("fitting the probe and scoring prompts…"):
        result = run_probe(
            target,
            rows,
            reference=reference,
            layer=layer,
            threshold=threshold,
            probe_file=probe_file,
            save=save,
            seed=seed,
        )
    if json_:
        print_json(result.to_json())
        return
    for row, score, hit in zip(result.prompts, result.scores, result.flagged, strict=True):
        out.print(f"{score:8.2f} {'FLAG' if hit else '    '} {row.prompt}", markup=False)
    out.print(
        f"block {result.layer}: {int(result.flagged.sum())}/{len(result.prompts)} flagged"
        f" (score ≥ {result.threshold:g})",
        markup=False,
    )
    if result.auroc_by_layer is not None:
        per = ", ".join(f"{k}: {v:.3f}" for k, v in result.auroc_by_layer.items())
        out.print(f"AUROC by block: {per}", markup=False)


def _default_requests(target: str) -> list[str]:
    import asyncio

    from alignkit.data import general_pack_path, load_pack
    from alignkit.interpret import request_texts
    from alignkit.models import open_target

    t = open_target(target)
    pack = t.default_pack or general_pack_path()
    asyncio.run(t.aclose())
    return list(dict.fromkeys(request_texts(load_pack(pack))))


@interpret_app.command("steer")
def steer(
    out_file: Annotated[
        Path, typer.Option("--out", parser=out_path, help="Where to write the vector (.npz).")
    ],
    target: TargetOpt = "organism:flawed",
    pairs: Annotated[
        Path | None,
        typer.Option("--pairs", help="JSONL rows {prompt|messages, positive, negative}."),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option("--preset", help="Build pairs: 'sycophancy' (from a pack's train facts)."),
    ] = None,
    pack: Annotated[
        Path | None, typer.Option("--pack", help="Pack for --preset (default: target's).")
    ] = None,
    form: Annotated[
        str, typer.Option("--form", help="--preset pairs: 'prompt' or 'answer' contrasts.")
    ] = "prompt",
    positions: Annotated[
        str | None,
        typer.Option(
            "--positions",
            help="Where to add it: all, answer or first (default: first for prompt"
            " contrasts, all for answer contrasts).",
        ),
    ] = None,
    layer: Annotated[
        list[int] | None, typer.Option("--layer", help="Block(s) to steer (default: middle).")
    ] = None,
    scale: Annotated[
        float, typer.Option("--scale", help="Default scale stored in the file.")
    ] = 1.0,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
    _store: NoStoreOpt = None,
) -> None:
    """Build a steering vector from contrast pairs and save it for ?steer=FILE&scale=S.

    Example: alignkit interpret steer --preset sycophancy --target organism:flawed --out v.npz
    """
    from dataclasses import replace

    from alignkit.interpret import run_steer
    from alignkit.models import POSITIONS, save_steering, with_query

    if not math.isfinite(scale):
        raise ConfigError(f"--scale must be a finite number, not {scale}")
    writable_folder(out_file)  # before the vector is built, not after
    if out_file.is_dir():
        raise ConfigError(f"--out {out_file} is a folder; give a file name (.npz)")
    not_an_input(out_file, "--out", {"--pairs": pairs, "--pack": pack})
    note_replaced_file(out_file)
    contrast = _steer_pairs(target, pairs, preset, pack, form, seed)
    where = positions or ("all" if contrast[0].answers else "first")
    if where not in POSITIONS:
        raise ConfigError(f"--positions must be one of {', '.join(POSITIONS)}, not '{where}'")
    with err.status(f"building a steering vector from {len(contrast)} pairs…"):
        built = run_steer(target, contrast, layers=layer or None, positions=where)
        vector = replace(built, scale=scale)
    save_steering(vector, out_file)
    norms = [float((v**2).sum() ** 0.5) for v in vector.vectors]
    info: dict[str, Any] = {
        "out": str(out_file),
        "layers": list(vector.layers),
        "norms": norms,
        "pairs": len(contrast),
        "scale": vector.scale,
        "uri_hint": with_query(target, steer=str(out_file), scale=f"{vector.scale:g}"),
    }
    if json_:
        print_json(info)
        return
    out.print(
        f"wrote {out_file}: block(s) {info['layers']}, norm(s)"
        f" {', '.join(f'{n:.2f}' for n in norms)}, from {len(contrast)} pairs",
        markup=False,
    )
    out.print(f"use it with: --target '{info['uri_hint']}'", markup=False)


def _steer_pairs(
    target: str,
    pairs: Path | None,
    preset: str | None,
    pack: Path | None,
    form: str,
    seed: int,
) -> list[ContrastPair]:
    from alignkit.interpret import read_pairs, steer_pairs_from_pack

    if (pairs is None) == (preset is None):
        raise ConfigError("give exactly one of --pairs FILE or --preset sycophancy")
    if pairs is not None:
        return read_pairs(pairs)
    if preset != "sycophancy":
        raise ConfigError(f"unknown --preset '{preset}' (known: sycophancy)")
    if form == "prompt":
        return steer_pairs_from_pack(target, pack, form="prompt", seed=seed)
    if form == "answer":
        return steer_pairs_from_pack(target, pack, form="answer", seed=seed)
    raise ConfigError(f"--form must be prompt or answer, not '{form}'")


@interpret_app.command("explain")
def explain(
    response: Annotated[
        str | None, typer.Option("--response", help="A response to explain (LIME).")
    ] = None,
    prompt: Annotated[str, typer.Option("--prompt", help="The request it answered.")] = "",
    target: Annotated[
        str | None, typer.Option("--target", help="A classifier: target (SHAP + fairness).")
    ] = None,
    row: Annotated[
        int | None, typer.Option("--row", help="Also explain this table row with LIME.")
    ] = None,
    features: Annotated[
        int, typer.Option("--features", min=1, help="Words/features to show.")
    ] = 10,
    seed: SeedOpt = 0,
    json_: JsonOpt = False,
    _store: NoStoreOpt = None,
) -> None:
    """Why was a response scored as a refusal? What drives a classifier's decisions?

    Example: alignkit interpret explain --response "I'm sorry, I can't help with that."
    """
    if response is not None and target is None:
        _explain_response(prompt, response, features, seed, json_)
    elif target is not None and response is None:
        _explain_classifier(target, row, features, seed, json_)
    else:
        raise ConfigError("give exactly one of --response TEXT or --target classifier:...")


def _explain_response(prompt: str, response: str, features: int, seed: int, json_: bool) -> None:
    from alignkit.interpret import explain_response

    with err.status("explaining with LIME…"):
        exp = explain_response(prompt, response, num_features=features, seed=seed)
    if json_:
        print_json(
            {
                "label": exp.label,
                "confidence": exp.confidence,
                "weights": [{"word": w, "weight": v} for w, v in exp.weights],
            }
        )
        return
    out.print(f"scored as {exp.label} (confidence {exp.confidence:.2f}); words that", markup=False)
    out.print(f"push towards {exp.label} (+) or away from it (-):", markup=False)
    for word, weight in exp.weights:
        out.print(f"  {weight:+.3f}  {word}", markup=False)


def _explain_classifier(
    target: str, row: int | None, features: int, seed: int, json_: bool
) -> None:
    from alignkit.interpret import ClassifierTarget, explain_classifier, lime_tabular
    from alignkit.models import open_target

    with err.status("computing fairness and SHAP values…"):
        result = explain_classifier(target, seed=seed)
        local = None
        if row is not None:
            t = open_target(target)
            if not isinstance(t, ClassifierTarget):
                raise ConfigError(f"target {target} is not a classifier: target")
            local = lime_tabular(t, row, num_features=features, seed=seed)
    fair, shap = result.fairness, result.shap
    top = None if shap is None else dict(list(shap.importance.items())[:features])
    payload = {
        "fairness": None if fair is None else fair.values,
        "groups": None if fair is None else [g.__dict__ for g in fair.groups],
        "shap_importance": None if shap is None else shap.importance,  # all; the text: top N
        "lime": None if local is None else [{"feature": f, "weight": w} for f, w in local],
        "notes": list(result.notes),
    }
    if json_:
        print_json(payload)
        return
    for note in result.notes:
        out.print(note, markup=False)
    for name, value in (fair.values if fair is not None else {}).items():
        out.print(f"{name:40} {value:.4f}", markup=False)
    if top is not None:
        out.print("mean |SHAP| of P(selected), by feature:", markup=False)
        for i, (name, value) in enumerate(top.items(), 1):
            out.print(f"  {i}. {name:30} {value:.4f}", markup=False)
    if local is not None:
        out.print(f"LIME, row {row}:", markup=False)
        for cond, weight in local:
            out.print(f"  {weight:+.4f}  {cond}", markup=False)
