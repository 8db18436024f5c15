"""Train the prompt-injection classifier on alignkit's own data and measure it on held-out data.

``python -m alignkit.guard._injection_train [--out FILE] [--seed N]`` fits an L2 logistic
regression (scikit-learn, needed only here) on the ``train`` split, picks the decision
threshold at 1% false positives from 5-fold out-of-fold scores of the training negatives,
then measures on the ``heldout`` split, which it never trained or tuned on: recall at 1%
FPR (threshold from the held-out negatives, the usual definition), and recall and FPR
at the shipped threshold. Everything is written into the parameter JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from alignkit.guard._injection import DEFAULT_INJECTION_PARAMS, InjectionClassifier, features
from alignkit.guard._injection_data import load_split

__all__ = ["recall_at_fpr", "train"]

_log = logging.getLogger(__name__)


def recall_at_fpr(scores: Sequence[float], labels: Sequence[int], fpr: float = 0.01) -> float:
    """Share of positives scored above the threshold that lets through ``fpr`` of negatives.

    The threshold is the smallest score strictly above the ``(1 - fpr)`` share of negative
    scores, so at most ``fpr`` of negatives reach it.
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=bool)
    neg = np.sort(s[~y])
    allowed = int(np.floor(fpr * len(neg)))
    cut = neg[len(neg) - allowed - 1] if allowed < len(neg) else -np.inf
    return float(np.mean(s[y] > cut))


def _matrix(texts: Sequence[str], vocab: dict[str, int]) -> Any:
    from scipy.sparse import csr_matrix

    rows, cols = [], []
    for i, text in enumerate(texts):
        for f in features(text):
            j = vocab.get(f)
            if j is not None:
                rows.append(i)
                cols.append(j)
    data = np.ones(len(rows), dtype=np.float64)
    return csr_matrix((data, (rows, cols)), shape=(len(texts), len(vocab)))


def _vocab(texts: Sequence[str], min_df: int) -> dict[str, int]:
    df: dict[str, int] = {}
    for text in texts:
        for f in features(text):
            df[f] = df.get(f, 0) + 1
    kept = sorted(f for f, n in df.items() if n >= min_df)
    return {f: i for i, f in enumerate(kept)}


def _fit(x: Any, y: NDArray[np.int64], c: float, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(x, y)


def train(seed: int = 0, c: float = 1.0, min_df: int = 2) -> InjectionClassifier:
    """Fit on ``train``, choose the threshold out-of-fold, measure on ``heldout``."""
    from sklearn.model_selection import StratifiedKFold

    rows = load_split("train")
    texts = [r["prompt"] for r in rows]
    y = np.array([r["label"] == "injection" for r in rows], dtype=np.int64)
    vocab = _vocab(texts, min_df)
    x = _matrix(texts, vocab)
    oof = np.zeros(len(texts))
    for fit_idx, val_idx in StratifiedKFold(5, shuffle=True, random_state=seed).split(x, y):
        oof[val_idx] = _fit(x[fit_idx], y[fit_idx], c, seed).predict_proba(x[val_idx])[:, 1]
    neg = np.sort(oof[y == 0])
    threshold = float(min(0.99, max(0.5, neg[int(np.ceil(0.99 * len(neg))) - 1] + 1e-6)))
    model = _fit(x, y, c, seed)
    names = sorted(vocab, key=vocab.__getitem__)
    weights = {
        n: round(float(w), 6) for n, w in zip(names, model.coef_[0], strict=True) if abs(w) >= 1e-4
    }
    clf = InjectionClassifier(weights, float(model.intercept_[0]), threshold, {})
    held = load_split("heldout")
    hs = clf.score_batch(r["prompt"] for r in held)
    hy = [int(r["label"] == "injection") for r in held]
    pos = [s for s, t in zip(hs, hy, strict=True) if t]
    negs = [s for s, t in zip(hs, hy, strict=True) if not t]
    metrics = {
        "train_rows": len(rows),
        "heldout_rows": len(held),
        "heldout_injections": len(pos),
        "heldout_benign": len(negs),
        "heldout_recall_at_1pct_fpr": round(recall_at_fpr(hs, hy, 0.01), 4),
        "heldout_recall_at_threshold": round(float(np.mean([s >= threshold for s in pos])), 4),
        "heldout_fpr_at_threshold": round(float(np.mean([s >= threshold for s in negs])), 4),
        "train_oof_recall_at_threshold": round(float(np.mean(oof[y == 1] >= threshold)), 4),
        "seed": seed,
        "C": c,
        "min_df": min_df,
    }
    return InjectionClassifier(weights, clf.intercept, threshold, metrics)


def main(argv: Sequence[str] | None = None) -> None:
    """Train, write the parameters, log the held-out measurement."""
    p = argparse.ArgumentParser(prog="python -m alignkit.guard._injection_train")
    p.add_argument("--out", type=Path, default=DEFAULT_INJECTION_PARAMS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--C", type=float, default=1.0)
    args = p.parse_args(argv)
    clf = train(args.seed, args.C)
    args.out.write_text(json.dumps(clf.to_dict(), sort_keys=True, indent=0), encoding="utf-8")
    logging.basicConfig(level=logging.INFO)
    _log.info("wrote %s: %s", args.out, json.dumps(dict(clf.metrics)))


if __name__ == "__main__":
    main()
