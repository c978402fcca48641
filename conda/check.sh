#!/usr/bin/env bash
# Checks the Bioconda recipe (conda/mire2e/: recipe.yaml in the v1 format, build.sh).
#   1. render: py-rattler-build renders recipe.yaml for linux-64, linux-aarch64 and osx-arm64 and
#      render.py checks the result (version = Cargo.toml's, compilers, cargo-bundle-licenses,
#      run_exports, licence files, every binary tested). No network, no build.
#   2. with --build: a local-channel package built by rattler-build from the binaries already in
#      target/release (local_build.py), running build.sh and the recipe's tests (the cascade on a
#      two-record FASTA, package contents). Needs cargo-bundle-licenses on PATH or in
#      ~/.cache/mire2e/cargo-tools/bin (cargo install cargo-bundle-licenses) and a model bundle to
#      install as the default: models/default of this checkout, or --models DIR.
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
rm -rf "$out"
"$venv/bin/python" "$here/local_build.py" --bin "$repo/target/release" --models "$models" --out "$out" --cargo-bundle-licenses "$cbl"
pkg=$(find "$out" -name 'mire2e-*.conda' | head -n 1)
echo "== package $pkg"
"$venv/bin/python" - "$pkg" <<'PYEOF'
import io, json, sys, tarfile, zipfile
import zstandard
with zipfile.ZipFile(sys.argv[1]) as z:
    names = z.namelist()
    pkg = next(n for n in names if n.startswith("pkg-"))
    info = next(n for n in names if n.startswith("info-"))
    def members(name):
        data = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(z.read(name)))
        with tarfile.open(fileobj=data, mode="r|") as t:
            return {m.name: (t.extractfile(m).read() if m.isfile() and m.name.endswith(".json") else None) for m in t}
    files, meta = members(pkg), members(info)
index = json.loads(meta["info/index.json"])
print(f"{index['name']} {index['version']} {index['build']} ({index['subdir']}), depends: {index.get('depends', [])}")
for f in sorted(files):
    print("   ", f)
print("    licences:", sorted(f for f in meta if f.startswith("info/licenses/")))
PYEOF
