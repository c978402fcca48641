#!/usr/bin/env python3
"""Measures the prefilter (Python stdlib; needs the prefilter-scores example built):

  cargo build --release -p mire2e --example prefilter-scores
  python3 bench/prefilter/measure.py [--training DIR] [--shared DIR]

Tuning data (the thresholds of `Level` come from here): training positives.fa, C. elegans and
E. coli windows. Held-out, reported only: positives.val.fa, test/v22_new_hairpins.fa (central
100 nt of each hairpin, and any of its own windows), BA000025.2 windows and its known hairpins.
"""
import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "target/release/examples/prefilter-scores"
LEVELS = {"safe": 13, "default": 19, "fast": 20}  # lib/src/prefilter.rs Level::min_score


def scores(mode, path):
    out = subprocess.run([EXAMPLE, mode, "x", path], capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def rates(values, keep):
    return "  ".join(f"{k} {sum(keep(v, t) for v in values) / len(values):.4f}" for k, t in LEVELS.items())


def speed(shared, kb, threads):
    """Wall time of `mire2e scan` on kb kilobases of BA000025.2 (from 1 Mb in), without and with
    --prefilter, same reference-weight bundle as bench/bench.py."""
    bins = ROOT / "target/release"
    w = shared / "reference/weights"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        seq = "".join(open(shared / "data/human_mhc/BA000025.2.fa").read().split("\n")[1:])
        (tmp / "piece.fa").write_text(f">piece\n{seq[1_000_000:1_000_000 + kb * 1000]}\n")
        subprocess.run([bins / "mire2e", "bundle", tmp / "b", "--name", "reference-hsa", "--structure",
                        w / "synthetic-structure.safetensors", "--mfe", w / "hsa-mfe.safetensors",
                        "--classifier", w / "synthetic-predictor.safetensors"], check=True, capture_output=True)
        base = [bins / "mire2e", "scan", tmp / "piece.fa", "--model", tmp / "b", "-t", str(threads), "-q"]
        times = {}
        for label, extra in [("off", []), ("default", ["--prefilter"]), ("fast", ["--prefilter=fast"])]:
            t = time.perf_counter()
            subprocess.run(base + extra, check=True, stdout=subprocess.DEVNULL)
            times[label] = time.perf_counter() - t
        print(f"end-to-end mire2e scan, {kb} kb of BA000025.2, -t {threads} "
              f"(load average {open('/proc/loadavg').read().split()[0]}):")
        for label, t in times.items():
            print(f"  prefilter {label}: {t:.1f} s, speed-up {times['off'] / t:.2f}x")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--training", type=Path, default=ROOT.parent / "main/training/data")
    p.add_argument("--shared", type=Path, default=Path(os.environ.get("MIRE2E_SHARED", ROOT.parent / "shared")))
    p.add_argument("--speed-kb", type=int, default=0, help="also time mire2e scan on this many kb")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    if a.speed_kb:
        speed(a.shared, a.speed_kb, a.threads)
    passes = lambda s, t: s >= t
    skips = lambda s, t: s < t
    print("pass rate (share of hairpins reaching the models)")
    for label, path in [("tuning positives.fa", a.training / "positives.fa"),
                        ("held-out positives.val.fa", a.training / "positives.val.fa"),
                        ("held-out v22_new_hairpins.fa, central 100 nt", a.training / "test/v22_new_hairpins.fa")]:
        s = [int(r[5]) for r in scores("whole", path)]
        print(f"  {label} (n={len(s)}): {rates(s, passes)}")
    best = {}
    for r in scores("windows", a.training / "test/v22_new_hairpins.fa"):
        best[r[1]] = max(best.get(r[1], 0), int(r[5]))
    print(f"  held-out v22_new_hairpins.fa, any of its windows (n={len(best)}): {rates(list(best.values()), passes)}")
    print("share of genome windows skipped (100 nt, step 20, both strands)")
    genomes = [("tuning C. elegans chrI 1 Mb", a.shared / "data/celegans/ce_chrI_1Mb.htslib-test.fa"),
               ("tuning E. coli NC_008253", a.shared / "data/ecoli/NC_008253.fna.gz"),
               ("held-out human MHC BA000025.2", a.shared / "data/human_mhc/BA000025.2.fa")]
    for label, path in genomes:
        rows = scores("windows", path)
        print(f"  {label} ({len(rows)} windows): {rates([int(r[5]) for r in rows], skips)}")
    print("held-out known hairpins of BA000025.2 (miRBase v22): stem of the best-overlap windows")
    for line in open(a.shared / "data/human_mhc/hsa_miRBase_v22_hairpins_in_region.bed"):
        seq, start, end, name, _, strand = line.split()
        if seq != "BA000025.2":
            continue
        start, end = int(start), int(end)
        over = [(min(end, int(r[3])) - max(start, int(r[2])), int(r[5])) for r in rows
                if r[4] == strand and int(r[3]) > start and int(r[2]) < end]
        top = max(o for o, _ in over)
        print(f"  {name} ({strand}): {[s for o, s in over if o == top]}")


if __name__ == "__main__":
    main()
