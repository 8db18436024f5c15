"""A worked fairness example: a hiring model that learned career gaps as a proxy for gender.

The synthetic world: past hiring decisions were biased against women. Gender is not
given to the model, but career gaps are — and in this world women have career gaps
far more often (caregiving), so a model trained on the biased decisions learns to
penalise gaps. Accuracy looks fine; the fairness metrics and the SHAP ranking show
the problem.

Build the table and the model, then audit and explain them::

    python examples/hiring/hiring.py --out /tmp/hiring      # prints the target URI
    T="classifier:/tmp/hiring/model.joblib@/tmp/hiring/applicants.csv?label=hired&sensitive=gender"
    alignkit audit --target "$T"
    alignkit interpret explain --target "$T" --row 0

Everything is seeded: the same seed writes the same table and the same model.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

FEATURES = (
    "experience_years",
    "skill_test",
    "education_level",
    "career_gap_months",
    "commute_km",
)
"""What the model sees. ``career_gap_months`` is the proxy; ``commute_km`` is noise."""

PROTECTED = "gender"
LABEL = "hired"
HISTORICAL_PENALTY = 2.2
"""How much past decisions held against women (on the logit scale)."""


def make_applicants(n: int = 4000, seed: int = 0) -> list[dict[str, float | int | str]]:
    """Synthetic applicants with a biased historical ``hired`` decision."""
    rng = np.random.default_rng(seed)
    female = rng.random(n) < 0.5
    experience = np.clip(rng.normal(8, 4, n), 0, 35).round(1)
    skill = np.clip(rng.normal(60, 15, n), 0, 100).round(1)
    education = rng.choice(4, size=n, p=[0.2, 0.4, 0.3, 0.1])
    has_gap = rng.random(n) < np.where(female, 0.65, 0.1)
    gap = np.where(has_gap, rng.gamma(3.0, 5.0, n), 0.0).round(0)
    commute = rng.gamma(2.0, 8.0, n).round(1)
    merit = 0.06 * (skill - 60) + 0.1 * (experience - 8) + 0.4 * (education - 1.3)
    logit = merit - HISTORICAL_PENALTY * female + 0.3 + rng.logistic(0, 0.6, n)
    hired = (logit > 0).astype(int)
    return [
        {
            "experience_years": float(experience[i]),
            "skill_test": float(skill[i]),
            "education_level": int(education[i]),
            "career_gap_months": float(gap[i]),
            "commute_km": float(commute[i]),
            PROTECTED: "female" if female[i] else "male",
            LABEL: int(hired[i]),
        }
        for i in range(n)
    ]


def write_csv(rows: list[dict[str, float | int | str]], path: Path) -> Path:
    """Write the table with a header row."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def train(rows: list[dict[str, float | int | str]], seed: int = 0) -> object:
    """A gradient-boosted classifier on the features only (gender is never given)."""
    from sklearn.ensemble import GradientBoostingClassifier

    x = np.array([[float(r[f]) for f in FEATURES] for r in rows])
    y = np.array([int(r[LABEL]) for r in rows])
    return GradientBoostingClassifier(n_estimators=150, max_depth=3, random_state=seed).fit(x, y)


def build(out: Path, n: int = 4000, seed: int = 0) -> tuple[Path, Path]:
    """Write ``applicants.csv`` and ``model.joblib`` into ``out``; returns both paths."""
    import joblib

    rows = make_applicants(n, seed)
    model = train(rows, seed)  # first: a failed run must not leave a table beside an old model
    out.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(rows, out / "applicants.csv")
    model_path = out / "model.joblib"
    joblib.dump(model, model_path)
    return model_path, csv_path


def _rows(text: str) -> int:
    n = int(text)
    if n < 100:
        raise argparse.ArgumentTypeError(f"--rows must be at least 100, got {n}")
    return n


def target_uri(model_path: Path, csv_path: Path) -> str:
    """The ``classifier:`` URI of the built example."""
    return f"classifier:{model_path}@{csv_path}?label={LABEL}&sensitive={PROTECTED}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = "folder for applicants.csv and model.joblib (default .alignkit/hiring)"
    parser.add_argument("--out", type=Path, default=Path(".alignkit") / "hiring", help=where)
    parser.add_argument("--rows", type=_rows, default=4000, help="applicants (at least 100)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model_path, csv_path = build(args.out, args.rows, args.seed)
    print(target_uri(model_path, csv_path))
