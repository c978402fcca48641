#!/usr/bin/env bash
# Creates a Python venv with the original miRe2e 0.17 and CPU PyTorch, for bench/original.py.
# Usage: bench/setup-original.sh [VENV]   (default $MIRE2E_BENCH_VENV or ~/.cache/mire2e/bench-venv)
# Idempotent: an existing venv that already imports everything is left as it is.
# Versions are those the golden outputs were made with (torch 2.15.0 CPU, biopython 1.88, numpy 2.4.6).
set -euo pipefail

venv=${1:-${MIRE2E_BENCH_VENV:-$HOME/.cache/mire2e/bench-venv}}
python=${PYTHON:-python3}

check() {
    "$venv/bin/python" - <<'PY' 2>/dev/null
import torch, numpy, Bio, miRe2e
assert torch.__version__.startswith("2.15.0"), torch.__version__
assert (torch.ones(2) @ torch.ones(2)).item() == 2.0
PY
}

if [ -x "$venv/bin/python" ] && check; then
    echo "bench venv ready: $venv" >&2
    exit 0
fi

"$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
# PyPI has only the CUDA build of torch for Linux x86_64; even on CPU, `import torch` loads
# libtorch_cuda.so, which needs the nvidia-* wheels (checked: with `--no-deps` the import fails on
# libcublasLt). So torch comes with its dependencies: about 5.4 GB in the venv.
"${pip[@]}" torch==2.15.0
"${pip[@]}" numpy==2.4.6 biopython==1.88 tqdm==4.70.1 scikit-learn==1.9.1
# miRe2e's own requirement list is loose (torch, sklearn, tqdm, ...): everything it needs is above.
"${pip[@]}" --no-deps mire2e==0.17

if ! check; then
    echo "setup-original.sh: the venv at $venv does not import torch/miRe2e" >&2
    exit 1
fi
echo "bench venv ready: $venv ($(du -sh "$venv" | cut -f1))" >&2
