//! bf16 products on AVX512-BF16 for CPUs that have it without AMX (AMD Zen 4 and later): each
//! `vdpbf16ps` adds two bf16 products into every f32 lane, twice the work of an f32 FMA.
//!
//! The operands are the AMX path's, packed once: B in tiles whose line r holds, for 16 columns,
//! the pair (B[2r][col], B[2r+1][col]) — one zmm register, the layout `vdpbf16ps` takes — and A
//! converted to lines of 32 k values per row (`amx::with_lines`), so that a pair of A is one
//! broadcast dword. A block of C is [`ROWS`] rows × 32 columns in 16 accumulators. Each output
//! sums its pairs in k order, from its own row of A and B only, so a row does not depend on the
//! others (or on the threads).

use std::arch::x86_64::*;

use super::{Line, Then, TILE_N, TILE_ROWS};

/// C rows per block (divides the 16 rows of an A tile).
const ROWS: usize = 8;

/// 32 bf16 values, as the dot-product instruction takes them.
#[inline(always)]
fn bh(v: __m512i) -> __m512bh {
    // SAFETY: both are 64 bytes of plain data; any bits are a valid value of either.
    unsafe { std::mem::transmute::<__m512i, __m512bh>(v) }
}

/// `dst = A · B` from A's lines and B's tiles (`super::matmul_then` checked the slices; A comes from
/// `amx::with_lines`, B from `PackedB::pack`), each block followed by `then`.
///
/// # Safety
/// The CPU has AVX512F, AVX512BW and AVX512-BF16.
#[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn multiply(
    dst: &mut [f32],
    dst_rs: usize,
    lines: &[Line],
    tiles: &[Line],
    m: usize,
    n: usize,
    chunks: usize,
    then: Then,
) {
    let col_tiles = n.div_ceil(TILE_N);
    let panel = chunks * TILE_ROWS;
    assert!(lines.len() == m.div_ceil(TILE_ROWS) * panel && tiles.len() == col_tiles * panel);
    let mut block = [0f32; ROWS * 2 * TILE_N];
    for i0 in (0..m).step_by(ROWS) {
        let rows = (m - i0).min(ROWS);
        // row i0 + q, chunk c is line (i0/16·chunks + c)·16 + i0%16 + q (rows past m are zeros)
        let a_first = i0 / TILE_ROWS * panel + i0 % TILE_ROWS;
        for j in (0..col_tiles).step_by(2) {
            // the second column tile, or the first again (computed, never written out)
            let j1 = if j + 1 < col_tiles { j + 1 } else { j };
            let cols = (n - j * TILE_N).min(2 * TILE_N);
            let mut acc = [_mm512_setzero_ps(); 2 * ROWS];
            for c in 0..chunks {
                let a = &lines[a_first + c * TILE_ROWS..][..ROWS];
                let b0 = &tiles[(j * chunks + c) * TILE_ROWS..][..TILE_ROWS];
                let b1 = &tiles[(j1 * chunks + c) * TILE_ROWS..][..TILE_ROWS];
                for r in 0..TILE_ROWS {
                    // SAFETY: each line is 64 bytes aligned to 64.
                    let (vb0, vb1) = unsafe {
                        (
                            bh(_mm512_load_si512(b0[r].0.as_ptr().cast())),
                            bh(_mm512_load_si512(b1[r].0.as_ptr().cast())),
                        )
                    };
                    for q in 0..ROWS {
                        let pair = u32::from(a[q].0[2 * r]) | u32::from(a[q].0[2 * r + 1]) << 16;
                        let va = bh(_mm512_set1_epi32(pair as i32));
                        acc[2 * q] = _mm512_dpbf16_ps(acc[2 * q], va, vb0);
                        acc[2 * q + 1] = _mm512_dpbf16_ps(acc[2 * q + 1], va, vb1);
                    }
                }
            }
            for q in 0..rows {
                let out = &mut block[q * 2 * TILE_N..][..2 * TILE_N];
                // SAFETY: `out` holds 32 floats; unaligned stores.
                unsafe {
                    _mm512_storeu_ps(out.as_mut_ptr(), acc[2 * q]);
                    _mm512_storeu_ps(out.as_mut_ptr().add(TILE_N), acc[2 * q + 1]);
                }
                let at = (i0 + q) * dst_rs + j * TILE_N;
                dst[at..at + cols].copy_from_slice(&out[..cols]);
            }
            let first = i0 * dst_rs + j * TILE_N;
            then.apply(&mut dst[first..], dst_rs, rows, j * TILE_N, cols);
        }
    }
}
