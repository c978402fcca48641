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
import importlib.util
import os
import random
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


def best_plus(stream: str, column: str, score) -> list[float]:
    """Each record's best `+` window, by `score` of the window's `column`, sorted."""
    best: dict[str, float] = {}
    for seq_id, strand, value in ev.stream_rows(stream, "seq_id", "strand", column):
        if strand == "+":
            x = score(value)
            best[seq_id] = max(best.get(seq_id, x), x)
    return sorted(best.values())


def mfe_per_nt(window: str) -> float:
    """RNAfold's −MFE per nt of the window as scanned (its padding N dropped), as evaluate.py's
    baseline scores it."""
    seq = window.rstrip("N")
    return -ev._fold(seq) / len(seq)


def row(label: str, best: dict[str, list[float]]) -> str:
    h, p = best["hairpins"], best["pieces"]
    return f"{label}\t{len(h)}\t{len(p)}\t{h[len(h) // 2]:.3f}\t{p[len(p) // 2]:.3f}\t{auroc(h, p):.3f}"


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
    r = ev.Runner(args.bin_dir, args.out, threads=0)
    bundle = ev.resolve_bundle(args.model)

    hairpins = ev.v22_new_hairpins(args.shared) + ev.heldout50_hairpins(args.shared)
    (_, genome), = ev.read_fasta(os.path.join(args.shared, "data", "human_mhc", "BA000025.2.fa"))
    with open(os.path.join(args.shared, "data", "human_mhc", "hsa_miRBase_v22_hairpins_in_region.bed")) as f:
        loci = [(int(x[1]), int(x[2])) for x in (l.split("\t") for l in f) if x[0] == "BA000025.2"]
    sets = {"hairpins": hairpins, "pieces": pieces(genome.upper(), loci, [len(s) for _, s in hairpins], args.pieces)}

    streams = {}
    for name, recs in sets.items():
        stem = os.path.join(args.out, name)
        ev.write_fasta(f"{stem}.fa", recs)
        r.run("mire2e-window", f"{stem}.fa", "-o", f"{stem}.windows.tsv")
        r.run("mire2e-fold", "-q", "--model", bundle, f"{stem}.windows.tsv", "-o", f"{stem}.fold.tsv")
        r.run("mire2e-mfe", "-q", "--model", bundle, f"{stem}.fold.tsv", "-o", f"{stem}.mfe.tsv")
        streams[name] = f"{stem}.mfe.tsv"
    print("classifier\thairpins\tpieces\tmedian_hairpin\tmedian_piece\tAUROC")
    for label, weights in [("bundle", os.path.join(bundle, "classifier.safetensors")), *args.classifier]:
        best = {}
        for name, mfe in streams.items():
            out = os.path.join(args.out, f"{name}.{label}.tsv")
            r.run("mire2e-classify", "-q", "--weights", weights, mfe, "-o", out)
            best[name] = best_plus(out, "score", float)
        print(row(label, best))
    if importlib.util.find_spec("RNA") is None:
        print("RNAfold-MFE: not computed (no ViennaRNA module `RNA`)", file=sys.stderr)
        return
    print(row("rnafold_mfe_per_nt", {n: best_plus(mfe, "seq", mfe_per_nt) for n, mfe in streams.items()}))


if __name__ == "__main__":
    main()
