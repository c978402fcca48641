"""Builds a local-channel conda package of mire2e from binaries already built by cargo, with
rattler-build (py-rattler-build), and runs the recipe's tests on it.

No compiler package can be installed here (the conda channels are out of reach), so the recipe is
built as a copy that differs only where it must: no build requirements, the source is this
checkout, and build.sh is run with MIRE2E_PREBUILT_BIN (copy the binaries instead of
`cargo install`). Everything else -- build.sh's licence bundling and model install, the package
layout, the `tests:` of recipe.yaml (the cascade on a two-record FASTA, package_contents) -- is the
recipe's own.

Usage: python local_build.py --bin DIR --models BUNDLE_DIR --out DIR [--cargo-bundle-licenses EXE]
  --models: the bundle to install as models/default (the checkout's models/default once it exists)
"""
import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import yaml
from rattler_build import Stage0Recipe, ToolConfiguration

ap = argparse.ArgumentParser()
ap.add_argument("--bin", required=True)
ap.add_argument("--models", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--cargo-bundle-licenses", default=shutil.which("cargo-bundle-licenses"))
ap.add_argument("--recipe", default=str(Path(__file__).resolve().parent / "mire2e"), help="recipe folder")
args = ap.parse_args()
here = Path(__file__).resolve().parent
repo = here.parent
binary_dir = Path(args.bin).resolve()
models = Path(args.models).resolve()
out = Path(args.out).resolve()
if not args.cargo_bundle_licenses:
    sys.exit("local_build.py: cargo-bundle-licenses not found (cargo install cargo-bundle-licenses)")
cbl = Path(args.cargo_bundle_licenses).resolve()
cargo = shutil.which("cargo")

recipe_dir = Path(args.recipe).resolve()
recipe = yaml.safe_load((recipe_dir / "recipe.yaml").read_text())
recipe["source"] = [
    {"path": str(repo), "use_gitignore": True},
    {"path": str(models), "target_directory": "models/default"},
]
recipe["requirements"] = {k: v for k, v in recipe["requirements"].items() if k != "build"}
recipe["build"]["script"] = {
    "env": {
        "MIRE2E_PREBUILT_BIN": str(binary_dir),
        # cargo-bundle-licenses reads `cargo metadata`; use the machine's cargo and its crate cache.
        "PATH": f"{cbl.parent}:{Path(cargo).parent}:/usr/bin:/bin",
        "CARGO_HOME": os.environ.get("CARGO_HOME", str(Path.home() / ".cargo")),
        "RUSTUP_HOME": os.environ.get("RUSTUP_HOME", str(Path.home() / ".rustup")),
    },
    "content": "bash \"$RECIPE_DIR/build.sh\"",
}
work = Path(tempfile.mkdtemp(prefix="mire2e-recipe-"))
try:
    for f in ("build.sh", "test.fa", "truth.bed"):
        shutil.copy(recipe_dir / f, work / f)
    (work / "recipe.yaml").write_text(yaml.safe_dump(recipe, sort_keys=False))
    out.mkdir(parents=True, exist_ok=True)
    results = Stage0Recipe.from_file(str(work / "recipe.yaml")).run_build(
        tool_config=ToolConfiguration(test_strategy="native", keep_build=True),
        output_dir=str(out),
        channels=[out.as_uri()],
        no_build_id=True,
    )
    for r in results:
        for p in r.packages:
            print(f"built   {p}")
finally:
    shutil.rmtree(work, ignore_errors=True)
