#!/usr/bin/env python3
"""Times the original miRe2e 0.17's training step on CPU and prints JSON.

Run it with the venv of bench/setup-original.sh (torch, miRe2e 0.17). The model is the original's
own class (miRe2e.structure.Structure, miRe2e.mfe.MFE, miRe2e.predictor.Predictor), randomly
initialised (the step's cost does not depend on the weights), in train mode. One step is what the
original's fit methods do per batch, with AdamW in place of their SGD (PyTorch defaults, as our
`--optimizer adamw`: lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay 0.01):

  fold      Structure: forward, MSELoss against the dot-bracket target, backward,
            clip_grad_norm_(0.5) (as its fit and as our `mire2e-fold train` default), step.
  mfe       MFE: forward on the sequence and a cached structure prediction, MSELoss, backward, step.
  classify  Predictor: forward on the sequence, cached structure and MFE, the original's FocalLoss
            (alpha 1, gamma 4, BCEWithLogits on the softmax outputs, its double squashing), backward,
            step.

As in the original's fit, the Structure (and MFE) inputs of the MFE and Classifier steps are cached
(computed once) and not part of the step; here they are random tensors of the right shape. Inputs
are made before timing. After `--warmup` steps, `--steps` steps are timed;
samples_per_second = steps x batch / their seconds.
"""

import argparse
import json
import resource
import statistics
import sys
import time

import torch
from torch import nn

from miRe2e.aux import get_pe
from miRe2e.focal_loss import FocalLoss
from miRe2e.mfe import MFE
from miRe2e.predictor import Predictor
from miRe2e.structure import Structure

# Peak RSS once torch and miRe2e are imported: the part of the peak that no model step causes.
RSS_AFTER_IMPORT_MB = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
LENGTH = 100
POOL = 4  # distinct input batches, cycled through the steps


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--stage", choices=["fold", "mfe", "classify"], required=True)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=4, help="timed steps")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args()


def one_hot_sequences(batch):
    """[batch, 100, 4] one-hot of random ACGU (the original's Preprocessor(0) encoding)."""
    codes = torch.randint(0, 4, (batch, LENGTH))
    return nn.functional.one_hot(codes, 4).float()


def structure_targets(batch):
    """[batch, 100] in {-1, 0, +1}: ')' '.' '(' as Preprocessor(1) maps them."""
    return torch.randint(-1, 2, (batch, LENGTH)).float()


def make_batch(stage, batch):
    """(model inputs, target) of one batch."""
    seq = one_hot_sequences(batch)
    if stage == "fold":
        pe = get_pe(torch.full((batch,), LENGTH).int(), LENGTH).float()
        return (seq, pe), structure_targets(batch)
    structure = structure_targets(batch).unsqueeze(-1) * torch.rand(batch, LENGTH, 1)  # a prediction in [-1, 1]
    if stage == "mfe":
        return (seq, structure), torch.rand(batch, 1)  # |MFE| / L
    mfe = torch.rand(batch, 1)
    labels = torch.zeros(batch, 2)
    labels[torch.arange(batch), torch.randint(0, 2, (batch,))] = 1.0  # column 0 = positive
    return (seq, structure, mfe), labels


def make_model(stage):
    """The original's model class and its loss for the stage."""
    if stage == "fold":
        return Structure(device="cpu"), nn.MSELoss()
    if stage == "mfe":
        return MFE(device="cpu"), nn.MSELoss()
    focal = FocalLoss(alpha=1, gamma=4, logits=True, coef=torch.Tensor([1, 1]), device="cpu")
    return Predictor(device="cpu"), focal


def train_step(stage, model, loss_fn, optimizer, inputs, target):
    """One optimiser step as the original's fit loop does it."""
    model.zero_grad()
    prediction = model(*inputs)
    loss = loss_fn(prediction.view(target.shape[0], -1), target.view(target.shape[0], -1))
    loss.backward()
    if stage == "fold":
        nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    optimizer.step()
    return loss.item()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model, loss_fn = make_model(args.stage)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=0.01)
    batches = [make_batch(args.stage, args.batch_size) for _ in range(POOL)]
    for i in range(args.warmup):
        train_step(args.stage, model, loss_fn, optimizer, *batches[i % POOL])
    times = []
    for i in range(args.steps):
        t = time.perf_counter()
        train_step(args.stage, model, loss_fn, optimizer, *batches[i % POOL])
        times.append(time.perf_counter() - t)
    total = sum(times)
    json.dump({
        "tool": "original", "stage": args.stage, "threads": args.threads,
        "batch_size": args.batch_size, "steps": args.steps, "warmup": args.warmup,
        "seconds": round(total, 4), "step_s_median": round(statistics.median(times), 4),
        "step_s_min": round(min(times), 4), "step_s_max": round(max(times), 4),
        "samples_per_second": round(args.steps * args.batch_size / total, 3),
        "parameters": sum(p.numel() for p in model.parameters()),
        "rss_after_import_mb": round(RSS_AFTER_IMPORT_MB, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "torch": torch.__version__,
    }, sys.stdout)
    print()


if __name__ == "__main__":
    main()
