"""miRBase hairpins: the animal positives, the held-out human sets and their exclusion."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .kmers import kmer_set, sharing
from .seqio import canonical, is_acgu, read_fasta

HELD_K = 32             # "shares a 32-nt stretch" (either strand) = held out
MIN_HELD = 0.6          # the evaluation's positive: a window holding >= 60% of a precursor


@dataclass
class Hairpin:
    name: str
    acc: str
    species: str
    seq: str


def read_organisms(path: str) -> dict[str, str]:
    """organism code -> taxonomy tree."""
    out = {}
    with open(path) as f:
        next(f)
        for line in f:
            c = line.rstrip("\n").split("\t")
            out[c[0]] = c[3]
    return out


def read_hairpins(path: str) -> list[Hairpin]:
    """miRBase stem-loops sorted by accession (the order every later choice starts from)."""
    recs = []
    for h, s in read_fasta(path):
        f = h.split()
        recs.append(Hairpin(f[0], f[1], f[0].split("-")[0], s))
    return sorted(recs, key=lambda r: (r.acc, r.name))


def read_accession_list(path: str) -> list[tuple[str, str]]:
    """(name, accession) rows of heldout_hsa_hairpins.txt."""
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, acc = line.split()[:2]
                rows.append((name, acc))
    return rows


def read_accessions(fasta: str) -> set[str]:
    return {h.split()[1] for h, _ in read_fasta(fasta)}


@dataclass
class HeldOut:
    """The sequences no training or validation sequence may share a 32-mer with."""
    ba000025: str
    heldout50: list[Hairpin]
    v22_new: list[Hairpin]

    def __post_init__(self):
        self.k32 = {
            "BA000025.2": kmer_set([self.ba000025], HELD_K),
            "heldout50": kmer_set([h.seq for h in self.heldout50], HELD_K),
            "v22_new": kmer_set([h.seq for h in self.v22_new], HELD_K),
        }


def held_windows(length: int, win: int) -> list[int]:
    """Offsets d (hairpin start minus window start) at which a window of `win` nt holds
    >= MIN_HELD of a hairpin of `length` nt; empty when no window can (length > win / MIN_HELD)."""
    need = math.ceil(MIN_HELD * length - 1e-9)
    return [d for d in range(-length + 1, win)
            if min(win, d + length) - max(0, d) >= need]


def select_positives(animals: list[Hairpin], held: HeldOut, calibration_k32: np.ndarray,
                     win: int) -> tuple[list[Hairpin], dict]:
    """Animal hairpins minus the held-out sets, those in (or sharing a 32-mer with) the calibration
    stretches, unplaceable ones and duplicates (either strand). Returns the kept hairpins
    (accession order) and what was excluded, by reason."""
    seqs = [h.seq for h in animals]
    near = {name: sharing(seqs, HELD_K, t) for name, t in held.k32.items()}
    near["calibration"] = sharing(seqs, HELD_K, calibration_k32)
    held_acc = {h.acc for h in held.heldout50}
    new_acc = {h.acc for h in held.v22_new}
    tests = (
        ("non_ACGU", lambda i, h: not is_acgu(h.seq)),
        ("heldout50_or_shares_32mer_with_them", lambda i, h: h.acc in held_acc or near["heldout50"][i]),
        ("v22_new_or_shares_32mer_with_them", lambda i, h: h.acc in new_acc or near["v22_new"][i]),
        ("shares_32mer_with_BA000025.2", lambda i, h: near["BA000025.2"][i]),
        ("shares_32mer_with_calibration_stretches", lambda i, h: near["calibration"][i]),
        ("longer_than_window_over_0.6", lambda i, h: not held_windows(len(h.seq), win)),
    )
    why: dict[str, list[str]] = {name: [] for name, _ in tests}
    why["duplicate_either_strand"] = []
    kept, seen = [], {}
    for i, h in enumerate(animals):
        label = f"{h.name} {h.acc}"
        reason = next((name for name, test in tests if test(i, h)), None)
        if reason:
            why[reason].append(label)
        elif canonical(h.seq) in seen:
            why["duplicate_either_strand"].append(f"{label} = {seen[canonical(h.seq)]}")
        else:
            seen[canonical(h.seq)] = h.name
            kept.append(h)
    return kept, why


def animal_hairpins(all_hairpins: list[Hairpin], organisms: dict[str, str]) -> list[Hairpin]:
    return [h for h in all_hairpins if organisms[h.species].startswith("Metazoa")]


def hairpin_guard_table(paths: list[str], k: int) -> np.ndarray:
    """k-mers (both strands) of every known hairpin: genome windows holding one are not negatives."""
    return kmer_set([s for p in paths for _, s in read_fasta(p)], k)
