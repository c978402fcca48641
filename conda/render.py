"""Renders conda/mire2e/recipe.yaml with py-rattler-build (no build, no network) and checks what a
Bioconda reviewer checks by eye. Usage: python render.py [--print] [RECIPE_DIR]
(--print: also print the rendered linux-64 recipe)"""
import re
import sys
from pathlib import Path

import yaml
from rattler_build import PlatformConfig, RenderConfig, Stage0Recipe, VariantConfig

argv = [a for a in sys.argv[1:] if a != "--print"]
show = "--print" in sys.argv[1:]
recipe_dir = Path(argv[0] if argv else Path(__file__).parent / "mire2e").resolve()
repo = recipe_dir.parents[1]
# Bioconda's pinning (conda-forge's) names these compilers; the values only fill the templates.
variants = VariantConfig({
    "rust_compiler": ["rust"],
    "rust_compiler_version": ["1.89"],
    "c_compiler": ["gcc"],
    "c_compiler_version": ["14"],
    "c_stdlib": ["sysroot"],
    "c_stdlib_version": ["2.17"],
})
errors = []
for platform in ("linux-64", "linux-aarch64", "osx-arm64"):
    recipe = Stage0Recipe.from_file(str(recipe_dir / "recipe.yaml"))
    rendered = recipe.render(variants, RenderConfig(platform=PlatformConfig(target_platform=platform, build_platform=platform, host_platform=platform)))
    if len(rendered) != 1:
        errors.append(f"{platform}: {len(rendered)} variants, expected 1")
        continue
    out = rendered[0].recipe.to_dict()
    if show and platform == "linux-64":
        print(yaml.safe_dump(out, sort_keys=False, width=100))
    pkg = out["package"]
    cargo = (repo / "Cargo.toml").read_text()
    version = re.search(r'^\[workspace\.package\][^\[]*?^version\s*=\s*"([^"]+)"', cargo, re.M | re.S).group(1)
    if pkg["name"] != "mire2e" or pkg["version"] != version:
        errors.append(f"{platform}: package {pkg} does not match Cargo.toml's version {version}")
    build_reqs = " ".join(map(str, out["requirements"].get("build", [])))
    for need in ("rust", "gcc", "sysroot", "cargo-bundle-licenses"):
        if need not in build_reqs:
            errors.append(f"{platform}: build requirements lack {need}: {build_reqs}")
    exports = str(out["requirements"].get("run_exports", ""))
    if "mire2e" not in exports:
        errors.append(f"{platform}: no run_exports pin of mire2e")
    if "THIRDPARTY.yml" not in str(out["about"].get("license_file")):
        errors.append(f"{platform}: THIRDPARTY.yml (cargo-bundle-licenses) not in license_file")
    tests = str(out.get("tests", ""))
    for binary in ("mire2e-window", "mire2e-fold", "mire2e-mfe", "mire2e-classify", "mire2e-eval", "mire2e scan"):
        if binary not in tests:
            errors.append(f"{platform}: tests never run {binary}")
    print(f"ok      rendered for {platform}: {pkg['name']} {pkg['version']}")
for f in ("build.sh", "test.fa", "truth.bed"):
    if not (recipe_dir / f).is_file():
        errors.append(f"missing {recipe_dir / f}")
if "doi:10.1093/bioinformatics/btab823" not in (recipe_dir / "recipe.yaml").read_text():
    errors.append("recipe does not cite doi:10.1093/bioinformatics/btab823")
for e in errors:
    print("FAILED ", e)
print(f"recipe render: {0 if errors else 1} passed, {1 if errors else 0} failed")
sys.exit(1 if errors else 0)
