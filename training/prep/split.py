"""Validation split by single-linkage clusters of shared canonical k-mers (either strand)."""
from __future__ import annotations

import hashlib

import numpy as np

CLUSTER_K = 24          # genome windows (v1's k)
HAIRPIN_K = 20          # hairpins: orthologs that share little more than the mature arm still link


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of n nodes under edges (a, b): label = smallest node of the component."""
    label = np.arange(n)
    while True:
        la, lb = label[a], label[b]
        if np.array_equal(la, lb):
            return label
        low = np.minimum(la, lb)
        np.minimum.at(label, la, low)          # hook each root onto the smaller root
        np.minimum.at(label, lb, low)
        while True:                             # pointer jumping until every node points at a root
            nxt = label[label]
            if np.array_equal(nxt, label):
                break
            label = nxt


def cluster(codes: np.ndarray, owners: np.ndarray, n: int, max_freq: int | None) -> tuple[np.ndarray, dict]:
    """Single linkage of n units that share a k-mer code (codes[i] belongs to unit owners[i]).
    k-mers held by more than max_freq units are ignored (low complexity), when max_freq is set."""
    order = np.lexsort((owners, codes))
    codes, owners = codes[order], owners[order]
    first = np.concatenate([[True], codes[1:] != codes[:-1]])
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    head = owners[starts][group]                      # first unit holding the same k-mer
    keep = ~first
    ignored = 0
    if max_freq is not None:
        distinct = np.concatenate([[True], (codes[1:] != codes[:-1]) | (owners[1:] != owners[:-1])])
        units_per_kmer = np.add.reduceat(distinct.astype(np.int64), starts)
        too_many = units_per_kmer > max_freq
        ignored = int(too_many.sum())
        keep &= ~too_many[group]
    label = components(n, head[keep], owners[keep])
    sizes_c = np.bincount(label, minlength=n)
    return label, {"units": n, "clusters": int(np.count_nonzero(sizes_c)),
                   "largest_cluster": int(sizes_c.max()) if n else 0,
                   "kmers_ignored_as_too_frequent": ignored, "max_kmer_freq": max_freq}


def choose_val(ids: list[str], label: np.ndarray, members: list[int], frac: float, seed: int) -> set[int]:
    """Whole clusters, in seeded-sha256 order of their first member's id, until frac of members."""
    by_root: dict[int, list[int]] = {}
    for i in members:
        by_root.setdefault(int(label[i]), []).append(i)
    keyed = sorted(by_root.values(), key=lambda m: hashlib.sha256(f"{seed}:{ids[min(m)]}".encode()).hexdigest())
    target = round(frac * len(members))
    val: set[int] = set()
    for m in keyed:
        if len(val) >= target:
            break
        if len(val) + len(m) <= target:
            val.update(m)
    return val
