#!/usr/bin/env python3
"""Write the best weights held in a training checkpoint, for a run stopped before its last epoch.

  python3 training/best_from_checkpoint.py RUN.ckpt/checkpoint.safetensors OUT.safetensors

A checkpoint (docs/training.md) holds the current weights under `model/`, the best epoch's under
`best/` and the optimiser state. This copies the `best/` tensors, names and bytes unchanged, into a
weights file like the one `train -o` writes at the end of a run, and writes OUT.json beside it with
the run's state and per-epoch log (train_log.tsv), marked as stopped by hand. Standard library only.
"""

import json
import struct
import sys
from pathlib import Path

STATE_KEY = "mire2e.train.state"


def read(path: Path) -> tuple[dict, bytes]:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def write(path: Path, tensors: dict[str, tuple[str, list[int], bytes]]) -> None:
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        dtype, shape, data = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # safetensors aligns the data to 8 bytes
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main(ckpt: str, out: str) -> int:
    header, data = read(Path(ckpt))
    state = json.loads(header.get("__metadata__", {}).get(STATE_KEY, "null"))
    if state is None:
        sys.exit(f"{ckpt}: not a mire2e training checkpoint")
    best = {}
    for name, info in header.items():
        if name.startswith("best/"):
            lo, hi = info["data_offsets"]
            best[name[len("best/") :]] = (info["dtype"], info["shape"], data[lo:hi])
    if not best:
        sys.exit(f"{ckpt}: no best epoch yet")
    write(Path(out), best)
    log = Path(ckpt).with_name("train_log.tsv")
    rows = [line.rstrip("\n").split("\t") for line in log.open()] if log.exists() else []
    record = {
        "stopped_by_hand": f"after epoch {state['epoch']}; weights of the best epoch from {ckpt}",
        "epochs": state["epoch"],
        "best_epoch": state["best_epoch"],
        "best_metric": state["best_metric"],
        "settings": state["key"],
        "history": [dict(zip(rows[0], r)) for r in rows[1:]] if rows else [],
    }
    Path(out + ".json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"{out}: best epoch {state['best_epoch']} of {state['epoch']} ({state['best_metric']})")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
