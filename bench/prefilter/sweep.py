#!/usr/bin/env python3
"""Sweeps the stem finder's scores on TUNING data only: for each scoring, the threshold keeping 99%
of the training hairpins and the share of C. elegans / E. coli windows it skips.

  python3 bench/prefilter/sweep.py POSITIVES.fa GENOME.fa...   (prefilter-scores example built)
  SWEEP=stack python3 bench/prefilter/sweep.py ...               (the stacking-bonus sweep)
"""
import itertools
import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "target/release/examples/prefilter-scores"


def scores(mode, files, stem):
    out = subprocess.run([EXAMPLE, mode, "x", *files], capture_output=True, text=True, check=True,
                         env=dict(os.environ, MIRE2E_STEM=stem)).stdout
    return [int(line.rsplit("\t", 1)[1]) for line in out.splitlines()]


def main():
    positives, genomes = sys.argv[1], sys.argv[2:]
    rows = []
    # First sweep: pair scores, penalties and loop size, no stacking bonus.
    first = [((3, 2, gu), mm, bulge, loop, 0)
             for gu, mm, bulge, loop in itertools.product([1, 0], [-2, -3, -4], [-2, -3, -5], [100, 25, 15])]
    # Second sweep: a bonus for stacked pairs, with smaller pair scores.
    second = list(itertools.product([(3, 2, 1), (2, 1, 0), (1, 1, 0)], [-2, -3], [-3, -4], [25], [0, 1, 2, 3]))
    grid = second if os.environ.get("SWEEP") == "stack" else first
    for (gc, au, gu), mm, bulge, loop, stack in grid:
        stem = f"{gc},{au},{gu},{mm},{bulge},{loop},{stack}"
        pos = sorted(scores("whole", [positives], stem))
        t = pos[len(pos) // 100]  # 99% of the positives score >= t
        gen = scores("windows", genomes, stem)
        skip = sum(x < t for x in gen) / len(gen)
        rows.append((skip, stem, t))
        print(f"{stem}\tthreshold {t}\tgenome skipped {skip:.3f}", flush=True)
    print("best:", max(rows))


if __name__ == "__main__":
    main()
