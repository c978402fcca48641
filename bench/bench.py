#!/usr/bin/env python3
"""Side-by-side benchmark: mire2e (this repository) against the original miRe2e 0.17, on CPU.

Python standard library only. See bench/README.md for what is measured and the caveats.

  bench/setup-original.sh                      # once: the original in a venv
  cargo build --release --workspace            # our binaries in target/release
  python3 bench/bench.py --out bench.tsv       # --threads 1 2, --runs 3 by default
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("MIRE2E_SHARED", ROOT.parent / "shared"))
VENV = Path(os.environ.get("MIRE2E_BENCH_VENV", Path.home() / ".cache/mire2e/bench-venv"))

# Structure model (A) of miRe2e 0.17, from miRe2e/structure.py, encoder.py, resnet.py.
L = 100  # window length = tokens
FEAT = 111  # conv width; the PE adds 111 more
D = 2 * FEAT  # transformer d_model = 222
HEADS = 2
FF = FEAT * 4 * 2  # dim_feedforward = 888
LAYERS = 6
RESNETS = 3  # EncoderStr(4, 111, n_resnets=1, n_blocks=3): 3 ResNets of 2 convs each


def structure_flops_per_window():
    """Multiply-adds x 2 of one 100-nt window through the Structure model (biases, norms,
    activations and softmax are left out: they are O(L*D), under 0.5% of the total)."""
    conv = 2 * L * 3 * (4 * FEAT + RESNETS * 2 * FEAT * FEAT)  # Conv1d k=3: in 4, then 6 x 111->111
    qkv = 2 * L * D * 3 * D  # fused in_proj
    out = 2 * L * D * D  # out_proj
    ffn = 2 * L * 2 * D * FF  # linear1 + linear2
    dh = D // HEADS
    attn = 2 * 2 * HEADS * L * L * dh  # Q K^T and softmax(.) V, per head
    head = 2 * L * (D * 100 + 100 * 10 + 10 * 1)  # hidden2first, first2med, med2tag
    return conv + LAYERS * (qkv + out + ffn + attn) + head


def cpu_peak():
    """fp32 peak of the whole machine and how it was derived: cores x clock x lanes x 2 x ports."""
    info = Path("/proc/cpuinfo").read_text()
    first = info.split("\n\n")[0]
    fields = dict(
        (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in first.splitlines())
    )
    flags = set(fields.get("flags", "").split())
    name = fields.get("model name", "?")
    cores = os.cpu_count() or 1
    # Max clock from lscpu when the hypervisor reports one, else /proc/cpuinfo's current "cpu MHz".
    mhz, clock_src = float(fields.get("cpu MHz", "0")), "/proc/cpuinfo cpu MHz (current, nominal)"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in lscpu.splitlines():
            if line.startswith("CPU max MHz:"):
                mhz, clock_src = float(line.split(":")[1]), "lscpu CPU max MHz (turbo)"
    except OSError:
        pass
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    if "Gold" in name or "Platinum" in name:
        ports, why = 2, "Xeon Gold/Platinum: 2 FMA ports"
    elif lanes == 16 and name.strip() == "Intel(R) Xeon(R) Processor":
        ports, why = 2, "virtualised Xeon with AVX-512 (model hidden): assumed Skylake-SP+ Gold/Platinum, 2 FMA ports"
    else:
        ports, why = 1, "not a Xeon Gold/Platinum: 1 FMA port assumed"
    peak = cores * mhz * 1e6 * lanes * 2 * ports
    text = (f"{name}; {cores} cores x {mhz:.0f} MHz [{clock_src}] x {lanes} fp32 lanes x 2 (FMA) x "
            f"{ports} FMA ports [{why}] = {peak / 1e9:.0f} GFLOP/s")
    return peak, cores, text


# The instruction sets that decide which kernels run (f32 AVX-512/AVX2, bf16 on AMX or AVX512_BF16).
FEATURES = ["avx2", "fma", "avx512f", "avx512bw", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16",
            "amx_int8"]


def cpu_text():
    """The CPU model and which of FEATURES it has, for the output."""
    first = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
    fields = dict(
        (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in first.splitlines())
    )
    flags = set(fields.get("flags", "").split())
    have = [f for f in FEATURES if f in flags]
    lacks = [f for f in FEATURES if f not in flags]
    # family/model/stepping tell hosts apart where a hypervisor hides the model name
    keys = (("family", "cpu family"), ("model", "model"), ("stepping", "stepping"))
    model = " ".join(f"{name} {fields[key]}" for name, key in keys if key in fields)
    return (f"{fields.get('model name', '?')} ({fields.get('vendor_id', '?')} {model}, {os.cpu_count()} "
            f"logical CPUs); has: {' '.join(have) or '-'}; lacks: {' '.join(lacks) or '-'}")


def run_child(cmd, stdin=None, stdout=subprocess.DEVNULL, env=None):
    """Runs cmd; returns (wall seconds, peak RSS in MB, stdout text if piped) for that child alone."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=env)
    out = proc.stdout.read() if stdout == subprocess.PIPE else None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"bench: {' '.join(map(str, cmd))} failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024, out


def make_input(folder, kb):
    """A kb-kilobase piece of the MHC clone AF129756.1 (from 100 kb in): ~100 windows per kb."""
    lines = (SHARED / "data/human_mhc/AF129756.1.fa").read_text().split("\n")
    seq = "".join(lines[1:])
    start = 100_000
    piece = folder / "piece.fa"
    piece.write_text(f">AF129756.1:{start}-{start + kb * 1000}\n{seq[start:start + kb * 1000]}\n")
    return piece


def make_bundle(folder, bins):
    """Our model bundle from the reference weights (synthetic structure/classifier, real hsa MFE),
    the same weights bench/original.py gives the original (models/default would run the same
    FLOPs, but the side by side should hold everything but the code fixed)."""
    w = SHARED / "reference/weights"
    bundle = folder / "reference-hsa"
    run_child([bins / "mire2e", "bundle", bundle, "--name", "reference-hsa",
               "--structure", w / "synthetic-structure.safetensors", "--mfe", w / "hsa-mfe.safetensors",
               "--classifier", w / "synthetic-predictor.safetensors"])
    return bundle, "reference-hsa (synthetic structure + classifier, real hsa MFE), as the original"


def measure(label, make_cmd, windows, runs, threads, stdin_path=None, parse=None, env=None):
    """Runs a command `runs` times; windows/s from wall time, or from the JSON it prints (parse)."""
    rates, rss = [], []
    for _ in range(runs):
        stdin = open(stdin_path, "rb") if stdin_path else None
        wall, mb, out = run_child(make_cmd(), stdin=stdin, env=env,
                                  stdout=subprocess.PIPE if parse else subprocess.DEVNULL)
        if stdin:
            stdin.close()
        rate = parse(out) if parse else windows / wall
        rates.append(rate)
        rss.append(mb)
        print(f"  {label} -t {threads}: {rate:8.1f} windows/s, {mb:7.1f} MB", file=sys.stderr, flush=True)
    return {"label": label, "threads": threads, "median": statistics.median(rates),
            "min": min(rates), "max": max(rates), "rss_mb": max(rss)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--kb", type=int, default=20, help="input size in kb (about 100 windows per kb)")
    p.add_argument("--bin", type=Path, default=ROOT / "target/release", help="folder of our binaries")
    p.add_argument("--venv", type=Path, default=VENV, help="venv of bench/setup-original.sh")
    p.add_argument("--skip-original", action="store_true")
    p.add_argument("--skip-bf16", action="store_true", help="no --precision bf16 lines")
    p.add_argument("--out", type=Path, help="also write the table as TSV")
    args = p.parse_args()

    flops = structure_flops_per_window()
    peak, cores, peak_text = cpu_peak()
    cpu = cpu_text()
    print(f"cpu: {cpu}")
    print(f"load average at start: {Path('/proc/loadavg').read_text().strip()}")
    print(f"machine fp32 peak: {peak_text}")
    print(f"structure model: {flops / 1e9:.4f} GFLOP/window (computed from the architecture)")

    with tempfile.TemporaryDirectory(prefix="mire2e-bench-") as tmp:
        tmp = Path(tmp)
        fasta = make_input(tmp, args.kb)
        bundle, bundle_text = make_bundle(tmp, args.bin)
        print(f"model bundle: {bundle_text}")
        # Pre-made streams, so that each stage is timed on its own input.
        streams = {}
        prev = None
        for stage, out in [("window", "windows.tsv"), ("fold", "folded.tsv"), ("mfe", "mfe.tsv")]:
            cmd = [args.bin / f"mire2e-{stage}", "-q", "-o", tmp / out]
            cmd += [fasta, "--no-tail"] if stage == "window" else [prev, "--model", bundle]
            run_child(cmd)
            streams[stage] = prev = tmp / out
        windows = sum(1 for line in open(streams["window"]) if not line.startswith("#")) - 1
        print(f"input: {args.kb} kb of AF129756.1 -> {windows} windows (both strands, --no-tail)")
        py = args.venv / "bin/python"

        def original(mode, t):
            return lambda: [py, ROOT / "bench/original.py", fasta, "--mode", mode, "--threads", str(t)]

        def rate_from_json(out):
            return json.loads(out)["windows_per_s"]

        rows = []
        for t in args.threads:
            ours = lambda *a: (lambda: [args.bin / a[0], *a[1:], "-q", "-t", str(t), "--model", bundle])
            rows.append(measure("ours scan (cascade)", ours("mire2e", "scan", fasta, "--no-tail"),
                                windows, args.runs, t))
            rows.append(measure("ours scan --prefilter (cascade)",
                                ours("mire2e", "scan", fasta, "--no-tail", "--prefilter"), windows, args.runs, t))
            rows.append(measure("ours mire2e-fold (structure)", ours("mire2e-fold", streams["window"]),
                                windows, args.runs, t))
            if not args.skip_bf16:
                # Opt-in reduced precision (fast with Intel AMX; a warning and f32 speed without).
                bf16 = ["--precision", "bf16"]
                rows.append(measure("ours scan --precision bf16 (cascade)",
                                    ours("mire2e", "scan", fasta, "--no-tail", *bf16), windows, args.runs, t))
                rows.append(measure("ours scan --precision bf16 --prefilter (cascade)",
                                    ours("mire2e", "scan", fasta, "--no-tail", "--prefilter", *bf16),
                                    windows, args.runs, t))
                rows.append(measure("ours mire2e-fold --precision bf16 (structure)",
                                    ours("mire2e-fold", streams["window"], *bf16), windows, args.runs, t))
            rows.append(measure("ours mire2e-mfe", ours("mire2e-mfe", streams["fold"]),
                                windows, args.runs, t))
            rows.append(measure("ours mire2e-classify", ours("mire2e-classify", streams["mfe"]),
                                windows, args.runs, t))
            if not args.skip_original:
                env = dict(os.environ, OMP_NUM_THREADS=str(t), PYTHONWARNINGS="ignore")
                rows.append(measure("original predict (cascade)", original("cascade", t), windows,
                                    args.runs, t, parse=rate_from_json, env=env))
                rows.append(measure("original structure model", original("structure", t), windows,
                                    args.runs, t, parse=rate_from_json, env=env))

    ref = {("cascade", r["threads"]): r["median"] for r in rows if r["label"] == "original predict (cascade)"}
    ref.update({("structure", r["threads"]): r["median"] for r in rows if r["label"] == "original structure model"})
    head = ["what", "threads", "windows_per_s_median", "min", "max", "peak_rss_mb", "ours_over_original",
            "structure_fraction_of_peak"]
    table = []
    for r in rows:
        kind = "structure" if "structure" in r["label"] else "cascade" if "cascade" in r["label"] else None
        ratio = r["median"] / ref[(kind, r["threads"])] if r["label"].startswith("ours") and (kind, r["threads"]) in ref else None
        # Only the structure FLOPs are counted: in the cascade they are ~90% of the work.
        used = r["threads"] / cores * peak
        # Prefiltered windows cost no FLOPs, and bf16 is not measured against the fp32 peak: no
        # fraction of peak for those lines.
        fp32 = "prefilter" not in r["label"] and "bf16" not in r["label"]
        frac = r["median"] * flops / used if kind and fp32 else None
        table.append([r["label"], r["threads"], f"{r['median']:.1f}", f"{r['min']:.1f}", f"{r['max']:.1f}",
                      f"{r['rss_mb']:.0f}", f"{ratio:.2f}" if ratio else "", f"{frac:.3f}" if frac else ""])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *table)]
    for line in [head, *table]:
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths)))
    print("structure_fraction_of_peak: windows/s x GFLOP/window over the peak of the threads used "
          f"(threads/{cores} of the machine)")
    print(f"load average at end: {Path('/proc/loadavg').read_text().strip()}")
    if args.out:
        with open(args.out, "w") as f:
            f.write(f"# cpu: {cpu}\n")
            f.write("\t".join(head) + "\n")
            for line in table:
                f.write("\t".join(map(str, line)) + "\n")


if __name__ == "__main__":
    main()
