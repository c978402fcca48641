#!/usr/bin/env bash
# Tests of the workflow's helper scripts (bin/mire2e-split-windows, bin/mire2e-gather).
#  1. On small hand-made streams: chunking, header blocks, record alignment, BED merging across
#     chunk boundaries (expected outputs written by hand from mire2e's merge rule).
#  2. When the mire2e binaries (target/release or PATH) and a model bundle (--model default: under
#     $MIRE2E_MODELS, or models/default) are there: the workflow's chunked path
#     (split -> fold/mfe/classify per chunk -> gather) gives byte for byte the scores TSV and
#     candidates BED of one run over the whole stream, with --attention window and with
#     batch-compat on record-aligned chunks. Otherwise it says why it is skipped.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
repo=$(cd "$here/.." && pwd)
split=$here/bin/mire2e-split-windows
gather=$here/bin/mire2e-gather
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0 skip=0
ok() { echo "ok      $1"; pass=$((pass + 1)); }
bad() { echo "FAILED  $1"; fail=$((fail + 1)); }
check() { if "${@:2}"; then ok "$1"; else bad "$1"; fi; }

cd "$tmp"
# A stream of 7 rows over two records (r1: 5 rows, r2: 2 rows).
{
    printf '#mire2e-window 0.1.0 length=100\n'
    printf 'seq_id\tstart\tend\tstrand\tseq\n'
    for s in 0 20 40; do printf 'r1\t%d\t%d\t+\tACGU\n' $s $((s + 100)); done
    for s in 0 20; do printf 'r1\t%d\t%d\t-\tACGU\n' $s $((s + 100)); done
    for s in 0 20; do printf 'r2\t%d\t%d\t+\tACGU\n' $s $((s + 100)); done
} > w.tsv
"$split" -n 3 -p a w.tsv
check "split: 7 rows by 3 give 3 chunks" test "$(ls a.chunk*.tsv | wc -l)" -eq 3
check "split: every chunk starts with the header block" \
    bash -c 'for f in a.chunk*.tsv; do [ "$(head -n 2 "$f")" = "$(head -n 2 w.tsv)" ] || exit 1; done'
check "split: rows come back in order" \
    bash -c 'diff <(tail -n +3 w.tsv) <(for f in a.chunk*.tsv; do tail -n +3 "$f"; done)'
"$split" -n 3 -a 4 -p b w.tsv
# With -n 3 -a 4 the first cut waits for r1's row at index 4; r2's rows then join that chunk.
check "split -a 4: cuts at record-aligned rows only" \
    test "$(for f in b.chunk*.tsv; do tail -n +3 "$f" | wc -l; done | tr '\n' ' ')" = "4 3 "
# Tail windows (off the step grid) are not counted: one record, + 0 20 40 50(tail), - the same.
{
    printf '#mire2e-window 0.1.0 length=100 step=20 strands=both tail=true\n'
    printf 'seq_id\tstart\tend\tstrand\tseq\n'
    for t in + -; do for s in 0 20 40 50; do printf 'r\t%d\t%d\t%s\tACGU\n' $s $((s + 100)) $t; done; done
} > tail.tsv
"$split" -n 1 -a 2 -p t tail.tsv
# the original's batches of 2 are (+0 +20) (+40 -0) (-20 -40); a tail may open a chunk of its own
check "split -a 2: tail windows do not count towards the alignment" \
    test "$(for f in t.chunk*.tsv; do tail -n +3 "$f" | cut -f 2,4 | tr -d '\t' | paste -sd ,; done | paste -sd '|')" \
    = "0+,20+|40+,50+,0-|20-,40-|50-"
head -n 2 w.tsv > empty.tsv
"$split" -n 3 -p e empty.tsv
check "split: an empty stream gives one header-only chunk" \
    bash -c '[ "$(ls e.chunk*.tsv)" = e.chunk000001.tsv ] && cmp -s e.chunk000001.tsv empty.tsv'
check "split: refuses a bad -n" bash -c "! '$split' -n 0 w.tsv 2>/dev/null"
check "split: refuses a stream without seq_id" \
    bash -c "! (printf 'a\tb\n1\t2\n' | '$split' -p x - 2>/dev/null)"

# Gather: two scored chunks whose candidate loci meet across the boundary.
h='#m\nseq_id\tstart\tend\tstrand\tscore\n'
printf "$h"'r\t0\t100\t+\t0.6\nr\t20\t120\t+\t0.9\n' > c.chunk000001.scores.tsv
printf "$h"'r\t40\t140\t+\t0.9\nr\t60\t160\t+\t0.2\nr\t0\t100\t-\t0.7\n' > c.chunk000002.scores.tsv
printf 'r\t0\t120\tr:20-120(+)\t900\t+\t20\t120\t0\n' > c.chunk000001.candidates.bed
printf 'r\t40\t140\tr:40-140(+)\t900\t+\t40\t140\t0\nr\t0\t100\tr:0-100(-)\t700\t-\t0\t100\t0\n' > c.chunk000002.candidates.bed
"$gather" -o g.tsv -b g.bed c.chunk000002.scores.tsv c.chunk000001.scores.tsv
check "gather: one header block, rows in chunk-name order" \
    bash -c "diff g.tsv <(printf '$h'; tail -n +3 c.chunk000001.scores.tsv; tail -n +3 c.chunk000002.scores.tsv)"
check "gather: loci merged across the boundary, first best window kept on a tie" \
    bash -c "diff g.bed <(printf 'r\t0\t140\tr:20-120(+)\t900\t+\t20\t120\t0\nr\t0\t100\tr:0-100(-)\t700\t-\t0\t100\t0\n')"
printf '#other\nseq_id\tstart\tend\tstrand\tscore\n' > d.chunk000003.scores.tsv
check "gather: refuses chunks with different header blocks" \
    bash -c "! '$gather' -o x.tsv c.chunk000001.scores.tsv d.chunk000003.scores.tsv 2>/dev/null"
: > e1.candidates.bed
printf "$h" > e1.scores.tsv
"$gather" -o ge.tsv -b ge.bed e1.scores.tsv
check "gather: empty chunk gives header-only scores and an empty BED" \
    bash -c "cmp -s ge.tsv e1.scores.tsv && [ ! -s ge.bed ]"

# The chunked path against one run over the whole stream, with the real binaries.
bin=""
for d in "$repo/target/release" "$(dirname "$(command -v mire2e-classify 2>/dev/null || echo /nonexistent/x)")"; do
    if [ -x "$d/mire2e-window" ] && [ -x "$d/mire2e-fold" ] && [ -x "$d/mire2e-mfe" ] && [ -x "$d/mire2e-classify" ]; then bin=$d; break; fi
done
if [ -z "$bin" ]; then
    echo "skipped chunked == whole: no mire2e-window/-fold/-mfe/-classify binaries (cargo build --release)"; skip=$((skip + 1))
elif ! "$bin/mire2e-fold" -q --help >/dev/null 2>&1 || ! printf '>probe\nACGU\n' | "$bin/mire2e-window" -q - 2>/dev/null | "$bin/mire2e-fold" -q -o /dev/null - 2>/dev/null; then
    echo "skipped chunked == whole: no model bundle for --model default (set MIRE2E_MODELS or add models/default)"; skip=$((skip + 1))
else
    # the example's records end on the step grid; trimmed by 7 nt each ends with a tail window
    awk '/^>/ { if (s != "") print substr(s, 1, length(s) - 7); print; s = ""; next } { s = s $0 }
         END { print substr(s, 1, length(s) - 7) }' "$repo/examples/mhc_example.fa" > tailed.fa
    for fasta in "$repo/examples/mhc_example.fa" tailed.fa; do
    "$bin/mire2e-window" -q "$fasta" | "$bin/mire2e-fold" -q | "$bin/mire2e-mfe" -q -o mfe.tsv
    for mode in window batch-compat; do
        args=(--attention "$mode" --compat-batch 64)
        align=1; [ "$mode" = batch-compat ] && align=64
        "$bin/mire2e-classify" -q "${args[@]}" --bed whole.bed -o whole.tsv mfe.tsv
        rm -f k.chunk*
        "$split" -n 130 -a "$align" -p k mfe.tsv
        for c in k.chunk*.tsv; do
            "$bin/mire2e-classify" -q "${args[@]}" --bed "${c%.tsv}.candidates.bed" -o "${c%.tsv}.scores.tsv" "$c"
        done
        "$gather" -o chunked.tsv -b chunked.bed k.chunk*.scores.tsv
        check "chunked == whole ($(basename "$fasta"), $mode, $(ls k.chunk*.scores.tsv | wc -l) chunks, $(wc -l < whole.bed) loci)" \
            bash -c 'cmp -s chunked.tsv whole.tsv && cmp -s chunked.bed whole.bed'
    done
    done
fi
echo "helpers: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
