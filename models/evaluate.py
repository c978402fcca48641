#!/usr/bin/env python3
"""Reproduce the held-out figures of a model bundle's MODEL_CARD.md, beside an RNAfold-MFE baseline.

Runs the mire2e binaries (PATH, or --bin-dir) on the read-only shared data and on the calibration
stretch of a v2 data build (--data), and writes summary.tsv (test, metric, value,
baseline_rnafold_mfe). Python standard library only; the baseline needs the ViennaRNA module `RNA`
(run with a Python that has it, e.g. /work/cache/venv/bin/python; without it the baseline column
stays empty, with a warning).

  (1) future discovery: the human hairpins whose accession is new in miRBase v22 (not in v21), each
      scanned as its own record, against every window of BA000025.2 at least --margin nt away from
      its known pre-miRNAs; AP (step-wise AUCPR), precision at recall 0.2 and AUROC (paper section
      4.2; one positive per hairpin: its best-overlapping `+` window, mire2e-eval rule `best`).
  (2) held-out 50: the 50 human hairpins of mirbase_v22/heldout_hsa_hairpins.txt, scored as (1).
  (3) genome scan of BA000025.2 against its 5 known pre-miRNAs (miRBase v22 BED): s+, p, F1 at the
      operating threshold, AUROC, AP and loci called, as the paper's Table 2.
  (4) calls per Mb on E. coli (bacteria have no miRNAs): merged loci at the operating threshold per
      Mb of sequence scanned (both strands scored; a locus counts once).
  (5) calibration: the held-out negative stretch of the data build (DATA/calibration/*.fa: the last
      1 Mb of E. coli and 5 Mb of fly upstream regions), both strands. Calls per Mb at the operating
      threshold, and the threshold fit: the lowest score at which this stretch, and every higher
      threshold, gets <= 1 call per Mb. The fit goes to threshold.json for
      `mire2e bundle --threshold T --threshold-basis TEXT`, with the expected false calls in a
      3 Gb genome (calls per Mb x 3000; human DNA is not E. coli or fly, so this is a guide).

A call is a merged locus exactly as `mire2e scan --bed` writes it: windows scoring >= t, overlapping
windows of one record and strand merged. Loci are counted from the scan's window scores, so one scan
serves every threshold; where the scan also wrote a BED at the same threshold, the two must agree.

Operating threshold: --threshold T, else the bundle's (manifest `threshold.value`, or v1's
`metrics.operating_threshold`), else the fit of (5) (`--threshold fit` forces that).

Baseline: every window of (1)-(3) and (5) scored by its RNAfold minimum free energy (ViennaRNA,
37 degC) as score = -MFE per nt (--baseline-score per-nt; `kcal` gives -MFE). Per nt is the default
because a hairpin scanned alone can be shorter than 100 nt; on genome windows (all 100 nt) both rank
alike. Its ranking figures come from the same windows and truth; its threshold figures use its own
threshold fit on the same calibration stretch. The baseline streams are written in the scan's TSV
layout (seq_id start end strand mfe score) and evaluated by mire2e-eval beside the model. Folds are
cached by window sequence in --mfe-cache (default OUT/mfe_cache), so they are computed once.

    # full: about 2 h on the 2-core VM while it trains (scans ~220 windows/s: ~70 min for the
    # 6 Mb stretch, BA000025.2 and 1 Mb of E. coli; RNAfold ~260 folds/s: ~50 min for 820k windows)
    /work/cache/venv/bin/python models/evaluate.py --model DIR --data DATA --out eval-v2 \\
        --ecoli-bases 1000000
    # quick check of the machinery (~10 min; not the card's figures: every test is named QUICK_*)
    /work/cache/venv/bin/python models/evaluate.py --model default --data DATA --out eval-quick --quick
    # then put the fit into the bundle
    mire2e bundle ... --threshold "$(jq -r .value_text eval-v2/threshold.json)" \\
        --threshold-basis "$(jq -r .basis eval-v2/threshold.json)"

Every intermediate file stays in --out and commands.txt logs each command, so each figure can be
traced; a scan whose output exists is not run again (delete it to rerun).
"""

import argparse
import csv
import gzip
import hashlib
import importlib.util
import json
import math
import multiprocessing
import os
import re
import shutil
import struct
import subprocess
import sys
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
WINDOW = 100  # mire2e scan's window length
GENOME_MB = 3000  # a human-sized genome, for the expected false calls
QUICK = {"ba_bases": 300_000, "calibration_bases": 200_000, "ecoli_bases": 200_000}
BASELINE = "rnafold-mfe"
F32 = struct.Struct("<f")


def log(msg: str) -> None:
    print(f"{os.path.basename(sys.argv[0])}: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# sequences and hairpin sets


def default_shared() -> str:
    return os.environ.get("MIRE2E_SHARED") or os.path.join(HERE, "..", "..", "shared")


def read_fasta(path: str) -> list[tuple[str, str]]:
    opener = gzip.open if path.endswith(".gz") else open
    records, name, seq = [], None, []
    with opener(path, "rt") as f:
        for line in f:
            line = line.strip()
            if line.startswith(">"):
                if name is not None:
                    records.append((name, "".join(seq)))
                name, seq = line[1:], []
            elif line:
                seq.append(line)
    if name is not None:
        records.append((name, "".join(seq)))
    return records


def write_fasta(path: str, records: list[tuple[str, str]]) -> None:
    with open(path, "w") as f:
        for name, seq in records:
            f.write(f">{name}\n{seq}\n")


def hsa_v22(shared: str) -> list[tuple[str, str, str]]:
    """(name, accession, RNA sequence) of every miRBase v22 human hairpin."""
    path = os.path.join(shared, "data", "mirbase_hsa", "hsa_hairpins_miRBase_v22.fa")
    return [(h.split()[0], h.split()[1], s.upper().replace("T", "U")) for h, s in read_fasta(path)]


def v22_new_hairpins(shared: str) -> list[tuple[str, str]]:
    """hsa hairpins whose MI accession is in miRBase v22 and not in v21 (as training/prepare.py)."""
    v21_path = os.path.join(shared, "data", "mirbase_hsa", "hsa_hairpins_miRBase_v21.fa")
    v21 = {h.split()[1] for h, _ in read_fasta(v21_path)}
    return [(n, s) for n, acc, s in hsa_v22(shared) if n.startswith("hsa-") and acc not in v21]


def heldout50_hairpins(shared: str) -> list[tuple[str, str]]:
    """The hairpins named in mirbase_v22/heldout_hsa_hairpins.txt (name, accession per line)."""
    by_acc = {acc: (n, s) for n, acc, s in hsa_v22(shared)}
    out = []
    with open(os.path.join(shared, "data", "mirbase_v22", "heldout_hsa_hairpins.txt")) as f:
        for line in f:
            if line.strip() and not line.startswith("#"):
                name, acc = line.split()[:2]
                if acc not in by_acc or by_acc[acc][0] != name:
                    sys.exit(f"evaluate.py: held-out hairpin {name} {acc} not in the v22 hsa FASTA")
                out.append(by_acc[acc])
    return out


def same_as_build(hairpins: list[tuple[str, str]], path: str) -> str:
    """Whether the data build's copy of a test set (header `>ACC NAME ...`) holds the same hairpins."""
    if not os.path.exists(path):
        return "no build copy"
    ours = {(n, s) for n, s in hairpins}
    theirs = {(h.split()[1], s.upper().replace("T", "U")) for h, s in read_fasta(path)}
    if ours != theirs:
        log(f"WARNING: {path} differs from the shared-data set ({len(ours ^ theirs)} entries)")
    return "yes" if ours == theirs else "NO"


def revcomp(seq: str) -> str:
    return seq.translate(str.maketrans("ACGUTN", "UGCAAN"))[::-1]


# ---------------------------------------------------------------------------------------------
# running the binaries


class Runner:
    """Runs binaries, logs each command line (the reproduction record) and its wall time."""

    def __init__(self, bin_dir: str | None, out: str, threads: int):
        self.bin_dir, self.threads = bin_dir, threads
        self.log = open(os.path.join(out, "commands.txt"), "a")
        self.log.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(sys.argv)}\n")

    def exe(self, name: str) -> str:
        path = os.path.join(self.bin_dir, name) if self.bin_dir else shutil.which(name)
        if not path or not os.path.exists(path):
            sys.exit(f"{os.path.basename(sys.argv[0])}: {name} not found (install with `cargo install --locked --path bins` "
                     "or give --bin-dir)")
        return path

    def note(self, text: str) -> None:
        self.log.write(f"# {text}\n")
        self.log.flush()

    def run(self, name: str, *args: str) -> None:
        shown = " ".join([name, *args])
        log(f"$ {shown}")
        start = time.monotonic()
        subprocess.run([self.exe(name), *args], check=True)
        self.log.write(f"{shown}\t# {time.monotonic() - start:.0f} s\n")
        self.log.flush()

    def scan(self, fasta: str, bundle: str, tsv: str, threshold: str | None,
             extra: tuple = ()) -> str | None:
        """Scans unless `tsv` exists from the same input and weights (TSV.source says which);
        returns the BED the scan wrote at `threshold` (if it did). `extra`: more scan options."""
        bed = f"{tsv[:-4]}.scan_t{threshold}.bed" if threshold else None
        source = scan_source(fasta, bundle)
        if os.path.exists(tsv):
            if read_json(tsv + ".source") != source:
                sys.exit(f"evaluate.py: {tsv} is not from this input and bundle: use another "
                         "--out (or delete it)")
            self.note(f"kept {tsv} (same input and weights; delete it to scan again)")
            return bed if bed and os.path.exists(bed) else None
        args = ["scan", fasta, "--model", bundle, "--threads", str(self.threads), "-q", "-o", tsv]
        if bed:
            args += ["--bed", bed, "--threshold", threshold]
        self.run("mire2e", *args, *extra)
        with open(tsv + ".source", "w") as f:
            json.dump(source, f, indent=1)
        return bed


def read_json(path: str):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def scan_source(fasta: str, bundle: str) -> dict:
    """What a scan's output depends on: the input's checksum and the bundle's weights."""
    with open(os.path.join(bundle, "manifest.json")) as f:
        files = json.load(f)["files"]
    with open(fasta, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return {"input": os.path.basename(fasta), "input_sha256": digest,
            "weights_sha256": {k: v["sha256"] for k, v in sorted(files.items())}}


def resolve_bundle(model: str) -> str:
    """The bundle folder: a path, or a name under $MIRE2E_MODELS or beside this script."""
    places = [model]
    if os.environ.get("MIRE2E_MODELS"):
        places.append(os.path.join(os.environ["MIRE2E_MODELS"], model))
    places.append(os.path.join(HERE, model))
    for place in places:
        if os.path.isfile(os.path.join(place, "manifest.json")):
            return os.path.abspath(place)
    sys.exit(f"evaluate.py: no bundle {model} (looked in {', '.join(places)})")


def bundle_threshold(manifest: dict) -> float | None:
    """The bundle's operating threshold (v2: `threshold.value`; v1 kept it under metrics)."""
    if manifest.get("threshold"):
        return manifest["threshold"]["value"]
    return (manifest.get("metrics") or {}).get("operating_threshold")


# ---------------------------------------------------------------------------------------------
# score streams, loci and the threshold fit


def f32(x: float) -> float:
    """x rounded to f32, as mire2e reads scores and thresholds."""
    return F32.unpack(F32.pack(x))[0]


def f32_text(x: float) -> str:
    """Shortest decimal that reads back to the same f32 (how mire2e writes scores)."""
    x = f32(x)
    for digits in range(1, 10):
        text = f"{x:.{digits}g}"
        if f32(float(text)) == x:
            return text
    return repr(x)


def next_f32_up(x: float) -> float:
    (bits,) = struct.unpack("<I", F32.pack(f32(x)))
    return F32.unpack(struct.pack("<I", bits + 1 if x >= 0 else bits - 1))[0]


def stream_header(path: str) -> str:
    """A score stream's header line (the first line not starting with `#`)."""
    with open(path) as f:
        return next(line for line in f if not line.startswith("#"))


def stream_rows(path: str, *columns: str):
    """The named columns of every row of a score stream, as text."""
    with open(path) as f:
        header = None
        for line in f:
            if line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if header is None:
                header = [fields.index(c) for c in columns]
                continue
            yield [fields[i] for i in header]


def windows_of(path: str) -> list[tuple[str, str, int, int, float]]:
    """(seq_id, strand, start, end, f32 score) of every window of a score stream."""
    return [(q, strand, int(s), int(e), f32(float(score)))
            for q, strand, s, e, score in stream_rows(path, "seq_id", "strand", "start", "end", "score")]


def merge_loci(windows, t: float) -> list[tuple]:
    """The loci `mire2e scan --bed` writes at threshold t (lib/src/candidates.rs `merge`): hits sorted
    by record, strand (+ first), start, end; a hit joins the current locus when it starts before the
    locus ends; the best window is the first of the highest score. (seq, start, end, strand, best)."""
    hits = sorted((w for w in windows if w[4] >= t), key=lambda w: (w[0], w[1] != "+", w[2], w[3]))
    loci: list[list] = []
    for w in hits:
        last = loci[-1] if loci else None
        if last and last[0] == w[0] and last[3] == w[1] and w[2] < last[2]:
            last[2] = max(last[2], w[3])
            if w[4] > last[4][4]:
                last[4] = w
        else:
            loci.append([w[0], w[2], w[3], w[1], w])
    return [tuple(l) for l in loci]


def write_loci_bed(path: str, loci) -> None:
    """BED9 as lib/src/candidates.rs `write_bed` (score: round half away of f32(1000 x best))."""
    with open(path, "w") as f:
        for seq, start, end, strand, b in loci:
            score = math.floor(f32(min(max(b[4], 0.0), 1.0) * 1000.0) + 0.5)
            f.write(f"{seq}\t{start}\t{end}\t{b[0]}:{b[2]}-{b[3]}({b[1]})\t{score}\t{strand}"
                    f"\t{b[2]}\t{b[3]}\t0\n")


def loci_curve(windows) -> list[tuple[float, int]]:
    """(t, loci at threshold t) for every distinct score t, highest first.

    Windows enter from the highest score down; a union-find over the windows of each record and
    strand (sorted by start) counts the connected groups of overlapping hits, which are exactly the
    loci the sweep of `merge_loci` makes. Each window meets only its few overlapping neighbours."""
    order = sorted(range(len(windows)), key=lambda i: (windows[i][0], windows[i][1], windows[i][2],
                                                       windows[i][3]))
    group = [(windows[i][0], windows[i][1]) for i in order]
    start = [windows[i][2] for i in order]
    end = [windows[i][3] for i in order]
    score = [windows[i][4] for i in order]
    longest = max((e - s for s, e in zip(start, end)), default=0)
    parent = list(range(len(order)))
    added = bytearray(len(order))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    curve: list[tuple[float, int]] = []
    loci = 0
    by_score = sorted(range(len(order)), key=lambda i: -score[i])
    for n, i in enumerate(by_score):
        added[i], loci = 1, loci + 1
        j = i - 1  # earlier starts: overlap when they end after this start
        while j >= 0 and group[j] == group[i] and start[j] > start[i] - longest:
            if added[j] and end[j] > start[i]:
                a, b = find(i), find(j)
                if a != b:
                    parent[a], loci = b, loci - 1
            j -= 1
        j = i + 1  # later starts: overlap when they start before this end
        while j < len(order) and group[j] == group[i] and start[j] < end[i]:
            if added[j]:
                a, b = find(i), find(j)
                if a != b:
                    parent[a], loci = b, loci - 1
            j += 1
        if n + 1 == len(by_score) or score[by_score[n + 1]] != score[i]:
            curve.append((score[i], loci))
    return curve


def fit_threshold(windows, bases: int, cap: float | None = 1.0,
                  per_mb: float = 1.0) -> tuple[float | None, int]:
    """The lowest threshold at which the windows, and every higher threshold, give <= per_mb calls
    per Mb (the loci count need not fall monotonically, as loci merge when t drops): one f32 step
    above the highest score that gives too many (no call if that is the top score), or the lowest
    score if none does. Returns (threshold, calls there); threshold None if above `cap` (a
    bundle's threshold is in [0, 1]).

    Three windows, the first two overlapping (one locus from 0.8 down), the third apart:
    >>> w = [("r", "+", 0, 100, f32(0.9)), ("r", "+", 50, 150, f32(0.8)),
    ...      ("r", "+", 1000, 1100, f32(0.7))]
    >>> t, calls = fit_threshold(w, 1_000_000)  # 1 call allowed: 0.7 would make 2
    >>> (t == next_f32_up(f32(0.7)), calls)
    (True, 1)
    >>> t, calls = fit_threshold(w, 500_000)  # none allowed: just above the top score
    >>> (t == next_f32_up(f32(0.9)), calls)
    (True, 0)
    >>> fit_threshold(w, 2_000_000) == (f32(0.7), 2)  # every score keeps to the rule
    True
    """
    limit = per_mb * bases / 1e6
    curve = loci_curve(windows)
    best, calls = (curve[-1][0] if curve else 0.0), (curve[-1][1] if curve else 0)
    above = 0  # loci at the scores above the current one
    for t, loci in curve:
        if loci > limit:
            best, calls = next_f32_up(t), above
            break
        above = loci
    return (best if cap is None or best <= cap else None), calls


# ---------------------------------------------------------------------------------------------
# the RNAfold-MFE baseline


def _nice_worker(increment: int) -> None:
    os.nice(increment)


def _fold(seq: str) -> float:
    import RNA  # noqa: PLC0415  (ViennaRNA; imported in the workers only)

    return round(RNA.fold(seq)[1], 2)


def seq_key(seq: str) -> int:
    return int.from_bytes(hashlib.blake2b(seq.encode(), digest_size=8).digest(), "little")


class MfeCache:
    """RNAfold MFE (kcal/mol, 37 degC) per window sequence, kept in DIR/mfe.tsv (key, MFE) and
    appended as folds finish, so an interrupted run loses at most one batch."""

    def __init__(self, folder: str, workers: int, nice: int):
        os.makedirs(folder, exist_ok=True)
        self.path, self.workers, self.nice = os.path.join(folder, "mfe.tsv"), workers, nice
        self.mfe: dict[int, float] = {}
        if os.path.exists(self.path):
            with open(self.path, "rb+") as f:  # drop a line cut short by a kill
                data = f.read()
                f.truncate(data.rfind(b"\n") + 1)
            for line in data[: data.rfind(b"\n") + 1].splitlines():
                key, mfe = line.split(b"\t")
                self.mfe[int(key, 16)] = float(mfe)

    def fold(self, seqs: list[str], what: str) -> None:
        todo = [(k, s) for k, s in {seq_key(s): s for s in seqs}.items() if k not in self.mfe]
        log(f"RNAfold {what}: {len(seqs)} windows, {len(todo)} to fold ({self.workers} workers, "
            f"nice +{self.nice})")
        if not todo:
            return
        start = time.monotonic()
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(self.workers, _nice_worker, (self.nice,)) as pool, open(self.path, "a") as f:
            batch = []
            mfes = pool.imap(_fold, [s for _, s in todo], 64)  # in order, for the cache file
            for n, ((key, _), mfe) in enumerate(zip(todo, mfes), 1):
                self.mfe[key] = mfe
                batch.append(f"{key:016x}\t{mfe:.2f}\n")
                if len(batch) == 4096 or n == len(todo):
                    f.write("".join(batch))
                    f.flush()
                    batch = []
                    rate = n / (time.monotonic() - start)
                    left = (len(todo) - n) / rate / 60
                    log(f"  folded {n}/{len(todo)} ({rate:.0f}/s, {left:.1f} min left)")

    def get(self, seq: str) -> float:
        return self.mfe[seq_key(seq)]


def window_seq(records: dict[str, str], seq_id: str, start: int, end: int, strand: str) -> str:
    """The window as the model saw it: upper case, RNA, reverse complement on `-`."""
    seq = records[seq_id][start:end].upper().replace("T", "U")
    return seq if strand == "+" else revcomp(seq)


def baseline_stream(model_tsv: str, out_tsv: str, records: dict[str, str], cache: MfeCache,
                    per_nt: bool) -> None:
    """The model stream's windows scored by RNAfold: columns seq_id start end strand mfe score."""
    wins = [(q, int(s), int(e), strand)
            for q, s, e, strand in stream_rows(model_tsv, "seq_id", "start", "end", "strand")]
    seqs = [window_seq(records, *w) for w in wins]
    cache.fold(seqs, os.path.basename(out_tsv))
    import RNA  # noqa: PLC0415

    rule = "-MFE/nt" if per_nt else "-MFE (kcal/mol)"
    with open(out_tsv + ".partial", "w") as f:
        f.write(f"#rnafold-mfe ViennaRNA {RNA.__version__} T=37 score={rule} windows={model_tsv}\n")
        f.write("seq_id\tstart\tend\tstrand\tmfe\tscore\n")
        for (seq_id, s, e, strand), seq in zip(wins, seqs):
            mfe = cache.get(seq)
            score = f32_text(-mfe / len(seq) if per_nt else -mfe) if mfe else "0"
            f.write(f"{seq_id}\t{s}\t{e}\t{strand}\t{mfe:.2f}\t{score}\n")
    os.replace(out_tsv + ".partial", out_tsv)


# ---------------------------------------------------------------------------------------------
# mire2e-eval


def eval_metrics(path: str) -> dict[str, dict[str, str]]:
    """The `all` row of each run in a metrics.tsv."""
    with open(path) as f:
        rows = list(csv.DictReader((l for l in f if not l.startswith("#")), delimiter="\t"))
    return {r["run"]: r for r in rows if r["seq_id"] == "all"}


def precision_at_recall(pr_tsv: str, run: str, recall: float) -> str:
    """Precision at the highest threshold whose recall reaches `recall` (every threshold kept)."""
    with open(pr_tsv) as f:
        for r in csv.DictReader((l for l in f if not l.startswith("#")), delimiter="\t"):
            if r["run"] == run and float(r["recall"]) >= recall:
                return f"{float(r['precision']):.6g}"
    return "NA"


class Rows:
    """summary.tsv rows: test, metric, value, baseline (empty where the baseline has no figure)."""

    def __init__(self):
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, test: str, metric: str, value, baseline="") -> None:
        self.rows.append((test, metric, str(value), "" if baseline is None else str(baseline)))


def evaluate(r: Runner, report: str, streams: list[tuple[str, str]], truth: str, threshold: float,
             plots: str = "svg,png") -> dict[str, dict[str, str]]:
    """mire2e-eval on the runs (path, label) at one threshold, every curve point kept."""
    args = ["--truth", truth, "--threshold", f32_text(threshold), "--report", report,
            "--curve-points", "0", "--plots", plots, "-o", report + ".metrics.tsv"]
    for path, label in streams:
        args += ["-s", path, "-l", label]
    r.run("mire2e-eval", *args)
    return eval_metrics(os.path.join(report, "metrics.tsv"))


# ---------------------------------------------------------------------------------------------
# the tests


def calibration_stretch(data: str, bases: int, out: str) -> tuple[str, int, str, dict[str, str]]:
    """The held-out negative stretch as one FASTA in OUT: every DATA/calibration/*.fa, or with
    `bases` their first bases in proportion to their sizes (a cut record is kept if >= 100 nt).
    Returns (path, bases, description, record -> part)."""
    folder = os.path.join(data, "calibration")
    files = sorted(f for f in os.listdir(folder) if f.endswith((".fa", ".fa.gz")))
    parts = [(f, read_fasta(os.path.join(folder, f))) for f in files]
    total = sum(len(s) for _, recs in parts for _, s in recs)
    records, desc, part_of = [], [], {}
    for name, recs in parts:
        size = sum(len(s) for _, s in recs)
        budget = round(bases * size / total) if bases else size
        taken = 0
        for header, full in recs:
            seq = full[: budget - taken]
            if len(seq) < min(len(full), WINDOW):  # a cut too short for one window
                break
            records.append((header.split()[0], seq))
            part_of[header.split()[0]] = name
            taken += len(seq)
            if taken >= budget:
                break
        desc.append(f"{name} ({taken:,} of {size:,} bp)" if bases else f"{name} ({size:,} bp)")
    path = os.path.join(out, f"calibration_{bases or 'all'}.fa")
    write_fasta(path, records)
    scanned = sum(len(s) for _, s in records)
    return path, scanned, " + ".join(desc), part_of


def loci_check(r: Runner, scan_bed: str | None, mine: str) -> None:
    """The loci counted here must be the scan's own BED, line for line (less the decoy q-values
    that a scan with --decoy appends to the names)."""
    if scan_bed and os.path.exists(scan_bed):
        with open(scan_bed) as a, open(mine) as b:
            if re.sub(r"\|q=[0-9.]+\t", "\t", a.read()) != b.read():
                sys.exit(f"evaluate.py: {mine} differs from the scan's {scan_bed}")
        r.note(f"{mine} = {scan_bed}")


def test_calibration(ctx, rows: Rows) -> dict:
    """Scan the held-out negative stretch, fit the thresholds, count calls at the operating one."""
    a, p, test = ctx.args, ctx.p, ctx.name("calibration")
    fasta, bases, desc, part_of = calibration_stretch(a.data, a.calibration_bases, a.out)
    tsv = p(f"calibration_{a.calibration_bases or 'all'}.tsv")
    scan_bed = ctx.r.scan(fasta, ctx.bundle, tsv, ctx.thr_text)
    wins = windows_of(tsv)
    fit, calls = fit_threshold(wins, bases)
    mb = bases / 1e6
    basis = (f"lowest score at which the held-out negative stretch of the v2 data build ({desc}; "
             f"{bases:,} bp, both strands, in no training or validation set), and every higher "
             f"score, gets <= 1 call per Mb (merged loci as `mire2e scan --bed` writes): {calls} "
             f"calls; models/evaluate.py")
    record = {"value": fit, "value_text": None if fit is None else f32_text(fit), "basis": basis,
              "stretch": desc, "bases_scanned": bases, "windows": len(wins), "calls": calls,
              "calls_per_Mb": calls / mb, "expected_false_calls_3Gb": calls / mb * GENOME_MB,
              "caveat": "expected false calls in a 3 Gb genome = calls per Mb x 3000; human DNA is "
                        "not E. coli or fly, so this is a guide, not a measurement",
              "model": ctx.label, "quick": a.quick}
    with open(p("threshold.json"), "w") as f:
        json.dump(record, f, indent=1)
    log(f"threshold fit: {record['value_text']} ({calls} calls in {bases:,} bp); bundle with: "
        f"mire2e bundle ... --threshold {record['value_text']} --threshold-basis '<threshold.json basis>'")
    if fit is None:
        log("WARNING: no threshold in [0, 1] gets <= 1 call per Mb")
    ctx.fitted = fit
    base = {}
    if ctx.cache:
        records = dict(read_fasta(fasta))
        btsv = p(f"calibration_{a.calibration_bases or 'all'}.{BASELINE}.tsv")
        baseline_stream(tsv, btsv, records, ctx.cache, ctx.per_nt)
        bwins = windows_of(btsv)
        bfit, bcalls = fit_threshold(bwins, bases, cap=None)
        ctx.baseline_thr = bfit
        base = {"fit": f32_text(bfit) if bfit is not None else "NA", "calls": bcalls, "wins": bwins}
    rows.add(test, "stretch", desc)
    rows.add(test, "bases_scanned", bases, bases if base else "")
    rows.add(test, "windows", len(wins), len(wins) if base else "")
    rows.add(test, "threshold_fit_<=1_call_per_Mb", record["value_text"], base.get("fit"))
    rows.add(test, "calls_at_threshold_fit", calls, base.get("calls"))
    rows.add(test, "calls_per_Mb_at_threshold_fit", f"{calls / mb:.4g}",
             f"{base['calls'] / mb:.4g}" if base else "")
    rows.add(test, "expected_false_calls_3Gb_at_threshold_fit", f"{calls / mb * GENOME_MB:.4g}",
             f"{base['calls'] / mb * GENOME_MB:.4g}" if base else "")
    return {"wins": wins, "bases": bases, "scan_bed": scan_bed, "part_of": part_of, "tsv": tsv,
            "base": base}


def calibration_at_operating(ctx, rows: Rows, cal: dict) -> None:
    """Calls on the stretch at the operating threshold (known only after the fit, if it is the fit)."""
    test, mb = ctx.name("calibration"), cal["bases"] / 1e6
    loci = merge_loci(cal["wins"], ctx.thr)
    bed = cal["tsv"][:-4] + f".loci_t{ctx.thr_text}.bed"
    write_loci_bed(bed, loci)
    loci_check(ctx.r, cal["scan_bed"], bed)
    rows.add(test, "operating_threshold", ctx.thr_text, ctx.baseline_text())
    bcalls = ""
    if cal["base"] and ctx.baseline_thr is not None:
        bcalls = len(merge_loci(cal["base"]["wins"], ctx.baseline_thr))
    rows.add(test, "calls_at_operating_threshold", len(loci), bcalls)
    rows.add(test, "calls_per_Mb_at_operating_threshold", f"{len(loci) / mb:.4g}",
             f"{bcalls / mb:.4g}" if bcalls != "" else "")
    rows.add(test, "expected_false_calls_3Gb_at_operating_threshold",
             f"{len(loci) / mb * GENOME_MB:.4g}", f"{bcalls / mb * GENOME_MB:.4g}" if bcalls != "" else "")
    per_part = defaultdict(int)
    for locus in loci:
        per_part[cal["part_of"][locus[0]]] += 1
    for part in sorted(set(cal["part_of"].values())):
        rows.add(test, f"calls_at_operating_threshold_in_{part}", per_part[part])


def ba_piece(ctx) -> tuple[str, str, dict[str, str]]:
    """BA000025.2 whole, or its first --ba-bases (quick), and the truth BED of the loci inside it."""
    mhc = os.path.join(ctx.args.shared, "data", "human_mhc")
    fasta = os.path.join(mhc, "BA000025.2.fa")
    (name, seq), = read_fasta(fasta)
    name = name.split()[0]
    if ctx.args.ba_bases:
        seq = seq[: ctx.args.ba_bases]
        fasta = ctx.p(f"BA000025.2_first{ctx.args.ba_bases}.fa")
        write_fasta(fasta, [(name, seq)])
    truth = ctx.p("ba_truth.bed")
    with open(os.path.join(mhc, "hsa_miRBase_v22_hairpins_in_region.bed")) as f, open(truth, "w") as o:
        for line in f:
            x = line.split("\t")
            if x[0] == name and int(x[2]) <= len(seq):
                o.write(line)
    return fasta, truth, {name: seq}


def test_genome_scan(ctx, rows: Rows) -> dict:
    """BA000025.2 against its known pre-miRNAs: the paper's Table-2 row, beside the baseline."""
    test = ctx.name("genome_scan_BA000025.2")
    fasta, truth, records = ba_piece(ctx)
    suffix = f"_first{ctx.args.ba_bases}" if ctx.args.ba_bases else ""
    tsv = ctx.p(f"ba{suffix}.tsv")
    # what a user gets from the same scan: GFF3, a decoy FDR (a fifth of the record, seeded) and
    # the HTML report
    extra = ("--gff3", ctx.p(f"ba{suffix}.loci.gff3"), "--decoy", "0.2",
             "--report", ctx.p(f"ba{suffix}.report"))
    scan_bed = ctx.r.scan(fasta, ctx.bundle, tsv, ctx.thr_text, extra)
    wins = windows_of(tsv)
    loci = merge_loci(wins, ctx.thr)
    write_loci_bed(tsv[:-4] + f".loci_t{ctx.thr_text}.bed", loci)
    loci_check(ctx.r, scan_bed, tsv[:-4] + f".loci_t{ctx.thr_text}.bed")
    streams = [(tsv, ctx.label)]
    btsv = None
    if ctx.cache:
        btsv = ctx.p(f"ba{suffix}.{BASELINE}.tsv")
        baseline_stream(tsv, btsv, records, ctx.cache, ctx.per_nt)
        streams.append((btsv, BASELINE))
    m = evaluate(ctx.r, ctx.p("genome_scan"), streams, truth, ctx.thr)
    own = {}
    if btsv and ctx.baseline_thr is not None:  # the baseline at its own calibrated threshold
        own = evaluate(ctx.r, ctx.p(f"genome_scan.{BASELINE}_own_threshold"), [(btsv, BASELINE)],
                       truth, ctx.baseline_thr, plots="none")[BASELINE]
    b = m.get(BASELINE, {})
    rows.add(test, "bases", len(next(iter(records.values()))))
    rows.add(test, "threshold", ctx.thr_text, ctx.baseline_text())
    for key in ("positives", "negatives"):
        rows.add(test, key, m[ctx.label][key], b.get(key, ""))
    for key in ("s+", "p", "F1"):
        rows.add(test, key, m[ctx.label][key], own.get(key, ""))
    for key in ("AUROC", "AP", "AUCPR_trapezoid", "best_threshold", "best_F1"):
        rows.add(test, key, m[ctx.label][key], b.get(key, ""))
    bloci = ""
    if btsv and ctx.baseline_thr is not None:
        bl = merge_loci(windows_of(btsv), ctx.baseline_thr)
        write_loci_bed(btsv[:-4] + f".loci_t{ctx.baseline_text()}.bed", bl)
        bloci = len(bl)
    rows.add(test, "loci_called", len(loci), bloci)
    return {"tsv": tsv, "btsv": btsv, "records": records}


def hairpins_vs_genome(hp_tsv: str, ba_tsv: str, out: str, loci, margin: int) -> tuple[int, int]:
    """One stream: the hairpin stream whole, then the genome rows at least `margin` nt from every
    known locus (rows nearer may hold part of a real precursor). Returns (kept, dropped)."""
    header = stream_header(hp_tsv)
    cols = header.rstrip("\n").split("\t")
    i_start, i_end = cols.index("start"), cols.index("end")
    kept = dropped = 0
    with open(out, "w") as o, open(hp_tsv) as hp, open(ba_tsv) as ba:
        o.writelines(hp)
        for line in ba:
            if line.startswith("#") or line == header:
                continue
            x = line.split("\t")
            s, e = int(x[i_start]), int(x[i_end])
            if any(s < le + margin and ls - margin < e for ls, le in loci):
                dropped += 1
            else:
                o.write(line)
                kept += 1
    return kept, dropped


def hairpin_test(ctx, rows: Rows, key: str, test: str, hairpins, build_copy: str, ba: dict) -> None:
    """Hairpins scanned alone (positive: each one's best `+` window) against the BA000025.2 windows
    at least --margin nt from its known loci (negatives): the paper's future-discovery set-up."""
    test = ctx.name(test)
    write_fasta(ctx.p(f"{key}.fa"), hairpins)
    tsv = ctx.p(f"{key}.tsv")
    ctx.r.scan(ctx.p(f"{key}.fa"), ctx.bundle, tsv, None)
    with open(os.path.join(ctx.args.shared, "data", "human_mhc",
                           "hsa_miRBase_v22_hairpins_in_region.bed")) as f:
        loci = [(int(x[1]), int(x[2])) for x in (l.split("\t") for l in f) if x[0] == "BA000025.2"]
    truth = ctx.p(f"{key}_truth.bed")
    with open(truth, "w") as f:
        for name, seq in hairpins:
            f.write(f"{name}\t0\t{len(seq)}\t{name}\t0\t+\n")
    margin = ctx.args.margin
    kept, dropped = hairpins_vs_genome(tsv, ba["tsv"], ctx.p(f"{key}_vs_ba.tsv"), loci, margin)
    streams = [(ctx.p(f"{key}_vs_ba.tsv"), ctx.label)]
    if ctx.cache:
        records = dict(hairpins) | ba["records"]
        baseline_stream(tsv, ctx.p(f"{key}.{BASELINE}.tsv"), records, ctx.cache, ctx.per_nt)
        hairpins_vs_genome(ctx.p(f"{key}.{BASELINE}.tsv"), ba["btsv"],
                           ctx.p(f"{key}_vs_ba.{BASELINE}.tsv"), loci, margin)
        streams.append((ctx.p(f"{key}_vs_ba.{BASELINE}.tsv"), BASELINE))
    m = evaluate(ctx.r, ctx.p(key), streams, truth, ctx.thr)
    b = m.get(BASELINE, {})
    rows.add(test, "hairpins", len(hairpins))
    rows.add(test, "same_as_data_build_copy", same_as_build(hairpins, build_copy))
    rows.add(test, "negatives_BA000025.2_windows", kept)
    rows.add(test, "windows_dropped_near_known_loci", dropped)
    for k in ("positives", "AP", "AUCPR_trapezoid", "AUROC"):
        rows.add(test, k, m[ctx.label][k], b.get(k, ""))
    pr = os.path.join(ctx.p(key), "pr.tsv")
    rows.add(test, "precision_at_recall_0.2", precision_at_recall(pr, ctx.label, 0.2),
             precision_at_recall(pr, BASELINE, 0.2) if b else "")
    rows.add(test, "s+_at_threshold", m[ctx.label]["s+"])


def test_ecoli(ctx, rows: Rows) -> None:
    """Merged loci at the operating threshold per Mb of E. coli (its first --ecoli-bases)."""
    a, test = ctx.args, ctx.name("ecoli")
    ecoli = os.path.join(a.shared, "data", "ecoli", "NC_008253.fna.gz")
    if a.ecoli_bases:
        (name, seq), = read_fasta(ecoli)[:1]
        ecoli = ctx.p(f"ecoli_first{a.ecoli_bases}.fa")
        write_fasta(ecoli, [(name.split()[0], seq[: a.ecoli_bases])])
    bases = sum(len(s) for _, s in read_fasta(ecoli))
    tsv = ctx.p(f"ecoli_{a.ecoli_bases or 'all'}.tsv")
    scan_bed = ctx.r.scan(ecoli, ctx.bundle, tsv, ctx.thr_text)
    loci = merge_loci(windows_of(tsv), ctx.thr)
    bed = tsv[:-4] + f".loci_t{ctx.thr_text}.bed"
    write_loci_bed(bed, loci)
    loci_check(ctx.r, scan_bed, bed)
    rows.add(test, "bases_scanned", bases)
    rows.add(test, "loci_called", len(loci))
    rows.add(test, "calls_per_Mb", f"{len(loci) / (bases / 1e6):.4g}")


class Context:
    """What every test shares: arguments, runner, bundle, thresholds, the MFE cache."""

    def __init__(self, a):
        self.args, self.r = a, Runner(a.bin_dir, a.out, a.threads)
        self.bundle = resolve_bundle(a.model)
        with open(os.path.join(self.bundle, "manifest.json")) as f:
            manifest = json.load(f)
        self.label = manifest["name"]
        given = a.threshold if a.threshold is not None else bundle_threshold(manifest)
        self.thr = None if given in (None, "fit") else f32(float(given))
        self.thr_source = ("--threshold" if a.threshold not in (None, "fit") else
                           "the bundle's manifest" if self.thr is not None else "the fit")
        self.fitted = self.baseline_thr = None
        self.per_nt = a.baseline_score == "per-nt"
        cache_dir = a.mfe_cache or os.path.join(a.out, "mfe_cache")
        self.cache = None if a.no_baseline else MfeCache(cache_dir, a.workers, a.nice)

    @property
    def thr_text(self) -> str | None:
        return None if self.thr is None else f32_text(self.thr)

    def baseline_text(self) -> str:
        return "" if self.baseline_thr is None else f32_text(self.baseline_thr)

    def p(self, name: str) -> str:
        return os.path.join(self.args.out, name)

    def name(self, test: str) -> str:
        """Quick tests are named QUICK_*, so a quick figure is never taken for the card's."""
        return f"QUICK_{test}" if self.args.quick else test


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--model", default="default", help="bundle name or directory (default: default)")
    ap.add_argument("--threshold",
                    help="operating threshold, or `fit` (default: the bundle's, else the fit)")
    ap.add_argument("--shared", default=default_shared())
    ap.add_argument("--data", default=os.path.join(HERE, "..", "training", "data"),
                    help="v2 data build (its calibration/ and test/ folders; default training/data)")
    ap.add_argument("--out", required=True, help="directory for every intermediate file")
    ap.add_argument("--bin-dir", help="directory of the mire2e binaries (default: PATH)")
    ap.add_argument("--threads", type=int, default=0, help="scan threads (0 = all cores)")
    ap.add_argument("--margin", type=int, default=100,
                    help="hairpin tests: drop BA000025.2 windows closer than this to a known locus")
    ap.add_argument("--ecoli-bases", type=int, default=0,
                    help="scan only the first N bases of E. coli (0 = the whole genome)")
    ap.add_argument("--calibration-bases", type=int, default=0,
                    help="scan only the first N bases of the calibration stretch, taken from its "
                         "files in proportion to their sizes (0 = all, ~6 Mb)")
    ap.add_argument("--ba-bases", type=int, default=0, help=argparse.SUPPRESS)  # set by --quick
    ap.add_argument("--quick", action="store_true",
                    help="test the machinery: BA000025.2's first 300 kb, 200 kb of calibration, "
                         "200 kb of E. coli; every test name starts with QUICK_")
    ap.add_argument("--no-baseline", action="store_true", help="skip the RNAfold-MFE baseline")
    ap.add_argument("--baseline-score", choices=("per-nt", "kcal"), default="per-nt",
                    help="baseline score: -MFE per nt (default) or -MFE in kcal/mol")
    ap.add_argument("--mfe-cache", help="folder of the RNAfold cache (default: OUT/mfe_cache)")
    ap.add_argument("--workers", type=int, default=2, help="RNAfold processes (default 2)")
    ap.add_argument("--nice", type=int, default=10, help="niceness added to RNAfold processes")
    a = ap.parse_args(argv)
    if a.quick:
        a.ba_bases = a.ba_bases or QUICK["ba_bases"]
        a.calibration_bases = a.calibration_bases or QUICK["calibration_bases"]
        a.ecoli_bases = a.ecoli_bases or QUICK["ecoli_bases"]
    if not a.no_baseline and importlib.util.find_spec("RNA") is None:
        log("WARNING: no ViennaRNA module `RNA` in this Python: the RNAfold baseline is skipped "
            "(run with /work/cache/venv/bin/python to have it)")
        a.no_baseline = True
    return a


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    ctx, rows = Context(a), Rows()
    have_calibration = os.path.isdir(os.path.join(a.data, "calibration"))
    if not have_calibration and ctx.thr is None:
        sys.exit(f"evaluate.py: no threshold and no {a.data}/calibration to fit one (give --data)")

    cal = test_calibration(ctx, rows) if have_calibration else None
    if ctx.thr is None:
        if ctx.fitted is None:
            sys.exit("evaluate.py: the fit gives no threshold in [0, 1]; give --threshold")
        ctx.thr = ctx.fitted
    if cal:
        calibration_at_operating(ctx, rows, cal)
    else:
        log(f"WARNING: no {a.data}/calibration: calibration test and threshold fit skipped")
    ba = test_genome_scan(ctx, rows)
    hairpin_test(ctx, rows, "v22_new", "future_discovery_v22_new", v22_new_hairpins(a.shared),
                 os.path.join(a.data, "test", "v22_new_hairpins.fa"), ba)
    hairpin_test(ctx, rows, "heldout50", "heldout50_hsa", heldout50_hairpins(a.shared),
                 os.path.join(a.data, "test", "heldout50_hairpins.fa"), ba)
    test_ecoli(ctx, rows)

    with open(ctx.p("summary.tsv"), "w") as f:
        if a.quick:
            f.write(f"# QUICK RUN, not the model card's figures: BA000025.2 first {a.ba_bases:,} bp, "
                    f"calibration {a.calibration_bases:,} bp, E. coli {a.ecoli_bases:,} bp\n")
        f.write(f"# model={ctx.label} ({ctx.bundle}) operating_threshold={ctx.thr_text} "
                f"(from {ctx.thr_source}) data={os.path.abspath(a.data)}\n")
        if ctx.cache:
            f.write(f"# baseline_rnafold_mfe: score = {'-MFE/nt' if ctx.per_nt else '-MFE'} "
                    f"(ViennaRNA, 37 degC), same windows and truth; figures at a threshold use its "
                    f"own fit on the calibration stretch ({ctx.baseline_text() or 'none'})\n")
        else:
            f.write("# baseline_rnafold_mfe: not computed (--no-baseline, or no ViennaRNA module)\n")
        f.write("test\tmetric\tvalue\tbaseline_rnafold_mfe\n")
        for row in rows.rows:
            f.write("\t".join(row) + "\n")
    with open(ctx.p("summary.tsv")) as f:
        sys.stdout.write(f.read())
    return 0


if __name__ == "__main__":
    sys.exit(main())
