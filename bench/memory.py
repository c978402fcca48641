#!/usr/bin/env python3
"""Peak memory on one chromosome-sized record: does it grow with the record?

Makes a single FASTA record of --mb megabases at run time (default 250, about human chr1), N but
for --real bases of random sequence in every megabase, so the models see real windows all along
the record while the run stays short (`--max-n 0.5` skips the all-N windows; reading, cutting and
skipping still cover every base). Measures peak RSS and wall time of:

  mire2e-window                     records read in parts (the default)
  mire2e-window --whole-records     the original's order, the record held whole
  mire2e scan --max-n 0.5 --bed     the whole cascade on the bundled default model

  cargo build --release --workspace
  python3 bench/memory.py [--mb 250] [--threads 2]

Standard library only; peak RSS as bench.py measures it (the child's own ru_maxrss).
"""

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import cpu_text, run_child  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release"


def make_record(path, mb, real):
    """One record of mb megabases: each megabase is `real` random bases, then N."""
    rng = random.Random(20261205)
    with open(path, "w") as f:
        f.write(f">chrBig {mb} Mb, made by bench/memory.py\n")
        for _ in range(mb):
            block = "".join(rng.choice("ACGT") for _ in range(real)) + "N" * (1_000_000 - real)
            for i in range(0, len(block), 60):
                f.write(block[i:i + 60])
                f.write("\n")


def measure(cmd):
    """(wall seconds, peak RSS MB, data rows written) of cmd."""
    with tempfile.TemporaryFile() as out:
        wall, rss, _ = run_child(cmd, stdout=out)
        out.seek(0)
        rows = sum(1 for line in out if not line.startswith(b"#")) - 1
    return wall, rss, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=int, default=250, help="record length in megabases (default 250)")
    ap.add_argument("--real", type=int, default=1000, help="random bases per megabase (default 1000)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    print(f"cpu: {cpu_text()}")
    with tempfile.TemporaryDirectory() as tmp:
        fasta = Path(tmp) / "big.fa"
        t = time.perf_counter()
        make_record(fasta, args.mb, args.real)
        print(f"record: {args.mb} Mb in one record, {args.real} random bases per Mb, rest N "
              f"({fasta.stat().st_size / 1e6:.0f} MB of FASTA, made in {time.perf_counter() - t:.0f} s)")
        runs = [
            ("mire2e-window", [BIN / "mire2e-window", "-q", "--max-n", "0.5"]),
            ("mire2e-window --whole-records",
             [BIN / "mire2e-window", "-q", "--max-n", "0.5", "--whole-records"]),
            ("mire2e scan --max-n 0.5 --bed",
             [BIN / "mire2e", "scan", "-q", "--max-n", "0.5", "-t", str(args.threads),
              "--bed", Path(tmp) / "loci.bed"]),
        ]
        print("command\twindows\twall_s\tpeak_rss_MB")
        for name, cmd in runs:
            wall, rss, rows = measure([*cmd, fasta])
            print(f"{name}\t{rows}\t{wall:.1f}\t{rss:.1f}", flush=True)


if __name__ == "__main__":
    main()
