#!/usr/bin/env bash
# How models/default was made: subsets, the three training runs, the bundle, the evaluation.
#
#   models/train-default.sh [WORK_DIR]     (default /tmp/mire2e-train-default)
#
# Needs training/data from `python3 training/prepare.py` (training/README.md) and the binaries on
# PATH (`cargo install --locked --path bins`) or in target/release. Deterministic for a given
# thread count (--threads 2 here); CPU budget on a 2-core Xeon: see models/default/MODEL_CARD.md.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-/tmp/mire2e-train-default}"
data="${repo}/training/data"
export PATH="${repo}/target/release:${PATH}"
mkdir -p "$work"
cd "$work"

# Deterministic random subsets that fit the CPU budget (seed 20221124; record order kept).
python3 - "$data" <<'EOF'
import random, sys
data = sys.argv[1]
def records(path):
    recs, cur = [], None
    for line in open(path):
        if line.startswith(">"):
            cur = [line]; recs.append(cur)
        else:
            cur.append(line)
    return recs
def subset(src, dst, n, seed=20221124):
    recs = records(f"{data}/{src}")
    keep = sorted(random.Random(seed).sample(range(len(recs)), min(n, len(recs))))
    with open(dst, "w") as f:
        for i in keep:
            f.writelines(recs[i])
subset("structure_mfe.fa", "mfe_train.fa", 6000)
subset("negatives.fa", "neg_train.fa", 6000)
EOF

common=(--threads 2 --seed 1)

# Model A: AdamW (the original's SGD at lr 1.0 needs far more steps than this budget allows).
mire2e-fold train "${common[@]}" --train "${data}/structure_mfe.fa" --val "${data}/structure_mfe.val.fa" \
    -o structure.safetensors --optimizer adamw --lr 5e-4 --batch-size 32 --micro-batch 32 \
    --epoch-size 1024 --val-limit 256 --max-epochs 7

# Model B on Model A's predictions.
mire2e-mfe train "${common[@]}" --train mfe_train.fa --val "${data}/structure_mfe.val.fa" \
    --structure structure.safetensors -o mfe.safetensors --optimizer adamw --lr 1e-3 \
    --batch-size 64 --val-limit 1000 --max-epochs 6

# Model C on A and B: sound focal loss (γ 4) on log-softmax, per-window attention.
mire2e-classify train "${common[@]}" --pos "${data}/positives.fa" --neg neg_train.fa \
    --val-pos "${data}/positives.val.fa" --val-neg "${data}/negatives.val.fa" --val-limit 2000 \
    --structure structure.safetensors --mfe mfe.safetensors -o classifier.safetensors \
    --optimizer adamw --lr 5e-4 --batch-size 64 --max-epochs 12

rm -rf bundle
mire2e bundle bundle --name default --structure structure.safetensors --mfe mfe.safetensors \
    --classifier classifier.safetensors \
    --description "mire2e's own default model: miRe2e 0.17 architecture trained on human miRBase v21 hairpins and C. elegans / E. coli genome windows (training/prepare.py), CPU budget, see MODEL_CARD.md."
# Operating threshold: max F1 on the classifier's validation set (never on a test set).
cat "${data}/positives.val.fa" "${data}/negatives.val.fa" > val.fa
awk '/^>/ { if (id) print id "\t0\t" n "\t" id "\t0\t+"; id = substr($1, 2); n = 0; next }
     { n += length($0) } END { if (id) print id "\t0\t" n "\t" id "\t0\t+" }' \
    "${data}/positives.val.fa" > val_truth.bed
mire2e scan val.fa --strands forward --model bundle --threads 2 -q -o val.tsv
mire2e-eval -s val.tsv -l validation --truth val_truth.bed --plots none -o val_metrics.tsv
echo "bundle: ${work}/bundle (copy to ${repo}/models/default, then run models/evaluate.py"
echo "        with --threshold = best_threshold of the 'all' row of ${work}/val_metrics.tsv)"
