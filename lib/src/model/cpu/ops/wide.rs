//! Runs a row loop compiled for the widest vector registers the CPU has: AVX-512, AVX2, or the
//! x86-64 baseline (SSE2), chosen once per process. The loop's source is the same in each; wider
//! registers only run more lanes of it per instruction. No FMA is enabled, so the compiler keeps
//! every multiply and add as written and all three give the same bits.
//!
//! `MIRE2E_SIMD=avx2` or `=base` in the environment caps the choice (to compare).
#![allow(unsafe_code)] // calling the `#[target_feature]` copies once the CPU is known to have them

#[cfg(target_arch = "x86_64")]
use std::sync::OnceLock;

/// Instruction sets a row loop can be compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Width {
    /// The x86-64 baseline (or another architecture).
    Base,
    /// AVX2.
    Avx2,
    /// AVX-512 (F, BW, DQ, VL).
    Avx512,
}

/// The widest set this CPU has, capped by `MIRE2E_SIMD`.
pub(crate) fn width() -> Width {
    #[cfg(target_arch = "x86_64")]
    {
        static WIDTH: OnceLock<Width> = OnceLock::new();
        *WIDTH.get_or_init(|| {
            let has = if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512dq")
                && std::arch::is_x86_feature_detected!("avx512vl")
            {
                Width::Avx512
            } else if std::arch::is_x86_feature_detected!("avx2") {
                Width::Avx2
            } else {
                Width::Base
            };
            let cap = match std::env::var("MIRE2E_SIMD").as_deref() {
                Ok("base") => Width::Base,
                Ok("avx2") => Width::Avx2,
                _ => Width::Avx512,
            };
            has.min(cap)
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    Width::Base
}

/// `run_wide!(expr)` evaluates `expr` compiled for [`width`]; `run_wide!(w; expr)` for `w`.
///
/// Through [`run`] with a closure marked `#[inline(always)]`: without the mark, LLVM keeps a large
/// closure out of line, compiled for the baseline width, and the wide copy only calls it.
macro_rules! run_wide {
    ($width:expr; $e:expr) => {
        wide::run_as(
            $width,
            #[inline(always)]
            || $e,
        )
    };
    ($e:expr) => {
        wide::run(
            #[inline(always)]
            || $e,
        )
    };
}

/// Runs `f` compiled for [`width`] (`f` and what it calls are inlined into the chosen copy; see
/// `run_wide!`).
#[inline(always)]
pub(crate) fn run<R>(f: impl FnOnce() -> R) -> R {
    run_as(width(), f)
}

/// Runs `f` compiled for `width`, which the CPU must have (see [`width`]).
#[inline(always)]
pub(crate) fn run_as<R>(width: Width, f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    match width {
        // SAFETY: `width` comes from the CPU's own feature detection.
        Width::Avx512 => unsafe { avx512(f) },
        // SAFETY: as above.
        Width::Avx2 => unsafe { avx2(f) },
        Width::Base => f(),
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = width;
        f()
    }
}

/// # Safety
/// The CPU has AVX512F, AVX512BW, AVX512DQ and AVX512VL.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl,avx2")]
unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// # Safety
/// The CPU has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}
