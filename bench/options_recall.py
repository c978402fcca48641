#!/usr/bin/env python3
"""Accuracy cost of the speed options (issue 7): recall loss at the operating threshold (stdlib only).

  cargo build --release --workspace
  python3 bench/options_recall.py [--model default] [--out DIR]

For each option set (`--prefilter` levels, `--precision bf16`, both) it scans the positives with
`mire2e scan` and compares with the plain fp32 run of the same model: a hairpin is *called* when a
window on its strand overlapping it scores at least the operating threshold (`metrics.operating_threshold` of the
bundle's manifest.json, or --threshold). Recall loss = hairpins called by fp32 but not with the
option, over hairpins called by fp32. Strands are matched as `mire2e-eval` does; the antisense
windows of a hairpin (its reverse complement) are counted in the `either_strand` columns. Positives:

- val: training/data/positives.val.fa, 363 human hairpins (validation: the threshold was set here);
- v22-new: the 62 hsa hairpins new in miRBase v22 (held-out test, derived from ../shared as
  models/evaluate.py does);
- BA000025.2: its 5 known pre-miRNAs (miRBase v22 BED) with 1 kb of genome on each side.

It also prints, per option, the largest and median |score change| over all windows scanned.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "models"))
from evaluate import default_shared, read_fasta, v22_new_hairpins  # noqa: E402

OPTIONS = {
    "prefilter=safe": ["--prefilter=safe"],
    "prefilter=default": ["--prefilter"],
    "prefilter=fast": ["--prefilter=fast"],
    "bf16": ["--precision", "bf16"],
    "bf16 + prefilter=default": ["--precision", "bf16", "--prefilter"],
    "bf16 + prefilter=fast": ["--precision", "bf16", "--prefilter=fast"],
}
FLANK = 1000


def write_fasta(path, records):
    with open(path, "w") as f:
        for name, seq in records:
            f.write(f">{name}\n{seq}\n")


def positives(shared, tmp):
    """(label, fasta, {record: [(start, end)]}) per set; hairpins are whole records except in BA."""
    sets = []
    val = ROOT / "training/data/positives.val.fa"
    recs = read_fasta(str(val))
    sets.append(("val", val, {n.split()[0]: [(0, len(s), "+")] for n, s in recs}))
    v22 = tmp / "v22_new.fa"
    recs = v22_new_hairpins(shared)
    write_fasta(v22, recs)
    sets.append(("v22-new", v22, {n: [(0, len(s), "+")] for n, s in recs}))
    mhc = Path(shared) / "data/human_mhc"
    genome = read_fasta(str(mhc / "BA000025.2.fa"))[0][1]
    pieces, truth = [], {}
    for line in open(mhc / "hsa_miRBase_v22_hairpins_in_region.bed"):
        chrom, start, end, name, _acc, strand = line.rstrip("\n").split("\t")[:6]
        if chrom != "BA000025.2":
            continue
        lo = max(0, int(start) - FLANK)
        pieces.append((name, genome[lo:int(end) + FLANK]))
        truth[name] = [(int(start) - lo, int(end) - lo, strand)]
    ba = tmp / "ba_hairpins.fa"
    write_fasta(ba, pieces)
    sets.append(("BA000025.2", ba, truth))
    return sets


def scan(bins, fasta, model, extra, out):
    cmd = [bins / "mire2e", "scan", fasta, "--model", model, "-q", "-o", out, *extra]
    subprocess.run([str(c) for c in cmd], check=True)
    rows = {}
    with open(out) as f:
        for line in f:
            if line.startswith("#") or line.startswith("seq_id"):
                continue
            seq_id, start, end, strand, _mfe, score = line.rstrip("\n").split("\t")[:6]
            rows[(seq_id, int(start), int(end), strand)] = float(score)
    return rows


def called(rows, truth, threshold, either_strand=False):
    hits = set()
    for (seq_id, start, end, strand), score in rows.items():
        if score >= threshold and any(s < end and start < e and (either_strand or strand == st)
                                      for s, e, st in truth.get(seq_id, [])):
            hits.add(seq_id)
    return hits


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="default", help="bundle name or folder (default: default)")
    p.add_argument("--threshold", type=float, help="default: the bundle's operating_threshold")
    p.add_argument("--shared", default=default_shared())
    p.add_argument("--bin-dir", type=Path, default=ROOT / "target/release")
    p.add_argument("--out", type=Path, help="keep the scans here (default: a temporary folder)")
    p.add_argument("--only", help="comma-separated option names to run (default: all)")
    a = p.parse_args()
    model_dir = Path(a.model) if os.sep in a.model else ROOT / "models" / a.model
    threshold = a.threshold
    if threshold is None:
        threshold = json.load(open(model_dir / "manifest.json"))["metrics"]["operating_threshold"]
    with tempfile.TemporaryDirectory() as tmp:
        out = a.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        print(f"model {a.model}, operating threshold {threshold}")
        print("set\toption\thairpins\tcalled_fp32\tcalled\tlost\tgained\trecall_loss"
              "\teither_strand_called_fp32\teither_strand_lost\tmax_dscore\tmedian_dscore")
        total = {}
        for label, fasta, truth in positives(a.shared, Path(tmp)):
            tag = label.replace(".", "_")
            base = scan(a.bin_dir, fasta, a.model, [], out / f"{tag}.fp32.tsv")
            ref = called(base, truth, threshold)
            ref_any = called(base, truth, threshold, either_strand=True)
            for name, extra in OPTIONS.items():
                if a.only and name not in a.only.split(","):
                    continue
                rows = scan(a.bin_dir, fasta, a.model, extra, out / f"{tag}.{name.replace(' ', '')}.tsv")
                got = called(rows, truth, threshold)
                lost, gained = len(ref - got), len(got - ref)
                lost_any = len(ref_any - called(rows, truth, threshold, either_strand=True))
                d = [abs(rows[k] - v) for k, v in base.items()]
                loss = lost / len(ref) if ref else 0.0
                print(f"{label}\t{name}\t{len(truth)}\t{len(ref)}\t{len(got)}\t{lost}\t{gained}\t"
                      f"{loss:.4f}\t{len(ref_any)}\t{lost_any}\t{max(d):.3g}\t{statistics.median(d):.3g}")
                t = total.setdefault(name, [0, 0, 0, 0])
                for i, v in enumerate([len(ref), lost, len(ref_any), lost_any]):
                    t[i] += v
        for name, (n, lost, n_any, lost_any) in total.items():
            print(f"all\t{name}\t\t{n}\t\t{lost}\t\t{lost / n:.4f}\t{n_any}\t{lost_any}")


if __name__ == "__main__":
    main()
