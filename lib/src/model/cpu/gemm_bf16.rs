//! bf16 matrix multiply with f32 accumulation, for the opt-in reduced precision of the models
//! ([`Precision::Bf16`](crate::model::Precision)): Intel AMX (`tdpbf16ps`) where the CPU and the OS
//! offer it, else AVX512-BF16 dot products (`vdpbf16ps`, e.g. AMD Zen 4; [`dpbf16`]) on the same
//! packed operands, else a portable path that rounds the operands the same way.
//!
//! Numbers: both operands are rounded to bf16 (round to nearest even; subnormals flushed to zero,
//! as AMX and `vcvtne2ps2bf16` do), every product is then exact in f32, and products are summed in
//! f32. AMX sums each output over k in a fixed order (chunks of 32 along k, in order); the portable
//! path multiplies the rounded operands, held as f32, with [`gemm_f32::matmul`], so the two differ
//! only by the f32 summation order. (Through a whole model the difference grows: a last-bit change
//! can flip the bf16 rounding of a later layer's input, so the two paths' outputs differ about as
//! much as bf16's and f32's do.)
//!
//! Determinism: an output row depends only on its own row of A and on B: AMX computes each 16-row
//! tile row by row with the same k order whatever the tile's other rows, and rows are padded with
//! zeros, never with other rows (the portable path inherits `gemm_f32`'s guarantee for ≥ 65 rows).
//! So a window's values do not depend on how many windows share a call, or on the threads.
//!
//! AMX is detected once per process ([`backend`]): CPUID (AMX-TILE, AMX-BF16, AVX512-BF16), the
//! OS's XCR0 (AVX-512 and tile state), and on Linux the `arch_prctl(ARCH_REQ_XCOMP_PERM)`
//! permission for tile data; AVX512-BF16 by the standard library's detection. `MIRE2E_AMX=0` and
//! `MIRE2E_AVX512BF16=0` in the environment turn either off (to compare paths).
//! The tile configuration is per thread: each [`matmul`] loads it and releases the tiles at the end.
#![allow(unsafe_code)] // AMX and AVX-512 through inline assembly; the checks below make each use sound

use std::cell::RefCell;
use std::sync::{Once, OnceLock};

use super::gemm_f32::{self, Mat};
use super::ops::Then;

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod dpbf16;

/// Rows of an A or C tile, and k pairs (rows) of a B tile.
const TILE_ROWS: usize = 16;
/// bf16 values of k per tile row (64 bytes).
const TILE_K: usize = 32;
/// f32 columns of a C tile, and columns of a B tile.
const TILE_N: usize = 16;

/// One 64-byte tile row of bf16 values, aligned for the tile loads.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Line([u16; TILE_K]);

const ZERO_LINE: Line = Line([0; TILE_K]);

/// Which kernels run the bf16 products.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// Intel AMX tiles (and AVX512-BF16 for rounding A).
    Amx,
    /// AVX512-BF16 dot products on the AMX path's packed operands.
    Avx512Bf16,
    /// bf16-rounded operands through `gemm_f32`: no faster than f32, so the Structure model runs
    /// f32 where this is all there is ([`falls_back_to_f32`]); kept as the second implementation
    /// the kernels are tested against.
    Portable,
}

/// The backend of this process, detected on first use.
pub(crate) fn backend() -> Backend {
    static BACKEND: OnceLock<Backend> = OnceLock::new();
    *BACKEND.get_or_init(|| {
        let off = |var: &str| std::env::var_os(var).is_some_and(|v| v == "0");
        let backend = if !off("MIRE2E_AMX") && amx::enable() {
            Backend::Amx
        } else if !off("MIRE2E_AVX512BF16") && avx512_bf16() {
            Backend::Avx512Bf16
        } else {
            Backend::Portable
        };
        log::debug!("bf16 GEMMs: {backend:?}");
        backend
    })
}

/// Whether the CPU has the AVX-512 subsets the [`dpbf16`] kernel and the packing use.
fn avx512_bf16() -> bool {
    // Linux only, like the packing it shares with the AMX path
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    false
}

/// Whether bf16 must fall back to f32 here: without bf16 instructions it would be no faster (the
/// portable path only rounds the operands). Warns once per process when it does.
pub(crate) fn falls_back_to_f32() -> bool {
    static WARNED: Once = Once::new();
    let fall_back = backend() == Backend::Portable;
    if fall_back {
        WARNED.call_once(|| {
            log::warn!(
                "--precision bf16 needs Intel AMX or AVX512-BF16, which this machine lacks: \
                 running f32 (the same results as without it)"
            );
        });
    }
    fall_back
}

/// `x` rounded to bf16 (nearest even; subnormals to signed zero; NaN stays NaN), as its bits.
pub(crate) fn bf16_bits(x: f32) -> u16 {
    let b = x.to_bits();
    if b & 0x7f80_0000 == 0 {
        return (b >> 16) as u16 & 0x8000;
    }
    if x.is_nan() {
        return (b >> 16) as u16 | 0x0040;
    }
    // a carry out of the mantissa bumps the exponent: correct, up to infinity
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

/// `x` rounded to bf16, as an f32.
pub(crate) fn round_bf16(x: f32) -> f32 {
    f32::from_bits(u32::from(bf16_bits(x)) << 16)
}

/// The right operand `B [k × n]`, rounded to bf16 and packed once for the backend.
pub(crate) struct PackedB {
    k: usize,
    n: usize,
    data: Operand,
    /// The kernels that multiply it.
    backend: Backend,
}

enum Operand {
    /// AMX VNNI tiles, zero-padded to whole tiles: tile (column block j, k chunk c) is lines
    /// `(j·chunks + c)·16 ..+16`; its line r holds, for the tile's 16 columns, the pairs
    /// `(B[32c + 2r][col], B[32c + 2r + 1][col])`.
    Tiles(Vec<Line>),
    /// `[k, n]` row-major, each value rounded to bf16.
    Rounded(Vec<f32>),
}

impl PackedB {
    /// Packs row-major `b [k × n]` (row stride `rs`) for this process's backend.
    pub fn new(b: &[f32], k: usize, n: usize, rs: usize) -> Self {
        let mut packed = Self::empty();
        packed.pack(b, k, n, rs);
        packed
    }

    /// An operand to [`pack`](Self::pack) into later (per call, reusing the buffers).
    pub fn empty() -> Self {
        Self::empty_for(backend())
    }

    fn empty_for(backend: Backend) -> Self {
        let data = match backend {
            Backend::Amx | Backend::Avx512Bf16 => Operand::Tiles(Vec::new()),
            Backend::Portable => Operand::Rounded(Vec::new()),
        };
        Self {
            k: 0,
            n: 0,
            data,
            backend,
        }
    }

    /// Packs `b [k × n]`, row-major with row stride `rs`.
    pub fn pack(&mut self, b: &[f32], k: usize, n: usize, rs: usize) {
        assert!(k > 0 && n > 0 && n <= rs, "bad shape {k}×{n} (stride {rs})");
        assert!((k - 1) * rs + n <= b.len(), "operand outside its slice");
        (self.k, self.n) = (k, n);
        match &mut self.data {
            Operand::Tiles(tiles) => STAGE.with(|stage| {
                let (chunks, blocks) = (k.div_ceil(TILE_K), n.div_ceil(TILE_N));
                // B's rows in bf16 (k padded to whole chunks with zero rows)
                let per_row = n.div_ceil(TILE_K);
                let mut stage = stage.borrow_mut();
                convert_rows(&mut stage, b, k, n, rs, chunks * TILE_K);
                // every line is written below
                tiles.truncate(blocks * chunks * TILE_ROWS);
                tiles.resize(blocks * chunks * TILE_ROWS, ZERO_LINE);
                for (t, tile) in tiles.chunks_exact_mut(TILE_ROWS).enumerate() {
                    let (j, c) = (t / chunks, t % chunks);
                    // rows 32c + 2r and 32c + 2r + 1, columns 16j .. 16j + 16 into line r
                    let first = c * TILE_K * per_row + j / 2;
                    amx::interleave(tile, &stage, first, j % 2 * TILE_N, per_row);
                }
            }),
            Operand::Rounded(r) => {
                r.clear();
                for row in b.chunks(rs).take(k) {
                    r.extend(row[..n].iter().map(|&v| round_bf16(v)));
                }
            }
        }
    }

    /// Packs `B = btᵀ` from `bt [n × k]`, row-major with row stride `rs` (for `Q · Kᵀ`).
    pub fn pack_transposed(&mut self, bt: &[f32], n: usize, k: usize, rs: usize) {
        assert!(k > 0 && n > 0 && k <= rs, "bad shape {n}×{k} (stride {rs})");
        assert!((n - 1) * rs + k <= bt.len(), "operand outside its slice");
        (self.k, self.n) = (k, n);
        match &mut self.data {
            Operand::Tiles(tiles) => STAGE.with(|stage| {
                let (chunks, blocks) = (k.div_ceil(TILE_K), n.div_ceil(TILE_N));
                // bt's rows in bf16 (n padded to whole column blocks with zero rows)
                let mut stage = stage.borrow_mut();
                convert_rows(&mut stage, bt, n, k, rs, blocks * TILE_N);
                // every line is written below
                tiles.truncate(blocks * chunks * TILE_ROWS);
                tiles.resize(blocks * chunks * TILE_ROWS, ZERO_LINE);
                for (t, tile) in tiles.chunks_exact_mut(TILE_ROWS).enumerate() {
                    let (j, c) = (t / chunks, t % chunks);
                    // a 16 × 16 transpose of bf16 pairs
                    amx::transpose(tile, &stage, j * TILE_N * chunks + c, chunks);
                }
            }),
            Operand::Rounded(r) => {
                r.clear();
                r.resize(k * n, 0.0);
                for (nn, row) in bt.chunks(rs).take(n).enumerate() {
                    for (kk, &v) in row[..k].iter().enumerate() {
                        r[kk * n + nn] = round_bf16(v);
                    }
                }
            }
        }
    }
}

/// `rows` rows of `cols` values of `src` (row stride `rs`) in bf16 into `stage`, each row in
/// `cols.div_ceil(32)` lines (the last zero-padded), then zero rows up to `padded_rows`.
fn convert_rows(
    stage: &mut Vec<Line>,
    src: &[f32],
    rows: usize,
    cols: usize,
    rs: usize,
    padded_rows: usize,
) {
    let per_row = cols.div_ceil(TILE_K);
    // rows < `rows` are written whole below, the others zeroed
    stage.resize(padded_rows * per_row, ZERO_LINE);
    let (data, padding) = stage[..padded_rows * per_row].split_at_mut(rows * per_row);
    for (row, dst) in src
        .chunks(rs)
        .take(rows)
        .zip(data.chunks_exact_mut(per_row))
    {
        amx::convert_row(&row[..cols], dst, 1);
    }
    padding.fill(ZERO_LINE);
}

/// `dst[m × n] = a[m × k] · B`, with `a` row-major (row stride `a_rs`, which may be under k: rows
/// that overlap, as im2col rows read in place) and `dst` row-major (row stride `dst_rs`); `a` is
/// rounded to bf16 on the way, sums are f32.
///
/// Panics when `a` or `dst` does not fit its slice. On the portable path m must be ≥ 65 (see
/// `gemm_f32`), which the models' calls (whole windows of 100 rows, or full encoder tiles) are.
pub(crate) fn matmul(
    dst: &mut [f32],
    dst_rs: usize,
    a: &[f32],
    a_rs: usize,
    m: usize,
    b: &PackedB,
) {
    matmul_then(dst, dst_rs, a, a_rs, m, b, Then::Store);
}

/// [`matmul`], then `then` on each output value (a bias, ReLU): fused into the AMX and
/// AVX512-BF16 kernels (per 32 rows, or per block of output), so the output is read again while
/// it is in the cache.
///
/// Panics as [`matmul`], and when `then`'s bias has fewer than n values.
pub(crate) fn matmul_then(
    dst: &mut [f32],
    dst_rs: usize,
    a: &[f32],
    a_rs: usize,
    m: usize,
    b: &PackedB,
    then: Then,
) {
    let (k, n) = (b.k, b.n);
    if let Then::Bias(bias) | Then::BiasRelu(bias) = then {
        assert!(bias.len() >= n, "bias shorter than the output rows");
    }
    if m == 0 {
        return;
    }
    assert!(
        a_rs > 0 && (m - 1) * a_rs + k <= a.len(),
        "operand outside its slice"
    );
    assert!(
        n <= dst_rs && (m - 1) * dst_rs + n <= dst.len(),
        "destination too small"
    );
    match &b.data {
        #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
        Operand::Tiles(tiles) if b.backend == Backend::Avx512Bf16 => {
            amx::with_lines(a, a_rs, m, k, n, tiles, |lines, chunks| {
                // SAFETY: `PackedB` is built for this backend only when `avx512_bf16()` found
                // AVX512F, AVX512BW and AVX512-BF16.
                unsafe { dpbf16::multiply(dst, dst_rs, lines, tiles, m, n, chunks, then) }
            })
        }
        Operand::Tiles(tiles) => amx::matmul(dst, dst_rs, a, a_rs, m, k, n, tiles, then),
        Operand::Rounded(rounded) => ROUNDED.with(|s| {
            let mut s = s.borrow_mut();
            s.clear();
            for i in 0..m {
                s.extend(a[i * a_rs..][..k].iter().map(|&v| round_bf16(v)));
            }
            gemm_f32::matmul(
                dst,
                dst_rs,
                Mat::new(&s, m, k, k),
                Mat::new(rounded, k, n, n),
            );
            then.apply(dst, dst_rs, m, 0, n);
        }),
    }
}

thread_local! {
    /// The portable path's rounded copy of A.
    static ROUNDED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
    /// Rows of a right operand in bf16, while it is packed.
    static STAGE: RefCell<Vec<Line>> = const { RefCell::new(Vec::new()) };
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod amx {
    use std::arch::asm;
    use std::arch::x86_64::__cpuid_count;

    use std::cell::RefCell;

    use super::{Line, Then, TILE_K, TILE_N, TILE_ROWS, ZERO_LINE};

    thread_local! {
        /// A in bf16, in tile lines (see `convert_a`).
        static LINES: RefCell<Vec<Line>> = const { RefCell::new(Vec::new()) };
    }

    /// Whether the CPU has AMX-BF16 and AVX512-BF16 and the OS lets this process use the tiles
    /// (asks Linux for the permission, once).
    pub fn enable() -> bool {
        // SAFETY: CPUID is available on every x86_64 CPU (the call is safe in newer compilers).
        #[allow(unused_unsafe)]
        let (leaf0, leaf1, leaf7, leaf7_1) = unsafe {
            (
                __cpuid_count(0, 0),
                __cpuid_count(1, 0),
                __cpuid_count(7, 0),
                __cpuid_count(7, 1),
            )
        };
        if leaf0.eax < 7 {
            return false;
        }
        let bit = |reg: u32, b: u32| reg >> b & 1 == 1;
        let cpu = bit(leaf7.edx, 24) // AMX-TILE
            && bit(leaf7.edx, 22) // AMX-BF16
            && bit(leaf7.ebx, 16) // AVX512F
            && bit(leaf7.ebx, 30) // AVX512BW
            && bit(leaf7_1.eax, 5) // AVX512-BF16
            && bit(leaf1.ecx, 27); // OSXSAVE: XGETBV is usable
        if !cpu {
            return false;
        }
        let (lo, hi): (u32, u32);
        // SAFETY: XGETBV with ECX = 0 reads XCR0; OSXSAVE (checked above) makes it legal.
        unsafe {
            asm!("xgetbv", in("ecx") 0u32, out("eax") lo, out("edx") hi,
                 options(nomem, nostack, preserves_flags));
        }
        let xcr0 = u64::from(hi) << 32 | u64::from(lo);
        // SSE, AVX, opmask, ZMM upper halves, ZMM16-31, tile config, tile data
        let wanted = 0b11 << 1 | 0b111 << 5 | 0b11 << 17;
        if xcr0 & wanted != wanted {
            return false;
        }
        const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
        const XFEATURE_XTILEDATA: libc::c_long = 18;
        // SAFETY: arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) only asks the kernel for permission
        // to use the tile data state in this process; it touches no memory of ours.
        let granted = unsafe {
            libc::syscall(
                libc::SYS_arch_prctl,
                ARCH_REQ_XCOMP_PERM,
                XFEATURE_XTILEDATA,
            )
        };
        granted == 0
    }

    /// Palette 1; tiles 0-7 all 16 rows × 64 bytes (C: 16 × 16 f32, A: 16 × 32 bf16, B: 16 k
    /// pairs × 16 columns).
    #[repr(C, align(64))]
    struct Config([u8; 64]);

    const CONFIG: Config = {
        let mut c = [0u8; 64];
        c[0] = 1;
        let mut t = 0;
        while t < 8 {
            c[16 + 2 * t] = 64; // colsb, u16 little-endian
            c[48 + t] = TILE_ROWS as u8; // rows
            t += 1;
        }
        Config(c)
    };

    /// The tiles of this thread, configured; released on drop.
    struct Tiles(());

    impl Tiles {
        fn configure() -> Self {
            debug_assert_eq!(super::backend(), super::Backend::Amx);
            // SAFETY: only reached once `enable` returned true (a `Tiles` operand exists only
            // then), so the CPU has AMX and the process has the permission; CONFIG is a valid
            // palette-1 configuration of 64 bytes.
            unsafe {
                asm!("ldtilecfg [{}]", in(reg) &CONFIG, options(nostack, readonly, preserves_flags));
            }
            Self(())
        }
    }

    impl Drop for Tiles {
        fn drop(&mut self) {
            // SAFETY: returns the tiles to their initial state; the compiler never uses them.
            unsafe {
                asm!("tilerelease", options(nostack, nomem, preserves_flags));
            }
        }
    }

    /// Rounds `src` to bf16 into the lines `dst[0]`, `dst[stride]`, `dst[2·stride]`, ... (one per
    /// 32 values), zero-padding the last one.
    pub(super) fn convert_row(src: &[f32], dst: &mut [Line], stride: usize) {
        let full = src.len() / TILE_K;
        let tail = src.len() % TILE_K;
        let lines = full + usize::from(tail > 0);
        assert!(
            lines == 0 || (lines - 1) * stride < dst.len(),
            "row too long"
        );
        if full > 0 {
            // SAFETY: reads src[..32·full] and writes the lines dst[c·stride], c < full (64-byte
            // aligned), all inside their slices; AVX512F and AVX512-BF16 were checked by `enable`.
            unsafe {
                asm!(
                    "2:",
                    "vmovups zmm0, [{src}]",
                    "vmovups zmm1, [{src} + 64]",
                    "vcvtne2ps2bf16 zmm2, zmm1, zmm0",
                    "vmovdqa64 [{dst}], zmm2",
                    "add {src}, 128",
                    "add {dst}, {step}",
                    "dec {n}",
                    "jnz 2b",
                    src = inout(reg) src.as_ptr() => _,
                    dst = inout(reg) dst.as_mut_ptr() => _,
                    n = inout(reg) full => _,
                    step = in(reg) stride * 64,
                    out("zmm0") _, out("zmm1") _, out("zmm2") _,
                    options(nostack),
                );
            }
        }
        if tail > 0 {
            let lo = (1u32 << tail.min(16)) - 1;
            let hi = (1u32 << tail.saturating_sub(16)) - 1;
            // SAFETY: the masked loads read only src[32·full ..][..tail] (masked-out elements
            // are not accessed and do not fault) and the store writes dst[full·stride], inside dst.
            unsafe {
                asm!(
                    "kmovd k1, {lo:e}",
                    "kmovd k2, {hi:e}",
                    "vmovups zmm0 {{k1}}{{z}}, [{src}]",
                    "vmovups zmm1 {{k2}}{{z}}, [{src} + 64]",
                    "vcvtne2ps2bf16 zmm2, zmm1, zmm0",
                    "vmovdqa64 [{dst}], zmm2",
                    src = in(reg) src[full * TILE_K..].as_ptr(),
                    dst = in(reg) dst[full * stride..].as_mut_ptr(),
                    lo = in(reg) lo,
                    hi = in(reg) hi,
                    out("zmm0") _, out("zmm1") _, out("zmm2") _, out("k1") _, out("k2") _,
                    options(nostack, preserves_flags),
                );
            }
        }
    }

    /// Line r of `tile` from two lines of `stage`: words `off .. off + 16` of the lines
    /// `first + 2r·stride` and `first + (2r + 1)·stride`, interleaved (a B tile from B's rows).
    pub(super) fn interleave(
        tile: &mut [Line],
        stage: &[Line],
        first: usize,
        off: usize,
        stride: usize,
    ) {
        assert!(tile.len() == TILE_ROWS && off + TILE_N <= TILE_K);
        assert!(
            first + (2 * TILE_ROWS - 1) * stride < stage.len(),
            "outside the stage"
        );
        // word 2i from the first table's word i, word 2i + 1 from the second's (32 + i)
        static INDEX: Line = {
            let mut index = [0u16; TILE_K];
            let mut i = 0;
            while i < TILE_K {
                index[i] = (i / 2 + i % 2 * 32) as u16;
                i += 1;
            }
            Line(index)
        };
        // SAFETY: reads 32 bytes at word `off` ≤ 16 of the lines first + i·stride, i < 32
        // (inside `stage`, checked above), writes the 16 lines of `tile`; AVX512BW checked by
        // `enable`.
        unsafe {
            asm!(
                "vmovdqu16 zmm0, [{index}]",
                "2:",
                "vmovdqu16 ymm1, [{src}]",
                "vmovdqu16 ymm2, [{src} + {stride}]",
                "vpermt2w zmm1, zmm0, zmm2",
                "vmovdqa64 [{dst}], zmm1",
                "lea {src}, [{src} + 2*{stride}]",
                "add {dst}, 64",
                "dec {n}",
                "jnz 2b",
                index = in(reg) INDEX.0.as_ptr(),
                src = inout(reg) stage[first].0[off..].as_ptr() => _,
                stride = in(reg) stride * 64,
                dst = inout(reg) tile.as_mut_ptr() => _,
                n = inout(reg) TILE_ROWS => _,
                out("zmm0") _, out("zmm1") _, out("zmm2") _,
                options(nostack),
            );
        }
    }

    /// Line r of `tile` holds, for column i, pair r (words 2r, 2r + 1) of the line
    /// `first + i·stride` of `stage` (a B tile from Bᵀ's rows: a 16 × 16 transpose of pairs).
    pub(super) fn transpose(tile: &mut [Line], stage: &[Line], first: usize, stride: usize) {
        assert!(tile.len() == TILE_ROWS);
        assert!(
            first + (TILE_N - 1) * stride < stage.len(),
            "outside the stage"
        );
        #[repr(C, align(64))]
        struct Iota([u32; TILE_N]);
        static IOTA: Iota = {
            let mut iota = [0u32; TILE_N];
            let mut i = 0;
            while i < TILE_N {
                iota[i] = i as u32;
                i += 1;
            }
            Iota(iota)
        };
        // the gather's indices: i·stride·16 (in 4-byte units), signed 32-bit
        assert!(stride * 16 * TILE_N < 1 << 31, "stage too large to gather");
        // SAFETY: the gathers read pair r < 16 of the lines first + i·stride, i < 16 (inside
        // `stage`, checked above; offsets fit the signed 32-bit indices), the stores write the 16
        // lines of `tile`; AVX512F checked by `enable`.
        unsafe {
            asm!(
                "vpbroadcastd zmm0, {step:e}",
                "vpmulld zmm0, zmm0, [{iota}]",
                "2:",
                "kxnorw k1, k1, k1",
                "vpxord zmm1, zmm1, zmm1",
                "vpgatherdd zmm1 {{k1}}, [{src} + zmm0*4]",
                "vmovdqa64 [{dst}], zmm1",
                "add {src}, 4",
                "add {dst}, 64",
                "dec {n}",
                "jnz 2b",
                iota = in(reg) IOTA.0.as_ptr(),
                step = in(reg) (stride * 16) as u32,
                src = inout(reg) stage[first..].as_ptr() => _,
                dst = inout(reg) tile.as_mut_ptr() => _,
                n = inout(reg) TILE_ROWS => _,
                out("zmm0") _, out("zmm1") _, out("k1") _,
                options(nostack),
            );
        }
    }

    /// Bytes from one k chunk's tile to the next (tiles are 16 contiguous lines).
    const TILE_BYTES: usize = TILE_ROWS * 64;

    /// `C (32 × 32 f32) = A · B` over `chunks` k chunks: A rows 0-15 from the tiles at `a0`, rows
    /// 16-31 at `a1`; B columns 0-15 from the tiles at `b0`, 16-31 at `b1` (each chunk's tile
    /// right after the previous one). C rows 0-15 are stored at `c_top`, rows 16-31 at `c_bot`,
    /// `c_stride` bytes apart, columns 16-31 64 bytes after columns 0-15.
    ///
    /// # Safety
    /// Tiles configured (`Tiles`); `chunks` ≥ 1 tiles readable at each of a0, a1, b0, b1; the four
    /// C tiles writable.
    #[allow(clippy::too_many_arguments)]
    unsafe fn kernel_2x2(
        a0: *const Line,
        a1: *const Line,
        b0: *const Line,
        b1: *const Line,
        chunks: usize,
        c_top: *mut f32,
        c_bot: *mut f32,
        c_stride: usize,
    ) {
        // SAFETY: per the function's contract.
        unsafe {
            asm!(
                "tilezero tmm0",
                "tilezero tmm1",
                "tilezero tmm2",
                "tilezero tmm3",
                "2:",
                "tileloadd tmm4, [{a0} + {s}*1]",
                "tileloadd tmm6, [{b0} + {s}*1]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tileloadd tmm7, [{b1} + {s}*1]",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tileloadd tmm5, [{a1} + {s}*1]",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                "add {a0}, {t}",
                "add {a1}, {t}",
                "add {b0}, {t}",
                "add {b1}, {t}",
                "dec {n}",
                "jnz 2b",
                "tilestored [{ct} + {cs}*1], tmm0",
                "tilestored [{ct} + {cs}*1 + 64], tmm1",
                "tilestored [{cb} + {cs}*1], tmm2",
                "tilestored [{cb} + {cs}*1 + 64], tmm3",
                a0 = inout(reg) a0 => _,
                a1 = inout(reg) a1 => _,
                b0 = inout(reg) b0 => _,
                b1 = inout(reg) b1 => _,
                n = inout(reg) chunks => _,
                s = in(reg) 64usize,
                t = const TILE_BYTES,
                ct = in(reg) c_top,
                cb = in(reg) c_bot,
                cs = in(reg) c_stride,
                out("tmm0") _, out("tmm1") _, out("tmm2") _, out("tmm3") _,
                out("tmm4") _, out("tmm5") _, out("tmm6") _, out("tmm7") _,
                options(nostack),
            );
        }
    }

    /// [`kernel_2x2`] for 16 rows of A (at `a0`) and C (at `c_top`).
    ///
    /// # Safety
    /// As [`kernel_2x2`], without `a1` and `c_bot`.
    unsafe fn kernel_1x2(
        a0: *const Line,
        b0: *const Line,
        b1: *const Line,
        chunks: usize,
        c_top: *mut f32,
        c_stride: usize,
    ) {
        // SAFETY: per the function's contract.
        unsafe {
            asm!(
                "tilezero tmm0",
                "tilezero tmm1",
                "2:",
                "tileloadd tmm4, [{a0} + {s}*1]",
                "tileloadd tmm6, [{b0} + {s}*1]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tileloadd tmm7, [{b1} + {s}*1]",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "add {a0}, {t}",
                "add {b0}, {t}",
                "add {b1}, {t}",
                "dec {n}",
                "jnz 2b",
                "tilestored [{ct} + {cs}*1], tmm0",
                "tilestored [{ct} + {cs}*1 + 64], tmm1",
                a0 = inout(reg) a0 => _,
                b0 = inout(reg) b0 => _,
                b1 = inout(reg) b1 => _,
                n = inout(reg) chunks => _,
                s = in(reg) 64usize,
                t = const TILE_BYTES,
                ct = in(reg) c_top,
                cs = in(reg) c_stride,
                out("tmm0") _, out("tmm1") _, out("tmm4") _, out("tmm6") _, out("tmm7") _,
                options(nostack),
            );
        }
    }

    /// A 32 × 32 block of C, for the blocks at the edges.
    #[repr(C, align(64))]
    struct Block([f32; 4 * TILE_ROWS * TILE_N]);

    /// See `super::matmul` (which checked the slices); `tiles` is B packed by `PackedB::pack`.
    #[allow(clippy::too_many_arguments)]
    pub fn matmul(
        dst: &mut [f32],
        dst_rs: usize,
        a: &[f32],
        a_rs: usize,
        m: usize,
        k: usize,
        n: usize,
        tiles: &[Line],
        then: Then,
    ) {
        with_lines(a, a_rs, m, k, n, tiles, |lines, chunks| {
            multiply(dst, dst_rs, lines, tiles, m, n, chunks, then)
        });
    }

    /// Calls `multiply` with A (`m` rows of `k`) in bf16 lines ([`convert_a`], in this thread's
    /// buffer) and the number of k chunks, after checking that `tiles` is B packed for `k × n`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn with_lines<R>(
        a: &[f32],
        a_rs: usize,
        m: usize,
        k: usize,
        n: usize,
        tiles: &[Line],
        multiply: impl FnOnce(&[Line], usize) -> R,
    ) -> R {
        let chunks = k.div_ceil(TILE_K);
        let (row_tiles, col_tiles) = (m.div_ceil(TILE_ROWS), n.div_ceil(TILE_N));
        let panel = chunks * TILE_ROWS; // lines of 16 rows (A) or 16 columns (B) over all of k
        assert_eq!(tiles.len(), col_tiles * panel, "packed B has another shape");
        LINES.with(|lines| {
            let mut lines = lines.borrow_mut();
            let len = row_tiles * panel;
            if lines.len() < len {
                lines.resize(len, ZERO_LINE);
            }
            convert_a(&mut lines[..len], a, a_rs, m, k, panel);
            multiply(&lines[..len], chunks)
        })
    }

    /// A (`m` rows of `k` values, row stride `a_rs`) in bf16 tiles like B's: row i, chunk c at
    /// line `(i/16·chunks + c)·16 + i%16`; the rows up to the next multiple of 16 zeroed.
    #[inline(never)]
    fn convert_a(lines: &mut [Line], a: &[f32], a_rs: usize, m: usize, k: usize, panel: usize) {
        for i in 0..m {
            let at = i / TILE_ROWS * panel + i % TILE_ROWS;
            convert_row(&a[i * a_rs..][..k], &mut lines[at..], TILE_ROWS);
        }
        for i in m..m.next_multiple_of(TILE_ROWS) {
            let at = i / TILE_ROWS * panel + i % TILE_ROWS;
            lines[at..]
                .iter_mut()
                .step_by(TILE_ROWS)
                .for_each(|l| *l = ZERO_LINE);
        }
    }

    /// `dst = A · B` from A's tiles (`convert_a`) and B's (`PackedB::pack`), then `then` on each
    /// pair of row tiles once all its blocks are stored. (Applied to each 32 × 32 block right after
    /// its stores, it read them before they drained and stalled the tile unit: the Structure model
    /// took ~1.04× the time.)
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn multiply(
        dst: &mut [f32],
        dst_rs: usize,
        lines: &[Line],
        tiles: &[Line],
        m: usize,
        n: usize,
        chunks: usize,
        then: Then,
    ) {
        let (row_tiles, col_tiles) = (m.div_ceil(TILE_ROWS), n.div_ceil(TILE_N));
        let panel = chunks * TILE_ROWS;
        assert!(lines.len() == row_tiles * panel && tiles.len() == col_tiles * panel);
        let mut block = Block([0.0; 4 * TILE_ROWS * TILE_N]);
        let _tiles = Tiles::configure();
        for i in (0..row_tiles).step_by(2) {
            let a0 = lines[i * panel..].as_ptr();
            let rows = (m - i * TILE_ROWS).min(2 * TILE_ROWS);
            for j in (0..col_tiles).step_by(2) {
                // the second column block, or the first again (computed, never written out)
                let j1 = if j + 1 < col_tiles { j + 1 } else { j };
                let b0 = tiles[j * panel..].as_ptr();
                let b1 = tiles[j1 * panel..].as_ptr();
                let cols = (n - j * TILE_N).min(2 * TILE_N);
                // the kernel writes 32 rows, or 16 for the last row tile
                let written = if i + 1 < row_tiles { 2 } else { 1 } * TILE_ROWS;
                let direct = cols == 2 * TILE_N && rows == written;
                let (c, c_stride) = if direct {
                    (
                        dst[i * TILE_ROWS * dst_rs + j * TILE_N..].as_mut_ptr(),
                        dst_rs,
                    )
                } else {
                    (block.0.as_mut_ptr(), 2 * TILE_N)
                };
                if i + 1 < row_tiles {
                    let a1 = lines[(i + 1) * panel..].as_ptr();
                    // SAFETY: tiles configured; A: row tiles i, i+1 < row_tiles of `lines`
                    // (`chunks` tiles each), B: column tiles j, j1 < col_tiles of `tiles`
                    // (length checked above); C: either `block` (32 rows of 32) or, when
                    // the 32 × 32 block lies inside the m × n output, rows i·16 .. +32 and
                    // columns j·16 .. +32 ≤ n ≤ dst_rs of dst, inside it since
                    // (m − 1)·dst_rs + n ≤ dst.len() (checked by the caller).
                    unsafe {
                        kernel_2x2(
                            a0,
                            a1,
                            b0,
                            b1,
                            chunks,
                            c,
                            c.add(TILE_ROWS * c_stride),
                            c_stride * 4,
                        );
                    }
                } else {
                    // SAFETY: as above, for the last 16 rows (rows i·16 .. +16 ≤ m when
                    // direct).
                    unsafe {
                        kernel_1x2(a0, b0, b1, chunks, c, c_stride * 4);
                    }
                }
                let first = i * TILE_ROWS * dst_rs + j * TILE_N;
                if !direct {
                    for r in 0..rows {
                        let at = first + r * dst_rs;
                        dst[at..at + cols].copy_from_slice(&block.0[r * 2 * TILE_N..][..cols]);
                    }
                }
            }
            then.apply(&mut dst[i * TILE_ROWS * dst_rs..], dst_rs, rows, 0, n);
        }
    }
}

/// Without AMX support in this build, the portable path is always taken.
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
mod amx {
    use super::Line;

    pub fn enable() -> bool {
        false
    }

    pub fn convert_row(_: &[f32], _: &mut [Line], _: usize) {
        unreachable!("no AMX tiles are packed without AMX")
    }

    pub fn interleave(_: &mut [Line], _: &[Line], _: usize, _: usize, _: usize) {
        unreachable!("no AMX tiles are packed without AMX")
    }

    pub fn transpose(_: &mut [Line], _: &[Line], _: usize, _: usize) {
        unreachable!("no AMX tiles are packed without AMX")
    }

    #[allow(clippy::too_many_arguments)]
    pub fn matmul(
        _: &mut [f32],
        _: usize,
        _: &[f32],
        _: usize,
        _: usize,
        _: usize,
        _: usize,
        _: &[Line],
        _: super::Then,
    ) {
        unreachable!("no AMX tiles are packed without AMX")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| ((i.wrapping_mul(2654435761) ^ seed) % 2000) as f32 / 700.0 - 1.3)
            .collect()
    }

    /// f64 sums of the bf16-rounded operands, and of their absolute values.
    fn reference(
        a: &[f32],
        a_rs: usize,
        b: &[f32],
        m: usize,
        k: usize,
        n: usize,
    ) -> Vec<(f64, f64)> {
        let mut c = vec![(0.0, 0.0); m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    let x = f64::from(round_bf16(a[i * a_rs + p]))
                        * f64::from(round_bf16(b[p * n + j]));
                    c[i * n + j].0 += x;
                    c[i * n + j].1 += x.abs();
                }
            }
        }
        c
    }

    fn backends() -> Vec<Backend> {
        let mut all = vec![backend()];
        if backend() == Backend::Amx && avx512_bf16() {
            all.push(Backend::Avx512Bf16);
        }
        if backend() != Backend::Portable {
            all.push(Backend::Portable);
        }
        all
    }

    #[test]
    fn rounds_to_nearest_even() {
        assert_eq!(bf16_bits(1.0), 0x3f80);
        assert_eq!(round_bf16(1.0 + 1.0 / 256.0), 1.0); // tie, to even
        assert_eq!(round_bf16(1.0 + 3.0 / 256.0), 1.0 + 4.0 / 256.0); // tie, to even (up)
        assert_eq!(round_bf16(1.0 + 1.5 / 256.0), 1.0 + 2.0 / 256.0);
        assert_eq!(round_bf16(-2.0 - 1.3 / 128.0), -2.0 - 1.0 / 64.0);
        assert_eq!(round_bf16(-2.0 - 0.9 / 128.0), -2.0);
        assert_eq!(round_bf16(f32::MAX), f32::INFINITY);
        assert_eq!(round_bf16(f32::MIN_POSITIVE / 4.0).to_bits(), 0);
        assert_eq!(round_bf16(-f32::MIN_POSITIVE / 4.0).to_bits(), 0x8000_0000);
        assert!(round_bf16(f32::NAN).is_nan());
    }

    #[test]
    fn packs_pairs_of_k_per_column() {
        if backend() == Backend::Portable {
            eprintln!("SKIP: no AMX or AVX512-BF16 here: the tile packing check did not run");
            return;
        }
        let (k, n) = (37, 20);
        let b: Vec<f32> = (0..k * n).map(|i| i as f32).collect();
        let packed = PackedB::new(&b, k, n, n);
        let Operand::Tiles(tiles) = &packed.data else {
            unreachable!()
        };
        let chunks = 2;
        assert_eq!(tiles.len(), 2 * chunks * TILE_ROWS);
        // tile (j, c), line r, column col, half h holds B[32c + 2r + h][16j + col]
        let at = |j: usize, c: usize, r: usize, col: usize, h: usize| {
            let v = tiles[(j * chunks + c) * TILE_ROWS + r].0[2 * col + h];
            f32::from_bits(u32::from(v) << 16)
        };
        assert_eq!(at(0, 0, 0, 0, 1), round_bf16(b[n]));
        assert_eq!(at(0, 0, 3, 5, 0), round_bf16(b[6 * n + 5]));
        assert_eq!(at(1, 1, 2, 3, 0), round_bf16(b[36 * n + 19]));
        assert_eq!(at(1, 1, 2, 3, 1), 0.0); // k = 37 is padding
        assert_eq!(at(1, 0, 0, 4, 0), 0.0); // column 20 is padding

        // the same operand given transposed
        let mut bt = vec![0.0; n * (k + 2)];
        for kk in 0..k {
            for nn in 0..n {
                bt[nn * (k + 2) + kk] = b[kk * n + nn];
            }
        }
        let mut t = PackedB::empty();
        t.pack_transposed(&bt, n, k, k + 2);
        let Operand::Tiles(same) = &t.data else {
            unreachable!()
        };
        assert!(same.iter().zip(tiles).all(|(x, y)| x.0 == y.0));
    }

    #[test]
    fn converts_like_the_scalar_rounding() {
        if backend() == Backend::Portable {
            eprintln!("SKIP: no AMX or AVX512-BF16 here: the conversion check did not run");
            return;
        }
        let mut v: Vec<f32> = values(1000, 9).iter().map(|x| x * 1e3).collect();
        v.extend([
            0.0,
            -0.0,
            1.0 + 1.0 / 256.0,
            1.0 + 3.0 / 256.0,
            f32::MAX,
            f32::MIN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN_POSITIVE,
            f32::MIN_POSITIVE / 3.0,
            -f32::MIN_POSITIVE / 3.0,
            f32::MIN_POSITIVE * 0.999,
        ]);
        for len in [v.len(), 1, 31, 32, 33, 63, 64, 65] {
            let src = &v[v.len() - len..];
            let mut lines = vec![Line([0xffff; TILE_K]); len.div_ceil(TILE_K)];
            amx::convert_row(src, &mut lines, 1);
            for (i, &x) in src.iter().enumerate() {
                assert_eq!(lines[i / TILE_K].0[i % TILE_K], bf16_bits(x), "{x:e}");
            }
            for i in len..lines.len() * TILE_K {
                assert_eq!(lines[i / TILE_K].0[i % TILE_K], 0, "padding");
            }
        }
        let mut nan = [Line([0; TILE_K])];
        amx::convert_row(&[f32::NAN], &mut nan, 1);
        assert!(f32::from_bits(u32::from(nan[0].0[0]) << 16).is_nan());
    }

    #[test]
    fn multiplies_a_transposed_operand() {
        let (m, k, n) = (100, 111, 100);
        let q = values(m * 666, 5);
        let kt = values(n * 666, 6); // [n × k] rows at stride 666
        let mut b = vec![0.0; k * n];
        for kk in 0..k {
            for nn in 0..n {
                b[kk * n + nn] = kt[nn * 666 + kk];
            }
        }
        let want = reference(&q, 666, &b, m, k, n);
        for be in backends() {
            let mut packed = PackedB::empty_for(be);
            packed.pack_transposed(&kt, n, k, 666);
            let mut dst = vec![0.0; m * n];
            matmul(&mut dst, n, &q, 666, m, &packed);
            for (got, (want, magnitude)) in dst.iter().zip(&want) {
                assert!((f64::from(*got) - want).abs() <= 1e-5 * magnitude, "{be:?}");
            }
        }
    }

    /// A bias and ReLU fused into the stores give the bits of the product followed by them, and
    /// leave the columns past n alone.
    #[test]
    fn fused_bias_and_relu_equal_the_separate_pass() {
        for (m, k, n) in [(100, 222, 111), (37, 40, 40), (65, 3, 17)] {
            let (a_rs, dst_rs) = (k + 3, n + 5);
            let a = values(m * a_rs, 3);
            let b = values(k * n, 4);
            let bias = values(n, 5);
            for be in backends() {
                if be == Backend::Portable && !(m > 64 && m * n > 256) {
                    continue; // gemm_f32 refuses shapes this small
                }
                let mut packed = PackedB::empty_for(be);
                packed.pack(&b, k, n, n);
                let mut plain = vec![f32::NAN; m * dst_rs];
                matmul(&mut plain, dst_rs, &a, a_rs, m, &packed);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                for relu in [false, true] {
                    let mut want = plain.clone();
                    for row in want.chunks_mut(dst_rs) {
                        for (v, b) in row[..n].iter_mut().zip(&bias) {
                            *v = if relu { (*v + b).max(0.0) } else { *v + b };
                        }
                    }
                    let then = if relu {
                        Then::BiasRelu(&bias)
                    } else {
                        Then::Bias(&bias)
                    };
                    let mut got = vec![f32::NAN; m * dst_rs];
                    matmul_then(&mut got, dst_rs, &a, a_rs, m, &packed, then);
                    assert_eq!(bits(&got), bits(&want), "{be:?} {m}×{k}×{n} relu {relu}");
                }
            }
        }
    }

    #[test]
    fn matches_the_rounded_reference() {
        // (m, k, n, A's row stride): strides under k overlap the rows, as the pooled encoders'
        // convolutions read their im2col rows `[x(t-1), x(t), x(t+1)]` in place
        let shapes = [
            (37, 222, 666, 225),
            (400, 333, 111, 336),
            (100, 100, 111, 103),
            (130, 888, 222, 891),
            (65, 3, 17, 6),
            (5, 1, 3, 4),
            (814, 192, 64, 64),
            (110, 15, 64, 5),
        ];
        for (m, k, n, a_rs) in shapes {
            let a = values((m - 1) * a_rs + k, 1);
            let b = values(k * n, 2);
            let want = reference(&a, a_rs, &b, m, k, n);
            for be in backends() {
                if be == Backend::Portable && !(m > 64 && k > 2 && n > 1 && m * n > 256) {
                    continue; // gemm_f32 refuses shapes this small
                }
                let packed = {
                    let mut p = PackedB::empty_for(be);
                    p.pack(&b, k, n, n);
                    p
                };
                let dst_rs = n + 5;
                let mut dst = vec![f32::NAN; (m - 1) * dst_rs + n];
                matmul(&mut dst, dst_rs, &a, a_rs, m, &packed);
                for i in 0..m {
                    for j in 0..n {
                        let got = f64::from(dst[i * dst_rs + j]);
                        let (want, magnitude) = want[i * n + j];
                        // only the f32 summation of exact products differs
                        assert!(
                            (got - want).abs() <= 1e-5 * magnitude,
                            "{be:?} {m}×{k}×{n} ({i}, {j}): {got} vs {want}"
                        );
                    }
                }
                // the gaps of the strided destination are untouched
                for i in 0..m - 1 {
                    assert!(dst[i * dst_rs + n..(i + 1) * dst_rs]
                        .iter()
                        .all(|v| v.is_nan()));
                }
            }
        }
    }

    #[test]
    fn rows_do_not_depend_on_the_row_count() {
        let (k, n) = (222, 666);
        let a = values(800 * k, 3);
        let b = values(k * n, 4);
        for be in backends() {
            let packed = {
                let mut p = PackedB::empty_for(be);
                p.pack(&b, k, n, n);
                p
            };
            let mut all = vec![0.0; 800 * n];
            matmul(&mut all, n, &a, k, 800, &packed);
            for (start, rows) in [(0, 100), (300, 100), (100, 500), (700, 100), (13, 77)] {
                let mut part = vec![0.0; rows * n];
                matmul(
                    &mut part,
                    n,
                    &a[start * k..(start + rows) * k],
                    k,
                    rows,
                    &packed,
                );
                let same = part
                    .iter()
                    .zip(&all[start * n..])
                    .all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "{be:?}: rows {start}..{} differ", start + rows);
            }
        }
    }

    #[test]
    #[should_panic(expected = "destination too small")]
    fn refuses_a_short_destination() {
        let b = PackedB::new(&[1.0; 16], 4, 4, 4);
        let mut dst = vec![0.0; 100 * 4 - 1];
        matmul(&mut dst, 4, &[1.0; 400], 4, 100, &b);
    }
}

/// Benchmarks (not timing tests): `cargo test --release -p mire2e --lib gemm_bf16::speed --
/// --ignored --nocapture` (`ROWS=100,400` picks the row counts). Each figure is the best of 30
/// batches, which is robust to other processes on the machine.
#[cfg(test)]
mod speed {
    use std::time::Instant;

    use super::*;

    /// Best time of `f` in µs over 30 batches of `reps` calls.
    fn best(reps: usize, mut f: impl FnMut()) -> f64 {
        (0..30)
            .map(|_| {
                let t = Instant::now();
                (0..reps).for_each(|_| f());
                t.elapsed().as_secs_f64() / reps as f64 * 1e6
            })
            .fold(f64::MAX, f64::min)
    }

    #[test]
    #[ignore = "benchmark"]
    fn gflops_of_the_structure_shapes() {
        let rows: Vec<usize> = std::env::var("ROWS").map_or(vec![100, 200, 400], |v| {
            v.split(',').filter_map(|x| x.parse().ok()).collect()
        });
        for m in rows {
            for (k, n) in [(222, 666), (222, 222), (222, 888), (888, 222), (333, 111)] {
                let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
                let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
                let packed = PackedB::new(&b, k, n, n);
                let mut dst = vec![0.0; m * n];
                let us = best(10_000 / m, || matmul(&mut dst, n, &a, k, m, &packed));
                let gflops = (2 * m * k * n) as f64 / us / 1e3;
                println!("{m}×{k}×{n}: {gflops:.0} GFLOP/s, {us:.1} µs");
            }
        }
    }

    /// One attention head of one window, as `cpu::structure` runs it.
    #[test]
    #[ignore = "benchmark"]
    fn attention_head() {
        let qkv: Vec<f32> = (0..100 * 666).map(|i| (i % 7) as f32 * 0.1).collect();
        let mut scores = vec![0.0; 100 * 100];
        let mut out = vec![0.0; 100 * 222];
        let (mut keys, mut values) = (PackedB::empty(), PackedB::empty());
        keys.pack_transposed(&qkv[222..], 100, 111, 666);
        values.pack(&qkv[444..], 100, 111, 666);
        let pack_k = best(200, || keys.pack_transposed(&qkv[222..], 100, 111, 666));
        let qk = best(200, || matmul(&mut scores, 100, &qkv, 666, 100, &keys));
        let pack_v = best(200, || values.pack(&qkv[444..], 100, 111, 666));
        let pv = best(200, || matmul(&mut out, 222, &scores, 100, 100, &values));
        println!("pack Kᵀ {pack_k:.2} µs, Q·Kᵀ {qk:.2} µs, pack V {pack_v:.2} µs, P·V {pv:.2} µs");
    }
}
