//! The train-mode context a model is built with: where dropout masks come from and where BatchNorm
//! layers report their batch statistics.

use std::sync::{Mutex, MutexGuard};

use candle_core::{Result, Tensor};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// One BatchNorm layer's statistics of one (micro-)batch (detached): mean and biased variance [C]
/// over `n` values per channel.
pub(crate) struct BatchStats {
    pub name: String,
    pub mean: Tensor,
    pub var: Tensor,
    pub n: usize,
}

/// Shared by every layer of a model built for one training step.
pub(crate) struct TrainCtx {
    /// The run's only random source (sampling and dropout), so a seed fixes the whole run.
    rng: Mutex<ChaCha8Rng>,
    stats: Mutex<Vec<BatchStats>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TrainCtx {
    pub fn new(rng: ChaCha8Rng) -> Self {
        Self {
            rng: Mutex::new(rng),
            stats: Mutex::new(Vec::new()),
        }
    }

    /// The random source.
    pub fn rng(&self) -> MutexGuard<'_, ChaCha8Rng> {
        lock(&self.rng)
    }

    /// Inverted dropout: zeroes each value with probability `p`, scales the others by 1/(1 − p).
    /// The mask is drawn on the CPU from the seeded source (candle's own dropout is not seeded).
    pub fn dropout(&self, x: &Tensor, p: f32) -> Result<Tensor> {
        if p <= 0.0 {
            return Ok(x.clone());
        }
        let mask = Tensor::from_vec(self.dropout_mask(x.elem_count(), p), x.shape(), x.device())?;
        x * mask
    }

    /// The factors of an inverted-dropout mask of `n` values in order: 0 with probability `p`,
    /// else 1/(1 − p). Both training engines draw their masks here, so a seed gives both the same.
    pub fn dropout_mask(&self, n: usize, p: f32) -> Vec<f32> {
        let mut mask = vec![0.0; n];
        self.fill_dropout_mask(&mut mask, p);
        mask
    }

    /// [`Self::dropout_mask`] into `mask`.
    ///
    /// Each value is `rng.random::<f32>() < p` written out (the top 24 bits of one `u32`), on
    /// words drawn a block at a time: the same stream, without a call per value.
    pub fn fill_dropout_mask(&self, mask: &mut [f32], p: f32) {
        let keep = 1.0 / (1.0 - p);
        let scale = 1.0 / (1u32 << 24) as f32;
        let mut words = [0u32; 1024];
        let mut rng = self.rng();
        for chunk in mask.chunks_mut(words.len()) {
            let words = &mut words[..chunk.len()];
            rng.fill(words);
            for (m, &u) in chunk.iter_mut().zip(words.iter()) {
                *m = if (u >> 8) as f32 * scale < p {
                    0.0
                } else {
                    keep
                };
            }
        }
    }

    pub fn report_batch_stats(&self, name: &str, mean: Tensor, var: Tensor, n: usize) {
        lock(&self.stats).push(BatchStats {
            name: name.to_owned(),
            mean,
            var,
            n,
        });
    }

    /// The statistics reported since the last call.
    pub fn take_stats(&self) -> Vec<BatchStats> {
        std::mem::take(&mut *lock(&self.stats))
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn masks_are_the_draws_of_random_f32() {
        let ctx = TrainCtx::new(ChaCha8Rng::seed_from_u64(4));
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for n in [3, 1024, 2500] {
            let mask = ctx.dropout_mask(n, 0.25);
            for m in mask {
                let want = if rng.random::<f32>() < 0.25 {
                    0.0
                } else {
                    1.0 / 0.75
                };
                assert_eq!(m, want);
            }
        }
        assert_eq!(
            ctx.rng().random::<u64>(),
            rng.random::<u64>(),
            "streams in step"
        );
    }
}
