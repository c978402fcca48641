#!/usr/bin/env python3
"""The hairpin tests with length taken out: held-out hairpins against pieces of BA000025.2 of the
same lengths, each scanned as its own record.

    models/length_control.py [--model default] [--classifier LABEL=FILE ...] [--out DIR]

evaluate.py's hairpin tests (the paper's set-up) put bare hairpins, mostly shorter than 100 nt and
so padded, against 100-nt genome windows: a model that scores short windows higher gains AUROC
without telling hairpins from genome. Here both classes are short: the 112 held-out hairpins (v22
new and the 50) and seeded pieces of BA000025.2 at the hairpins' lengths (capped at 100), at least
2 kb from its known loci and without N. Score: each record's best `+` window, as in evaluate.py.
Structure and MFE come from the bundle (f32), then each Classifier scores the same stream.
"""
from __future__ import annotations

import argparse
import bisect
import os
import random
import shlex
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import evaluate as ev  # noqa: E402

SEED = 20261206
MARGIN = 2000


def pieces(genome: str, loci, lengths: list[int], n: int) -> list[tuple[str, str]]:
    """n seeded pieces of `genome`, each as long as a length drawn from `lengths` (at most 100),
    without N and at least MARGIN nt from every (start, end) of `loci`.

    >>> g = "ACGU" * 1500 + "N" * 500 + "ACGU" * 1500
    >>> ps = pieces(g, [(5000, 5100)], [40, 80, 150], 50)
    >>> sorted({len(s) for _, s in ps})
    [40, 80, 100]
    >>> all(s == g[int(i.split("_")[1]):][:len(s)] and "N" not in s for i, s in ps)
    True
    >>> all(not 3000 - len(s) < int(i.split("_")[1]) < 7100 for i, s in ps)
    True
    """
    rng, out = random.Random(SEED), []
    while len(out) < n:
        length = min(rng.choice(lengths), 100)
        a = rng.randrange(0, len(genome) - length)
        if "N" in genome[a:a + length] or any(a < e + MARGIN and s - MARGIN < a + length for s, e in loci):
            continue
        out.append((f"piece{len(out)}_{a}", genome[a:a + length]))
    return out


def exe(bin_dir: str | None, name: str) -> str:
    path = os.path.join(bin_dir, name) if bin_dir else shutil.which(name)
    if not path or not os.path.exists(path):
        sys.exit(f"length_control.py: {name} not found (install with `cargo install --locked --path bins` "
                 "or give --bin-dir)")
    return path


def best_plus(stream: str) -> dict[str, float]:
    best: dict[str, float] = {}
    for seq_id, strand, score in ev.stream_rows(stream, "seq_id", "strand", "score"):
        if strand == "+":
            best[seq_id] = max(best.get(seq_id, -1.0), float(score))
    return best


def auroc(pos: list[float], neg: list[float]) -> float:
    """P(a positive outscores a negative), ties counting one half.

    >>> auroc([3, 2], [1, 2])
    0.875
    """
    neg = sorted(neg)
    wins = sum(bisect.bisect_left(neg, x) + (bisect.bisect_right(neg, x) - bisect.bisect_left(neg, x)) / 2
               for x in pos)
    return wins / (len(pos) * len(neg))


def labelled(text: str) -> tuple[str, str]:
    label, sep, path = text.partition("=")
    if not sep or not label or not os.path.isfile(path):
        raise argparse.ArgumentTypeError(f"{text!r}: want LABEL=FILE with an existing weights file")
    return label, path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="default", help="bundle for Structure and MFE (and its Classifier)")
    ap.add_argument("--classifier", action="append", default=[], type=labelled, metavar="LABEL=FILE",
                    help="score with these Classifier weights too (repeatable)")
    ap.add_argument("--shared", default=ev.default_shared())
    ap.add_argument("--bin-dir", default=None, help="folder of the mire2e binaries (default: PATH)")
    ap.add_argument("--pieces", type=int, default=2000)
    ap.add_argument("--out", default="length_control")
    args = ap.parse_args()
    if args.pieces < 1:
        ap.error("--pieces must be at least 1")
    os.makedirs(args.out, exist_ok=True)
    tool = {b: shlex.quote(exe(args.bin_dir, b)) for b in ("mire2e-window", "mire2e-fold", "mire2e-mfe")}
    classify = exe(args.bin_dir, "mire2e-classify")
    bundle = ev.resolve_bundle(args.model)

    hairpins = ev.v22_new_hairpins(args.shared) + ev.heldout50_hairpins(args.shared)
    (_, genome), = ev.read_fasta(os.path.join(args.shared, "data", "human_mhc", "BA000025.2.fa"))
    with open(os.path.join(args.shared, "data", "human_mhc", "hsa_miRBase_v22_hairpins_in_region.bed")) as f:
        loci = [(int(x[1]), int(x[2])) for x in (l.split("\t") for l in f) if x[0] == "BA000025.2"]
    sets = {"hairpins": hairpins, "pieces": pieces(genome.upper(), loci, [len(s) for _, s in hairpins], args.pieces)}

    classifiers = [("bundle", os.path.join(bundle, "classifier.safetensors"))]
    classifiers += args.classifier
    print("classifier\thairpins\tpieces\tmedian_hairpin\tmedian_piece\tAUROC")
    streams = {}
    for name, recs in sets.items():
        fa, mfe = os.path.join(args.out, f"{name}.fa"), os.path.join(args.out, f"{name}.mfe.tsv")
        ev.write_fasta(fa, recs)
        b, q = shlex.quote(bundle), shlex.quote(fa)
        with open(mfe, "w") as o:
            subprocess.run(["bash", "-o", "pipefail", "-c",
                            f"{tool['mire2e-window']} {q} | {tool['mire2e-fold']} -q --model {b} "
                            f"| {tool['mire2e-mfe']} -q --model {b}"], stdout=o, check=True)
        streams[name] = mfe
    for label, weights in classifiers:
        best = {}
        for name, mfe in streams.items():
            out = os.path.join(args.out, f"{name}.{label}.tsv")
            with open(mfe) as i, open(out, "w") as o:
                subprocess.run([classify, "-q", "--weights", weights], stdin=i, stdout=o, check=True)
            best[name] = sorted(best_plus(out).values())
        h, p = best["hairpins"], best["pieces"]
        print(f"{label}\t{len(h)}\t{len(p)}\t{h[len(h) // 2]:.3f}\t{p[len(p) // 2]:.3f}\t{auroc(h, p):.3f}")
    try:
        import RNA
    except ImportError:
        print("RNAfold-MFE: not computed (no ViennaRNA module)", file=sys.stderr)
        return
    best = {}
    for name, mfe in streams.items():
        by_record: dict[str, float] = {}
        for seq_id, strand, seq in ev.stream_rows(mfe, "seq_id", "strand", "seq"):
            if strand == "+":
                seq = seq.rstrip("N")
                score = -RNA.fold(seq)[1] / len(seq)
                by_record[seq_id] = max(by_record.get(seq_id, score), score)
        best[name] = sorted(by_record.values())
    h, p = best["hairpins"], best["pieces"]
    print(f"rnafold_mfe_per_nt\t{len(h)}\t{len(p)}\t{h[len(h) // 2]:.3f}\t{p[len(p) // 2]:.3f}\t{auroc(h, p):.3f}")


if __name__ == "__main__":
    main()
