#!/usr/bin/env bash
# Static checks of the Nextflow workflow (Nextflow itself is not run: its launcher downloads a jar).
#   1. groovy: every .nf, .config and .nf.test file parsed by the Groovy compiler (Debian `groovy`),
#      through semantic analysis
#   2. reftrace: every .nf and .config parsed by reftrace's Nextflow parser (PyPI `reftrace`) and
#      linted with tests/reftrace_rules.py
#   3. module structure: meta.yml / environment.yml / main.nf agree (tests/check_modules.py)
#   4. helper scripts: split and gather (tests/helpers.sh; its chunked == whole check runs when the
#      binaries and a model bundle are there)
# Usage: workflows/check.sh [--install]
#   --install  apt-get install groovy (needs root) and pip install reftrace into the tools venv
#              ($MIRE2E_TOOLS_VENV, default ~/.cache/mire2e/tools-venv) when they are missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${MIRE2E_TOOLS_VENV:-$HOME/.cache/mire2e/tools-venv}
install=false
[ "${1:-}" = --install ] && install=true

if ! command -v groovy >/dev/null; then
    if $install; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends groovy >/dev/null
    else
        echo "workflows/check.sh: groovy not found (apt-get install groovy, or run with --install)" >&2; exit 1
    fi
fi
# Debian's groovy launcher wants JAVA_HOME when /usr/lib/jvm/default-java is missing.
if [ -z "${JAVA_HOME:-}" ] || [ ! -x "$JAVA_HOME/bin/java" ]; then
    JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
    export JAVA_HOME
fi
if [ ! -x "$venv/bin/reftrace" ]; then
    if $install; then
        [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
        "$venv/bin/pip" install -q 'reftrace==0.6.0' 'pyyaml>=6'
    else
        echo "workflows/check.sh: reftrace not found in $venv (run with --install)" >&2; exit 1
    fi
fi

cd "$here"
status=0
mapfile -t files < <(find . -path ./.nf-test -prune -o \( -name '*.nf' -o -name '*.config' -o -name '*.nf.test' \) -print | LC_ALL=C sort)
echo "== groovy $(groovy --version 2>/dev/null | sed -n 's/^Groovy Version: \([^ ]*\).*/\1/p'): parse ${#files[@]} files"
groovy -Dphase=SEMANTIC_ANALYSIS tests/parse.groovy "${files[@]}" || status=1
echo "== reftrace $("$venv/bin/reftrace" --version | sed 's/.* //'): parse and lint"
"$venv/bin/reftrace" lint -d . -r tests/reftrace_rules.py || status=1
echo "== module structure"
"$venv/bin/python" tests/check_modules.py . || status=1
echo "== helper scripts"
tests/helpers.sh || status=1
exit $status
