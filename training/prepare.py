#!/usr/bin/env python3
"""Prepare mire2e training data from ../shared/data (issue 4, part 1).

One command, deterministic (fixed seed, sorted inputs, ordered parallel folding):

    python3 training/prepare.py --shared ../shared --out training/data

Writes (formats of the original miRe2e, see shared/reference/ARCHITECTURE.md "Input file format"):

  structure_mfe.fa / structure_mfe.val.fa   Structure + MFE fitting: `>id`, `SEQ`, `STRUCT ( -12.30)`
                                            (RNAfold 37 degC output of exactly that sequence)
  positives.fa / positives.val.fa           Classifier positives (pre-miRNA, first 100 nt)
  negatives.fa / negatives.val.fa           Classifier negatives (genome windows trimmed to the
                                            positive length distribution)
  positives.tsv / negatives.tsv             one row per record: provenance, fold, split
  test/v22_new_hairpins.fa                  held-out future-discovery test (evaluation only)
  MANIFEST.json                             sha256 of every input/output, counts, criteria, seed, command

Sequences are upper case RNA (T -> U). Sequences with letters other than ACGU are skipped (counted).

POSITIVES
  miRBase v21 H. sapiens hairpins (hsa_hairpins_miRBase_v21.fa), truncated to their first 100 nt
  (as the original's Predictor.fit does), minus
  * every hairpin whose sequence occurs exactly (either strand) in BA000025.2 (genome-scan test);
  * every hairpin sharing any 32-mer (either strand) with BA000025.2 (near-identical paralogs and
    repeat-derived hairpins; makes "no 32-nt substring of BA000025.2 in any training sequence" hold);
  * every hairpin whose accession is new in v22 (none, by construction) or whose sequence equals the
    sequence of a v22-new hairpin (future-discovery test, paper section 4.2);
  * exact duplicates of the 100-nt sequence (first accession in sorted order kept).
  MirGeneDB v2 is not added: its precursors carry 30-nt flanks (a different framing) and, once the
  flanks are cut, every one of them shares a 20-mer with miRBase v21 or is v22-new (counted in the
  MANIFEST), so it adds nothing that may be used.

NEGATIVES  (paper section 3.1: genome windows folded with RNAfold, hairpin-like and flat)
  Sources: C. elegans CHROMOSOME_I (1.01 Mb), E. coli 536 (NC_008253.1), and AF129756.1 (human MHC
  class III) minus (a) its part that is also in BA000025.2 (positions covered by a 32-mer shared with
  either strand of BA000025.2, gaps <= --af-gap-merge merged, plus --margin), and (b) its known hairpin
  loci (shared BED) +- --margin. In this data AF129756.1 lies entirely inside BA000025.2, so it yields
  no windows; the MANIFEST reports how many bp remained.
  Candidates: non-overlapping 100-nt slots (start = 100*i) of each record, either strand, shuffled with
  the seed; a candidate is dropped before folding if it has non-ACGT letters, touches a masked interval,
  shares any 32-mer with BA000025.2 (either strand) or any 20-mer with any human hairpin (miRBase v21,
  v22, MirGeneDB v2; either strand). Up to --pool-per-source candidates per source are folded.
  Kinds, on the RNAfold (37 degC) fold of the 100-nt window:
    hairpin-like: exactly one stem-loop (dot-bracket without dots is `(((...)))`: no multiloop, no
                  second hairpin; bulges and interior loops allowed), >= 18 base pairs and
                  MFE <= -15.0 kcal/mol;
    flat:         every other window (random genome windows).
  Selection: target = --ratio x (number of positives); all hairpin-like windows up to
  --hp-max-fraction of the target, the rest flat, each drawn at random from the folded pool.
  Classifier negatives are trimmed to a length L drawn from the positives' (<=100 nt) lengths: a
  hairpin-like window is cut around its hairpin loop (centre +- 5 nt jitter; the 100-nt stem usually
  spans 75-97 nt, longer than most positives, so keeping it whole is rarely possible), a flat window
  at a random offset. Trimmed hairpin-like negatives are refolded and the MANIFEST/negatives.tsv say
  how many are still hairpin-like by the same criterion. structure_mfe gets the full 100-nt
  window with its fold (that is what the Structure/MFE models see in a scan).

STRUCTURE/MFE MIX
  structure_mfe = every positive (its <=100-nt sequence, folded) + the 100-nt parent window of every
  selected negative (hairpin-like and flat), so roughly 1 hairpin : --ratio genome windows.

VALIDATION SPLIT (fixed, ~--val-fraction of each class)
  Records are clustered by single linkage on shared canonical 24-mers (either strand; k-mers present
  in more than --max-kmer-freq records are ignored as low complexity), and the two strands of one
  genome slot are always linked. Per stratum (positives; negatives of each source) clusters are
  taken in seeded-sha256 order into validation until --val-fraction of the stratum is reached.
  Exact and near-duplicates (a shared 24-mer) and both strands of a slot never straddle train/val.
  (Grouping negatives by genome block as well was tried: C. elegans repeats then chain most blocks
  into one cluster, so it is not done.) A positive and the
  structure_mfe record of the same sequence are on the same side, and so are a negative and its parent.

TEST (held out, never in train or val)
  test/v22_new_hairpins.fa: H. sapiens hairpins whose MI accession is in miRBase v22 and not in v21
  (full length, T -> U). The BA000025.2 genome-scan labels are shared/data/human_mhc/*.bed.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import random
import re
import sys
import time
from multiprocessing import Pool

import numpy as np
import RNA

WIN = 100
SLOT = 100
BA_K = 32          # k for the BA000025.2 leakage guard
HSA_K = 20         # k for the "no known human hairpin in negatives" guard
CLUSTER_K = 24     # k for the near-duplicate clustering of the split
HP_MIN_BP = 18
HP_MAX_MFE = -15.0
TEMPERATURE = 37.0
TRIM_JITTER = 5

RNA_COMP = str.maketrans("ACGU", "UGCA")


# ----------------------------------------------------------------------------- I/O helpers

def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_fasta(path: str) -> list[tuple[str, str]]:
    """[(header without '>', sequence upper case with T->U)] in file order."""
    opener = gzip.open if path.endswith(".gz") else open
    recs: list[tuple[str, list[str]]] = []
    with opener(path, "rt") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith(">"):
                recs.append((line[1:].strip(), []))
            elif line.strip():
                if not recs:
                    raise SystemExit(f"{path}: sequence before the first header")
                recs[-1][1].append(line.strip())
    return [(h, "".join(s).upper().replace("T", "U")) for h, s in recs]


def read_bed(path: str) -> list[tuple[str, int, int, str, str, str]]:
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip() and not line.startswith(("#", "track", "browser")):
                c = line.rstrip("\n").split("\t")
                rows.append((c[0], int(c[1]), int(c[2]), c[3], c[4], c[5]))
    return rows


def revcomp(s: str) -> str:
    return s.translate(RNA_COMP)[::-1]


def is_acgu(s: str) -> bool:
    return re.fullmatch(r"[ACGU]+", s) is not None


def wrap(s: str, n: int = 60) -> str:
    return "\n".join(s[i:i + n] for i in range(0, len(s), n))


# ----------------------------------------------------------------------------- k-mers (numpy)

_CODE = np.full(256, 255, dtype=np.uint8)
for _i, _c in enumerate(b"ACGU"):
    _CODE[_c] = _i
_CODE[ord("T")] = 3


def kmer_codes(seq: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """2-bit codes of every k-mer of seq (k <= 32) and a bool mask of the valid (ACGU-only) ones."""
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


def kmer_set(seqs: list[str], k: int, both_strands: bool = True) -> np.ndarray:
    """Sorted unique codes of all valid k-mers of seqs (and their reverse complements)."""
    parts = []
    for s in seqs:
        for t in ((s, revcomp(s)) if both_strands else (s,)):
            h, v = kmer_codes(t, k)
            parts.append(h[v])
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.uint64)


def shares_kmer(seq: str, k: int, table: np.ndarray) -> bool:
    h, v = kmer_codes(seq, k)
    h = h[v]
    if h.size == 0 or table.size == 0:
        return False
    i = np.searchsorted(table, h)
    i[i == table.size] = 0
    return bool(np.any(table[i] == h))


def canonical_kmers(seq: str, k: int) -> np.ndarray:
    h, v = kmer_codes(seq, k)
    r, rv = kmer_codes(revcomp(seq), k)
    return np.unique(np.minimum(h, r[::-1])[v & rv[::-1]])


# ----------------------------------------------------------------------------- folding

_MD = None


def _init_worker(nice: int) -> None:
    global _MD
    if nice:
        try:
            os.nice(nice)
        except OSError:
            pass
    _MD = RNA.md()
    _MD.temperature = TEMPERATURE


def fold(seq: str) -> tuple[str, float]:
    fc = RNA.fold_compound(seq, _MD)
    st, mfe = fc.mfe()
    return st, round(float(mfe), 2)


def fold_all(seqs: list[str], workers: int, nice: int) -> list[tuple[str, float]]:
    if workers <= 1:
        _init_worker(0)
        return [fold(s) for s in seqs]
    with Pool(workers, initializer=_init_worker, initargs=(nice,)) as pool:
        return list(pool.imap(fold, seqs, chunksize=64))


SINGLE_STEM = re.compile(r"\(+\)+")


def hairpin_like(struct: str, mfe: float) -> bool:
    return (SINGLE_STEM.fullmatch(struct.replace(".", "")) is not None
            and struct.count("(") >= HP_MIN_BP and mfe <= HP_MAX_MFE)


def fold_line(struct: str, mfe: float) -> str:
    return f"{struct} ({mfe:6.2f})"          # RNAfold's own format


# ----------------------------------------------------------------------------- split

class UnionFind:
    def __init__(self, n: int):
        self.p = list(range(n))

    def find(self, a: int) -> int:
        while self.p[a] != a:
            self.p[a] = self.p[self.p[a]]
            a = self.p[a]
        return a

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a != b:
            self.p[max(a, b)] = min(a, b)


def cluster(seqs: list[str], groups: list[str | None], k: int, max_freq: int) -> tuple[list[int], dict]:
    """Single-linkage clusters over shared canonical k-mers (+ equal non-None group keys)."""
    n = len(seqs)
    uf = UnionFind(n)
    codes, ids = [], []
    for i, s in enumerate(seqs):
        c = canonical_kmers(s, k)
        codes.append(c)
        ids.append(np.full(c.size, i, np.int64))
    codes = np.concatenate(codes)
    ids = np.concatenate(ids)
    order = np.lexsort((ids, codes))
    codes, ids = codes[order], ids[order]
    starts = np.flatnonzero(np.concatenate([[True], codes[1:] != codes[:-1]]))
    ends = np.concatenate([starts[1:], [codes.size]])
    sizes = ends - starts
    ignored = int(np.sum(sizes > max_freq))
    for s, e in zip(starts[(sizes > 1) & (sizes <= max_freq)], ends[(sizes > 1) & (sizes <= max_freq)]):
        first = int(ids[s])
        for j in ids[s + 1:e]:
            uf.union(first, int(j))
    first_of_group: dict[str, int] = {}
    for i, g in enumerate(groups):
        if g is not None:
            if g in first_of_group:
                uf.union(first_of_group[g], i)
            else:
                first_of_group[g] = i
    roots = [uf.find(i) for i in range(n)]
    csize: dict[int, int] = {}
    for r in roots:
        csize[r] = csize.get(r, 0) + 1
    return roots, {"clusters": len(csize), "largest_cluster": max(csize.values()) if csize else 0,
                   "kmers_ignored_as_too_frequent": ignored}


def choose_val(ids: list[str], roots: list[int], members: list[int], frac: float, seed: int) -> set[int]:
    """Greedy over clusters (in seeded sha256 order of their first member id) until frac of members."""
    by_root: dict[int, list[int]] = {}
    for i in members:
        by_root.setdefault(roots[i], []).append(i)
    keyed = sorted(by_root.values(),
                   key=lambda m: hashlib.sha256(f"{seed}:{ids[min(m)]}".encode()).hexdigest())
    target = round(frac * len(members))
    val: set[int] = set()
    for m in keyed:
        if len(val) + len(m) <= target:
            val.update(m)
        if len(val) >= target:
            break
    return val


# ----------------------------------------------------------------------------- main

def default_shared() -> str:
    env = os.environ.get("MIRE2E_SHARED")
    if env:
        return env
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(os.path.dirname(repo), "shared")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=default_shared(),
                    help="shared folder holding data/ (default $MIRE2E_SHARED or ../shared beside the repo)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"),
                    help="output folder (default training/data)")
    ap.add_argument("--seed", type=int, default=20220101)
    ap.add_argument("--ratio", type=float, default=15.0, help="negatives per positive (default 15)")
    ap.add_argument("--hp-max-fraction", type=float, default=0.5,
                    help="at most this fraction of the negatives is hairpin-like (default 0.5)")
    ap.add_argument("--pool-per-source", type=int, default=16000,
                    help="candidate windows folded per negative source (default 16000)")
    ap.add_argument("--val-fraction", type=float, default=0.2)
    ap.add_argument("--margin", type=int, default=500, help="bp masked around excluded AF129756.1 parts")
    ap.add_argument("--af-gap-merge", type=int, default=200,
                    help="merge AF129756.1/BA000025.2 shared stretches separated by at most this many bp")
    ap.add_argument("--max-kmer-freq", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--nice", type=int, default=10, help="niceness added to the folding workers")
    args = ap.parse_args(argv)

    t0 = time.time()
    rng = random.Random(args.seed)
    data = os.path.join(args.shared, "data")
    inp = {
        "v21": os.path.join(data, "mirbase_hsa/hsa_hairpins_miRBase_v21.fa"),
        "v22": os.path.join(data, "mirbase_hsa/hsa_hairpins_miRBase_v22.fa"),
        "mirgenedb": os.path.join(data, "mirbase_hsa/hsa_hairpins_miRgeneDB_v2.fa"),
        "ba": os.path.join(data, "human_mhc/BA000025.2.fa"),
        "af": os.path.join(data, "human_mhc/AF129756.1.fa"),
        "bed": os.path.join(data, "human_mhc/hsa_miRBase_v22_hairpins_in_region.bed"),
        "celegans": os.path.join(data, "celegans/ce_chrI_1Mb.htslib-test.fa"),
        "ecoli": os.path.join(data, "ecoli/NC_008253.fna.gz"),
    }
    for p in inp.values():
        if not os.path.isfile(p):
            raise SystemExit(f"prepare.py: missing input {p} (set --shared or MIRE2E_SHARED)")
    out = args.out
    os.makedirs(os.path.join(out, "test"), exist_ok=True)
    log = lambda *a: print(f"[{time.time() - t0:7.1f}s]", *a, file=sys.stderr, flush=True)
    M: dict = {"positives": {}, "negatives": {}, "leakage_checks": {}}

    # ---------------------------------------------------------------- human references
    ba = read_fasta(inp["ba"])
    assert len(ba) == 1 and ba[0][0].split()[0] == "BA000025.2", "unexpected BA000025.2 file"
    ba_seq = ba[0][1]
    ba_rc = revcomp(ba_seq)
    log("BA000025.2", len(ba_seq), "bp; building 32-mer table (both strands)")
    ba_k = kmer_set([ba_seq], BA_K)

    def parse_mirbase(path):
        recs = []
        for h, s in read_fasta(path):
            f = h.split()
            recs.append({"name": f[0], "acc": f[1], "seq": s})
        return sorted(recs, key=lambda r: (r["acc"], r["name"]))

    v21 = parse_mirbase(inp["v21"])
    v22 = parse_mirbase(inp["v22"])
    mgdb = read_fasta(inp["mirgenedb"])
    acc21 = {r["acc"] for r in v21}
    v22_new = [r for r in v22 if r["acc"] not in acc21]
    v22_new_seqs = {r["seq"] for r in v22_new}
    bed = read_bed(inp["bed"])
    bed_ba_acc = sorted({r[4] for r in bed if r[0] == "BA000025.2"})

    # ---------------------------------------------------------------- positives
    P = M["positives"]
    P["mirbase_v21_hairpins"] = len(v21)
    P["mirbase_v22_hairpins"] = len(v22)
    P["v21_accessions_not_in_v22_kept"] = len(acc21 - {r["acc"] for r in v22})
    skipped_alpha, ex_ba_exact, ex_ba_kmer, ex_v22, dups = [], [], [], [], []
    positives, seen = [], {}
    for r in v21:
        s = r["seq"]
        if not is_acgu(s):
            skipped_alpha.append(r["name"])
            continue
        if shares_kmer(s, BA_K, ba_k):     # every hairpin is >= 32 nt, so this also finds exact matches
            if s in ba_seq or s in ba_rc:
                ex_ba_exact.append(f'{r["name"]} {r["acc"]}')
            else:
                ex_ba_kmer.append(f'{r["name"]} {r["acc"]}')
            continue
        if s in v22_new_seqs:
            ex_v22.append(f'{r["name"]} {r["acc"]}')
            continue
        s100 = s[:WIN]
        if s100 in seen:
            dups.append(f'{r["name"]} {r["acc"]} = {seen[s100]}')
            continue
        seen[s100] = r["name"]
        positives.append({"id": r["acc"], "name": r["name"], "full_len": len(s), "seq": s100})
    P.update({
        "skipped_non_ACGU": len(skipped_alpha),
        "excluded_exact_match_in_BA000025.2": ex_ba_exact,
        "excluded_sharing_32mer_with_BA000025.2": ex_ba_kmer,
        "excluded_sequence_equal_to_v22_new_hairpin": ex_v22,
        "excluded_exact_duplicate_first100": dups,
        "truncated_to_100": sum(p["full_len"] > WIN for p in positives),
        "final": len(positives),
    })
    # the shared BED must be covered by our exact search
    found_acc = {x.split()[1] for x in ex_ba_exact}
    M["leakage_checks"]["BA000025.2_bed_hairpins_in_v21"] = [a for a in bed_ba_acc if a in acc21]
    M["leakage_checks"]["BA000025.2_bed_hairpins_in_v21_all_excluded_by_exact_match"] = all(
        a in found_acc for a in bed_ba_acc if a in acc21)
    log("positives:", len(positives), "kept;", len(ex_ba_exact), "in BA000025.2,", len(ex_ba_kmer),
        "share a 32-mer with it,", len(ex_v22), "equal a v22-new hairpin,", len(dups), "duplicates")

    # MirGeneDB: document why it adds nothing
    k21 = kmer_set([r["seq"] for r in v21], HSA_K)
    k22new = kmer_set([r["seq"] for r in v22_new], HSA_K)
    mg_core = [s[30:-30] for _, s in mgdb]
    mg_novel = [c for c in mg_core if not shares_kmer(c, HSA_K, k21)]
    P["mirgenedb_v2_precursors"] = len(mgdb)
    P["mirgenedb_v2_without_20mer_in_v21"] = len(mg_novel)
    P["mirgenedb_v2_without_20mer_in_v21_that_are_v22_new"] = sum(shares_kmer(c, HSA_K, k22new) for c in mg_novel)
    P["mirgenedb_used"] = False

    # ---------------------------------------------------------------- negatives: sources and masks
    hsa_k = kmer_set([r["seq"] for r in v21] + [r["seq"] for r in v22] + [s for _, s in mgdb], HSA_K)
    ce = [(h.split()[0], s) for h, s in read_fasta(inp["celegans"]) if h.split()[0] == "CHROMOSOME_I"]
    ec = [(h.split()[0].split("|")[3] if h.startswith("gi|") else h.split()[0], s)
          for h, s in read_fasta(inp["ecoli"])]
    af = [(h.split()[0], s) for h, s in read_fasta(inp["af"])]
    assert len(ce) == 1 and len(ec) == 1 and len(af) == 1
    af_id, af_seq = af[0]

    # AF129756.1 positions covered by a 32-mer that also occurs in BA000025.2 (either strand)
    h, v = kmer_codes(af_seq, BA_K)
    i = np.searchsorted(ba_k, h)
    i[i == ba_k.size] = 0
    hit = v & (ba_k[i] == h)
    cov = np.zeros(len(af_seq) + 1, np.int32)
    np.add.at(cov, np.flatnonzero(hit), 1)
    np.add.at(cov, np.flatnonzero(hit) + BA_K, -1)
    covered = np.cumsum(cov)[:-1] > 0
    d = np.diff(np.concatenate([[0], covered.astype(np.int8), [0]]))
    ivs = list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))
    merged: list[list[int]] = []
    for a, b in ivs:
        if merged and a - merged[-1][1] <= args.af_gap_merge:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    af_mask = [(max(0, a - args.margin), min(len(af_seq), b + args.margin)) for a, b in merged]
    af_loci = [(r[1], r[2], r[3]) for r in bed if r[0] == af_id]
    af_mask += [(max(0, a - args.margin), min(len(af_seq), b + args.margin)) for a, b, _ in af_loci]
    m = np.zeros(len(af_seq), bool)
    for a, b in af_mask:
        m[a:b] = True
    M["negatives"]["AF129756.1"] = {
        "length": len(af_seq),
        "bp_in_32mers_shared_with_BA000025.2": int(covered.sum()),
        "shared_stretches_after_gap_merge": [[a, b] for a, b in merged],
        "known_loci_masked": [f"{n}:{a}-{b}" for a, b, n in af_loci],
        "bp_masked_total": int(m.sum()),
        "bp_remaining": int((~m).sum()),
    }
    log(f"AF129756.1: {covered.sum()} of {len(af_seq)} bp in 32-mers shared with BA000025.2; "
        f"{(~m).sum()} bp remain after masking")
    masks = {af_id: af_mask}

    sources = [("celegans", ce[0]), ("ecoli", ec[0]), ("human_AF129756", af[0])]
    cand_seqs, cand_meta = [], []
    for src, (rid, seq) in sources:
        st = {"record": rid, "length": len(seq), "slots": len(seq) // SLOT, "candidates": 0,
              "skipped_non_ACGT": 0, "skipped_masked": 0, "skipped_shares_32mer_with_BA000025.2": 0,
              "skipped_shares_20mer_with_human_hairpin": 0, "folded": 0}
        cands = [(p, strand) for p in range(0, len(seq) - WIN + 1, SLOT) for strand in "+-"]
        rng.shuffle(cands)
        ivs_m = masks.get(rid, [])
        for p, strand in cands:
            if st["folded"] >= args.pool_per_source:
                break
            st["candidates"] += 1
            w = seq[p:p + WIN]
            if not is_acgu(w):
                st["skipped_non_ACGT"] += 1
                continue
            if any(a < p + WIN and p < b for a, b in ivs_m):
                st["skipped_masked"] += 1
                continue
            if strand == "-":
                w = revcomp(w)
            if shares_kmer(w, BA_K, ba_k):
                st["skipped_shares_32mer_with_BA000025.2"] += 1
                continue
            if shares_kmer(w, HSA_K, hsa_k):
                st["skipped_shares_20mer_with_human_hairpin"] += 1
                continue
            st["folded"] += 1
            cand_seqs.append(w)
            cand_meta.append({"source": src, "record": rid, "start": p, "end": p + WIN, "strand": strand})
        M["negatives"].setdefault("sources", {})[src] = st
        log(f"{src}: {st['folded']} windows to fold ({st['candidates']} candidates looked at)")

    # ---------------------------------------------------------------- fold everything once
    log(f"folding {len(positives)} positives + {len(cand_seqs)} windows with RNAfold "
        f"(ViennaRNA {RNA.__version__}, {TEMPERATURE} degC, {args.workers} workers)")
    t_fold = time.time()
    folds = fold_all([p["seq"] for p in positives] + cand_seqs, args.workers, args.nice)
    fold_s = time.time() - t_fold
    log(f"folded in {fold_s:.1f}s")
    for p, (st, mfe) in zip(positives, folds[:len(positives)]):
        p["struct"], p["mfe"] = st, mfe
    for c, s, (st, mfe) in zip(cand_meta, cand_seqs, folds[len(positives):]):
        c["window"], c["struct"], c["mfe"] = s, st, mfe
        c["kind"] = "hairpin" if hairpin_like(st, mfe) else "flat"
    P["hairpin_like_by_negative_criterion"] = sum(hairpin_like(p["struct"], p["mfe"]) for p in positives)

    # ---------------------------------------------------------------- select and trim negatives
    pos_seqs = {p["seq"] for p in positives}
    pos_lens = sorted(len(p["seq"]) for p in positives)
    seen_w, seen_t = set(), set()
    pool = {"hairpin": [], "flat": []}
    for c in cand_meta:                                   # candidate order = seeded shuffle
        if c["window"] in seen_w or c["window"] in pos_seqs:
            continue
        seen_w.add(c["window"])
        pool[c["kind"]].append(c)
    target = int(round(args.ratio * len(positives)))
    n_hp = min(len(pool["hairpin"]), int(args.hp_max_fraction * target))
    n_flat = min(len(pool["flat"]), target - n_hp)
    chosen = rng.sample(pool["hairpin"], n_hp) + rng.sample(pool["flat"], n_flat)
    chosen.sort(key=lambda c: ({"celegans": 0, "ecoli": 1, "human_AF129756": 2}[c["source"]],
                               c["start"], c["strand"]))
    negatives = []
    dup_trim = 0
    for c in chosen:
        L = rng.choice(pos_lens)
        if c["kind"] == "hairpin":
            # centre on the hairpin loop (between the last '(' and the first ')'), jitter +-TRIM_JITTER
            centre = (c["struct"].rindex("(") + c["struct"].index(")") + 1) / 2
            off = int(round(centre - L / 2)) + rng.randint(-TRIM_JITTER, TRIM_JITTER)
            off = min(max(0, off), WIN - L)
        else:
            off = rng.randint(0, WIN - L)
        t = c["window"][off:off + L]
        if t in seen_t or t in pos_seqs:
            dup_trim += 1
            continue
        seen_t.add(t)
        c["trim"] = (off, off + L)
        c["seq"] = t
        short = {"celegans": "ce", "ecoli": "ec", "human_AF129756": "af"}[c["source"]]
        c["id"] = f"neg_{short}_{c['start']:07d}{'p' if c['strand'] == '+' else 'm'}"
        negatives.append(c)
    # refold the trimmed hairpin-like negatives to report how many stay hairpin-like
    hp_neg = [c for c in negatives if c["kind"] == "hairpin"]
    t_fold2 = time.time()
    for c, (st, mfe) in zip(hp_neg, fold_all([c["seq"] for c in hp_neg], args.workers, args.nice)):
        c["trim_struct"], c["trim_mfe"] = st, mfe
        c["trim_hairpin_like"] = hairpin_like(st, mfe)
    fold_s += time.time() - t_fold2
    n_folded = len(folds) + len(hp_neg)
    N = M["negatives"]
    N["criteria"] = {
        "window": WIN, "slot_step": SLOT, "temperature_C": TEMPERATURE,
        "hairpin_like": f"exactly one stem-loop (dots removed: `(+)+`), >= {HP_MIN_BP} base pairs, "
                        f"MFE <= {HP_MAX_MFE} kcal/mol, on the 100-nt window",
        "flat": "every other window",
        "ratio_target": args.ratio, "hp_max_fraction": args.hp_max_fraction,
        "pool_per_source": args.pool_per_source,
        "trim": f"length drawn from the positives' (<=100 nt) lengths; a hairpin-like window is cut "
                f"around its hairpin loop (centre +- {TRIM_JITTER} nt jitter), a flat one at a random offset",
    }
    N["pool_hairpin_like"] = len(pool["hairpin"])
    N["pool_flat"] = len(pool["flat"])
    N["pool_hairpin_like_by_source"] = {s: sum(c["source"] == s for c in pool["hairpin"]) for s, _ in sources}
    N["dropped_duplicate_after_trim"] = dup_trim
    N["final"] = len(negatives)
    N["ratio_final"] = round(len(negatives) / max(1, len(positives)), 2)
    log(f"negatives: {len(negatives)} ({n_hp} hairpin-like picked of {len(pool['hairpin'])}, "
        f"{n_flat} flat of {len(pool['flat'])})")

    # ---------------------------------------------------------------- split
    recs = [("pos", p) for p in positives] + [("neg", c) for c in negatives]
    ids = [r["id"] for _, r in recs]
    seqs = [r["seq"] if k == "pos" else r["window"] for k, r in recs]
    groups = [None if k == "pos" else f'{r["record"]}:{r["start"]}' for k, r in recs]   # both strands of a slot
    roots, cst = cluster(seqs, groups, CLUSTER_K, args.max_kmer_freq)
    stratum = ["positive" if k == "pos" else f'negative/{r["source"]}' for k, r in recs]
    strata: dict[str, list[int]] = {}
    for i in range(len(recs)):                 # a cluster belongs to the stratum of its root (first member)
        strata.setdefault(stratum[roots[i]], []).append(i)
    val: set[int] = set()
    for name in sorted(strata):
        val |= choose_val(ids, roots, strata[name], args.val_fraction, args.seed)
    mixed = len({roots[i] for i, (k, _) in enumerate(recs) if k == "pos"} &
                {roots[i] for i, (k, _) in enumerate(recs) if k == "neg"})
    for i, (_, r) in enumerate(recs):
        r["split"] = "val" if i in val else "train"
    M["split"] = dict(cst, k=CLUSTER_K, val_fraction=args.val_fraction, strata=sorted(strata),
                      clusters_with_both_classes=mixed)

    # ---------------------------------------------------------------- write outputs
    def out_path(name):
        return os.path.join(out, name)

    written = []

    def write(name, text):
        with open(out_path(name), "w") as f:
            f.write(text)
        written.append(name)

    for split, suffix in (("train", ""), ("val", ".val")):
        ps = [p for p in positives if p["split"] == split]
        ns = [c for c in negatives if c["split"] == split]
        write(f"positives{suffix}.fa", "".join(
            f'>{p["id"]} {p["name"]} len={p["full_len"]}{" truncated_to=100" if p["full_len"] > WIN else ""}\n'
            f'{wrap(p["seq"])}\n' for p in ps))
        write(f"negatives{suffix}.fa", "".join(
            f'>{c["id"]} {c["record"]}:{c["start"] + (c["trim"][0] if c["strand"] == "+" else WIN - c["trim"][1])}-'
            f'{c["start"] + (c["trim"][1] if c["strand"] == "+" else WIN - c["trim"][0])}({c["strand"]}) '
            f'kind={c["kind"]}\n{wrap(c["seq"])}\n' for c in ns))
        write(f"structure_mfe{suffix}.fa", "".join(
            [f'>{p["id"]} {p["name"]} positive\n{p["seq"]}\n{fold_line(p["struct"], p["mfe"])}\n' for p in ps] +
            [f'>{c["id"]} {c["record"]}:{c["start"]}-{c["end"]}({c["strand"]}) kind={c["kind"]}\n'
             f'{c["window"]}\n{fold_line(c["struct"], c["mfe"])}\n' for c in ns]))
    write("positives.tsv", "id\tname\tfull_len\tlen\tmfe\tstructure\tsplit\tseq\n" + "".join(
        f'{p["id"]}\t{p["name"]}\t{p["full_len"]}\t{len(p["seq"])}\t{p["mfe"]:.2f}\t{p["struct"]}\t'
        f'{p["split"]}\t{p["seq"]}\n' for p in positives))
    write("negatives.tsv", "id\tsource\trecord\tstart\tend\tstrand\tkind\tmfe\tbase_pairs\tstructure\t"
          "trim_start\ttrim_end\ttrim_mfe\ttrim_structure\ttrim_hairpin_like\tsplit\twindow\tseq\n" + "".join(
              f'{c["id"]}\t{c["source"]}\t{c["record"]}\t{c["start"]}\t{c["end"]}\t{c["strand"]}\t{c["kind"]}\t'
              f'{c["mfe"]:.2f}\t{c["struct"].count("(")}\t{c["struct"]}\t{c["trim"][0]}\t{c["trim"][1]}\t'
              f'{c.get("trim_mfe", "")}\t{c.get("trim_struct", "")}\t'
              f'{str(c["trim_hairpin_like"]).lower() if "trim_hairpin_like" in c else ""}\t{c["split"]}\t'
              f'{c["window"]}\t{c["seq"]}\n' for c in negatives))
    write("test/v22_new_hairpins.fa", "".join(
        f'>{r["acc"]} {r["name"]} miRBase-v22-new len={len(r["seq"])}\n{wrap(r["seq"])}\n' for r in v22_new))

    # ---------------------------------------------------------------- counts
    def cnt(rs, **kw):
        return sum(all(r.get(k) == v for k, v in kw.items()) for r in rs)

    C = {}
    for split in ("train", "val"):
        C[split] = {
            "positives": cnt(positives, split=split),
            "negatives": cnt(negatives, split=split),
            "negatives_by_source_kind": {f"{s}/{k}": cnt(negatives, split=split, source=s, kind=k)
                                         for s, _ in sources for k in ("hairpin", "flat")},
            "structure_mfe": cnt(positives, split=split) + cnt(negatives, split=split),
        }
    C["negatives_hairpin_like_still_hairpin_like_after_trim"] = cnt(negatives, kind="hairpin",
                                                                    trim_hairpin_like=True)
    C["test_v22_new_hairpins"] = len(v22_new)
    M["counts"] = C

    # ---------------------------------------------------------------- leakage checks on what was written
    L_ = M["leakage_checks"]
    train_like = [p["seq"] for p in positives] + [c["window"] for c in negatives]
    # every written sequence is >= 32 nt, so 0 here also means none is a substring of BA000025.2
    L_["written_seqs_sharing_32mer_with_BA000025.2"] = sum(
        shares_kmer(s, BA_K, ba_k) for s in train_like + [c["seq"] for c in negatives])
    L_["shortest_written_seq"] = min(len(s) for s in train_like + [c["seq"] for c in negatives])
    L_["v22_new_accessions_in_training"] = len({p["id"] for p in positives} & {r["acc"] for r in v22_new})
    v22_new_forms = {r["seq"] for r in v22_new} | {r["seq"][:WIN] for r in v22_new}
    L_["training_positives_equal_to_a_v22_new_sequence_or_its_first_100nt"] = sum(
        p["seq"] in v22_new_forms for p in positives)
    pos_k = kmer_set([p["seq"] for p in positives], CLUSTER_K)
    L_["v22_new_sharing_24mer_with_training_positives_info_only"] = sum(
        shares_kmer(r["seq"], CLUSTER_K, pos_k) for r in v22_new)
    L_["negatives_sharing_20mer_with_any_human_hairpin"] = sum(
        shares_kmer(c["window"], HSA_K, hsa_k) for c in negatives)
    tr = {p["seq"] for p in positives if p["split"] == "train"} | \
        {c["window"] for c in negatives if c["split"] == "train"} | \
        {c["seq"] for c in negatives if c["split"] == "train"}
    va = [p["seq"] for p in positives if p["split"] == "val"] + \
        [c["window"] for c in negatives if c["split"] == "val"]
    L_["exact_sequences_in_both_train_and_val"] = sum(s in tr for s in va)
    tr_k = kmer_set([s for s in tr], CLUSTER_K)
    L_["val_records_sharing_24mer_with_train"] = sum(shares_kmer(s, CLUSTER_K, tr_k) for s in va)
    L_["negative_windows_overlapping_masked_AF129756.1"] = sum(
        1 for c in negatives if c["record"] == af_id and any(a < c["end"] and c["start"] < b for a, b in af_mask))
    log("leakage checks:", json.dumps(L_, default=str)[:600])

    # ---------------------------------------------------------------- manifest
    M["command"] = " ".join([os.path.basename(sys.executable)] + sys.argv)
    M["arguments"] = {k: v for k, v in vars(args).items()}
    M["seed"] = args.seed
    M["versions"] = {"python": platform.python_version(), "ViennaRNA": RNA.__version__,
                     "numpy": np.__version__}
    M["alphabet"] = "upper case, T->U; sequences with letters other than ACGU skipped"
    M["structure_mfe_mix"] = "all positives (<=100 nt, folded as written) + 100-nt parent windows of all negatives"
    M["runtime_s"] = {"total": round(time.time() - t0, 1), "folding": round(fold_s, 1),
                      "folded_sequences": n_folded, "workers": args.workers}
    M["inputs"] = {os.path.relpath(p, args.shared): {"sha256": sha256(p), "bytes": os.path.getsize(p)}
                   for p in inp.values()}
    M["outputs"] = {n: {"sha256": sha256(out_path(n)), "bytes": os.path.getsize(out_path(n)),
                        "records": sum(1 for line in open(out_path(n)) if line.startswith(">"))
                        if n.endswith(".fa") else sum(1 for _ in open(out_path(n))) - 1}
                    for n in sorted(written)}
    with open(out_path("MANIFEST.json"), "w") as f:
        json.dump(M, f, indent=1, sort_keys=False)
        f.write("\n")
    log("done:", json.dumps(C))
    return 0


if __name__ == "__main__":
    sys.exit(main())
