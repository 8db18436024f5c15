"""What the traffic monitor measures on each text: its length, its script and its n-grams.

Every feature maps a batch of texts to one value per text: a number (``length``, in
characters) or a category (``script``, the dominant writing system; ``ngrams``, the
nearest of a few clusters of the texts' TF-IDF vectors of word uni- and bigrams — over
the reference window's most frequent n-grams, clusters fitted on that window;
``embedding``, the same over vectors from a configured embedding model). The
drift detectors in :mod:`alignkit.monitor._drift` treat them alike.
"""

from __future__ import annotations

import importlib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "SCRIPTS",
    "Embedder",
    "VectorClusters",
    "NgramVocabulary",
    "dominant_script",
    "text_lengths",
]

FloatArray = NDArray[np.float64]
Embedder = Callable[[list[str]], Any]
"""Maps texts to an array of shape ``(len(texts), dim)`` (an embedding model)."""

_SCRIPT_RANGES: dict[str, str] = {
    "cyrillic": "\u0400-\u04ff\u0500-\u052f",
    "greek": "\u0370-\u03ff",
    "arabic": "\u0600-\u06ff\u0750-\u077f",
    "hebrew": "\u0590-\u05ff",
    "devanagari": "\u0900-\u097f",
    "cjk": "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af",
}
_SCRIPT_RX = {name: re.compile(f"[{chars}]") for name, chars in _SCRIPT_RANGES.items()}
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_LETTER = re.compile(r"[^\W\d_]")
SCRIPTS = ("latin", *_SCRIPT_RANGES, "other", "none")
"""The script categories: ``other`` is letters of any other system, ``none`` no letters."""


def text_lengths(texts: Sequence[str]) -> FloatArray:
    """Length of each text in characters, shape ``(n,)``."""
    return np.fromiter((len(t) for t in texts), dtype=np.float64, count=len(texts))


def dominant_script(text: str) -> str:
    """The writing system most of ``text``'s letters belong to (see :data:`SCRIPTS`)."""
    if text.isascii():
        return "latin" if _LATIN.search(text) else "none"
    counts = {"latin": len(_LATIN.findall(text))}
    for name, rx in _SCRIPT_RX.items():
        counts[name] = len(rx.findall(text))
    known = sum(counts.values())
    other = len(_LETTER.findall(text)) - known
    if other > 0:
        counts["other"] = other
    best = max(counts.items(), key=lambda kv: kv[1])
    return best[0] if best[1] > 0 else "none"


_TOKEN = re.compile(r"\w+")


def _grams(text: str) -> list[str]:
    tokens: list[str] = _TOKEN.findall(text.lower())
    return tokens + list(map(" ".join, zip(tokens, tokens[1:], strict=False)))


class NgramVocabulary:
    """TF-IDF vectors over the reference's most frequent word uni- and bigrams.

    Inverse document frequencies come from the reference, so words every request shares
    weigh little and the words that tell topics apart weigh much.

    Args:
        size: n-grams kept (the most frequent in the reference).
    """

    def __init__(self, size: int = 2000) -> None:
        self.size = size
        self.index: dict[str, int] = {}
        self.idf: FloatArray = np.ones(0)

    def fit(self, texts: Sequence[str]) -> NgramVocabulary:
        """Keep the ``size`` most frequent n-grams of ``texts`` and their IDF weights."""
        counts: Counter[str] = Counter()
        docs: Counter[str] = Counter()
        for t in texts:
            grams = _grams(t)
            counts.update(grams)
            docs.update(set(grams))
        kept = [g for g, _ in counts.most_common(self.size)]
        self.index = {g: i for i, g in enumerate(kept)}
        df = np.asarray([docs[g] for g in kept], dtype=np.float64)
        self.idf = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
        return self

    def transform(self, texts: Sequence[str]) -> Any:
        """Rows of TF-IDF weights, L2-normalised (``scipy.sparse``, ``(n, vocabulary)``)."""
        from scipy.sparse import csr_matrix

        get = self.index.get
        index = self.index
        cols: list[int] = []
        indptr = [0]
        for t in texts:
            cols.extend([i for i in map(get, _grams(t)) if i is not None])
            indptr.append(len(cols))
        col = np.asarray(cols, dtype=np.int64)
        m = csr_matrix(
            (np.ones(len(cols)), col, np.asarray(indptr)),
            shape=(len(texts), max(1, len(index))),
        )
        m.sum_duplicates()
        if len(self.idf):
            m.data = m.data * self.idf[m.indices]
        rows = np.repeat(np.arange(len(texts)), np.diff(m.indptr))
        sq = np.zeros(len(texts))
        np.add.at(sq, rows, m.data**2)
        norms = np.sqrt(sq)
        norms[norms == 0] = 1.0
        m.data = m.data / norms[rows]
        return m


def _one_blas_thread() -> AbstractContextManager[Any]:
    try:
        threadpoolctl = importlib.import_module("threadpoolctl")
    except ImportError:  # pragma: no cover - installed with scikit-learn
        return nullcontext()
    return cast(AbstractContextManager[Any], threadpoolctl.threadpool_limits(1, user_api="blas"))


def _basis(vectors: Any, dims: int, seed: int) -> FloatArray:
    """Top ``dims`` right singular vectors of ``vectors`` (randomised SVD), ``(dims, dim)``."""
    rng = np.random.default_rng(seed)
    omega = rng.standard_normal((vectors.shape[1], dims + 8))
    y = np.asarray(vectors @ omega, dtype=np.float64)
    for _ in range(2):  # power iterations sharpen the spectrum
        q, _ = np.linalg.qr(y)
        y = np.asarray(vectors @ np.asarray(vectors.T @ q, dtype=np.float64), dtype=np.float64)
    q, _ = np.linalg.qr(y)
    b = np.asarray((vectors.T @ q).T, dtype=np.float64)
    _, _, vt = np.linalg.svd(b, full_matrices=False)
    return np.asarray(vt[:dims], dtype=np.float64)


def _kmeans(z: FloatArray, k: int, seed: int, n_init: int = 3, iters: int = 60) -> FloatArray:
    """Centroids of Lloyd's k-means with k-means++ starts; the best of ``n_init`` runs."""
    rng = np.random.default_rng(seed)
    best, best_cost = z[:k].copy(), np.inf
    for _ in range(n_init):
        centres = [z[int(rng.integers(len(z)))]]
        for _ in range(1, k):
            d = ((z[:, None, :] - np.asarray(centres)[None]) ** 2).sum(-1).min(axis=1)
            total = d.sum()
            pick = int(rng.choice(len(z), p=d / total)) if total > 0 else int(rng.integers(len(z)))
            centres.append(z[pick])
        c = np.asarray(centres)
        for _ in range(iters):
            labels = ((z[:, None, :] - c[None]) ** 2).sum(-1).argmin(axis=1)
            new = np.asarray([z[labels == j].mean(0) if (labels == j).any() else c[j]
                              for j in range(k)])  # fmt: skip
            if np.allclose(new, c):
                break
            c = new
        cost = float(((z[:, None, :] - c[None]) ** 2).sum(-1).min(axis=1).sum())
        if cost < best_cost:
            best, best_cost = c, cost
    return best


class VectorClusters:
    """Nearest-centroid categories for vectors: projected to a few dimensions, k-means.

    Args:
        k: Number of clusters.
        dims: Dimensions kept by a truncated SVD before clustering.
        seed: Seed of the projection and the k-means initialisation.
    """

    def __init__(self, k: int = 8, dims: int = 16, seed: int = 0) -> None:
        self.k = k
        self.dims = dims
        self.seed = seed
        self.projection: FloatArray | None = None
        self.centroids: FloatArray | None = None

    def _project(self, vectors: Any) -> FloatArray:
        assert self.projection is not None
        z = np.asarray(vectors @ self.projection.T, dtype=np.float64)
        norms = np.linalg.norm(z, axis=1, keepdims=True)
        return np.asarray(z / np.where(norms == 0, 1.0, norms), dtype=np.float64)

    def fit(self, vectors: Any) -> VectorClusters:
        """Fit the projection and centroids on ``vectors`` (dense or sparse, ``(n, dim)``)."""
        n, dim = vectors.shape
        with _one_blas_thread():  # tiny problems: threads only contend (badly, on busy hosts)
            self.projection = _basis(vectors, max(1, min(self.dims, dim, n)), self.seed)
            z = self._project(vectors)
            self.centroids = _kmeans(z, max(1, min(self.k, n)), self.seed)
        return self

    def assign(self, vectors: Any) -> list[str]:
        """The cluster (``c0``, ``c1``, ...) nearest to each row of ``vectors``."""
        if self.centroids is None:
            raise RuntimeError("VectorClusters.assign before fit")
        z = self._project(vectors)
        d = (z**2).sum(axis=1)[:, None] - 2 * z @ self.centroids.T + (self.centroids**2).sum(1)
        return [f"c{int(i)}" for i in np.argmin(d, axis=1)]
