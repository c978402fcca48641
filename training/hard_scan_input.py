#!/usr/bin/env python3
"""What a first model scans to find hard negatives (prepare.py --hard-negatives).

    training/hard_scan_input.py DATA OUT.fa [--dm3-share 0.15]

Every record of DATA/genomes/training_genomes.fa but the dm3 fly upstream ones (E. coli's training
part, fly dm6, worm, human), and a seeded share of the dm3 records: all 19.8 Mb of them take hours
to scan on 2 cores, and the other genomes matter more (human above all: its windows are the ones a
model calls falsely on BA000025.2). Records are copied as they are, in file order. Deterministic.
"""
from __future__ import annotations

import argparse
import os
import random

SEED = 20261205


def records(path: str):
    """(id, lines of the record including its header) in file order."""
    rec: list[str] = []
    with open(path) as f:
        for line in f:
            if line.startswith(">") and rec:
                yield rec[0][1:].split()[0], rec
                rec = []
            rec.append(line)
    if rec:
        yield rec[0][1:].split()[0], rec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", help="a prepare.py output folder")
    ap.add_argument("out", help="FASTA to write")
    ap.add_argument("--dm3-share", type=float, default=0.15,
                    help="share of the dm3 records kept, each drawn on its own (default 0.15)")
    args = ap.parse_args()
    genomes = f"{args.data}/genomes/training_genomes.fa"
    if not os.path.isfile(genomes):
        raise SystemExit(f"hard_scan_input.py: {genomes} not found (is {args.data} a prepare.py folder?)")
    if not 0.0 <= args.dm3_share <= 1.0:
        raise SystemExit(f"hard_scan_input.py: --dm3-share {args.dm3_share} is not in [0, 1]")
    rng = random.Random(SEED)
    kept = {"dm3": 0, "other": 0}
    with open(args.out, "w") as out:
        for rid, lines in records(genomes):
            if rid.startswith("dm3_"):
                if rng.random() >= args.dm3_share:
                    continue
                kept["dm3"] += 1
            else:
                kept["other"] += 1
            out.writelines(lines)
    print(f"hard_scan_input.py: {kept['other']} records besides dm3 and {kept['dm3']} dm3 records "
          f"in {args.out}")


if __name__ == "__main__":
    main()
