#!/usr/bin/env bash
# Lints the Galaxy tools: `planemo lint` (PyPI planemo) at warning level, then checks that every
# file a <test> names is in test-data/ and that @TOOL_VERSION@ is the workspace version (Cargo.toml).
# Usage: galaxy/lint.sh [--install]
#   --install  pip install planemo into the tools venv ($MIRE2E_TOOLS_VENV, default
#              ~/.cache/mire2e/tools-venv) when it is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${MIRE2E_TOOLS_VENV:-$HOME/.cache/mire2e/tools-venv}
if [ ! -x "$venv/bin/planemo" ]; then
    if [ "${1:-}" = --install ]; then
        [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
        "$venv/bin/pip" install -q 'planemo==0.75.47'
    else
        echo "galaxy/lint.sh: planemo not found in $venv (run with --install)" >&2; exit 1
    fi
fi
cd "$here"
status=0
echo "== planemo $("$venv/bin/planemo" --version | sed 's/.* //') lint"
"$venv/bin/planemo" lint --report_level warn --fail_level warn mire2e_*.xml || status=1
echo "== test data and version token"
"$venv/bin/python" - <<'PYEOF' || status=1
import re
import sys
from pathlib import Path
from xml.etree import ElementTree

here = Path(".")
cargo = Path("../Cargo.toml").read_text()
version = re.search(r'^\[workspace\.package\][^\[]*?^version\s*=\s*"([^"]+)"', cargo, re.M | re.S).group(1)
token = ElementTree.parse("macros.xml").getroot().find("token[@name='@TOOL_VERSION@']").text
errors = [] if token == version else [f"macros.xml: @TOOL_VERSION@ {token} != Cargo.toml {version}"]
tools = sorted(here.glob("mire2e_*.xml"))
for tool in tools:
    root = ElementTree.parse(tool).getroot()
    for test in root.iter("test"):
        for el in test.iter():
            if el.tag == "output" and el.get("file"):
                names = [el.get("file")]
            elif el.tag == "param" and re.fullmatch(r"[\w.-]+\.(fa|fasta|tsv|bed|gff3)", el.get("value") or ""):
                names = [el.get("value")]
            else:
                names = []
            for name in names:
                if not (here / "test-data" / name).is_file():
                    errors.append(f"{tool}: test file {name} not in test-data/")
binaries = {"mire2e_" + b for b in ("window", "fold", "mfe", "classify", "eval", "scan")}
missing = binaries - {t.stem for t in tools}
if missing:
    errors.append(f"no tool for {sorted(missing)}")
for e in errors:
    print("FAILED ", e)
print(f"test data and version: {len(tools) - len({e.split(':')[0] for e in errors})} passed, {len({e.split(':')[0] for e in errors})} failed")
sys.exit(1 if errors else 0)
PYEOF
exit $status
