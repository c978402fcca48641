"""Leakage checks, recomputed on the files as written (read back from disk)."""
from __future__ import annotations

import os
import re

import numpy as np

from .kmers import kmer_set, sharing
from .seqio import read_fasta
from .split import HAIRPIN_K

_ACC = re.compile(r"MI\d{7}")
TRAINING_FILES = ("positives.fa", "positives.val.fa", "negatives.fa", "negatives.val.fa",
                  "structure_mfe.fa", "structure_mfe.val.fa")


def read_written(path: str) -> list[tuple[str, str]]:
    """(header, sequence) of a written training file; a structure/MFE record's text is
    `<seq><dot-bracket>( mfe)` and its sequence is the first half of what precedes the last '('."""
    recs = read_fasta(path)
    if os.path.basename(path).startswith("structure_mfe"):
        recs = [(h, t[:t.rindex("(") // 2]) for h, t in recs]
    return recs


def check_written(out: str, tables32: dict[str, np.ndarray], calibration_files: list[str],
                  hairpin_k20: np.ndarray, hairpin_seq: dict[str, str], train_contigs: set[str],
                  forbidden_acc: set[str]) -> tuple[dict, list[str]]:
    """Returns (results, failures). Every check named in failures must be 0 and is not."""
    files = {n: read_written(os.path.join(out, n)) for n in TRAINING_FILES}
    every = [(n, h, s) for n, recs in files.items() for h, s in recs]
    seqs = [s for _, _, s in every]
    R: dict = {"records_checked": len(every), "files_checked": list(TRAINING_FILES)}
    fail: list[str] = []

    def require_zero(name: str, value: int):
        R[name] = value
        if value:
            fail.append(name)

    calib = kmer_set([s for p in calibration_files for _, s in read_fasta(p)], 32)
    for name, table in list(tables32.items()) + [("calibration_stretches", calib)]:
        require_zero(f"written_seqs_sharing_32mer_with_{name}", int(sharing(seqs, 32, table).sum()))
    require_zero("written_headers_naming_tca", sum(" tca-" in f" {h}" for _, h, _ in every))
    require_zero("written_headers_naming_a_held_out_accession",
                 sum(bool(set(_ACC.findall(h)) & forbidden_acc) for _, h, _ in every))
    neg = [(h, s) for n, h, s in every if n.startswith("negatives")]
    require_zero("negatives_sharing_20mer_with_a_known_hairpin",
                 int(sharing([s for _, s in neg], 20, hairpin_k20).sum()))
    require_zero("negatives_not_from_a_training_contig",
                 sum(h.split()[0].rsplit(":", 1)[0] not in train_contigs for h, _ in neg))
    train = {s for n, _, s in every if ".val." not in n}
    val = [s for n, _, s in every if ".val." in n]
    require_zero("exact_sequences_in_train_and_val", sum(s in train for s in val))
    # hairpins (the positives' precursors) never straddle the split, even as a 20-mer
    def hairpins_of(name):
        return [hairpin_seq[h.split()[0].split(".w")[0]] for h, _ in files[name]]
    tr_hp = kmer_set(hairpins_of("positives.fa"), HAIRPIN_K)
    require_zero(f"val_hairpins_sharing_{HAIRPIN_K}mer_with_train_hairpins",
                 int(sharing(hairpins_of("positives.val.fa"), HAIRPIN_K, tr_hp).sum()))
    # information: any record (genome windows too) sharing a 24-mer across the split
    tr_k = kmer_set(sorted(train), 24)
    R["val_records_sharing_24mer_with_train_info"] = int(sharing(val, 24, tr_k).sum())
    R["failed"] = fail
    return R, fail
