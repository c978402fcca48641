#!/usr/bin/env bash
# Checks the Bioconda recipe (conda/mire2e/: recipe.yaml in the v1 format, build.sh).
#   1. render: py-rattler-build renders recipe.yaml for linux-64, linux-aarch64 and osx-arm64 and
#      render.py checks the result (version = Cargo.toml's, compilers, cargo-bundle-licenses,
#      run_exports, licence files, every binary tested). No network, no build.
#   2. with --build: a local-channel package built by rattler-build from the binaries already in
#      target/release (local_build.py), running build.sh and the recipe's tests (the cascade on a
#      two-record FASTA, package contents). Needs cargo-bundle-licenses on PATH or in
#      ~/.cache/mire2e/cargo-tools/bin (cargo install cargo-bundle-licenses) and a model bundle to
#      install as the default: models/default of this checkout, or --models DIR; and patchelf.
# Usage: conda/check.sh [--install] [--build] [--models DIR] [--out DIR]
#   --install  pip install py-rattler-build into the tools venv ($MIRE2E_TOOLS_VENV, default
#              ~/.cache/mire2e/tools-venv) when it is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
venv=${MIRE2E_TOOLS_VENV:-$HOME/.cache/mire2e/tools-venv}
install=false build=false models=$repo/models/default out=${MIRE2E_CONDA_OUT:-$HOME/.cache/mire2e/conda-out}
while [ $# -gt 0 ]; do
    case $1 in
        --install) install=true; shift ;;
        --build) build=true; shift ;;
        --models) models=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "usage: conda/check.sh [--install] [--build] [--models DIR] [--out DIR]" >&2; exit 2 ;;
    esac
done
if ! "$venv/bin/python" -c 'import rattler_build, yaml' 2>/dev/null; then
    if $install; then
        [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
        "$venv/bin/pip" install -q 'py-rattler-build==0.73.0' 'pyyaml>=6'
    else
        echo "conda/check.sh: py-rattler-build not found in $venv (run with --install)" >&2; exit 1
    fi
fi
echo "== py-rattler-build $("$venv/bin/python" -c 'import rattler_build; print(rattler_build.rattler_build_version())'): render"
"$venv/bin/python" "$here/render.py" "$here/mire2e"
$build || exit 0

echo "== local package from target/release"
[ -f "$models/manifest.json" ] || { echo "conda/check.sh: no model bundle at $models (give --models DIR)" >&2; exit 1; }
cbl=$(command -v cargo-bundle-licenses || echo "$HOME/.cache/mire2e/cargo-tools/bin/cargo-bundle-licenses")
[ -x "$cbl" ] || { echo "conda/check.sh: cargo-bundle-licenses not found (cargo install --locked cargo-bundle-licenses)" >&2; exit 1; }
if ! command -v patchelf >/dev/null; then   # rattler-build rewrites the binaries' RPATH with it
    if $install; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends patchelf >/dev/null
    else
        echo "conda/check.sh: patchelf not found (apt-get install patchelf, or run with --install)" >&2; exit 1
    fi
fi
rm -rf "$out"
"$venv/bin/python" "$here/local_build.py" --bin "$repo/target/release" --models "$models" --out "$out" --cargo-bundle-licenses "$cbl"
pkg=$(find "$out" -name 'mire2e-*.conda' | head -n 1)
echo "== package $pkg"
"$venv/bin/python" - "$pkg" "$out" <<'PY'
import sys
from pathlib import Path
from rattler_build import Package

pkg = Package.from_file(sys.argv[1])
print(f"{pkg.name} {pkg.version} {pkg.build_string} ({pkg.subdir}), license {pkg.license}, depends {pkg.depends}")
for f in sorted(pkg.files):
    print("   ", f)
passed = failed = 0
for i in range(pkg.test_count):
    result = pkg.run_test(i, channel=[Path(sys.argv[2]).as_uri()])
    print(f"{'ok     ' if result.success else 'FAILED '} recipe test {i}: {type(pkg.tests[i]).__name__}")
    if not result.success:
        print("\n".join(result.output[-30:]))
    passed += result.success
    failed += not result.success
print(f"package tests: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
if command -v zstd >/dev/null; then
    echo "== licences in the package"
    tmp=$(mktemp -d)
    python3 -m zipfile -e "$pkg" "$tmp"
    zstd -qdc "$tmp"/info-*.tar.zst | tar -t | grep '^info/licenses/' | sed 's/^/    /'
    rm -rf "$tmp"
fi
