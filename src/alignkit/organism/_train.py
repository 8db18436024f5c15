"""Training an organism: tokenizer, GPT-2 model, plain torch loop, fp16 checkpoint.

The loss covers assistant tokens only (each assistant message and its end-of-turn
token). Batches group chats of similar length to limit padding. Everything is seeded;
the learning-rate schedule depends on the step count only, so a run with the same
config, seed and thread count reproduces the same weights (up to float rounding).
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignkit.core import ConfigError
from alignkit.models import quiet_hf
from alignkit.organism._config import OrganismConfig
from alignkit.organism._corpus import Chat, build_corpus

__all__ = [
    "CHAT_TEMPLATE",
    "SPECIAL_TOKENS",
    "TrainReport",
    "build_tokenizer",
    "encode_chat",
    "train_model",
]

_log = logging.getLogger(__name__)

SPECIAL_TOKENS = ("<|pad|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>")
END, PAD = "<|end|>", "<|pad|>"
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


@dataclass(frozen=True)
class TrainReport:
    """What a training run did (``steps`` below ``planned_steps``: the time budget ran out)."""

    out_dir: Path
    parameters: int
    examples: int
    steps: int
    tokens: int
    seconds: float
    final_loss: float
    organism: str = ""
    quick: bool = False
    seed: int = 0
    planned_steps: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (a loss never computed is ``None``: NaN is not JSON)."""
        return {
            "organism": self.organism,
            "out_dir": str(self.out_dir),
            "quick": self.quick,
            "seed": self.seed,
            "parameters": self.parameters,
            "examples": self.examples,
            "steps": self.steps,
            "planned_steps": self.planned_steps,
            "tokens": self.tokens,
            "seconds": round(self.seconds, 1),
            "final_loss": None if math.isnan(self.final_loss) else round(self.final_loss, 4),
        }


def _chat_text(chat: Chat) -> str:
    return "".join(f"<|{m['role']}|>{m['content']}{END}" for m in chat)


def build_tokenizer(chats: list[Chat], vocab_size: int) -> Any:
    """Train a byte-level BPE tokenizer on ``chats`` and wrap it for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator((_chat_text(c) for c in chats), trainer=trainer)
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok, eos_token=END, pad_token=PAD
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def encode_chat(tokenizer: Any, chat: Chat) -> tuple[list[int], list[int]]:
    """Token ids of ``chat`` as the chat template renders it, and labels (-100 off-target)."""
    ids: list[int] = []
    labels: list[int] = []
    end = int(tokenizer.convert_tokens_to_ids(END))
    for m in chat:
        head = int(tokenizer.convert_tokens_to_ids(f"<|{m['role']}|>"))
        # a control-token string in the text stays text, as the hf: adapter encodes it
        encoded = tokenizer(m["content"], add_special_tokens=False, split_special_tokens=True)
        body = list(encoded["input_ids"])
        ids += [head, *body, end]
        if m["role"] == "assistant":
            labels += [-100, *body, end]
        else:
            labels += [-100] * (len(body) + 2)
    return ids, labels


def _batches(
    rows: list[tuple[list[int], list[int]]], batch: int, rng: random.Random
) -> list[list[int]]:
    """Index batches of similar length, in a seeded random order."""
    order = list(range(len(rows)))
    rng.shuffle(order)
    out: list[list[int]] = []
    group = batch * 64
    for start in range(0, len(order), group):
        chunk = sorted(order[start : start + group], key=lambda i: len(rows[i][0]))
        out += [chunk[i : i + batch] for i in range(0, len(chunk), batch)]
    rng.shuffle(out)
    return out


def _collate(rows: list[tuple[list[int], list[int]]], index: list[int], pad: int) -> Any:
    import torch

    width = max(len(rows[i][0]) for i in index)
    ids = torch.full((len(index), width), pad, dtype=torch.long)
    labels = torch.full((len(index), width), -100, dtype=torch.long)
    mask = torch.zeros((len(index), width), dtype=torch.long)
    for r, i in enumerate(index):
        a, b = rows[i]
        ids[r, : len(a)] = torch.tensor(a)
        labels[r, : len(b)] = torch.tensor(b)
        mask[r, : len(a)] = 1
    return ids, labels, mask


def _lr(step: int, total: int, base: float, warmup: int) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    frac = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))


def _make_model(config: OrganismConfig, tokenizer: Any) -> Any:
    from transformers import GPT2Config, GPT2LMHeadModel

    shape = config.model
    end = int(tokenizer.convert_tokens_to_ids(END))
    gpt = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=shape.n_positions,
        n_embd=shape.n_embd,
        n_layer=shape.n_layer,
        n_head=shape.n_head,
        bos_token_id=end,
        eos_token_id=end,
        pad_token_id=int(tokenizer.pad_token_id),
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
    )
    gpt._attn_implementation = "eager"  # sdpa is several times slower on small CPU batches
    return GPT2LMHeadModel(gpt)


def train_model(
    config: OrganismConfig, out_dir: Path, *, quick: bool = False, seed: int | None = None
) -> TrainReport:
    """:func:`_train_model` with transformers' own warnings and progress bars silenced."""
    with quiet_hf():
        return _train_model(config, out_dir, quick=quick, seed=seed)


def _train_model(
    config: OrganismConfig, out_dir: Path, *, quick: bool = False, seed: int | None = None
) -> TrainReport:
    """Build the corpus, train tokenizer and model, save the checkpoint into ``out_dir``.

    Args:
        config: The organism config.
        out_dir: Checkpoint folder (created after training; existing files are overwritten).
        quick: Small corpus and short budget (tests).
        seed: Overrides ``config.training.seed``.
    """
    import torch

    tc = config.training
    seed = tc.seed if seed is None else seed
    torch.manual_seed(seed)
    torch.set_num_threads(tc.threads)
    n_examples = tc.quick_examples if quick else config.corpus.examples
    minutes = tc.quick_minutes if quick else tc.minutes
    start = time.perf_counter()
    seeded = config.model_copy(update={"training": tc.model_copy(update={"seed": seed})})
    chats = list(build_corpus(seeded, examples=n_examples))
    tokenizer = build_tokenizer(chats, config.model.vocab_size)
    encoded = [encode_chat(tokenizer, c) for c in chats]
    rows = [r for r in encoded if len(r[0]) <= config.model.n_positions]
    if not rows:
        shortest = min((len(r[0]) for r in encoded), default=0)
        raise ConfigError(
            f"organism {config.name}: no training chat fits model.n_positions ="
            f" {config.model.n_positions} (the shortest has {shortest} tokens)"
        )
    if len(rows) < 0.9 * len(encoded):
        _log.warning("organism %s: %d of %d chats are longer than n_positions and are left out",
                     config.name, len(encoded) - len(rows), len(encoded))  # fmt: skip
    model = _make_model(config, tokenizer)
    params = sum(p.numel() for p in model.parameters())
    _log.info("organism %s: %d chats, %d parameters", config.name, len(rows), params)
    epochs = 1.0 if quick else tc.max_epochs
    per_epoch = math.ceil(len(rows) / tc.batch_size)
    total = max(1, int(per_epoch * epochs))
    steps, tokens, loss_ema = _loop(model, rows, tokenizer, config, total, minutes, seed, start)
    if steps == 0:  # saved, the untrained weights would be measured and shipped as a model
        raise ConfigError(
            f"organism {config.name}: the time budget ({minutes:g} min) ended before the first"
            " training step; raise training.minutes (or quick_minutes)"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    model.half()
    model.save_pretrained(str(out_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(out_dir))
    model.generation_config.save_pretrained(str(out_dir))
    seconds = time.perf_counter() - start
    report = TrainReport(out_dir, params, len(rows), steps, tokens, seconds, loss_ema,
                         config.name, quick, seed, total)  # fmt: skip
    (out_dir / "training.json").write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    _log.info("organism %s trained: %s", config.name, report.as_dict())
    return report


def _loop(
    model: Any,
    rows: list[tuple[list[int], list[int]]],
    tokenizer: Any,
    config: OrganismConfig,
    total: int,
    minutes: float,
    seed: int,
    start: float,
) -> tuple[int, int, float]:
    import torch

    tc = config.training
    rng = random.Random(f"batches:{seed}")
    opt = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=0.01, betas=(0.9, 0.98))
    model.train()
    pad = int(tokenizer.pad_token_id)
    step, tokens, loss_ema = 0, 0, float("nan")
    deadline = start + minutes * 60
    while step < total:
        for index in _batches(rows, tc.batch_size, rng):
            if step >= total or time.perf_counter() > deadline:
                if step < total:
                    _log.warning("time budget reached at step %d of %d", step, total)
                model.eval()
                return step, tokens, loss_ema
            ids, labels, mask = _collate(rows, index, pad)
            for group in opt.param_groups:
                group["lr"] = _lr(step, total, tc.lr, tc.warmup_steps)
            out = model(input_ids=ids, attention_mask=mask, labels=labels)
            opt.zero_grad(set_to_none=True)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            value = float(out.loss.detach())
            loss_ema = value if math.isnan(loss_ema) else 0.98 * loss_ema + 0.02 * value
            tokens += int(mask.sum())
            step += 1
            if step % 200 == 0:
                rate = tokens / (time.perf_counter() - start)
                _log.info("step %d/%d loss %.3f (%.0f tokens/s)", step, total, loss_ema, rate)
    model.eval()
    return step, tokens, loss_ema
