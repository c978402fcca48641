#!/usr/bin/env bash
# Regenerates the tool outputs in galaxy/test-data/ with the mire2e binaries, with the same options
# as the tools' tests (galaxy/run-tests.sh then checks that the tools, run by Galaxy, give them).
#   windows.tsv       mire2e window on two_records.fa (compared byte for byte by mire2e_window's test)
#   windows.fold.tsv  mire2e fold on windows.tsv      (input of mire2e_mfe's test)
#   windows.mfe.tsv   mire2e mfe on windows.fold.tsv  (input of mire2e_classify's test)
#   scores.tsv        mire2e scan on two_records.fa    (input of mire2e_eval's tests)
#   metrics.tsv       mire2e eval of scores.tsv against truth.bed (compared by mire2e_eval's test)
# windows.fold.tsv, windows.mfe.tsv and scores.tsv need a model bundle: --model default (MIRE2E_MODELS, the bundle installed beside the
# binaries, or the checkout's models/default). The tests that read them check columns and row
# counts only, so they stay valid whichever bundle made them; remake them when models/default lands.
# Usage: galaxy/make-test-data.sh [BIN_DIR]   (default: target/release of this checkout)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-$here/../target/release}
td=$here/test-data
"$bin/mire2e-window" --length 100 --step 20 --strands both --max-n 1 --skip-masked 1 -q -o "$td/windows.tsv" "$td/two_records.fa"
"$bin/mire2e-fold" --batch-size 256 -t 1 -q -o "$td/windows.fold.tsv" "$td/windows.tsv"
"$bin/mire2e-mfe" --batch-size 256 -t 1 -q -o "$td/windows.mfe.tsv" "$td/windows.fold.tsv"
"$bin/mire2e" scan --batch-size 256 -t 1 -q -o "$td/scores.tsv" "$td/two_records.fa"
# mire2e_eval links its inputs to these names in the job folder (they appear in the metadata).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$td/scores.tsv" "$work/scores_0.tsv"
cp "$td/truth.bed" "$work/truth.bed"
(cd "$work" && "$bin/mire2e-eval" --scores scores_0.tsv --label scores.tsv --truth truth.bed --truth-format bed \
    --rule best --partial exclude --threshold 0.5 -t 1 -q -o "$td/metrics.tsv")
wc -l "$td"/windows*.tsv "$td/scores.tsv" "$td/metrics.tsv"
