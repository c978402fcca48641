#!/usr/bin/env python3
"""Training benchmark (issue 14): samples/s of a training step for each model, on CPU.

For each stage (fold = Structure, mfe = MFE, classify = Classifier) and thread count: ours with
`--engine cpu` (the hand-written engine), ours with `--engine candle` (candle's autograd), and the
original miRe2e 0.17's PyTorch step for the same model (bench/original_train.py, in the venv of
bench/setup-original.sh). Same batch, AdamW with PyTorch's defaults, each stage's loss, train mode.
Python standard library only. See bench/README.md ("Training") for what each figure means.

  bench/setup-original.sh                          # once: the original in a venv
  cargo build --release --workspace                # our binaries in target/release
  python3 bench/train_bench.py --out train.tsv     # --threads 1 2, --runs 3 by default
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True  # importing bench.py must not leave bench/__pycache__ behind
from bench import ROOT, SHARED, VENV  # noqa: E402  (the inference benchmark's paths)

STAGES = ["fold", "mfe", "classify"]
ENGINES = ["cpu", "candle", "original"]
# Training steps per epoch: few where candle's step takes seconds (fold, classify), more where a
# step takes milliseconds (mfe).
DEFAULT_STEPS = {"fold": 1, "mfe": 8, "classify": 2}
LENGTH = 100
# What our trainer says when the CPU engine has no backward pass for a model yet.
NOT_YET = "the CPU engine does not train this model yet"
WEIGHTS = SHARED / "reference/weights"


# ---------------------------------------------------------------- inputs, made at run time

def dot_bracket(rng, n):
    """A random balanced dot-bracket of length n (every '(' closed by a later ')')."""
    out, open_ = [], 0
    for i in range(n):
        left = n - i
        if open_ == left:  # only closing brackets fit in what is left
            c = ")"
        else:
            c = rng.choice(".()" if open_ else ".(")
            if c == "(" and open_ + 1 > left - 1:
                c = "."
        open_ += {"(": 1, ")": -1, ".": 0}[c]
        out.append(c)
    return "".join(out)


def random_rna(rng, n=LENGTH):
    return "".join(rng.choice("ACGU") for _ in range(n))


def write_rnafold(path, n, rng):
    """n RNAfold records (FASTA `>id`, `SEQ`, `STRUCT ( -12.30)`): the fold and mfe input."""
    with open(path, "w") as f:
        for i in range(n):
            mfe = -rng.uniform(5.0, 45.0)
            f.write(f">r{i}\n{random_rna(rng)}\n{dot_bracket(rng, LENGTH)} ({mfe:6.2f})\n")
    return path


def write_fasta(path, n, rng, prefix):
    """n plain FASTA sequences of 100 nt: classifier positives or negatives."""
    with open(path, "w") as f:
        for i in range(n):
            f.write(f">{prefix}{i}\n{random_rna(rng)}\n")
    return path


def make_inputs(folder, args):
    """Training and validation files of each stage, each training set as large as its epoch: mfe
    and classify predict the structure (and MFE) of every sample once before training, which is
    not what is measured, so their sets are kept small."""
    rng = random.Random(args.seed)
    n = {stage: args.batch_size * args.epoch_steps[stage] for stage in STAGES}
    v, half = args.val_limit, lambda k: -(-k // 2)
    return {
        "fold": {"train": write_rnafold(folder / "fold.fa", n["fold"], rng),
                 "val": write_rnafold(folder / "fold.val.fa", v, rng)},
        "mfe": {"train": write_rnafold(folder / "mfe.fa", n["mfe"], rng),
                "val": write_rnafold(folder / "mfe.val.fa", v, rng)},
        "classify": {"pos": write_fasta(folder / "pos.fa", half(n["classify"]), rng, "p"),
                     "neg": write_fasta(folder / "neg.fa", half(n["classify"]), rng, "n"),
                     "val_pos": write_fasta(folder / "pos.val.fa", half(v), rng, "vp"),
                     "val_neg": write_fasta(folder / "neg.val.fa", half(v), rng, "vn")},
        # the batch-512 memory figure: Structure samples with replacement, so a small set will do
        "fold512": {"train": folder / "fold.fa", "val": folder / "fold.val.fa"},
    }


# ---------------------------------------------------------------- running and measuring

def run_child(cmd, env=None):
    """Runs cmd; returns (exit code, peak RSS in MB of that child alone, stdout, stderr). Output
    goes through files, not pipes, so that neither stream can block the child while we wait4."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return proc.returncode, usage.ru_maxrss / 1024, out.read().decode(), err.read().decode()


def cpu_text():
    """The CPU's model name and its fast-bf16 features, from /proc/cpuinfo."""
    first = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
    fields = dict((k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in first.splitlines()))
    flags = set(fields.get("flags", "").split())
    has = lambda f: "yes" if f in flags else "no"  # noqa: E731
    return (f"{fields.get('model name', '?')}, {os.cpu_count()} cores; avx512f {has('avx512f')}, "
            f"avx512_bf16 {has('avx512_bf16')}, amx_bf16 {has('amx_bf16')}, amx_tile {has('amx_tile')}")


def epoch_rates(log):
    """samples/s of each epoch from a train_log.tsv (training steps only, validation excluded)."""
    lines = [line.split("\t") for line in log.read_text().splitlines()]
    head = lines[0]
    col = head.index("samples_per_s") if "samples_per_s" in head else head.index("samples_per_second")
    return [float(row[col]) for row in lines[1:] if row and row[0]]


def measured_rate(rates, warmup, epoch_size):
    """samples/s over the epochs after the warm-up: all their samples over all their seconds."""
    kept = rates[warmup:]
    if not kept:
        sys.exit(f"train_bench: only {len(rates)} epochs logged, {warmup} of them warm-up")
    return len(kept) * epoch_size / sum(epoch_size / r for r in kept)


def ours_command(args, stage, engine, threads, inputs, output, batch, epoch_size, epochs):
    """`mire2e-<stage> train` on the synthetic inputs, AdamW, one short run."""
    files = inputs[stage]
    cmd = [args.bin / f"mire2e-{'fold' if stage == 'fold512' else stage}", "train", "-q",
           "-o", output, "--engine", engine, "-t", str(threads), "--optimizer", "adamw",
           "--batch-size", str(batch), "--epoch-size", str(epoch_size), "--max-epochs", str(epochs),
           "--val-limit", str(args.val_limit), "--seed", str(args.seed)]
    if stage == "classify":
        cmd += ["--pos", files["pos"], "--neg", files["neg"],
                "--val-pos", files["val_pos"], "--val-neg", files["val_neg"]]
    else:
        cmd += ["--train", files["train"], "--val", files["val"]]
    # the input models: reference weights (synthetic Structure, real hsa MFE), as bench.py
    if stage in ("mfe", "classify"):
        cmd += ["--structure", WEIGHTS / "synthetic-structure.safetensors"]
    if stage == "classify":
        cmd += ["--mfe", WEIGHTS / "hsa-mfe.safetensors"]
    return cmd


def run_ours(args, stage, engine, threads, inputs, folder):
    """One run of ours: (samples/s after the warm-up epochs, peak RSS MB), or None when the
    engine does not train this model yet."""
    epoch_size = args.batch_size * args.epoch_steps[stage]
    output = Path(tempfile.mkdtemp(prefix=f"{stage}-{engine}-t{threads}-", dir=folder)) / "model.safetensors"
    epochs = args.warmup_epochs + args.epochs
    code, rss, _, err = run_child(ours_command(args, stage, engine, threads, inputs, output,
                                               args.batch_size, epoch_size, epochs))
    if code != 0 and NOT_YET in err:
        return None
    if code != 0:
        sys.exit(f"train_bench: mire2e-{stage} train --engine {engine} failed ({code}):\n{err[-3000:]}")
    rates = epoch_rates(Path(f"{output}.ckpt") / "train_log.tsv")
    return measured_rate(rates, args.warmup_epochs, epoch_size), rss


def run_original(args, stage, threads):
    """One run of bench/original_train.py: the same steps as ours' warm-up and measured epochs."""
    steps = args.epoch_steps[stage]
    cmd = [args.venv / "bin/python", ROOT / "bench/original_train.py", "--stage", stage,
           "--threads", str(threads), "--batch-size", str(args.batch_size), "--seed", str(args.seed),
           "--warmup", str(args.warmup_epochs * steps), "--steps", str(args.epochs * steps)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONWARNINGS="ignore")
    code, rss, out, err = run_child(cmd, env=env)
    if code != 0:
        sys.exit(f"train_bench: original_train.py --stage {stage} failed ({code}):\n{err[-3000:]}")
    result = json.loads(out)
    return result["samples_per_second"], rss, result


# ---------------------------------------------------------------- the benchmark

def measure_cell(args, stage, threads, inputs, folder, notes):
    """All engines for one (stage, threads), runs interleaved (engine after engine within a run)
    so that a change of load on a shared machine hits every engine alike."""
    cells = {e: {"rates": [], "rss": [], "na": False} for e in args.engines}
    for run in range(args.runs):
        for engine in args.engines:
            cell = cells[engine]
            if cell["na"]:
                continue
            extra = ""
            if engine == "original":
                rate, rss, result = run_original(args, stage, threads)
                notes["torch"] = result["torch"]
                extra = f" (after import torch: {result['rss_after_import_mb']:.0f} MB)"
            else:
                got = run_ours(args, stage, engine, threads, inputs, folder)
                if got is None:
                    cell["na"] = True
                    print(f"  {stage:8} -t {threads} {engine:8}: n/a ({NOT_YET})", file=sys.stderr, flush=True)
                    continue
                rate, rss = got
            cell["rates"].append(rate)
            cell["rss"].append(rss)
            print(f"  {stage:8} -t {threads} {engine:8} run {run + 1}: {rate:9.1f} samples/s, "
                  f"peak RSS {rss:7.1f} MB{extra}", file=sys.stderr, flush=True)
    return {e: summarise(c) for e, c in cells.items()}


def summarise(cell):
    """Median, min, max of samples/s and the largest peak RSS; None when n/a."""
    if cell["na"] or not cell["rates"]:
        return None
    r = cell["rates"]
    return {"median": statistics.median(r), "min": min(r), "max": max(r), "rss": max(cell["rss"]),
            "rss_runs": cell["rss"]}


def batch512_figure(args, inputs, folder):
    """Peak RSS of one Structure step with --batch-size 512 (default micro-batch 32), CPU engine."""
    threads = max(args.threads)
    output = Path(tempfile.mkdtemp(prefix="fold512-", dir=folder)) / "model.safetensors"
    cmd = ours_command(args, "fold512", "cpu", threads, inputs, output, 512, 512, 1)
    code, rss, _, err = run_child(cmd)
    if code != 0:
        sys.exit(f"train_bench: the batch-512 Structure run failed ({code}):\n{err[-3000:]}")
    rate = epoch_rates(Path(f"{output}.ckpt") / "train_log.tsv")[-1]
    print(f"  fold --batch-size 512 -t {threads} cpu: {rate:9.1f} samples/s, peak RSS {rss:7.1f} MB",
          file=sys.stderr, flush=True)
    return {"threads": threads, "rate": rate, "rss": rss}


# ---------------------------------------------------------------- report

def fmt_cell(s):
    if s is None:
        return "n/a"
    return f"{s['median']:.1f} ({s['min']:.1f}-{s['max']:.1f})"


def ratio(cells, a, b):
    """Median of engine a over median of engine b, or None when either is missing."""
    x, y = cells.get(a), cells.get(b)
    return x["median"] / y["median"] if x and y else None


def table_rows(results, engines):
    """Printed rows: stage, threads, median (min-max) per engine, the two ratios, peak RSS."""
    head = ["stage", "-t", *[f"{e} samples/s" for e in engines], "cpu/candle", "cpu/original",
            "peak RSS MB (" + "/".join(engines) + ")"]
    rows = []
    for (stage, threads), cells in results:
        r1, r2 = ratio(cells, "cpu", "candle"), ratio(cells, "cpu", "original")
        rss = "/".join(f"{cells[e]['rss']:.0f}" if cells[e] else "n/a" for e in engines)
        rows.append([stage, threads, *[fmt_cell(cells[e]) for e in engines],
                     f"{r1:.2f}x" if r1 else "n/a", f"{r2:.2f}x" if r2 else "n/a", rss])
    return head, rows


def print_table(head, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    for line in [head, *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip())


def write_tsv(path, results, engines, big):
    """One line per (stage, threads), every engine's figures side by side; then the batch-512 line."""
    head = ["stage", "threads"]
    for e in engines:
        head += [f"{e}_median", f"{e}_min", f"{e}_max", f"{e}_peak_rss_mb", f"{e}_rss_runs_mb"]
    head += ["cpu_over_candle", "cpu_over_original"]
    lines = []
    for (stage, threads), cells in results:
        line = [stage, threads]
        for e in engines:
            s = cells[e]
            line += ([f"{s['median']:.2f}", f"{s['min']:.2f}", f"{s['max']:.2f}", f"{s['rss']:.0f}",
                      ",".join(f"{x:.0f}" for x in s["rss_runs"])] if s else ["n/a"] * 5)
        line += [f"{r:.3f}" if r else "n/a" for r in (ratio(cells, "cpu", "candle"), ratio(cells, "cpu", "original"))]
        lines.append(line)
    if big:
        line = ["fold-batch512-one-step", big["threads"]]
        for e in engines:
            line += ([f"{big['rate']:.2f}", "", "", f"{big['rss']:.0f}", f"{big['rss']:.0f}"] if e == "cpu" else [""] * 5)
        lines.append(line + ["", ""])
    with open(path, "w") as f:
        for line in [head, *lines]:
            f.write("\t".join(map(str, line)) + "\n")


def git_commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip() or "?"
    except OSError:
        return "?"


def parse_steps(text):
    """'fold=1,mfe=8,classify=2' -> {stage: steps per epoch}."""
    steps = dict(DEFAULT_STEPS)
    for part in filter(None, text.split(",")):
        stage, _, n = part.partition("=")
        if stage not in steps or not n.isdigit() or int(n) < 1:
            raise argparse.ArgumentTypeError(f"bad --epoch-steps entry {part!r} (STAGE=N, STAGE in {STAGES})")
        steps[stage] = int(n)
    return steps


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--stages", nargs="+", choices=STAGES, default=STAGES)
    p.add_argument("--engines", nargs="+", choices=ENGINES, default=ENGINES,
                   help="ours --engine cpu, ours --engine candle, the original's PyTorch step")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epoch-steps", type=parse_steps, default=dict(DEFAULT_STEPS),
                   help="training steps per epoch, e.g. fold=1,mfe=8,classify=2 (the default)")
    p.add_argument("--warmup-epochs", type=int, default=1, help="epochs run but not counted")
    p.add_argument("--epochs", type=int, default=2, help="epochs counted, after the warm-up")
    p.add_argument("--val-limit", type=int, default=32, help="validation samples (validation is not timed)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--skip-batch512", action="store_true", help="no batch-512 Structure memory figure")
    p.add_argument("--bin", type=Path, default=ROOT / "target/release", help="folder of our binaries")
    p.add_argument("--venv", type=Path, default=VENV, help="venv of bench/setup-original.sh")
    p.add_argument("--out", type=Path, help="also write the results as TSV")
    return p.parse_args()


def main():
    args = parse_args()
    engines = args.engines = [e for e in ENGINES if e in args.engines]  # fixed order, as the columns
    print(f"load average at start: {Path('/proc/loadavg').read_text().strip()}")
    print(f"cpu: {cpu_text()}")
    print(f"ours: {args.bin} (commit {git_commit()}); original: {args.venv}")
    print(f"batch {args.batch_size}, AdamW (lr 1e-3, betas 0.9/0.999, eps 1e-8, wd 0.01), train mode; "
          f"steps per epoch {args.epoch_steps}; {args.warmup_epochs} warm-up + {args.epochs} counted epochs; "
          f"{args.runs} runs")
    notes, results, big = {}, [], None
    with tempfile.TemporaryDirectory(prefix="mire2e-train-bench-") as tmp:
        tmp = Path(tmp)
        inputs = make_inputs(tmp, args)
        for stage in args.stages:
            for threads in args.threads:
                results.append(((stage, threads), measure_cell(args, stage, threads, inputs, tmp, notes)))
        if not args.skip_batch512 and "cpu" in engines and "fold" in args.stages:
            big = batch512_figure(args, inputs, tmp)
    if "torch" in notes:
        print(f"original: torch {notes['torch']}")
    print("samples/s: median (min-max) over the runs, training steps only (validation and input "
          "preparation excluded); peak RSS: the largest of the runs")
    print("losses: fold masked MSE (ours) / MSE (original); mfe MSE; classify focal loss gamma 4 "
          "(ours: on log_softmax of the logits; original: its FocalLoss, BCEWithLogits on the softmax outputs)")
    head, rows = table_rows(results, engines)
    print_table(head, rows)
    if big:
        print(f"Structure --batch-size 512 (micro-batch 32), one step, --engine cpu -t {big['threads']}: "
              f"peak RSS {big['rss']:.0f} MB ({big['rate']:.1f} samples/s, warm-up included)")
    print(f"load average at end: {Path('/proc/loadavg').read_text().strip()}")
    if args.out:
        write_tsv(args.out, results, engines, big)


if __name__ == "__main__":
    main()
