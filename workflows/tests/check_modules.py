"""Checks what the parsers do not: each mire2e module has main.nf, meta.yml and environment.yml;
meta.yml names the same inputs and emit: channels as main.nf; every module has a stub: block, a
`when:` block and emits its version on the `versions` topic; environment.yml pins bioconda::mire2e
at the workspace version (Cargo.toml). Usage: python check_modules.py WORKFLOWS_DIR"""
import re
import sys
from pathlib import Path

import yaml

root = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
cargo = (root.parent / "Cargo.toml").read_text()
version = re.search(r'^\[workspace\.package\][^\[]*?^version\s*=\s*"([^"]+)"', cargo, re.M | re.S).group(1)
errors, checked = [], 0
for main in sorted(root.glob("modules/local/mire2e/*/main.nf")):
    d = main.parent
    checked += 1
    text = main.read_text()
    for need in ("stub:", "when:", "topic: versions", "emit: versions_mire2e", "tag \"${meta.id}\""):
        if need not in text:
            errors.append(f"{main}: no `{need}`")
    emits = re.findall(r"emit:\s*(\w+)", text)
    meta_path = d / "meta.yml"
    if not meta_path.is_file():
        errors.append(f"{d}: no meta.yml")
        continue
    meta = yaml.safe_load(meta_path.read_text())
    if meta.get("name") != f"mire2e_{d.name}":
        errors.append(f"{meta_path}: name should be mire2e_{d.name}")
    outs = list(meta.get("output", {}).keys())
    if sorted(outs) != sorted(emits):
        errors.append(f"{meta_path}: outputs {outs} != main.nf emits {emits}")
    in_block = re.search(r"\n    input:\n(.*?)\n\n    output:", text, re.S).group(1)
    in_names = re.findall(r"(?:val|path)\((\w+)", in_block) + re.findall(r"^\s*path (\w+)", in_block, re.M)
    meta_in = []
    for item in meta.get("input", []):
        for entry in (item if isinstance(item, list) else [item]):
            meta_in += list(entry.keys())
    if sorted(meta_in) != sorted(set(in_names)):
        errors.append(f"{meta_path}: inputs {meta_in} != main.nf inputs {in_names}")
    if "topics" not in meta or "versions" not in meta["topics"]:
        errors.append(f"{meta_path}: no topics: versions")
    env = yaml.safe_load((d / "environment.yml").read_text())
    if f"bioconda::mire2e={version}" not in env.get("dependencies", []):
        errors.append(f"{d}/environment.yml: should pin bioconda::mire2e={version}")
    if not (d / "tests" / "main.nf.test").is_file():
        errors.append(f"{d}: no tests/main.nf.test")
failed = {e.split(":")[0].split("/modules/local/mire2e/")[-1].split("/")[0] for e in errors}
for e in errors:
    print("FAILED ", e)
print(f"module structure: {checked - len(failed)} passed, {len(failed)} failed")
sys.exit(1 if errors else 0)
