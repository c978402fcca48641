#!/usr/bin/env python3
"""Reproduce the held-out figures of a model bundle's MODEL_CARD.md.

Runs the installed mire2e binaries (PATH, or --bin-dir) on the read-only shared data and prints one
TSV of metrics. Python standard library only.

  (1) future discovery: the human hairpins whose accession is new in miRBase v22 (not in v21) against
      every window of BA000025.2 that lies at least --margin nt away from its known pre-miRNAs;
      AP (step-wise AUCPR) and precision at recall 0.2 (paper section 4.2).
  (2) genome scan of BA000025.2 against its 5 known pre-miRNAs (miRBase v22 BED): s+, p, F1 at the
      operating threshold, AUROC and AUCPR, as the paper's Table 2 (one positive window per
      precursor: mire2e-eval's default rule `best`).
  (3) calls per Mb on the E. coli genome (bacteria have no miRNAs): merged loci (BED lines) at the
      operating threshold, per Mb of sequence scanned (both strands scored; a locus counts once).

    python3 models/evaluate.py --model default --threshold 0.9 --out eval-default

Every intermediate file stays in --out, so each figure can be traced to the command that made it.
"""

import argparse
import csv
import gzip
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def default_shared() -> str:
    return os.environ.get("MIRE2E_SHARED") or os.path.join(HERE, "..", "..", "shared")


def read_fasta(path: str) -> list[tuple[str, str]]:
    opener = gzip.open if path.endswith(".gz") else open
    records, name, seq = [], None, []
    with opener(path, "rt") as f:
        for line in f:
            line = line.strip()
            if line.startswith(">"):
                if name is not None:
                    records.append((name, "".join(seq)))
                name, seq = line[1:], []
            elif line:
                seq.append(line)
    if name is not None:
        records.append((name, "".join(seq)))
    return records


def v22_new_hairpins(shared: str) -> list[tuple[str, str]]:
    """hsa hairpins whose MI accession is in miRBase v22 and not in v21 (as training/prepare.py)."""
    base = os.path.join(shared, "data", "mirbase_hsa")
    acc = lambda header: header.split()[1]  # noqa: E731  ">hsa-mir-1 MI0000651 Homo sapiens ..."
    v21 = {acc(h) for h, _ in read_fasta(os.path.join(base, "hsa_hairpins_miRBase_v21.fa"))}
    out = []
    for header, seq in read_fasta(os.path.join(base, "hsa_hairpins_miRBase_v22.fa")):
        if header.startswith("hsa-") and acc(header) not in v21:
            out.append((header.split()[0], seq.upper().replace("T", "U")))
    return out


class Runner:
    """Runs binaries, logs each command line (the reproduction record) and its wall time."""

    def __init__(self, bin_dir: str | None, out: str):
        self.bin_dir = bin_dir
        self.log = open(os.path.join(out, "commands.txt"), "w")

    def exe(self, name: str) -> str:
        path = os.path.join(self.bin_dir, name) if self.bin_dir else shutil.which(name)
        if not path or not os.path.exists(path):
            sys.exit(f"evaluate.py: {name} not found (install with `cargo install --locked --path bins` "
                     "or give --bin-dir)")
        return path

    def run(self, name: str, *args: str) -> None:
        cmd = [self.exe(name), *args]
        shown = " ".join([name, *args])
        print(f"$ {shown}", file=sys.stderr, flush=True)
        start = time.monotonic()
        subprocess.run(cmd, check=True)
        self.log.write(f"{shown}\t# {time.monotonic() - start:.0f} s\n")
        self.log.flush()


def metrics_all(path: str) -> dict[str, str]:
    with open(path) as f:
        rows = [r for r in csv.DictReader((l for l in f if not l.startswith("#")), delimiter="\t")]
    (row,) = [r for r in rows if r["seq_id"] == "all"]
    return row


def precision_at_recall(pr_tsv: str, recall: float) -> float:
    """Precision at the highest threshold whose recall reaches `recall` (every threshold kept)."""
    with open(pr_tsv) as f:
        for r in csv.DictReader((l for l in f if not l.startswith("#")), delimiter="\t"):
            if float(r["recall"]) >= recall:
                return float(r["precision"])
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="default", help="bundle name or directory (default: default)")
    ap.add_argument("--threshold", type=float, required=True, help="operating threshold")
    ap.add_argument("--shared", default=default_shared())
    ap.add_argument("--out", required=True, help="directory for every intermediate file")
    ap.add_argument("--bin-dir", help="directory of the mire2e binaries (default: PATH)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--margin", type=int, default=100,
                    help="future discovery: drop BA000025.2 windows closer than this to a known locus")
    ap.add_argument("--ecoli-bases", type=int, default=0,
                    help="scan only the first N bases of E. coli (0 = the whole genome)")
    a = ap.parse_args(argv)

    os.makedirs(a.out, exist_ok=True)
    r = Runner(a.bin_dir, a.out)
    common = ["--model", a.model, "--threads", str(a.threads), "-q"]
    mhc = os.path.join(a.shared, "data", "human_mhc")
    ba_fa, bed = os.path.join(mhc, "BA000025.2.fa"), os.path.join(mhc, "hsa_miRBase_v22_hairpins_in_region.bed")
    p = lambda name: os.path.join(a.out, name)  # noqa: E731
    thr = str(a.threshold)
    results: list[tuple[str, str, str]] = []

    # (2) genome scan of BA000025.2
    if not os.path.exists(p("ba.tsv")):
        r.run("mire2e", "scan", ba_fa, *common, "-o", p("ba.tsv"), "--bed", p("ba.bed"), "--threshold", thr)
    r.run("mire2e-eval", "-s", p("ba.tsv"), "-l", a.model, "--truth", bed, "--threshold", thr,
          "--report", p("genome_scan"), "--plots", "none", "-o", p("genome_scan.tsv"))
    m = metrics_all(p("genome_scan/metrics.tsv"))
    for key in ("positives", "negatives", "s+", "p", "F1", "AUROC", "AP", "AUCPR_trapezoid",
                "best_threshold", "best_F1"):
        results.append(("genome_scan_BA000025.2", key, m[key]))
    with open(p("ba.bed")) as f:
        results.append(("genome_scan_BA000025.2", "loci_called", str(sum(1 for l in f if l.strip()))))

    # (1) future discovery: v22-new hairpins vs BA000025.2 windows away from known loci
    hairpins = v22_new_hairpins(a.shared)
    with open(p("v22_new.fa"), "w") as f:
        for name, seq in hairpins:
            f.write(f">{name}\n{seq}\n")
    r.run("mire2e", "scan", p("v22_new.fa"), *common, "-o", p("v22_new.tsv"))
    loci = [(int(x[1]), int(x[2])) for x in (l.split("\t") for l in open(bed)) if x[0] == "BA000025.2"]
    with open(p("future.tsv"), "w") as out, open(p("v22_new.tsv")) as hp, open(p("ba.tsv")) as ba:
        header = None
        for line in hp:  # the hairpin scan whole: metadata, header, rows
            if header is None and not line.startswith("#"):
                header = line
            out.write(line)
        kept = dropped = 0
        cols = header.rstrip("\n").split("\t")
        i_start, i_end = cols.index("start"), cols.index("end")
        for line in ba:
            if line.startswith("#") or line == header:
                continue
            x = line.split("\t")
            s, e = int(x[i_start]), int(x[i_end])
            if any(s < le + a.margin and ls - a.margin < e for ls, le in loci):
                dropped += 1
                continue
            out.write(line)
            kept += 1
    with open(p("future_truth.bed"), "w") as f:
        for name, seq in hairpins:
            f.write(f"{name}\t0\t{len(seq)}\t{name}\t0\t+\n")
    r.run("mire2e-eval", "-s", p("future.tsv"), "-l", a.model, "--truth", p("future_truth.bed"),
          "--threshold", thr, "--report", p("future"), "--curve-points", "0", "--plots", "svg,png",
          "-o", p("future.metrics.tsv"))
    m = metrics_all(p("future/metrics.tsv"))
    results += [
        ("future_discovery", "hairpins_v22_new", str(len(hairpins))),
        ("future_discovery", "positives", m["positives"]),
        ("future_discovery", "negatives_BA000025.2_windows", str(kept)),
        ("future_discovery", "windows_dropped_near_known_loci", str(dropped)),
        ("future_discovery", "AP", m["AP"]),
        ("future_discovery", "AUCPR_trapezoid", m["AUCPR_trapezoid"]),
        ("future_discovery", "AUROC", m["AUROC"]),
        ("future_discovery", "precision_at_recall_0.2", f"{precision_at_recall(p('future/pr.tsv'), 0.2):.6g}"),
        ("future_discovery", "s+_at_threshold", m["s+"]),
    ]

    # (3) E. coli calls per Mb
    ecoli = os.path.join(a.shared, "data", "ecoli", "NC_008253.fna.gz")
    if a.ecoli_bases:
        (name, seq), = read_fasta(ecoli)[:1]
        seq = seq[: a.ecoli_bases]
        ecoli = p("ecoli_part.fa")
        with open(ecoli, "w") as f:
            f.write(f">{name.split()[0]}\n{seq}\n")
    bases = sum(len(s) for _, s in read_fasta(ecoli))
    r.run("mire2e", "scan", ecoli, *common, "-o", p("ecoli.tsv"), "--bed", p("ecoli.bed"), "--threshold", thr)
    with open(p("ecoli.bed")) as f:
        calls = sum(1 for l in f if l.strip())
    results += [
        ("ecoli", "bases_scanned", str(bases)),
        ("ecoli", "loci_called", str(calls)),
        ("ecoli", "calls_per_Mb", f"{calls / (bases / 1e6):.4g}"),
    ]

    with open(p("summary.tsv"), "w") as f:
        f.write(f"# model={a.model} threshold={thr}\ntest\tmetric\tvalue\n")
        for row in results:
            f.write("\t".join(row) + "\n")
    with open(p("summary.tsv")) as f:
        sys.stdout.write(f.read())
    return 0


if __name__ == "__main__":
    sys.exit(main())
