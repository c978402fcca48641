"""2-bit k-mer codes (k <= 32) with numpy: sets, membership and per-window tests."""
from __future__ import annotations

import numpy as np

from .seqio import revcomp

_CODE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"ACGU"):
    _CODE[_c] = _i
_CODE[ord("T")] = 3


def kmer_codes(seq: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes of every k-mer of seq and a bool mask of the valid (ACGU-only) ones."""
    n = len(seq) - k + 1
    if n <= 0:
        return np.zeros(0, np.uint64), np.zeros(0, bool)
    c = _CODE[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]
    bad = np.concatenate([[0], np.cumsum(c == 255)])
    valid = (bad[k:] - bad[:-k]) == 0
    c = np.where(c == 255, 0, c).astype(np.uint64)
    h = np.zeros(n, np.uint64)
    two = np.uint64(2)
    for j in range(k):
        h = (h << two) | c[j:j + n]
    if k < 32:
        h &= np.uint64((1 << (2 * k)) - 1)
    return h, valid


def unique_sorted(a: np.ndarray) -> np.ndarray:
    """np.unique for big code arrays (numpy 2's hash-based unique is far slower here)."""
    a = np.sort(a)
    return a[np.concatenate([[True], a[1:] != a[:-1]])] if a.size else a


def kmer_set(seqs, k: int, both_strands: bool = True, chunk: int = 1 << 24) -> np.ndarray:
    """Sorted unique codes of all valid k-mers of seqs (and of their reverse complements).
    Sequences are joined with N (which no valid k-mer spans) into chunks of about `chunk` nt."""
    parts, buf, size = [], [], 0

    def flush():
        joined = "N".join(buf)
        for t in ((joined, revcomp(joined)) if both_strands else (joined,)):
            h, v = kmer_codes(t, k)
            parts.append(unique_sorted(h[v]))
        buf.clear()

    for s in seqs:
        buf.append(s)
        size += len(s) + 1
        if size >= chunk:
            flush()
            size = 0
    if buf:
        flush()
    return unique_sorted(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)


def in_table(codes: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Bool mask: which codes are in the sorted table."""
    return Lookup(codes).hits(table)


class Lookup:
    """Membership of many codes in several sorted tables: the queries are sorted once, because
    binary searches in sorted order stay in cache (random order is ~30x slower on big tables)."""

    def __init__(self, codes: np.ndarray):
        self.order = np.argsort(codes)
        self.sorted = codes[self.order]

    def hits(self, table: np.ndarray) -> np.ndarray:
        out = np.zeros(self.sorted.size, bool)
        if table.size and self.sorted.size:
            i = np.searchsorted(table, self.sorted)
            i[i == table.size] = 0
            out[self.order] = table[i] == self.sorted
        return out


def kmer_hits(seq: str, k: int, table: np.ndarray) -> np.ndarray:
    """Bool per k-mer start of seq: that (valid) k-mer is in the table."""
    h, v = kmer_codes(seq, k)
    return v & in_table(h, table)


def shares_kmer(seq: str, k: int, table: np.ndarray) -> bool:
    return bool(kmer_hits(seq, k, table).any())


def any_in_windows(flags: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """For each window [s, s + length) of a per-position flag array: is any flag set inside it."""
    c = np.concatenate([[0], np.cumsum(flags, dtype=np.int64)])
    ends = np.minimum(starts + length, flags.size)
    starts = np.minimum(starts, flags.size)
    return c[ends] - c[starts] > 0


def kmer_in_windows(hits: np.ndarray, starts: np.ndarray, win: int, k: int) -> np.ndarray:
    """For each window [s, s + win): does a hit k-mer lie wholly inside it."""
    return any_in_windows(hits, starts, win - k + 1)


def canonical_codes(seq: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per k-mer start: min(code, code of its reverse complement), and validity."""
    h, v = kmer_codes(seq, k)
    r, rv = kmer_codes(revcomp(seq), k)
    return np.minimum(h, r[::-1]), v & rv[::-1]


def canonical_kmers(seq: str, k: int) -> np.ndarray:
    c, v = canonical_codes(seq, k)
    return unique_sorted(c[v])


def sharing(seqs: list[str], k: int, table: np.ndarray, chunk: int = 1 << 22) -> np.ndarray:
    """Bool per sequence: it shares a k-mer with the table (which holds both strands). Sequences
    are joined with N, which no valid k-mer spans, and looked up in chunks of about `chunk` nt."""
    out = np.zeros(len(seqs), bool)
    a = 0
    while a < len(seqs):
        b, size = a, 0
        while b < len(seqs) and size < chunk:
            size += len(seqs[b]) + 1
            b += 1
        part = seqs[a:b]
        h, v = kmer_codes("N".join(part), k)
        hit = np.flatnonzero(v & in_table(h, table))
        ends = np.cumsum([len(s) + 1 for s in part])
        out[a + np.unique(np.searchsorted(ends, hit, side="right"))] = True
        a = b
    return out
