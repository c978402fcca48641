//! Optimisers (PyTorch's SGD and AdamW update rules), gradient-norm clipping and the learning-rate
//! schedules of the original, with their state kept in tensors for checkpoints.

use candle_core::{Result, Tensor, Var};

use crate::train::OptimizerKind;

/// Learning rate (and momentum) as a function of the epoch and the global batch count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Schedule {
    /// `lr · gamma^(epoch − 1)` (StepLR, step size 1 epoch).
    Step { lr: f64, gamma: f64 },
    /// CyclicLR, triangular, stepped per batch; momentum cycles inversely (PyTorch's
    /// `cycle_momentum`, 0.8–0.9) when the optimiser has momentum.
    Cyclic { base: f64, max: f64, step_up: usize },
    /// A constant rate.
    Constant { lr: f64 },
}

/// Momentum range of PyTorch's CyclicLR.
const MOMENTUM: (f64, f64) = (0.8, 0.9);

impl Schedule {
    /// (learning rate, momentum) for the batch after `iteration` batches, in `epoch` (from 1).
    pub fn at(&self, epoch: usize, iteration: u64) -> (f64, f64) {
        match *self {
            Self::Step { lr, gamma } => (lr * gamma.powi(epoch as i32 - 1), MOMENTUM.1),
            Self::Constant { lr } => (lr, MOMENTUM.1),
            Self::Cyclic { base, max, step_up } => {
                let step = step_up.max(1) as f64;
                let it = iteration as f64;
                let cycle = (1.0 + it / (2.0 * step)).floor();
                let x = (it / step - 2.0 * cycle + 1.0).abs();
                let scale = (1.0 - x).max(0.0);
                let momentum = MOMENTUM.1 - (MOMENTUM.1 - MOMENTUM.0) * scale;
                (base + (max - base) * scale, momentum)
            }
        }
    }
}

/// AdamW's constants (PyTorch defaults).
const BETAS: (f64, f64) = (0.9, 0.999);
const ADAM_EPS: f64 = 1e-8;
const WEIGHT_DECAY: f64 = 0.01;

/// An optimiser over a fixed list of parameters.
pub(crate) struct Optimizer {
    pub kind: OptimizerKind,
    /// SGD: whether to use Nesterov momentum (else no momentum at all).
    pub nesterov: bool,
    /// SGD momentum buffers / AdamW first moments, per parameter.
    pub first: Vec<Option<Tensor>>,
    /// AdamW second moments.
    pub second: Vec<Option<Tensor>>,
    /// Steps taken.
    pub step: u64,
}

impl Optimizer {
    pub fn new(kind: OptimizerKind, nesterov: bool, params: usize) -> Self {
        Self {
            kind,
            nesterov,
            first: vec![None; params],
            second: vec![None; params],
            step: 0,
        }
    }

    /// One update of `vars` with their gradients.
    pub fn step(
        &mut self,
        vars: &[(String, Var)],
        grads: &[Tensor],
        lr: f64,
        momentum: f64,
    ) -> Result<()> {
        self.step += 1;
        for (i, ((_, var), g)) in vars.iter().zip(grads).enumerate() {
            let w = var.as_tensor().detach();
            let new = match self.kind {
                OptimizerKind::Sgd => {
                    let mut d = g.clone();
                    if self.nesterov {
                        let buf = match self.first[i].take() {
                            None => g.clone(),
                            Some(b) => ((b * momentum)? + g)?,
                        };
                        d = (g + (&buf * momentum)?)?;
                        self.first[i] = Some(buf);
                    }
                    (w - (d * lr)?)?
                }
                OptimizerKind::AdamW => {
                    let (b1, b2) = BETAS;
                    let m = match self.first[i].take() {
                        None => (g * (1.0 - b1))?,
                        Some(m) => ((m * b1)? + (g * (1.0 - b1))?)?,
                    };
                    let v = match self.second[i].take() {
                        None => (g.sqr()? * (1.0 - b2))?,
                        Some(v) => ((v * b2)? + (g.sqr()? * (1.0 - b2))?)?,
                    };
                    let t = self.step as i32;
                    let (bc1, bc2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
                    let denom = ((v.sqrt()? / bc2.sqrt())? + ADAM_EPS)?;
                    let w = (w * (1.0 - lr * WEIGHT_DECAY))?;
                    let new = (w - ((&m / denom)? * (lr / bc1))?)?;
                    self.first[i] = Some(m);
                    self.second[i] = Some(v);
                    new
                }
            };
            var.set(&new)?;
        }
        Ok(())
    }
}

/// Scales `grads` so that their joint L2 norm is at most `max_norm` (PyTorch's
/// `clip_grad_norm_`: factor `max_norm / (norm + 1e-6)` when below 1). Returns the norm before.
pub(crate) fn clip_grad_norm(grads: &mut [Tensor], max_norm: f64) -> Result<f64> {
    let mut total = 0f64;
    for g in grads.iter() {
        total += f64::from(g.sqr()?.sum_all()?.to_scalar::<f32>()?);
    }
    let norm = total.sqrt();
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        for g in grads.iter_mut() {
            *g = (&*g * coef)?;
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cyclic_lr_is_triangular() {
        let s = Schedule::Cyclic {
            base: 1.0,
            max: 3.0,
            step_up: 2,
        };
        let lrs: Vec<f64> = (0..6).map(|i| s.at(1, i).0).collect();
        assert_eq!(lrs, vec![1.0, 2.0, 3.0, 2.0, 1.0, 2.0]);
        assert_eq!(s.at(1, 0).1, 0.9);
        assert!((s.at(1, 2).1 - 0.8).abs() < 1e-12);
        let s = Schedule::Step {
            lr: 1.0,
            gamma: 0.5,
        };
        assert_eq!((s.at(1, 99).0, s.at(3, 0).0), (1.0, 0.25));
    }

    #[test]
    fn sgd_nesterov_matches_pytorch() {
        // torch: w=1, g=1 twice, lr 0.1, momentum 0.9, nesterov → 1 - 0.19 - 0.1*(1+0.9*1.9)
        let dev = candle_core::Device::Cpu;
        let var = Var::new(&[1.0f32], &dev).unwrap();
        let vars = vec![("w".to_owned(), var.clone())];
        let g = Tensor::new(&[1.0f32], &dev).unwrap();
        let mut opt = Optimizer::new(OptimizerKind::Sgd, true, 1);
        opt.step(&vars, std::slice::from_ref(&g), 0.1, 0.9).unwrap();
        opt.step(&vars, &[g], 0.1, 0.9).unwrap();
        let w = var.as_tensor().to_vec1::<f32>().unwrap()[0];
        assert!(
            (w - (1.0 - 0.19 - 0.1 * (1.0 + 0.9 * 1.9))).abs() < 1e-6,
            "{w}"
        );
    }
}
