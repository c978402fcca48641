"""FASTA I/O and sequence helpers. Sequences are upper-case RNA (T -> U) inside the builder."""
from __future__ import annotations

import gzip
import hashlib
import re

RNA_COMP = str.maketrans("ACGU", "UGCA")
_ACGU = re.compile(r"[ACGU]+")


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


def first_word(header: str) -> str:
    """The record id as FASTA readers (and mire2e) take it."""
    return header.split()[0] if header.split() else ""


def revcomp(s: str) -> str:
    return s.translate(RNA_COMP)[::-1]


def canonical(s: str) -> str:
    """The same string for a sequence and its reverse complement."""
    return min(s, revcomp(s))


def is_acgu(s: str) -> bool:
    return _ACGU.fullmatch(s) is not None


def to_dna(s: str) -> str:
    return s.replace("U", "T")


def wrap(s: str, n: int = 60) -> str:
    return "\n".join(s[i:i + n] for i in range(0, len(s), n))


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
