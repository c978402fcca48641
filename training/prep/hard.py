"""Second-round hard negatives: the top-scoring windows of a mire2e scan of training genomes."""
from __future__ import annotations

import numpy as np

from .genomes import GUARD_REASONS, Contig, Guards
from .windows import WIN, Window, window_seq


def read_scan(path: str) -> list[tuple[str, int, int, str, float]]:
    """(seq_id, start, end, strand, score) rows of a mire2e scan TSV ('#' metadata lines, then a
    header naming at least seq_id start end strand score; other columns are ignored)."""
    rows, cols = [], None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.startswith("#") or not line.strip():
                continue
            c = line.rstrip("\n").split("\t")
            if cols is None:
                cols = {name: i for i, name in enumerate(c)}
                missing = {"seq_id", "start", "end", "strand", "score"} - set(cols)
                if missing:
                    raise SystemExit(f"{path}: header lacks {sorted(missing)}")
                continue
            try:
                score = float(c[cols["score"]])
            except ValueError:
                raise SystemExit(f"{path}: line {n}: score {c[cols['score']]!r} is not a number")
            if score == score:                                  # NaN rows (skipped windows) drop out
                rows.append((c[cols["seq_id"]], int(c[cols["start"]]), int(c[cols["end"]]),
                             c[cols["strand"]], score))
    return rows


def pick_hard(rows, contigs: list[Contig], guards: Guards, top: int,
              min_score: float) -> tuple[list[Window], dict]:
    """The best `top` windows scoring >= min_score that are training-genome windows passing every
    guard (so never in a calibration stretch, a held-out stretch or a known hairpin) and not
    overlapping a better one on the same strand (one window per hard locus)."""
    index = {}
    for ci, c in enumerate(contigs):
        for name in (c.id,) + tuple(c.aliases):
            index[name] = ci
    st = {"rows": len(rows), "below_min_score": 0, "not_a_training_contig": 0,
          "not_a_100nt_window_inside_a_training_contig": 0, **{r: 0 for r in GUARD_REASONS},
          "overlaps_a_better_one": 0, "taken": 0}
    cand = []
    for seq_id, start, end, strand, score in rows:
        if score < min_score:
            st["below_min_score"] += 1
        elif seq_id not in index:
            st["not_a_training_contig"] += 1
        elif end - start != WIN or start < 0 or end > len(contigs[index[seq_id]].seq) or strand not in "+-":
            st["not_a_100nt_window_inside_a_training_contig"] += 1
        else:
            cand.append((-score, index[seq_id], start, strand))
    cand.sort()
    by_contig: dict[int, list] = {}
    for c in cand:
        by_contig.setdefault(c[1], []).append(c)
    ok = set()
    for ci, cs in by_contig.items():
        fails = guards.failures(ci, np.array([c[2] for c in cs]), WIN)
        for c, r in zip(cs, fails.tolist()):
            if r >= 0:
                st[GUARD_REASONS[r]] += 1
            else:
                ok.add(c)
    chosen, busy = [], {}
    for c in cand:
        if c not in ok or len(chosen) >= top:
            continue
        _, ci, start, strand = c
        spans = busy.setdefault((ci, strand), [])
        if any(a < start + WIN and start < b for a, b in spans):
            st["overlaps_a_better_one"] += 1
            continue
        spans.append((start, start + WIN))
        chosen.append(Window(ci, start, strand, window_seq(contigs[ci], start, strand),
                             role="hard", kind="hard", score=-c[0]))
    st["taken"] = len(chosen)
    chosen.sort(key=Window.key)
    return chosen, st
