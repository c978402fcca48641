//! The CPU training engine: forward and backward passes of the three models written out on plain
//! f32 buffers with the same GEMM kernel as the CPU inference paths, instead of candle's autograd.
//!
//! Why: candle's autograd allocates every intermediate, keeps the whole graph alive and runs small
//! ops one at a time; the training step of the Structure model ran at 3–9 samples/s that way. Here
//! each product covers a whole micro-batch, cut into blocks that run in parallel, and a layer's
//! activations live until its backward pass has used them.
//!
//! The engine computes what candle's autograd computes for the same step — the same train-mode
//! layers, the same dropout masks drawn from the same seeded stream in the same order, the same
//! batch statistics reported for the running update — so `--engine candle` stays the reference
//! (the tests compare every gradient). Results do not depend on the thread count (see `ops`).

mod blocks;
mod buf;
mod classifier;
mod mfe;
mod ops;
mod structure;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use candle_core::Result;

pub(crate) use classifier::{classifier_step, ClassifierBatch};
pub(crate) use mfe::{mfe_step, MfeBatch};
pub(crate) use structure::{structure_step, FoldBatch};

/// Parameter and buffer values by state-dict name, in PyTorch's layouts.
pub(crate) struct Weights(HashMap<String, Vec<f32>>);

impl Weights {
    pub fn new(values: HashMap<String, Vec<f32>>) -> Self {
        Self(values)
    }

    /// The tensor `name`, which must hold `len` values.
    pub fn get(&self, name: &str, len: usize) -> Result<&[f32]> {
        match self.0.get(name) {
            Some(v) if v.len() == len => Ok(v),
            Some(v) => candle_core::bail!("tensor {name} has {} values, expected {len}", v.len()),
            None => candle_core::bail!("tensor {name} missing"),
        }
    }
}

/// Gradients by state-dict name, summed over the micro-batches of a step.
#[derive(Default)]
pub(crate) struct Grads(BTreeMap<String, Vec<f32>>);

impl Grads {
    /// The gradient of `name` (zeros on first use).
    pub fn slot(&mut self, name: &str, len: usize) -> &mut [f32] {
        self.0
            .entry(name.to_owned())
            .or_insert_with(|| vec![0.0; len])
    }

    /// Two gradients at once (a layer's weight and bias).
    pub fn pair<R>(
        &mut self,
        a: &str,
        a_len: usize,
        b: &str,
        b_len: usize,
        f: impl FnOnce(&mut [f32], &mut [f32]) -> R,
    ) -> R {
        let mut first = self.0.remove(a).unwrap_or_else(|| vec![0.0; a_len]);
        let r = f(&mut first, self.slot(b, b_len));
        self.0.insert(a.to_owned(), first);
        r
    }

    /// The gradient of `name`, if the step reached it.
    pub fn take(&mut self, name: &str) -> Option<Vec<f32>> {
        self.0.remove(name)
    }
}
