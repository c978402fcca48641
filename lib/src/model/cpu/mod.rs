//! The hand-written CPU engine: the three networks computed on plain f32 buffers, reused per
//! thread, instead of through candle's per-op dispatch (measured faster: `bench/bench.py`).
//!
//! - [`structure`], [`mfe`], [`classifier`]: the networks, each equal to its candle twin in
//!   `model::nn` (unit tests compare them) and loaded from the same weights;
//! - `layers`: their building blocks with weights rearranged once at load;
//! - `aligned`: activation buffers on cache lines, with row strides that keep them there;
//! - `ops`: fused row loops (bias, activations, LayerNorm, softmax), vectorised per CPU;
//! - `gemm_f32`, `gemm_bf16`: the matrix products (f32 through the gemm crate; bf16 on Intel AMX
//!   or AVX512-BF16, the only `unsafe` besides the f32 entry point).
//!
//! The training engine (`train::engine`) reuses the products and row loops.

pub(crate) mod aligned;
pub(crate) mod classifier;
pub(crate) mod gemm_bf16;
pub(crate) mod gemm_f32;
pub(crate) mod layers;
pub(crate) mod mfe;
pub(crate) mod ops;
pub(crate) mod structure;

pub(crate) use classifier::ClassifierCpu;
pub(crate) use mfe::MfeCpu;
pub(crate) use structure::StructureCpu;
