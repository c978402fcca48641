#!/usr/bin/env bash
# How models/default (v2) is made: the three training runs on the v2 data, the bundle.
#
#   models/train-default.sh [WORK_DIR]     (default /tmp/mire2e-train-default)
#
# Needs the v2 data of `training/prepare.py` (training/README.md) in $DATA (default training/data)
# and the binaries on PATH or in target/release. Every run checkpoints after each epoch; run the
# script again to go on where it stopped (each stage resumes its checkpoint, a finished stage is
# skipped). Raise the *_EPOCHS budgets to train further. Deterministic at any thread count (the CPU
# training engine); the CPU budget of each run is in its FILE.json and in MODEL_CARD.md.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-/tmp/mire2e-train-default}"
data="$(cd "${DATA:-${repo}/training/data}" && pwd)"
export PATH="${repo}/target/release:${PATH}"
threads="${THREADS:-2}"
structure_epochs="${STRUCTURE_EPOCHS:-16}"
mfe_epochs="${MFE_EPOCHS:-6}"
classifier_epochs="${CLASSIFIER_EPOCHS:-14}"
classifier_negatives="${CLASSIFIER_NEGATIVES:-100000}"
# Structure weights to start from (fine-tuning a stopped run). v2 started from
# models/v2-preview/structure.safetensors (models/default/MODEL_CARD.md has the whole command).
structure_init=()
[ -n "${STRUCTURE_INIT:-}" ] && structure_init=(--init "$(cd "$(dirname "$STRUCTURE_INIT")" && pwd)/$(basename "$STRUCTURE_INIT")")
mkdir -p "$work"
cd "$work"

common=(--threads "$threads" --seed 1 --optimizer adamw)

# A run resumes its checkpoint when there is one; its output appears only when the run ends, and a
# stage whose output exists is skipped.
train() {
    local bin=$1 out=$2
    shift 2
    [ -e "$out" ] && { echo "${out} exists: skipped"; return 0; }
    local resume=()
    [ -e "${out}.ckpt/checkpoint.safetensors" ] && resume=(--resume)
    "$bin" train "${common[@]}" "${resume[@]}" -o "$out" "$@"
}

# Model A on RNAfold structures of positive and genome windows. AdamW: the original's SGD at lr
# 1.0 needs far more steps than a CPU budget; 15,000-sample epochs checkpoint every few minutes.
train mire2e-fold structure.safetensors --train "${data}/structure_mfe.fa" \
    --val "${data}/structure_mfe.val.fa" --val-limit 2000 \
    --lr 5e-4 --batch-size 64 --epoch-size 15000 --max-epochs "$structure_epochs" --patience 4 \
    "${structure_init[@]}"

# Model B on model A's predictions.
train mire2e-mfe mfe.safetensors --train "${data}/structure_mfe.fa" \
    --val "${data}/structure_mfe.val.fa" --val-limit 4000 --structure structure.safetensors \
    --lr 1e-3 --batch-size 128 --max-epochs "$mfe_epochs" --patience 3

# Model C on A and B: the windows of the data, every positive also bare and as many negatives cut
# to the bare lengths (training/classifier_set.py says why). The Structure and MFE inputs of each
# training window are computed once, ~2.5 ms a window on 2 cores.
[ -e classifier.safetensors ] || python3 "${repo}/training/classifier_set.py" "$data" . \
    --negatives "$classifier_negatives"
train mire2e-classify classifier.safetensors --pos classifier_pos.fa --neg classifier_neg.fa \
    --val-pos classifier_val_pos.fa --val-neg classifier_val_neg.fa --val-limit 10000 \
    --structure structure.safetensors --mfe mfe.safetensors \
    --lr 5e-4 --batch-size 128 --epoch-size 40000 --max-epochs "$classifier_epochs" --patience 4

echo "trained: ${work}/{structure,mfe,classifier}.safetensors; next: the operating threshold"
echo "(models/evaluate.py --calibration), then mire2e bundle --threshold (MODEL_CARD.md)"
