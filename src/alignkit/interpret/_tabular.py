"""The ``classifier:`` target: a scikit-learn style model and the table it is judged on.

URI (DESIGN §6)::

    classifier:MODEL.joblib@DATA.csv
    classifier:model.joblib@applicants.csv?label=hired&sensitive=gender&positive=1

``MODEL.joblib`` is anything ``joblib.dump`` wrote that has ``predict`` (and ideally
``predict_proba``); ``DATA.csv`` has a header row, the model's feature columns, the true
outcome (``label``, default column ``label``) and the protected attribute (``sensitive``,
default column ``sensitive``), which the model may or may not use. The features are the
model's ``feature_names_in_`` when it has them, otherwise every column but those two.
``positive`` is the outcome value that counts as selected (default ``1``/``true``/``yes``);
one that matches no label value is refused. A row with a blank label or sensitive cell is
left out of the fairness metrics, with a warning saying how many.

joblib files are pickles: open only models you trust.
"""

from __future__ import annotations

import csv
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alignkit.core import (
    ConfigError,
    DataError,
    Decoding,
    MissingDependencyError,
    TargetError,
    TargetKind,
    one_line,
    repeated_columns,
)
from alignkit.models import ParsedURI, TargetOptions, register_scheme

__all__ = ["ClassifierTarget", "TabularData", "open_classifier"]

_log = logging.getLogger(__name__)
_QUERY_KEYS = ("label", "sensitive", "positive")
_POSITIVE = ("1", "1.0", "true", "yes")
_NEGATIVE = ("0", "0.0", "false", "no")  # with _POSITIVE: outcomes read without ?positive=


@dataclass(frozen=True)
class TabularData:
    """The evaluation table, split into what the model sees and what fairness needs.

    Attributes:
        features: Feature column names, in the model's order.
        x: ``(n, len(features))`` the feature values (float where numeric, else object).
        y: ``(n,)`` 1 where the true outcome is the positive value, else 0.
        sensitive: ``(n,)`` the protected attribute's value per row (as text).
        complete: ``(n,)`` True where the label and sensitive cells are both filled (the
            rows fairness is measured on); None means every row.
    """

    features: tuple[str, ...]
    x: np.ndarray
    y: np.ndarray
    sensitive: np.ndarray
    complete: np.ndarray | None = None

    def fairness_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x, y, sensitive)`` of the rows whose label and sensitive cells are filled.

        A blank cell is unknown, not a group of its own nor a negative outcome.
        """
        if self.complete is None:
            return self.x, self.y, self.sensitive
        m = self.complete
        return self.x[m], self.y[m], self.sensitive[m]


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    try:  # utf-8-sig: a spreadsheet's byte-order mark is not part of the first column name
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(enumerate(csv.reader(fh), 1))
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from exc
    if len(rows) < 2:
        raise DataError(f"{path}: needs a header row and at least one data row")
    header = [h.strip() for h in rows[0][1]]
    twice = repeated_columns(header)
    if twice:  # one name, two columns: which one the model reads would be a guess
        raise DataError(f"{path}:1: column {', '.join(map(repr, twice))} appears twice")
    body = [(n, r) for n, r in rows[1:] if any(c.strip() for c in r)]
    for n, r in body:
        if len(r) != len(header):
            raise DataError(f"{path}:{n}: {len(r)} fields, the header has {len(header)}")
    return header, [r for _, r in body]


def _column(values: list[str]) -> np.ndarray:
    """Numbers when every filled cell is one (a blank cell is missing: NaN), else text."""
    try:
        return np.array([float(v) if v else np.nan for v in values], dtype=np.float64)
    except ValueError:
        return np.array(values, dtype=object)


class ClassifierTarget:
    """A tabular classifier and its evaluation table, as an audit target.

    Args:
        model_path: A joblib file holding the fitted model.
        data_path: The CSV table.
        label: Column of the true outcome.
        sensitive: Column of the protected attribute.
        positive: Outcome value counted as the positive (selected) class.
        uri: The URI to report.

    Raises:
        TargetError: A file is missing.
    """

    def __init__(
        self,
        model_path: str | Path,
        data_path: str | Path,
        *,
        label: str = "label",
        sensitive: str = "sensitive",
        positive: str | None = None,
        uri: str | None = None,
    ) -> None:
        self.model_path = Path(model_path).expanduser()
        self.data_path = Path(data_path).expanduser()
        for p in (self.model_path, self.data_path):
            if not p.is_file():
                raise TargetError(f"classifier: file not found: {p}")
        self.label, self.sensitive, self.positive = label, sensitive, positive
        self._uri = uri or f"classifier:{self.model_path}@{self.data_path}"
        self._model: Any = None
        self._data: TabularData | None = None

    @property
    def uri(self) -> str:
        """The URI the target was opened from."""
        return self._uri

    @property
    def kind(self) -> TargetKind:
        """Always :attr:`TargetKind.CLASSIFIER`."""
        return TargetKind.CLASSIFIER

    @property
    def capabilities(self) -> frozenset[str]:
        """``predict`` always; ``predict_proba`` when the model has it (after loading)."""
        caps = {"predict"}
        if self._model is not None and hasattr(self._model, "predict_proba"):
            caps.add("predict_proba")
        return frozenset(caps)

    @property
    def default_pack(self) -> Path | None:
        """Classifier targets carry their data in the URI, not in a pack."""
        return None

    @property
    def default_decoding(self) -> Decoding | None:
        """Not a generative target."""
        return None

    async def aclose(self) -> None:
        """Drop the model and table."""
        self._model, self._data = None, None

    def __repr__(self) -> str:
        return f"ClassifierTarget({self._uri!r})"

    @property
    def model(self) -> Any:
        """The fitted model (loaded on first use)."""
        if self._model is None:
            if importlib.util.find_spec("joblib") is None:
                raise MissingDependencyError("joblib", "interpret")
            import joblib  # type: ignore[import-untyped]

            try:
                model = joblib.load(self.model_path)
            except Exception as exc:  # unpickling raises anything
                raise TargetError(f"cannot load model {self.model_path}: {exc}") from exc
            if not hasattr(model, "predict"):
                raise TargetError(f"{self.model_path} holds a {type(model).__name__}, no predict()")
            self._model = model
        return self._model

    async def ping(self) -> None:
        """Load the model and read the table now.

        A wrong column or file is then refused before the audit starts (it failed the
        check instead, exit 1).
        """
        self.data()

    def data(self) -> TabularData:
        """The evaluation table (read once)."""
        if self._data is None:
            self._data = self._read()
        return self._data

    def _read(self) -> TabularData:
        header, body = _read_csv(self.data_path)
        for col, what in ((self.label, "label"), (self.sensitive, "sensitive")):
            if col not in header:
                raise ConfigError(
                    f"classifier: no {what} column '{col}' in {self.data_path}"
                    f" (columns: {', '.join(header)}; set ?{what}=COLUMN)"
                )
        names = getattr(self.model, "feature_names_in_", None)
        features = (
            tuple(str(n) for n in names)
            if names is not None
            else tuple(h for h in header if h not in (self.label, self.sensitive))
        )
        missing = [f for f in features if f not in header]
        if missing:
            raise DataError(f"{self.data_path}: model features missing from the table: {missing}")
        cols = {h: [r[i].strip() for r in body] for i, h in enumerate(header)}
        parts = [_column(cols[f]) for f in features]
        x = np.column_stack(parts) if all(p.dtype != object for p in parts) else _objects(parts)
        labels, groups = cols[self.label], cols[self.sensitive]
        complete = np.array([bool(a and b) for a, b in zip(labels, groups, strict=True)])
        self._check_blanks(complete, labels, groups)
        filled = [v for v, ok in zip(labels, complete, strict=True) if ok]
        self._check_outcomes(filled)
        y = np.array([self.is_positive(v) for v in labels], dtype=np.int64)
        return TabularData(features, x, y, np.array(groups), complete)

    def _check_blanks(self, complete: np.ndarray, labels: list[str], groups: list[str]) -> None:
        left = int((~complete).sum())
        if not left:
            return
        blank = [
            f"{n} blank {col}"
            for col, vs in ((self.label, labels), (self.sensitive, groups))
            if (n := sum(1 for v in vs if not v))
        ]
        if not complete.any():
            raise DataError(
                f"{self.data_path}: no row has both a '{self.label}' and a '{self.sensitive}'"
                f" value ({', '.join(blank)}); fairness needs both"
            )
        _log.warning(
            "%s: %d of %d row(s) left out of the fairness metrics (%s cell(s))",
            self.data_path,
            left,
            complete.size,
            ", ".join(blank),
        )

    def _check_outcomes(self, values: list[str]) -> None:
        seen = ", ".join(sorted({v.strip() for v in values})[:6])
        if self.positive is not None:  # one that matches nothing makes every outcome 0:
            # all groups "equally" never selected, the most reassuring answer and a wrong one
            if not any(self.is_positive(v) for v in values):
                raise ConfigError(
                    f"classifier: ?positive={self.positive} matches no value of the label"
                    f" column '{self.label}' (values: {seen})"
                )
            classes = [str(c) for c in getattr(self.model, "classes_", ())]
            if classes and not any(self.is_positive(c) for c in classes):
                raise ConfigError(
                    f"classifier: ?positive={self.positive} is none of the model's classes"
                    f" ({', '.join(classes)})"
                )
            return
        known = {*_POSITIVE, *_NEGATIVE}
        if not any(self.is_positive(v) for v in values) and any(
            v.strip().lower() not in known for v in values
        ):
            # "hired"/"rejected" with no ?positive=: nobody would count as selected, and
            # every group's rate would be 0 — the most reassuring answer, and a wrong one
            raise ConfigError(
                f"classifier: no value of the label column '{self.label}' ({seen}) counts as"
                f" positive ({', '.join(sorted(_POSITIVE))}); set ?positive=VALUE"
            )

    def is_positive(self, value: object) -> bool:
        """Whether an outcome (true or predicted) is the positive class."""
        text = str(value).strip().lower()
        if self.positive is not None:
            return text == self.positive.strip().lower() or _same_number(text, self.positive)
        return text in _POSITIVE

    def model_input(self, x: np.ndarray) -> Any:
        """``x`` as the model expects it: a DataFrame when it was fitted on one."""
        names = getattr(self.model, "feature_names_in_", None)
        if names is not None and importlib.util.find_spec("pandas") is not None:
            import pandas as pd  # type: ignore[import-untyped]

            return pd.DataFrame(x, columns=list(self.data().features))
        return x

    def predict(self, x: np.ndarray) -> np.ndarray:
        """1 where the model selects the positive class, else 0."""
        try:
            raw = self.model.predict(self.model_input(x))
        except Exception as exc:
            raise TargetError(f"{self.model_path}: predict failed: {one_line(exc)}") from exc
        return np.array([self.is_positive(v) for v in raw], dtype=np.int64)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """``(n,)`` probability of the positive class (0/1 predictions without predict_proba)."""
        model = self.model
        if not hasattr(model, "predict_proba"):
            return self.predict(x).astype(np.float64)
        try:
            proba = np.asarray(model.predict_proba(self.model_input(x)), dtype=np.float64)
        except Exception as exc:
            raise TargetError(f"{self.model_path}: predict_proba failed: {one_line(exc)}") from exc
        classes = list(getattr(model, "classes_", range(proba.shape[1])))
        hits = [i for i, c in enumerate(classes) if self.is_positive(c)]
        if len(hits) != 1:
            shown = ", ".join(str(c) for c in classes)  # np.int64(1) reads as 1
            if self.positive is not None:
                raise ConfigError(
                    f"classifier: ?positive={self.positive} matches {len(hits)} of the model's"
                    f" classes ({shown}); it must match one"
                )
            raise ConfigError(
                f"classifier: cannot tell the positive class among the model's classes"
                f" ({shown}); set ?positive=CLASS"
            )
        return proba[:, hits[0]]


def _objects(parts: list[np.ndarray]) -> np.ndarray:
    out = np.empty((len(parts[0]), len(parts)), dtype=object)
    for j, p in enumerate(parts):
        out[:, j] = p
    return out


def _same_number(a: str, b: str) -> bool:
    try:
        return float(a) == float(b)
    except ValueError:
        return False


def open_classifier(parsed: ParsedURI, options: TargetOptions) -> ClassifierTarget:
    """Factory for ``classifier:MODEL.joblib@DATA.csv[?label=&sensitive=&positive=]``."""
    unknown = sorted(set(parsed.query) - set(_QUERY_KEYS))
    if unknown:
        raise ConfigError(
            f"classifier: unsupported option(s) {', '.join(unknown)} in '{parsed.raw}'"
            f" (supported: {', '.join(_QUERY_KEYS)})"
        )
    model, sep, data = parsed.body.rpartition("@")
    if not sep or not model or not data:
        raise ConfigError(
            f"malformed classifier URI '{parsed.raw}': expected classifier:MODEL.joblib@DATA.csv"
        )
    q = parsed.query
    return ClassifierTarget(
        model,
        data,
        label=q.get("label") or "label",
        sensitive=q.get("sensitive") or "sensitive",
        positive=q.get("positive") or None,
        uri=parsed.raw,
    )


register_scheme(
    "classifier",
    open_classifier,
    kind="classifier",
    example="classifier:model.joblib@data.csv?label=hired&sensitive=gender",
)
