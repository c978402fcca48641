#!/usr/bin/env bash
# Derives examples/mhc_example.fa from the shared data (not shipped in the repository):
# two 5-kb pieces of the human MHC clone BA000025.2 (GenBank), around the known pre-miRNAs
# hsa-mir-6891 (588835-588928, +) and hsa-mir-877 (1357771-1357857, -), 0-based coordinates
# from shared/data/human_mhc/hsa_miRBase_v22_hairpins_in_region.bed.
# Usage: examples/make-example.sh [SHARED_DIR]   (default ../shared beside the repository)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared=${1:-${MIRE2E_SHARED:-$here/../../shared}}
seq=$(tail -n +2 "$shared/data/human_mhc/BA000025.2.fa" | tr -d '\n\r')
{
  for start in 586500 1355000; do
    end=$((start + 5000))
    printf '>BA000025.2_%d_%d BA000025.2 bases %d-%d (1-based)\n' "$start" "$end" "$((start + 1))" "$end"
    printf '%s\n' "${seq:start:5000}" | fold -w 60
  done
} > "$here/mhc_example.fa"
echo "wrote $here/mhc_example.fa" >&2
