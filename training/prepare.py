#!/usr/bin/env python3
"""Prepare mire2e training data v2 (issue 18) from ../shared/data, deterministically:

    python3 training/prepare.py --shared ../shared --out /work/cache/data-v2

Positives: the animal (Metazoa) stem-loops of miRBase v22, human included, minus the held-out sets,
deduplicated on either strand, each shown as a genome scan shows it: placed at a random offset
(window holds >= 60% of it) inside a 100-nt genomic carrier window. Negatives: 100-nt windows of
fly, worm, E. coli and other human DNA, hairpin-like (by RNAfold) and flat, about 10 per positive;
optionally the top windows of a first model's scan (--hard-negatives). Structure/MFE records: the
positive windows and a sample of genome windows with their RNAfold (37 degC) fold. Validation
split: whole single-linkage clusters of shared 20-mers (hairpins) or 24-mers (genome windows),
either strand. Held out of everything and checked on the written files (exit 1 if violated):
BA000025.2, the 50 held-out human hairpins, the human hairpins new in v22, everything sharing a
32-mer with those, and the calibration stretches.
training/README.md describes every rule and the numbers of the reference run.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import resource
import sys
import time

import numpy as np
import RNA

from prep import checks, fold, genomes, hard, mirbase, split, windows
from prep.fold import fold_all, fold_line, hairpin_like
from prep.genomes import Contig
from prep.kmers import canonical_kmers, kmer_hits, kmer_set, shares_kmer
from prep.seqio import first_word, read_fasta, sha256, to_dna, wrap
from prep.windows import WIN, Positive, Window

SMALL_SOURCES = {"worm", "human"}      # used whole in the pool: too small to sample
SOURCES = ("fly_dm3", "fly_dm6", "worm", "ecoli", "human")
KINDS = ("hairpin", "flat", "unfolded", "hard")


def default_shared() -> str:
    env = os.environ.get("MIRE2E_SHARED")
    if env:
        return env
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(os.path.dirname(repo), "shared")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=default_shared(),
                    help="folder holding data/ (default $MIRE2E_SHARED or ../shared beside the repo)")
    ap.add_argument("--out", required=True, help="output folder (outside the repository)")
    ap.add_argument("--seed", type=int, default=20220101)
    ap.add_argument("--windows-per-hairpin", type=int, default=1,
                    help="positive windows per hairpin, each at its own offset and carrier (default 1)")
    ap.add_argument("--ratio", type=float, default=10.0, help="negatives per positive window (default 10)")
    ap.add_argument("--fold-pool", type=int, default=210_000,
                    help="genome windows folded, at most (the fold budget; default 210,000)")
    ap.add_argument("--pool-factor", type=float, default=1.1,
                    help="genome windows folded per negative when the budget allows it: the surplus "
                         "flat windows are left out, which raises the hairpin-like share (default 1.1)")
    ap.add_argument("--hp-max-fraction", type=float, default=0.5,
                    help="at most this share of the negatives is hairpin-like (default 0.5)")
    ap.add_argument("--structure-genome", type=float, default=2.0,
                    help="Structure/MFE genome windows per positive window, half hairpin-like (default 2)")
    ap.add_argument("--val-fraction", type=float, default=0.2)
    ap.add_argument("--max-kmer-freq", type=int, default=0,
                    help="24-mers in more genome windows than this do not link clusters (default 0: "
                         "every 24-mer links; the largest cluster is then about 1,200 windows)")
    ap.add_argument("--max-hairpins", type=int, default=0,
                    help="use only this many hairpins (seeded sample; for quick checks; default all)")
    ap.add_argument("--hard-negatives", metavar="FILE",
                    help="mire2e scan TSV of training-genome sequence (genomes/training_genomes.fa); "
                         "its top windows become negatives in place of flat ones")
    ap.add_argument("--hard-top", type=int, default=0,
                    help="hard negatives to take (default: one per positive window)")
    ap.add_argument("--hard-min-score", type=float, default=0.5, help="minimum scan score (default 0.5)")
    ap.add_argument("--workers", type=int, default=2, help="RNAfold worker processes (default 2)")
    ap.add_argument("--nice", type=int, default=10, help="niceness added to the folding workers")
    return ap.parse_args(argv)


def input_paths(shared: str) -> dict[str, str]:
    d = os.path.join(shared, "data")
    inp = {
        "hairpins": "mirbase_v22/hairpin_v22.fa",
        "organisms": "mirbase_v22/organisms_v22.tsv",
        "heldout50": "mirbase_v22/heldout_hsa_hairpins.txt",
        "hsa_v21": "mirbase_hsa/hsa_hairpins_miRBase_v21.fa",
        "hsa_v22": "mirbase_hsa/hsa_hairpins_miRBase_v22.fa",
        "mirgenedb": "mirbase_hsa/hsa_hairpins_miRgeneDB_v2.fa",
        "ba": "human_mhc/BA000025.2.fa",
        "dm3": "drosophila/dm3_upstream2000.fa.gz",
        "dm6": "drosophila/dm6_chr2L_1-1999950.fa",
        "dm6_bed": "drosophila/dm6_chr2L_1-1999950.mirbase_v22.bed",
        "worm": "celegans/ce_chrI_1Mb.htslib-test.fa",
        "ecoli": "ecoli/NC_008253.fna.gz",
        "human": "human_extra/genome_chr1_32292083_32686211.fa",
    }
    inp = {k: os.path.join(d, v) for k, v in inp.items()}
    for p in inp.values():
        if not os.path.isfile(p):
            raise SystemExit(f"prepare.py: missing input {p} (set --shared or MIRE2E_SHARED)")
    return inp


# ----------------------------------------------------------------------------- positives

def load_mirbase(inp):
    """(all v22 hairpins, the animal ones, the held-out sets)."""
    organisms = mirbase.read_organisms(inp["organisms"])
    hairpins = mirbase.read_hairpins(inp["hairpins"])
    if any(h.species == "tca" for h in hairpins):
        raise SystemExit("prepare.py: Tribolium castaneum (tca) hairpins in the input; it is a held-out species")
    hsa = [h for h in hairpins if h.species == "hsa"]
    v21 = mirbase.read_accessions(inp["hsa_v21"])
    by_acc = {h.acc: h for h in hsa}
    held_rows = mirbase.read_accession_list(inp["heldout50"])
    missing = [a for _, a in held_rows if a not in by_acc]
    if missing or len(held_rows) != 50:
        raise SystemExit(f"prepare.py: held-out list: {len(held_rows)} rows, not in v22 hsa: {missing}")
    ba = read_fasta(inp["ba"])
    assert len(ba) == 1 and first_word(ba[0][0]) == "BA000025.2", "unexpected BA000025.2 file"
    held = mirbase.HeldOut(ba[0][1], [by_acc[a] for _, a in held_rows],
                           [h for h in hsa if h.acc not in v21])
    return hairpins, mirbase.animal_hairpins(hairpins, organisms), held


def choose_positives(animals, held, calibration_k32, inp, args, M, log):
    kept, why = mirbase.select_positives(animals, held, calibration_k32, WIN)
    if args.max_hairpins:
        kept = sorted(random.Random(args.seed).sample(kept, min(args.max_hairpins, len(kept))),
                      key=lambda h: h.acc)
    hsa = [h for h in animals if h.species == "hsa"]
    hsa22_file = {(h.acc, h.seq) for h in mirbase.read_hairpins(inp["hsa_v22"])}
    M["positives"] = {
        "source": "miRBase v22 hairpin_v22.fa, organisms whose taxonomy starts with Metazoa",
        "animal_hairpins": len(animals),
        "human_hairpins_v22": len(hsa),
        "human_v22_identical_to_mirbase_hsa_file": hsa22_file == {(h.acc, h.seq) for h in hsa},
        "tca_hairpins_in_input": 0,
        "excluded": {k: len(v) for k, v in why.items()},
        "excluded_lists": why,
        "hairpins_used": len(kept),
        "human_hairpins_used": sum(h.species == "hsa" for h in kept),
        "species_used": len({h.species for h in kept}),
        "longer_than_100": sum(len(h.seq) > WIN for h in kept),
    }
    log(f"positives: {len(kept)} hairpins of {len(animals)} animal ones; excluded",
        json.dumps({k: len(v) for k, v in why.items()}))
    return kept


# ----------------------------------------------------------------------------- genomes

def load_genomes(inp, hairpins, held, M, log):
    """(training contigs, calibration contigs) with their known hairpin loci."""
    dm6 = genomes.load_records(inp["dm6"], "fly_dm6", "D. melanogaster dm6")
    assert len(dm6) == 1
    dm3 = genomes.merge_dm3(genomes.read_dm3_records(inp["dm3"]))
    dm3_train, dm3_calib, dm3_dropped = genomes.split_dm3(dm3, len(dm6[0].seq))
    ecoli = genomes.load_records(inp["ecoli"], "ecoli", "E. coli 536")
    assert len(ecoli) == 1
    ecoli_train, ecoli_calib = genomes.cut_ecoli(ecoli[0])
    human = genomes.load_records(inp["human"], "human", "GRCh38 chr1:32,292,083-32,686,211")
    assert len(human) == 1
    contigs = ([genomes.dm3_contig(m) for m in dm3_train]
               + [genomes.rename(dm6[0], "dm6_chr2L_0_1999950")]
               + genomes.load_records(inp["worm"], "worm", "C. elegans (htslib test ce.fa)")
               + [ecoli_train, genomes.rename(human[0], "GRCh38_chr1_32292082_32686211")])
    calib = [genomes.dm3_contig(m) for m in dm3_calib] + [ecoli_calib]

    # each species' own miRBase hairpins, exact, either strand (E. coli has none: no miRNAs);
    # in the calibration stretches too, so that the evaluation knows the real ones there
    loci_found = {}
    for source, sp in (("fly_dm3", "dme"), ("fly_dm6", "dme"), ("worm", "cel"), ("human", "hsa")):
        for name, group in (("", contigs), ("calibration/", calib)):
            cs = [c for c in group if c.source == source]
            if not cs:
                continue
            for c, loci in zip(cs, genomes.find_loci(cs, [h for h in hairpins if h.species == sp])):
                c.loci = loci
            loci_found[name + source] = [f"{c.id}:{a}-{b}({s}) {n}" for c in cs for a, b, n, s in c.loci]
    bed = genomes.read_bed_loci(inp["dm6_bed"])["chr2L"]
    dm6c = next(c for c in contigs if c.source == "fly_dm6")
    bed_agrees = sorted((a, b, n, s) for a, b, n, s in bed) == [(a, b, n, s) for a, b, n, s in dm6c.loci]
    dm6c.loci = sorted(set(dm6c.loci) | set(bed))

    dm6_k = kmer_set([dm6c.seq], 32)
    dropped_in_dm6 = [float(np.mean(kmer_hits(m["seq"], 32, dm6_k))) for m in dm3_dropped]
    ba_cov, ba_run = genomes.longest_shared_run(human[0].seq, held.k32["BA000025.2"], 32)
    if ba_run >= 1000:
        raise SystemExit(f"prepare.py: human_extra shares a {ba_run}-bp stretch with BA000025.2")
    fill = [m for m in dm3_calib if m["chrom"] == genomes.DM3_CALIBRATION_FILL]
    M["genomes"] = {
        "dm3_upstream2000": {
            "records": sum(len(m["records"]) for m in dm3), "merged_stretches": len(dm3),
            "unique_bp": sum(len(m["seq"]) for m in dm3),
            "training_stretches": len(dm3_train), "training_bp": sum(len(m["seq"]) for m in dm3_train),
            "dropped_chr2L_stretches_inside_dm6": len(dm3_dropped),
            "dropped_chr2L_bp": sum(len(m["seq"]) for m in dm3_dropped),
            "dropped_min_fraction_of_32mers_found_in_dm6": round(min(dropped_in_dm6, default=1.0), 4),
        },
        "calibration": {
            "fly_upstream": {
                "rule": f"dm3 upstream2000 merged stretches on {', '.join(genomes.DM3_CALIBRATION_CHROMS)} "
                        f"(the last chromosomes in file order), plus {genomes.DM3_CALIBRATION_FILL} "
                        f"stretches from its far end until {genomes.FLY_CALIBRATION_BP:,} bp",
                "chr3R_from": min((m["start"] for m in fill), default=None),
                "records": sum(len(m["records"]) for m in dm3_calib),
                "stretches": len(dm3_calib), "bp": sum(len(m["seq"]) for m in dm3_calib)},
            "ecoli": {"record": ecoli_calib.id, "bp": len(ecoli_calib.seq)},
        },
        "human_extra_vs_BA000025.2": {"bp_covered_by_shared_32mers": ba_cov,
                                      "longest_covered_run_bp": ba_run},
        "known_hairpin_loci_masked": loci_found,
        "dm6_bed_equals_exact_matches": bed_agrees,
        "contigs_by_source": {s: sum(c.source == s for c in contigs) for s in SOURCES},
        "bp_by_source": {s: sum(len(c.seq) for c in contigs if c.source == s) for s in SOURCES},
    }
    log("genomes:", json.dumps(M["genomes"]["bp_by_source"]), "calibration fly bp",
        M["genomes"]["calibration"]["fly_upstream"]["bp"])
    return contigs, calib


# ----------------------------------------------------------------------------- split

def split_hairpins(kept, args, M) -> set[str]:
    """Accessions of the validation hairpins: whole clusters of shared 20-mers (either strand)."""
    codes = [canonical_kmers(h.seq, split.HAIRPIN_K) for h in kept]
    owners = np.repeat(np.arange(len(kept)), [c.size for c in codes])
    label, st = split.cluster(np.concatenate(codes), owners, len(kept), None)
    st["k"] = split.HAIRPIN_K
    val = split.choose_val([h.acc for h in kept], label, list(range(len(kept))), args.val_fraction, args.seed)
    M["split"] = {"hairpins": st}
    return {kept[i].acc for i in val}


def split_genome(units: list[Window], contigs: list[Contig], args, M) -> None:
    """Sets .split on every genome window: whole clusters, 20% per source (hard negatives apart)."""
    codes, owners = windows.genome_unit_codes(units, contigs, split.CLUSTER_K)
    label, st = split.cluster(codes, owners, len(units), args.max_kmer_freq or None)
    st["k"] = split.CLUSTER_K
    ids = [f"{contigs[u.contig].id}:{u.start}{u.strand}" for u in units]
    # a cluster belongs to the stratum of its first member, so that one spanning two sources
    # (a transposon in dm3 and dm6) is never cut by two separate choices
    stratum = ["hard" if u.role == "hard" else contigs[u.contig].source for u in units]
    strata: dict[str, list[int]] = {}
    for i in range(len(units)):
        strata.setdefault(stratum[int(label[i])], []).append(i)
    val: set[int] = set()
    for name in sorted(strata):
        val |= split.choose_val(ids, label, strata[name], args.val_fraction, args.seed)
    for i, u in enumerate(units):
        u.split = "val" if i in val else "train"
    M["split"]["genome_windows"] = st


# ----------------------------------------------------------------------------- selection

def select_negatives(pool, spare, hard_w, positives, args, rng) -> list[Window]:
    """Per side, ratio x positives: the hard ones (if any), every hairpin-like window folded (up to
    hp-max-fraction), flat windows, and unfolded ones when the folded pool runs short."""
    chosen = []
    for side in ("train", "val"):
        n = round(args.ratio * sum(p.split == side for p in positives))
        hs = [w for w in hard_w if w.split == side]
        hp = [w for w in pool if w.split == side and w.kind == "hairpin"]
        flat = [w for w in pool if w.split == side and w.kind == "flat"]
        more = [w for w in spare if w.split == side]
        n_hp = min(len(hp), int(args.hp_max_fraction * n))
        n_flat = max(0, min(len(flat), n - n_hp - len(hs)))
        n_more = max(0, min(len(more), n - n_hp - n_flat - len(hs)))
        chosen += hs + rng.sample(hp, n_hp) + rng.sample(flat, n_flat) + rng.sample(more, n_more)
    for w in chosen:
        if w.role == "spare":
            w.kind = "unfolded"
    return sorted(chosen, key=Window.key)


def select_structure(negatives, positives, args, rng) -> list[Window]:
    """Genome windows for Structure/MFE per side: structure-genome x positives, half hairpin-like."""
    out = []
    for side in ("train", "val"):
        n = round(args.structure_genome * sum(p.split == side for p in positives))
        hp = [w for w in negatives if w.split == side and w.kind == "hairpin"]
        flat = [w for w in negatives if w.split == side and w.kind == "flat"]
        n_hp = min(len(hp), n // 2)
        out += rng.sample(hp, n_hp) + rng.sample(flat, min(len(flat), n - n_hp))
    return sorted(out, key=Window.key)


# ----------------------------------------------------------------------------- writing

def locus(w: Window, contigs) -> str:
    return f"{contigs[w.contig].id}:{w.start}-{w.start + WIN}{w.strand}"


def pos_header(p: Positive, contigs) -> str:
    h = p.hairpin
    return (f"{p.id} {h.name} len={len(h.seq)} offset={p.offset} held={p.held:.3f} "
            f"flank={locus(p.carrier, contigs)}")


def neg_header(w: Window, contigs) -> str:
    src = contigs[w.contig].source
    if w.kind == "hard":
        tail = f" score={w.score:.4f}"
    else:
        tail = f" mfe={w.mfe:.2f}" if w.struct else ""
    return f"{locus(w, contigs)} source={src} kind={w.kind}{tail}"


class Writer:
    def __init__(self, out: str):
        self.out, self.names = out, []

    def path(self, name: str) -> str:
        return os.path.join(self.out, name)

    def write(self, name: str, text: str) -> None:
        os.makedirs(os.path.dirname(self.path(name)), exist_ok=True)
        with open(self.path(name), "w") as f:
            f.write(text)
        self.names.append(name)


def write_training(W: Writer, positives, negatives, structure, contigs) -> None:
    for side, suffix in (("train", ""), ("val", ".val")):
        ps = [p for p in positives if p.split == side]
        ns = [w for w in negatives if w.split == side]
        ss = [w for w in structure if w.split == side]
        W.write(f"positives{suffix}.fa", "".join(f">{pos_header(p, contigs)}\n{p.seq}\n" for p in ps))
        W.write(f"negatives{suffix}.fa", "".join(f">{neg_header(w, contigs)}\n{w.seq}\n" for w in ns))
        W.write(f"structure_mfe{suffix}.fa", "".join(
            [f">{pos_header(p, contigs)} positive\n{p.seq}\n{fold_line(p.struct, p.mfe)}\n" for p in ps]
            + [f">{neg_header(w, contigs)}\n{w.seq}\n{fold_line(w.struct, w.mfe)}\n" for w in ss]))
    W.write("positives.tsv", "id\tname\tspecies\thairpin_len\toffset\theld\tflank\tsplit\tmfe\t"
            "best_stem_bp\thairpin_like\tstructure\twindow\thairpin\n" + "".join(
                f"{p.id}\t{p.hairpin.name}\t{p.hairpin.species}\t{len(p.hairpin.seq)}\t{p.offset}\t"
                f"{p.held:.3f}\t{locus(p.carrier, contigs)}\t{p.split}\t{p.mfe:.2f}\t"
                f"{fold.best_stem_bp(p.struct)}\t{str(hairpin_like(p.struct, p.mfe)).lower()}\t"
                f"{p.struct}\t{p.seq}\t{p.hairpin.seq}\n" for p in positives))
    W.write("negatives.tsv", "id\tsource\tkind\tsplit\tmfe\tbest_stem_bp\tscore\tstructure\twindow\n" + "".join(
        f"{locus(w, contigs)}\t{contigs[w.contig].source}\t{w.kind}\t{w.split}\t"
        f"{f'{w.mfe:.2f}' if w.struct else ''}\t{fold.best_stem_bp(w.struct) if w.struct else ''}\t"
        f"{'' if w.score is None else f'{w.score:.4f}'}\t{w.struct}\t{w.seq}\n" for w in negatives))


def write_genome_fasta(W: Writer, name: str, contigs: list[Contig]) -> None:
    W.write(name, "".join(f">{c.id} {c.desc}\n{wrap(to_dna(c.seq))}\n" for c in contigs))


def write_tests(W: Writer, held) -> None:
    W.write("test/v22_new_hairpins.fa", "".join(
        f">{h.acc} {h.name} miRBase-v22-new len={len(h.seq)}\n{wrap(h.seq)}\n" for h in held.v22_new))
    W.write("test/heldout50_hairpins.fa", "".join(
        f">{h.acc} {h.name} heldout50 len={len(h.seq)}\n{wrap(h.seq)}\n"
        for h in sorted(held.heldout50, key=lambda h: h.acc)))


# ----------------------------------------------------------------------------- counts

def count_records(path: str) -> int:
    """FASTA records, TSV rows below the header, or BED lines."""
    with open(path) as f:
        if path.endswith(".fa"):
            return sum(line.startswith(">") for line in f)
        return sum(1 for _ in f) - path.endswith(".tsv")


def count_sets(positives, negatives, structure, pool, contigs, hard_w) -> dict:
    C = {}
    for side in ("train", "val"):
        ps = [p for p in positives if p.split == side]
        ns = [w for w in negatives if w.split == side]
        C[side] = {
            "positive_windows": len(ps),
            "positive_hairpins": len({p.hairpin.acc for p in ps}),
            "positive_human_windows": sum(p.hairpin.species == "hsa" for p in ps),
            "negatives": len(ns),
            "negatives_by_kind": {k: sum(w.kind == k for w in ns) for k in KINDS},
            "negatives_by_source_kind": {f"{s}/{k}": sum(contigs[w.contig].source == s and w.kind == k for w in ns)
                                         for s in SOURCES for k in KINDS},
            "hairpin_like_share": round(sum(w.kind == "hairpin" for w in ns) / max(1, len(ns)), 4),
            "negatives_per_positive": round(len(ns) / max(1, len(ps)), 2),
            "structure_mfe": len(ps) + sum(w.split == side for w in structure),
            "structure_mfe_genome_hairpin_like": sum(w.split == side and w.kind == "hairpin" for w in structure),
        }
    C["pool_folded"] = len(pool)
    C["pool_hairpin_like"] = sum(w.kind == "hairpin" for w in pool)
    C["pool_hairpin_like_by_source"] = {
        s: [sum(contigs[w.contig].source == s and w.kind == "hairpin" for w in pool),
            sum(contigs[w.contig].source == s for w in pool)] for s in SOURCES}
    C["positive_windows_hairpin_like"] = sum(hairpin_like(p.struct, p.mfe) for p in positives)
    full = [p for p in positives if p.held == 1.0]
    C["positive_windows_holding_whole_hairpin"] = len(full)
    C["positive_windows_holding_whole_hairpin_hairpin_like"] = sum(hairpin_like(p.struct, p.mfe) for p in full)
    C["hard_negatives"] = len(hard_w)
    return C


# ----------------------------------------------------------------------------- main

def build_positives(kept, val_acc, carriers, held, calibration_k32, args, rng, M) -> list[Positive]:
    """The positive windows of both sides, each hairpin in carriers of its own side."""
    tables = list(held.k32.values()) + [calibration_k32]
    rejected = lambda seq: any(shares_kmer(seq, mirbase.HELD_K, t) for t in tables)
    positives: list[Positive] = []
    redraws = 0
    for side in ("train", "val"):
        hs = [h for h in kept if (h.acc in val_acc) == (side == "val")]
        cs = [c for c in carriers if c.split == side]
        if len(cs) < 1.1 * len(hs) * args.windows_per_hairpin:
            raise SystemExit(f"prepare.py: {len(cs)} {side} carriers for {len(hs)} hairpins")
        ps, n = windows.make_positives(hs, args.windows_per_hairpin, cs, rng, rejected)
        for p in ps:
            p.split = side
        positives += ps
        redraws += n
    M["positives"]["windows_redrawn_for_a_held_out_32mer_across_the_junction"] = redraws
    return sorted(positives, key=lambda p: (p.hairpin.acc, p.copy))


def fold_windows(pool, positives, args, log) -> dict:
    """RNAfold every pool and positive window once; pool windows get their kind."""
    log(f"folding {len(pool)} genome windows + {len(positives)} positive windows "
        f"(ViennaRNA {RNA.__version__}, {fold.TEMPERATURE} degC, {args.workers} workers, nice +{args.nice})")
    t = time.time()
    folds = fold_all([w.seq for w in pool] + [p.seq for p in positives], args.workers, args.nice)
    seconds = time.time() - t
    log(f"folded in {seconds:.1f}s ({1000 * seconds / max(1, len(folds)):.2f} ms per fold, wall)")
    for w, (st, mfe) in zip(pool, folds):
        w.struct, w.mfe = st, mfe
        w.kind = "hairpin" if hairpin_like(st, mfe) else "flat"
    for p, (st, mfe) in zip(positives, folds[len(pool):]):
        p.struct, p.mfe = st, mfe
    return {"folding_s": round(seconds, 1), "folded_sequences": len(folds), "workers": args.workers}


def write_outputs(W, positives, negatives, structure, contigs, calib, hairpins, held) -> None:
    write_training(W, positives, negatives, structure, contigs)
    write_tests(W, held)
    write_genome_fasta(W, "calibration/ecoli_last1Mb.fa", [c for c in calib if c.source == "ecoli"])
    write_genome_fasta(W, "calibration/fly_upstream_5Mb.fa", [c for c in calib if c.source != "ecoli"])
    acc_of = {h.name: h.acc for h in hairpins}
    W.write("calibration/known_hairpins.bed", "".join(
        f"{c.id}\t{a}\t{b}\t{n}\t{acc_of[n]}\t{st}\n" for c in calib for a, b, n, st in c.loci))
    write_genome_fasta(W, "genomes/training_genomes.fa", contigs)


def criteria() -> dict:
    return {
        "window": WIN, "genome_slot_step": windows.SLOT, "temperature_C": fold.TEMPERATURE,
        "positive_window": f"hairpin at an offset drawn uniformly from those where the window holds >= "
                           f"{mirbase.MIN_HELD:.0%} of it, written over a genomic carrier window",
        "hairpin_like": f"window MFE <= {fold.HP_MAX_MFE} kcal/mol and a top-level unbranched stem-loop "
                        f"with >= {fold.HP_MIN_BP} base pairs",
        "flat": "folded genome window that is not hairpin-like",
        "unfolded": "uniform genome window, not folded (fills the negatives beyond the fold budget)",
        "hard": "top-scoring window of a first model's scan (--hard-negatives), not folded",
        "held_out_k": mirbase.HELD_K, "known_hairpin_guard_k": genomes.GUARD_K,
        "cluster_k": {"hairpins": split.HAIRPIN_K, "genome_windows": split.CLUSTER_K},
    }


def write_manifest(W, M, args, inp, runtime) -> None:
    M["criteria"] = criteria()
    M["command"] = " ".join([os.path.basename(sys.executable)] + sys.argv)
    M["arguments"] = dict(vars(args))
    M["seed"] = args.seed
    M["versions"] = {"python": platform.python_version(), "ViennaRNA": RNA.__version__, "numpy": np.__version__}
    M["inputs"] = {os.path.relpath(p, args.shared): {"sha256": sha256(p), "bytes": os.path.getsize(p)}
                   for p in inp.values()}
    M["outputs"] = {n: {"sha256": sha256(W.path(n)), "bytes": os.path.getsize(W.path(n)),
                        "records": count_records(W.path(n))}
                    for n in sorted(W.names)}
    rss = lambda who: resource.getrusage(who).ru_maxrss // 1024
    M["runtime"] = dict(runtime, peak_rss_mb={"main": rss(resource.RUSAGE_SELF),
                                              "largest_worker": rss(resource.RUSAGE_CHILDREN)})
    with open(W.path("MANIFEST.json"), "w") as f:
        json.dump(M, f, indent=1)
        f.write("\n")


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.time()
    log = lambda *a: print(f"[{time.time() - t0:7.1f}s]", *a, file=sys.stderr, flush=True)
    rng = random.Random(args.seed)
    inp = input_paths(args.shared)
    W = Writer(args.out)
    M: dict = {"version": 2}

    hairpins, animals, held = load_mirbase(inp)
    contigs, calib = load_genomes(inp, hairpins, held, M, log)
    calibration_k32 = genomes.calibration_table(calib)
    kept = choose_positives(animals, held, calibration_k32, inp, args, M, log)

    # guards: every genome window used must pass them (negatives, carriers, hard negatives)
    hairpin_k20 = mirbase.hairpin_guard_table([inp["hairpins"], inp["hsa_v21"], inp["mirgenedb"]],
                                              genomes.GUARD_K)
    guards = genomes.Guards(contigs, held.k32, calibration_k32, hairpin_k20)
    eligible, elig_stats = windows.eligible_windows(contigs, guards)
    M["genomes"]["windows"] = {"slot": windows.SLOT, "length": WIN, "by_source": elig_stats}
    log(f"eligible genome windows: {len(eligible)}")

    hard_w: list[Window] = []
    n_pos = len(kept) * args.windows_per_hairpin
    if args.hard_negatives:
        rows = hard.read_scan(args.hard_negatives)
        hard_w, hst = hard.pick_hard(rows, contigs, guards, args.hard_top or n_pos, args.hard_min_score)
        M["hard_negatives"] = {"file": os.path.abspath(args.hard_negatives),
                               "sha256": sha256(args.hard_negatives), "top": args.hard_top or n_pos,
                               "min_score": args.hard_min_score, **hst}
        keys, seqs = {w.key() for w in hard_w}, {w.seq for w in hard_w}
        eligible = [w for w in eligible if w.key() not in keys and w.seq not in seqs]
        log(f"hard negatives: {len(hard_w)} of {len(rows)} scan rows")

    n_neg = round(args.ratio * n_pos)
    n_pool = min(args.fold_pool, math.ceil(args.pool_factor * n_neg))
    # 25% spare margins: the split by clusters does not cut every sample at exactly 80/20
    sample = windows.sample_windows(eligible, contigs, math.ceil(1.25 * n_pos), n_pool,
                                    math.ceil(1.25 * max(0, n_neg - n_pool)), SMALL_SOURCES, rng)
    carriers, pool, spare = sample["carrier"], sample["pool"], sample["spare"]
    del eligible, sample, guards                  # before the folding workers fork
    val_acc = split_hairpins(kept, args, M)
    split_genome(carriers + pool + spare + hard_w, contigs, args, M)
    positives = build_positives(kept, val_acc, carriers, held, calibration_k32, args, rng, M)

    runtime = fold_windows(pool, positives, args, log)
    negatives = select_negatives(pool, spare, hard_w, positives, args, rng)
    structure = select_structure(negatives, positives, args, rng)
    M["counts"] = count_sets(positives, negatives, structure, pool, contigs, hard_w)
    log("counts:", json.dumps({k: M["counts"][k] for k in ("train", "val")})[:800])
    write_outputs(W, positives, negatives, structure, contigs, calib, hairpins, held)

    log("leakage checks on the written files")
    results, failures = checks.check_written(
        args.out, held.k32, [W.path("calibration/ecoli_last1Mb.fa"), W.path("calibration/fly_upstream_5Mb.fa")],
        hairpin_k20, {h.acc: h.seq for h in kept}, {c.id for c in contigs},
        {h.acc for h in held.heldout50} | {h.acc for h in held.v22_new})
    results.update(test_v22_new_hairpins=len(held.v22_new), test_heldout50_hairpins=len(held.heldout50),
                   tca_hairpins_in_input=0)
    M["leakage_checks"] = results
    write_manifest(W, M, args, inp, dict(total_s=round(time.time() - t0, 1), **runtime))
    if failures:
        log("LEAKAGE CHECKS FAILED:", ", ".join(f"{k}={results[k]}" for k in failures))
        return 1
    log("done; leakage checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
