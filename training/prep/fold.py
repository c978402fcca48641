"""RNAfold (ViennaRNA, 37 degC) in worker processes, and the hairpin-like criterion."""
from __future__ import annotations

import os
import re
from multiprocessing import Pool

import RNA

TEMPERATURE = 37.0
HP_MIN_BP = 18          # base pairs in one stem-loop (v1's threshold)
HP_MAX_MFE = -15.0      # kcal/mol for the whole window (v1's threshold)

_MD = None
_SINGLE_STEM = re.compile(r"\(+\)+")


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
    st, mfe = RNA.fold_compound(seq, _MD).mfe()
    return st, round(float(mfe), 2)


def fold_all(seqs: list[str], workers: int, nice: int) -> list[tuple[str, float]]:
    """Folds in input order (imap keeps it), so the result does not depend on scheduling."""
    if workers <= 1:
        _init_worker(0)
        return [fold(s) for s in seqs]
    with Pool(workers, initializer=_init_worker, initargs=(nice,)) as pool:
        return list(pool.imap(fold, seqs, chunksize=256))


def stem_loops(struct: str) -> list[tuple[int, int, int]]:
    """(start, end, base pairs) of each top-level component that is one unbranched stem-loop
    (dots removed it reads `((..))`: bulges and interior loops allowed, no multiloop)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(struct):
        if ch == "(":
            if depth == 0:
                start = i
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                part = struct[start:i + 1]
                if _SINGLE_STEM.fullmatch(part.replace(".", "")):
                    out.append((start, i + 1, part.count("(")))
    return out


def best_stem_bp(struct: str) -> int:
    return max((bp for _, _, bp in stem_loops(struct)), default=0)


def hairpin_like(struct: str, mfe: float) -> bool:
    """v1's thresholds, applied to the best stem-loop of the window rather than to the whole fold:
    a scan window shows a hairpin with flanks, which fold on their own (v1's whole-window rule
    passes 93% of bare precursors but about 60% of precursors inside genomic flanks)."""
    return mfe <= HP_MAX_MFE and best_stem_bp(struct) >= HP_MIN_BP


def fold_line(struct: str, mfe: float) -> str:
    return f"{struct} ({mfe:6.2f})"          # RNAfold's own format
