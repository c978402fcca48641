#!/usr/bin/env python3
"""Fixtures and scikit-learn reference values for tests/eval.rs.

Writes score streams and a BED of precursors into this folder and prints the reference values
(AUROC, average precision, trapezoid AUCPR, F1 at 0.5, max-F1 and its threshold) as Rust
constants, which are pasted into tests/eval.rs (the test itself needs no Python).

Windows are 100 nt, one every 100 nt (no two overlap), so every labelling rule gives the same
labels: a positive window holds a 60-nt precursor on its own strand; negatives touch none.

Made with: python 3.11, numpy 2.4.6, scikit-learn 1.9.1
    python3 -m venv /tmp/env && /tmp/env/bin/pip install scikit-learn numpy
    /tmp/env/bin/python tests/data/eval/make_reference.py > /tmp/reference.rs
"""

import os

import numpy as np
import sklearn
from sklearn.metrics import (
    auc,
    average_precision_score,
    f1_score,
    precision_recall_curve,
    roc_auc_score,
)

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20220101)


def f32_text(x):
    """Shortest text that reads back as the same float32 (what the stages write)."""
    return str(np.float32(x))


def write_case(name, seqs, scores, labels, strands):
    """One stream (`<name>.scores.tsv`) and its truth (`<name>.bed`)."""
    rows, bed = [], []
    for i, (seq, s, y, st) in enumerate(zip(seqs, scores, labels, strands)):
        start = i * 100
        rows.append(f"{seq}\t{start}\t{start + 100}\t{st}\tACGU\t{f32_text(s)}")
        if y:
            bed.append(f"{seq}\t{start + 20}\t{start + 80}\tmir-{i}\t0\t{st}")
    with open(os.path.join(HERE, f"{name}.scores.tsv"), "w") as f:
        f.write(f"#make_reference.py {name}\nseq_id\tstart\tend\tstrand\tseq\tscore\n")
        f.write("\n".join(rows) + "\n")
    with open(os.path.join(HERE, f"{name}.bed"), "w") as f:
        f.write("".join(line + "\n" for line in bed))


def reference(scores, labels):
    s = np.asarray(scores, dtype=np.float32).astype(np.float64)
    y = np.asarray(labels, dtype=int)
    out = {}
    both = 0 < y.sum() < len(y)
    out["auroc"] = roc_auc_score(y, s) if both else None
    out["ap"] = average_precision_score(y, s) if y.sum() > 0 else None
    if y.sum() > 0:
        precision, recall, thresholds = precision_recall_curve(y, s)
        out["trapz"] = auc(recall, precision)
        f1 = 2 * precision * recall / np.where(precision + recall > 0, precision + recall, 1)
        # thresholds are increasing; the last precision/recall pair (1, 0) has no threshold
        f1 = f1[:-1]
        best = np.flatnonzero(f1 == f1.max())[-1]  # the highest threshold among ties
        out["max_f1"] = f1[best]
        out["best_threshold"] = float(np.float32(thresholds[best]))
    else:
        out["trapz"] = out["max_f1"] = out["best_threshold"] = None
    # F1 = 2tp / (2tp + fp + fn): defined (0) without positives when something is called positive
    f1 = f1_score(y, s >= 0.5, zero_division=np.nan)
    out["f1_at_half"] = None if np.isnan(f1) else f1
    out["positives"] = int(y.sum())
    out["negatives"] = int(len(y) - y.sum())
    return out


def rust(name, ref):
    def opt(v):
        return "None" if v is None else f"Some({float(v)!r})"

    return (
        f"const {name}: Reference = Reference {{ positives: {ref['positives']}, "
        f"negatives: {ref['negatives']}, auroc: {opt(ref['auroc'])}, ap: {opt(ref['ap'])}, "
        f"trapz: {opt(ref['trapz'])}, f1_at_half: {opt(ref['f1_at_half'])}, "
        f"max_f1: {opt(ref['max_f1'])}, best_threshold: {opt(ref['best_threshold'])} }};"
    )


print(f"// scikit-learn {sklearn.__version__}, numpy {np.__version__}")

# 1. ties: 400 windows on two sequences and both strands, scores on a 0.05 grid, 15% positive
n = 400
labels = rng.random(n) < 0.15
scores = np.clip(np.round((rng.normal(0.35, 0.2, n) + 0.25 * labels) * 20) / 20, 0, 1)
seqs = ["chrA" if i < 250 else "chrB" for i in range(n)]
strands = ["+" if rng.random() < 0.5 else "-" for _ in range(n)]
write_case("ties", seqs, scores, labels, strands)
print(rust("TIES_ALL", reference(scores, labels)))
print(rust("TIES_CHR_A", reference(scores[:250], labels[:250])))
print(rust("TIES_CHR_B", reference(scores[250:], labels[250:])))

# 2. imbalance: 3000 windows, 6 positives, continuous float32 scores
n = 3000
labels = np.zeros(n, dtype=bool)
labels[rng.choice(n, 6, replace=False)] = True
scores = rng.beta(0.5, 8, n).astype(np.float32)
scores[labels] = rng.beta(3, 2, labels.sum()).astype(np.float32)
write_case("imbalance", ["chr1"] * n, scores, labels, ["+"] * n)
print(rust("IMBALANCE", reference(scores, labels)))

# 3. degenerate cases
write_case("no_positives", ["c"] * 5, [0.1, 0.5, 0.5, 0.9, 0.2], [False] * 5, ["+"] * 5)
print(rust("NO_POSITIVES", reference([0.1, 0.5, 0.5, 0.9, 0.2], [False] * 5)))
tied = [0.25] * 6
tied_labels = [True, False, False, True, False, False]
write_case("all_tied", ["c"] * 6, tied, tied_labels, ["+"] * 6)
print(rust("ALL_TIED", reference(tied, tied_labels)))
write_case("one_window", ["c"], [0.75], [True], ["-"])
print(rust("ONE_WINDOW", reference([0.75], [True])))
