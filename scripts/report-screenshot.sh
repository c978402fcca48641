#!/usr/bin/env bash
# Screenshots a scan report (mire2e scan --report DIR) with headless Chromium, to look at it
# without a desktop: scripts/report-screenshot.sh DIR/index.html OUT.png [WIDTH HEIGHT]
# Needs chromium (Debian: apt-get install chromium). The page fetches nothing, so this works offline.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: scripts/report-screenshot.sh REPORT.html OUT.png [WIDTH HEIGHT]" >&2; exit 2; }
page=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=$2 width=${3:-1280} height=${4:-2400}
command -v chromium >/dev/null || { echo "report-screenshot.sh: chromium not found" >&2; exit 1; }
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$width,$height" \
    --screenshot="$out" "file://$page" 2>/dev/null
[ -s "$out" ] || { echo "report-screenshot.sh: no screenshot written" >&2; exit 1; }
echo "$out"
