#!/usr/bin/env python3
"""The Classifier's training and validation sets, derived from the v2 data of `prepare.py`.

    training/classifier_set.py DATA OUT [--negatives N]

v2's positive windows hold each hairpin inside genomic flanks, as a genome scan shows it. The
original trained on the bare hairpin (its first 100 nt, zero-padded), and a bare hairpin is also
what a user who scores candidate hairpins gives, and what the held-out hairpin tests show. So the
set holds every positive twice, flanked and bare, and the negatives twice as many: N genome windows
(a seeded sample, every hard negative kept) and N more cut to the lengths of the bare positives at
a random offset, so that neither length nor padding tells the classes apart. Validation is built
the same way, half of each class bare or cut, shuffled: the trainer's --val-limit takes the first
records of each file.

Every sequence written is a prepared training sequence or a piece of one (same split), so
`prepare.py`'s leakage checks cover them. Deterministic: one seed, no other input.
"""
from __future__ import annotations

import argparse
import random

from prep.seqio import read_fasta

SEED = 20261205
WINDOW = 100


def write_fasta(path: str, recs: list[tuple[str, str]]) -> None:
    with open(path, "w") as f:
        f.writelines(f">{h}\n{s}\n" for h, s in recs)


def bare_hairpins(data: str) -> dict[str, list[tuple[str, str]]]:
    """The positives' hairpins alone (first 100 nt), by split, from positives.tsv."""
    out: dict[str, list[tuple[str, str]]] = {"train": [], "val": []}
    with open(f"{data}/positives.tsv") as f:
        cols = f.readline().rstrip("\n").split("\t")
        for line in f:
            r = dict(zip(cols, line.rstrip("\n").split("\t")))
            acc = r["id"].split(".")[0]
            out[r["split"]].append((f"{acc}.bare {r['name']} len={r['hairpin_len']}", r["hairpin"][:WINDOW]))
    return out


def trim(windows: list[tuple[str, str]], lengths: list[int], rng: random.Random) -> list[tuple[str, str]]:
    """Each window cut to its length at a random offset.

    >>> trim([("w1 source=x", "ACGUACGU")], [3], random.Random(1))
    [('w1.trim1-4 len=3', 'CGU')]
    """
    out = []
    for (h, s), n in zip(windows, lengths):
        o = rng.randrange(0, len(s) - n + 1)
        out.append((f"{h.split()[0]}.trim{o}-{o + n} len={n}", s[o:o + n]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", help="the folder prepare.py wrote")
    ap.add_argument("out", help="folder for classifier_{pos,neg,val_pos,val_neg}.fa")
    ap.add_argument("--negatives", type=int, default=100_000,
                    help="genome windows sampled from negatives.fa (as many more are cut)")
    a = ap.parse_args()
    rng = random.Random(SEED)
    bare = bare_hairpins(a.data)

    neg = read_fasta(f"{a.data}/negatives.fa")
    hard = [i for i, (h, _) in enumerate(neg) if " kind=hard" in h]
    rest = [i for i, (h, _) in enumerate(neg) if " kind=hard" not in h]
    n = max(0, min(a.negatives - len(hard), len(rest)))
    keep = sorted(hard + random.Random(SEED).sample(rest, n))
    kept = set(keep)
    spare = [i for i in rest if i not in kept]
    rng.shuffle(spare)
    lengths = [len(s) for _, s in bare["train"]]
    trimmed = trim([neg[i] for i in spare[:len(keep)]], [rng.choice(lengths) for _ in range(len(keep))], rng)
    pos = read_fasta(f"{a.data}/positives.fa") + bare["train"]
    negs = [neg[i] for i in keep] + trimmed
    rng.shuffle(pos)
    rng.shuffle(negs)
    write_fasta(f"{a.out}/classifier_pos.fa", pos)
    write_fasta(f"{a.out}/classifier_neg.fa", negs)

    vneg = read_fasta(f"{a.data}/negatives.val.fa")
    rng.shuffle(vneg)
    half = len(vneg) // 2
    lengths = [len(s) for _, s in bare["val"]]
    vn = vneg[:half] + trim(vneg[half:], [rng.choice(lengths) for _ in range(len(vneg) - half)], rng)
    vp = read_fasta(f"{a.data}/positives.val.fa") + bare["val"]
    rng.shuffle(vn)
    rng.shuffle(vp)
    write_fasta(f"{a.out}/classifier_val_pos.fa", vp)
    write_fasta(f"{a.out}/classifier_val_neg.fa", vn)
    print(f"classifier_set.py: {len(pos)} positives, {len(negs)} negatives; "
          f"validation {len(vp)} and {len(vn)}")


if __name__ == "__main__":
    main()
