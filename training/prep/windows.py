"""Genome windows (negatives, and the carriers whose flanks surround positives) and positive
windows (a hairpin placed in a carrier as a scan would show it)."""
from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from .genomes import GUARD_REASONS, Contig, Guards
from .kmers import canonical_codes
from .mirbase import Hairpin, held_windows
from .seqio import revcomp

WIN = 100
SLOT = 100          # genome windows are cut at start = 100 * i: windows never overlap


@dataclass(slots=True)
class Window:
    contig: int                 # index into the contig list
    start: int
    strand: str
    seq: str
    role: str = ""              # pool (folded), spare (unfolded), carrier, hard
    split: str = ""
    struct: str = ""
    mfe: float = 0.0
    kind: str = ""              # hairpin / flat (folded), unfolded, hard
    score: float | None = None  # scan score, hard negatives only

    def key(self) -> tuple[int, int, str]:
        return self.contig, self.start, self.strand


def window_seq(contig: Contig, start: int, strand: str) -> str:
    w = contig.seq[start:start + WIN]
    return w if strand == "+" else revcomp(w)


def eligible_windows(contigs: list[Contig], guards: Guards) -> tuple[list[Window], dict]:
    """Every slot window (both strands) that passes the guards, exact duplicates dropped (first
    kept, contig order). Counts per source: slots, drops by first failing reason, kept windows."""
    out, seen, stats = [], set(), {}
    for ci, c in enumerate(contigs):
        st = stats.setdefault(c.source, {"bp": 0, "slots": 0, **{r: 0 for r in GUARD_REASONS},
                                         "duplicate_window": 0, "windows": 0})
        st["bp"] += len(c.seq)
        starts = np.arange(0, len(c.seq) - WIN + 1, SLOT)
        st["slots"] += int(starts.size)
        fails = guards.failures(ci, starts, WIN)
        for r in fails[fails >= 0]:
            st[GUARD_REASONS[r]] += 1
        for s in starts[fails < 0].tolist():
            for strand in "+-":
                seq = window_seq(c, s, strand)
                if seq in seen:
                    st["duplicate_window"] += 1
                    continue
                seen.add(seq)
                out.append(Window(ci, s, strand, seq))
                st["windows"] += 1
    return out, stats


def sample_windows(windows: list[Window], contigs: list[Contig], n_carriers: int, n_pool: int,
                   n_spare: int, whole_sources: set[str], rng: random.Random) -> dict[str, list[Window]]:
    """Disjoint samples by role: carriers (a uniform sample of all windows, so the positives' flanks
    have the negatives' source mix); pool (to fold: every remaining window of the small
    whole_sources, filled up with a uniform sample of the rest); spare (uniform, left unfolded, to
    fill the negatives when the pool is short). Each list comes back in contig order."""
    order = list(range(len(windows)))
    rng.shuffle(order)
    carriers, rest = order[:n_carriers], order[n_carriers:]
    whole = [i for i in rest if contigs[windows[i].contig].source in whole_sources]
    other = [i for i in rest if contigs[windows[i].contig].source not in whole_sources]
    whole = whole[:n_pool]
    n_other = max(0, n_pool - len(whole))
    picked = {"carrier": carriers, "pool": whole + other[:n_other],
              "spare": other[n_other:n_other + n_spare]}
    for role, idx in picked.items():
        for i in idx:
            windows[i].role = role
    return {role: [windows[i] for i in sorted(idx)] for role, idx in picked.items()}


def genome_unit_codes(units: list[Window], contigs: list[Contig], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Canonical k-mer codes of each unit's window (the same for both strands of a slot),
    flattened with the unit index of each code."""
    codes, owners = [], []
    by_contig: dict[int, list[int]] = {}
    for i, u in enumerate(units):
        by_contig.setdefault(u.contig, []).append(i)
    for ci, idx in sorted(by_contig.items()):
        canon, _ = canonical_codes(contigs[ci].seq, k)      # guarded windows are all ACGU
        starts = np.array([units[i].start for i in idx])
        pos = starts[:, None] + np.arange(WIN - k + 1)[None, :]
        codes.append(canon[pos].ravel())
        owners.append(np.repeat(np.array(idx), WIN - k + 1))
    return np.concatenate(codes), np.concatenate(owners)


@dataclass(slots=True)
class Positive:
    hairpin: Hairpin
    copy: int                   # 1.. windows per hairpin
    offset: int                 # hairpin start minus window start (negative: hairpin cut on the left)
    held: float                 # fraction of the hairpin inside the window
    carrier: Window
    seq: str
    split: str = ""
    struct: str = ""
    mfe: float = 0.0

    @property
    def id(self) -> str:
        return f"{self.hairpin.acc}.w{self.copy}"


def place(hairpin: str, carrier: str, offset: int) -> str:
    """The carrier window with the hairpin written over it from `offset` on (clipped to the window)."""
    a, b = max(0, offset), min(WIN, offset + len(hairpin))
    return carrier[:a] + hairpin[a - offset:b - offset] + carrier[b:]


def make_positives(hairpins: list[Hairpin], per_hairpin: int, carriers: list[Window],
                   rng: random.Random, rejected) -> tuple[list[Positive], int]:
    """Each hairpin at per_hairpin offsets drawn uniformly from those at which the window holds
    >= 60% of it (the evaluation's positive; every offset a scan can produce), each in its own
    carrier (taken in order from a shuffled list). A window that `rejected(seq)` refuses (a held-out
    32-mer across the hairpin/flank junction) is drawn again. Returns the windows and the redraws."""
    out, redraws = [], 0
    carriers = list(carriers)
    rng.shuffle(carriers)
    it = iter(carriers)
    for h in hairpins:
        offsets = held_windows(len(h.seq), WIN)
        used: set[int] = set()
        for copy in range(1, per_hairpin + 1):
            while True:
                d, c = rng.choice([o for o in offsets if o not in used]), next(it)
                seq = place(h.seq, c.seq, d)
                if not rejected(seq):
                    break
                redraws += 1
            used.add(d)
            held = (min(WIN, d + len(h.seq)) - max(0, d)) / len(h.seq)
            out.append(Positive(h, copy, d, round(held, 3), c, seq))
    return out, redraws
