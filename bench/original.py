#!/usr/bin/env python3
"""Runs the original miRe2e 0.17 on a FASTA file, as the golden outputs were made, and prints JSON.

Run it with the venv of bench/setup-original.sh. Modes:
  cascade    MiRe2e.predict(record, length=100, step=20) once per FASTA record (predict() reads
             exactly one record), batch_size 4096 (its default): windowing, encoding and the three
             models, which is what a user of the original waits for. `forward_s` is the part spent
             in MiRe2e.forward (the three models only).
  structure  the Structure model alone on the same windows, encoded beforehand (untimed), in
             batches of 4096: the cost that dominates.
Model loading (the constructor) is timed apart (`load_s`) and excluded from `model_s`.
"""

import argparse
import json
import os
import sys
import tempfile
import time

import torch
from Bio import SeqIO

import miRe2e
from miRe2e.aux import gen_code, get_pe
from miRe2e.data_process import data_load

LENGTH, STEP = 100, 20


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("fasta")
    p.add_argument("--mode", choices=["cascade", "structure"], default="cascade")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--batch-size", type=int, default=4096)
    p.add_argument("--weights", default=os.environ.get("MIRE2E_SHARED", "/work/shared") + "/reference/weights",
                   help="folder with synthetic-structure.pkl, mfe-hsa.pkl, synthetic-predictor.pkl")
    return p.parse_args()


def load(weights):
    # All three files given, so nothing is downloaded (the constructor only fetches missing ones).
    return miRe2e.MiRe2e(
        device="cpu",
        pretrained="hsa",
        structure_model_file=os.path.join(weights, "synthetic-structure.pkl"),
        mfe_model_file=os.path.join(weights, "mfe-hsa.pkl"),
        predictor_model_file=os.path.join(weights, "synthetic-predictor.pkl"),
    )


def split_records(fasta, folder):
    """One file per record: the original's data_load uses SeqIO.read (exactly one record)."""
    paths = []
    for i, rec in enumerate(SeqIO.parse(fasta, "fasta")):
        path = os.path.join(folder, f"record_{i}.fa")
        SeqIO.write(rec, path, "fasta")
        paths.append(path)
    return paths


def run_cascade(model, paths, batch_size):
    forward = model.forward
    spent = [0.0]

    def timed_forward(seq, pe):
        t = time.perf_counter()
        out = forward(seq, pe)
        spent[0] += time.perf_counter() - t
        return out

    model.forward = timed_forward
    windows = 0
    t = time.perf_counter()
    for path in paths:
        s53, s35, _ = model.predict(path, length=LENGTH, step=STEP, batch_size=batch_size, verbose=False)
        windows += len(s53) + len(s35)
    return windows, time.perf_counter() - t, spent[0]


def run_structure(model, paths, batch_size):
    model._eval()
    batches = []
    for path in paths:
        data = data_load(LENGTH, STEP, path)
        for i in range(0, len(data), batch_size):
            chunk = data[i:i + batch_size]
            seq = torch.stack([model.preprocessor(gen_code(r.seq)) for r in chunk]).float()
            pe = get_pe(torch.full((len(chunk),), LENGTH).int(), LENGTH).float()
            batches.append((seq, pe))
    windows = sum(len(s) for s, _ in batches)
    t = time.perf_counter()
    with torch.no_grad():
        for seq, pe in batches:
            model._structure(seq, pe)
    elapsed = time.perf_counter() - t
    return windows, elapsed, elapsed


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    t = time.perf_counter()
    model = load(args.weights)
    load_s = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as folder:
        paths = split_records(args.fasta, folder)
        run = run_cascade if args.mode == "cascade" else run_structure
        windows, model_s, forward_s = run(model, paths, args.batch_size)
    json.dump({
        "tool": "original", "mode": args.mode, "threads": args.threads, "windows": windows,
        "load_s": round(load_s, 4), "model_s": round(model_s, 4), "forward_s": round(forward_s, 4),
        "windows_per_s": round(windows / model_s, 2), "torch": torch.__version__,
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
