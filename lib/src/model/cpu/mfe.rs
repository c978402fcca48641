//! Model B on the CPU without candle's per-op dispatch: the same network as `MfeNet` on plain f32
//! buffers reused per thread (see `cpu::structure` for why).
//!
//! Windows go through the pooled encoder in tiles of `ENCODER_TILE` (its GEMMs over windows ×
//! positions), then the MLP head runs over a chunk of up to `CHUNK` windows, one row per window.
//!
//! A window's result is the same bytes whatever the batch, tile or thread count: encoder tiles are
//! always full (zero windows pad the last one), head GEMMs get at least `MIN_ROWS` rows (zero rows
//! pad small chunks; gemm's summation order depends on the row count only below that, see
//! `gemm_f32`), every other loop is per row.

use super::gemm_f32::MIN_ROWS;
use super::layers::{
    par_runs, values, Dense, EncoderScratch, Norm, PooledEncoder, Spare, ENCODER_TILE,
};
use super::ops::{bias_elu_norm, dot, elu};
use crate::model::config::MfeConfig;
use crate::model::nn::weights::Vb;
use crate::model::Precision;

/// Windows per head pass.
const CHUNK: usize = 128;

/// Activation buffers of one thread.
struct Scratch {
    encoder: EncoderScratch,
    /// Flattened conv maps, `[CHUNK, 768]`
    flat: Vec<f32>,
    first: Vec<f32>,
    med: Vec<f32>,
}

/// Model B's weights, rearranged for the CPU path.
pub struct MfeCpu {
    conv1: PooledEncoder,
    hidden2first: Dense,
    bn1: Norm,
    first2med: Dense,
    bn2: Norm,
    /// `FF1`: one output, a dot product per window
    ff1: (Vec<f32>, f32),
    spare: Spare<Scratch>,
}

impl MfeCpu {
    /// Reads the same tensors as `MfeNet::load`.
    pub fn load(vb: &Vb, cfg: &MfeConfig, precision: Precision) -> candle_core::Result<Self> {
        let mut conv1 = PooledEncoder::load(&vb.pp("conv1"), &cfg.conv1)?;
        conv1.set_precision(precision);
        let flat = conv1.features();
        let ff1 = vb.pp("FF1");
        Ok(Self {
            hidden2first: Dense::load(&vb.pp("hidden2first"), flat, cfg.hidden)?,
            bn1: Norm::load(&vb.pp("bn1"), cfg.hidden)?,
            first2med: Dense::load(&vb.pp("first2med"), cfg.hidden, cfg.med)?,
            bn2: Norm::load(&vb.pp("bn2"), cfg.med)?,
            ff1: (
                values(&ff1, &[1, cfg.med], "weight")?,
                values(&ff1, &[1], "bias")?[0],
            ),
            conv1,
            spare: Spare::default(),
        })
    }

    /// `x`: bases + structure channels-first `[B, 5, 100]` → `[B]`.
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        let per_window = self.conv1.inputs();
        let mut out = vec![0.0; x.len() / per_window];
        par_runs(x, per_window, &mut out, 1, ENCODER_TILE, |x, out| {
            self.spare.with(
                || self.scratch(),
                |s| {
                    for (x, out) in x.chunks(CHUNK * per_window).zip(out.chunks_mut(CHUNK)) {
                        self.chunk(x, out, s);
                    }
                },
            )
        });
        out
    }

    fn scratch(&self) -> Scratch {
        Scratch {
            encoder: self.conv1.scratch(),
            flat: vec![0.0; CHUNK * self.conv1.features()],
            first: vec![0.0; CHUNK * self.hidden2first.output()],
            med: vec![0.0; CHUNK * self.first2med.output()],
        }
    }

    /// Up to `CHUNK` windows.
    fn chunk(&self, x: &[f32], out: &mut [f32], s: &mut Scratch) {
        let (n, per_window, flat) = (out.len(), self.conv1.inputs(), self.conv1.features());
        for (x, f) in x
            .chunks(ENCODER_TILE * per_window)
            .zip(s.flat.chunks_mut(ENCODER_TILE * flat))
        {
            self.conv1.forward(x, f, &mut s.encoder);
        }
        let rows = n.max(MIN_ROWS);
        s.flat[n * flat..rows * flat].fill(0.0);
        // view(B, -1) → hidden2first → ELU → bn1 → first2med → ELU → bn2 → FF1 → ELU
        self.hidden2first.apply(&mut s.first, &s.flat, rows);
        let h = self.hidden2first.output();
        let (b, n1) = (&self.hidden2first.bias, &self.bn1);
        bias_elu_norm(&mut s.first[..rows * h], b, &n1.scale, &n1.shift);
        self.first2med.apply(&mut s.med, &s.first, rows);
        let m = self.first2med.output();
        let (b, n2) = (&self.first2med.bias, &self.bn2);
        bias_elu_norm(&mut s.med[..rows * m], b, &n2.scale, &n2.shift);
        let (w, b) = (&self.ff1.0, self.ff1.1);
        for (o, row) in out.iter_mut().zip(s.med.chunks_exact(m)) {
            *o = elu(dot(row, w) + b);
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;
    use crate::model::cpu::layers::testing::{
        random_input, random_weights, reference_weights, worst,
    };
    use crate::model::nn::mfe::MfeNet;
    use crate::model::{load, Kind};
    use crate::window::WINDOW_LENGTH;

    /// Largest |Δ| between the CPU path and the candle network allowed.
    const TOLERANCE: f32 = 1e-5;

    fn compare(net: &MfeNet, cpu: &MfeCpu, n: usize, seed: u64) -> f32 {
        let x = random_input(n, seed);
        let t = Tensor::from_vec(x.clone(), (n, 5, WINDOW_LENGTH), &Device::Cpu).unwrap();
        let want = net.forward(&t).unwrap().to_vec1::<f32>().unwrap();
        worst(&cpu.forward(&x), &want)
    }

    #[test]
    fn equals_the_candle_network_on_random_weights() {
        let cfg = MfeConfig::default();
        for seed in [1, 2] {
            let source = random_weights(Kind::Mfe, seed);
            let vb = Vb::root(&source);
            let (net, cpu) = (
                MfeNet::load(&vb, &cfg).unwrap(),
                MfeCpu::load(&vb, &cfg, Precision::F32).unwrap(),
            );
            // 37: a partial encoder tile and a chunk padded to MIN_ROWS; 300: several chunks
            for n in [1, 37, 300] {
                let d = compare(&net, &cpu, n, seed + 10);
                println!("mfe, random weights {seed}, {n} windows: worst |Δ| {d:e}");
                assert!(d <= TOLERANCE, "seed {seed}, {n} windows: worst |Δ| {d:e}");
            }
        }
    }

    #[test]
    fn equals_the_candle_network_on_reference_weights() {
        let Some(bytes) = reference_weights("hsa-mfe.safetensors") else {
            eprintln!("SKIP: shared reference weights not found");
            return;
        };
        let cfg = MfeConfig::default();
        let (net, cpu) = load::build(Kind::Mfe, &bytes, None, &Device::Cpu, |vb| {
            Ok((
                MfeNet::load(vb, &cfg)?,
                MfeCpu::load(vb, &cfg, Precision::F32)?,
            ))
        })
        .unwrap();
        let d = compare(&net, &cpu, 300, 5);
        println!("mfe, reference weights: worst |Δ| {d:e}");
        assert!(d <= TOLERANCE, "worst |Δ| {d:e}");
    }
}
