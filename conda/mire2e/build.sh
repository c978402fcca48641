#!/usr/bin/env bash
# Bioconda build of mire2e: every binary of the workspace (CPU only, no CUDA feature), the licences
# of the statically linked crates, and the default model bundle.
set -euo pipefail

# conda-build/rattler-build do not pass HOME on; keep cargo's files inside the work folder.
export CARGO_HOME="${CARGO_HOME:-${SRC_DIR}/.cargo}"
export CARGO_NET_GIT_FETCH_WITH_CLI=true
export CARGO_PROFILE_RELEASE_STRIP=symbols
export CARGO_PROFILE_RELEASE_DEBUG=0

cargo-bundle-licenses --format yaml --output THIRDPARTY.yml
if [ -n "${MIRE2E_PREBUILT_BIN:-}" ]; then
    # conda/check.sh only: package binaries already built by `cargo build --release` (no compiler
    # package can be installed where that check runs). Bioconda never sets this.
    install -d "${PREFIX}/bin"
    for bin in mire2e mire2e-window mire2e-fold mire2e-mfe mire2e-classify mire2e-eval; do
        install -m 0755 "${MIRE2E_PREBUILT_BIN}/${bin}" "${PREFIX}/bin/${bin}"
    done
else
    cargo install --locked --no-track --root "${PREFIX}" --path bins
fi

# The default model bundle: `--model default` finds it beside the binaries.
models="${PREFIX}/share/mire2e/models/default"
install -d "${models}"
install -m 0644 models/default/manifest.json "${models}/"
for f in models/default/*.safetensors; do
    install -m 0644 "${f}" "${models}/"
done
