"""Negative genomes: fly, worm, E. coli and other human DNA, cut into training contigs and the
calibration stretches that are kept out; known hairpin loci; per-window guards."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .kmers import Lookup, any_in_windows, in_table, kmer_codes, kmer_hits, kmer_set
from .mirbase import HELD_K
from .seqio import first_word, read_fasta, revcomp

GUARD_K = 20                 # a genome window sharing a 20-mer with a known hairpin is no negative
FLY_CALIBRATION_BP = 5_000_000
ECOLI_CALIBRATION_BP = 1_000_000
# dm3_upstream2000.fa.gz is ordered by chromosome; these are its last ones (file order), taken
# whole; chr3R (the one before them) is then taken from its far end until 5 Mb are reached.
DM3_CALIBRATION_CHROMS = ("chr3RHet", "chr4", "chrU", "chrUextra", "chrX", "chrXHet", "chrYHet")
DM3_CALIBRATION_FILL = "chr3R"


@dataclass
class Contig:
    id: str                      # the id written to genomes/*.fa and used in window headers
    source: str                  # fly_dm3, fly_dm6, worm, ecoli, human
    seq: str
    desc: str                    # provenance, for the FASTA header
    aliases: tuple = ()          # ids a scan of the shared file itself would use
    loci: list = field(default_factory=list)   # known hairpins: (start, end, name, strand)


# ----------------------------------------------------------------------------- fly dm3 upstream

_DM3_LOC = re.compile(r"(\S+):(-?\d+)-(\d+)")


def read_dm3_records(path: str) -> list[tuple[str, str, int, int, str]]:
    """(record id, chrom, 0-based start, end, forward-strand sequence). The headers give 1-based
    closed coordinates; `_r` records are reverse complements (checked on overlapping records)."""
    out = []
    for h, s in read_fasta(path):
        name, loc = h.split()[:2]
        chrom, a, b = _DM3_LOC.fullmatch(loc).groups()
        a, b = max(1, int(a)) - 1, int(b)
        assert b - a == len(s), h
        out.append((name, chrom, a, b, s if name.endswith("_f") else revcomp(s)))
    return out


def merge_dm3(records) -> list[dict]:
    """Overlapping or adjacent records merged into unique genomic stretches (chromosomes in file
    order, then by position); each keeps the ids of its records. Overlaps must agree base for base."""
    chrom_order = list(dict.fromkeys(r[1] for r in records))
    merged = []
    for chrom in chrom_order:
        rs = sorted((r for r in records if r[1] == chrom), key=lambda r: (r[2], r[3], r[0]))
        cur = None
        for name, _, a, b, s in rs:
            if cur and a <= cur["end"]:
                off = a - cur["start"]
                have = cur["seq"][off:]
                assert s[:len(have)] == have[:len(s)], f"dm3 records disagree at {chrom}:{a}"
                if b > cur["end"]:
                    cur["seq"] += s[cur["end"] - a:]
                    cur["end"] = b
                cur["records"].append(name)
            else:
                cur = {"chrom": chrom, "start": a, "end": b, "seq": s, "records": [name]}
                merged.append(cur)
    for i, m in enumerate(merged):
        m["order"] = i
    return merged


def split_dm3(merged: list[dict], dm6_end: int) -> tuple[list[dict], list[dict], list[dict]]:
    """(training, calibration, dropped): calibration = the last chromosomes in file order plus chr3R
    from its far end up to FLY_CALIBRATION_BP; dropped = chr2L stretches inside the dm6 chr2L file
    (dm3 and dm6 chr2L coordinates agree there; checked by 32-mers in the manifest)."""
    calib = [m for m in merged if m["chrom"] in DM3_CALIBRATION_CHROMS]
    total = sum(m["end"] - m["start"] for m in calib)
    for m in sorted((m for m in merged if m["chrom"] == DM3_CALIBRATION_FILL), key=lambda m: -m["start"]):
        if total >= FLY_CALIBRATION_BP:
            break
        calib.append(m)
        total += m["end"] - m["start"]
    calib_ids = {id(m) for m in calib}
    dropped = [m for m in merged if m["chrom"] == "chr2L" and m["start"] < dm6_end and id(m) not in calib_ids]
    drop_ids = {id(m) for m in dropped}
    train = [m for m in merged if id(m) not in calib_ids | drop_ids]
    calib.sort(key=lambda m: m["order"])
    return train, calib, dropped


def dm3_contig(m: dict, source: str = "fly_dm3") -> Contig:
    cid = f"dm3_{m['chrom']}_{m['start']}_{m['end']}"
    desc = (f"D. melanogaster dm3 {m['chrom']}:{m['start']}-{m['end']} (0-based, + strand), "
            f"merged from {len(m['records'])} upstream2000 records")
    return Contig(cid, source, m["seq"], desc)


# ----------------------------------------------------------------------------- whole-record sources

def load_records(path: str, source: str, desc: str) -> list[Contig]:
    return [Contig(first_word(h), source, s, f"{desc}: {h}") for h, s in read_fasta(path)]


def cut_ecoli(rec: Contig) -> tuple[Contig, Contig]:
    """(training part, calibration part = the last ECOLI_CALIBRATION_BP)."""
    acc = rec.id.split("|")[3] if rec.id.startswith("gi|") else rec.id
    cut = len(rec.seq) - ECOLI_CALIBRATION_BP
    train = Contig(acc, "ecoli", rec.seq[:cut], f"E. coli 536 {acc}:0-{cut} (0-based)", (rec.id,))
    calib = Contig(f"{acc}_{cut}_{len(rec.seq)}", "ecoli", rec.seq[cut:],
                   f"E. coli 536 {acc}:{cut}-{len(rec.seq)} (0-based), last 1 Mb, calibration")
    return train, calib


def rename(c: Contig, new_id: str) -> Contig:
    return Contig(new_id, c.source, c.seq, c.desc, (c.id,) + c.aliases, c.loci)


# ----------------------------------------------------------------------------- known hairpin loci

def find_loci(contigs: list[Contig], hairpins) -> list[list[tuple[int, int, str, str]]]:
    """Per contig: every exact full-length occurrence of the hairpins, either strand, as
    (start, end, name, strand) in forward coordinates. The contigs are searched joined by N."""
    joined = "N".join(c.seq for c in contigs)
    starts = np.cumsum([0] + [len(c.seq) + 1 for c in contigs[:-1]])
    out: list[set] = [set() for _ in contigs]
    for h in hairpins:
        for strand, q in (("+", h.seq), ("-", revcomp(h.seq))):
            i = joined.find(q)
            while i >= 0:
                ci = int(np.searchsorted(starts, i, side="right")) - 1
                a = i - int(starts[ci])
                out[ci].add((a, a + len(q), h.name, strand))
                i = joined.find(q, i + 1)
    return [sorted(x) for x in out]


def read_bed_loci(path: str) -> dict[str, list[tuple[int, int, str, str]]]:
    out: dict[str, list] = {}
    with open(path) as f:
        for line in f:
            if line.strip() and not line.startswith(("#", "track", "browser")):
                c = line.rstrip("\n").split("\t")
                out.setdefault(c[0], []).append((int(c[1]), int(c[2]), c[3], c[5]))
    return out


# ----------------------------------------------------------------------------- guards

GUARD_REASONS = ("non_ACGU", "overlaps_known_hairpin", "shares_32mer_BA000025.2",
                 "shares_32mer_heldout50", "shares_32mer_v22_new", "shares_32mer_calibration",
                 "shares_20mer_known_hairpin")


class Guards:
    """Why a genome window may not be used (the first failing reason). Flags are computed once
    for all contigs joined by N: per base (non-ACGU, known locus) and per k-mer start (k-mer in a
    held-out, calibration or known-hairpin table, either strand since the tables hold both)."""

    def __init__(self, contigs: list[Contig], held_k32: dict[str, np.ndarray],
                 calibration_k32: np.ndarray, hairpin_k20: np.ndarray):
        self.lengths = [len(c.seq) for c in contigs]
        self.starts = np.cumsum([0] + [n + 1 for n in self.lengths[:-1]])
        joined = "N".join(c.seq for c in contigs)
        codes = np.frombuffer(joined.encode("ascii"), np.uint8)
        bad = ~np.isin(codes, np.frombuffer(b"ACGU", np.uint8))
        locus = np.zeros(len(joined), bool)
        for c, s0 in zip(contigs, self.starts.tolist()):
            for a, b, _, _ in c.loci:
                locus[s0 + a:s0 + b] = True
        self.flags = [(bad, 1), (locus, 1)]          # (flag array, span a window must hold to fail)
        h, v = kmer_codes(joined, HELD_K)
        look = Lookup(h)
        for t in (held_k32["BA000025.2"], held_k32["heldout50"], held_k32["v22_new"], calibration_k32):
            self.flags.append((v & look.hits(t), HELD_K))
        del h, look
        h, v = kmer_codes(joined, GUARD_K)
        self.flags.append((v & in_table(h, hairpin_k20), GUARD_K))

    def failures(self, ci: int, starts: np.ndarray, win: int) -> np.ndarray:
        """Per window [s, s + win) of contig ci: index into GUARD_REASONS of the first failure, or -1."""
        assert starts.size == 0 or int(starts.max()) + win <= self.lengths[ci]
        s0, n = int(self.starts[ci]), self.lengths[ci]
        out = np.full(starts.size, -1, np.int64)
        for r in reversed(range(len(self.flags))):   # the first reason wins
            flags, k = self.flags[r]
            out[any_in_windows(flags[s0:s0 + n], starts, win - k + 1)] = r
        return out


def calibration_table(contigs: list[Contig]) -> np.ndarray:
    return kmer_set([c.seq for c in contigs], HELD_K)


def longest_shared_run(seq: str, table: np.ndarray, k: int) -> tuple[int, int]:
    """(positions covered by k-mers found in table, longest run of such positions)."""
    hits = kmer_hits(seq, k, table)
    cov = np.zeros(len(seq) + 1, np.int32)
    idx = np.flatnonzero(hits)
    np.add.at(cov, idx, 1)
    np.add.at(cov, idx + k, -1)
    covered = np.cumsum(cov)[:-1] > 0
    d = np.diff(np.concatenate([[0], covered.astype(np.int8), [0]]))
    runs = np.flatnonzero(d == -1) - np.flatnonzero(d == 1)
    return int(covered.sum()), int(runs.max()) if runs.size else 0
