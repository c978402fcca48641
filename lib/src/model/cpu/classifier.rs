//! Model C on the CPU without candle's per-op dispatch: the same network as `ClassifierNet` on plain
//! f32 buffers reused per thread (see `cpu::structure` for why), with either attention.
//!
//! Windows go through the pooled encoder in tiles of `ENCODER_TILE`; the transformer and the MLP
//! head then run over a chunk of up to `CHUNK` windows: GEMMs over rows = windows × 6 tokens (the
//! transformer) or windows (the head), attention over each group of 6 tokens as plain loops.
//! `Attention::BatchCompat` differs only in which 6 tokens form a group (`batch_compat`).
//!
//! With `Attention::Window` a window's result is the same bytes whatever the batch, tile or thread
//! count: encoder tiles are always full (zero windows pad the last one), chunk GEMMs get at least
//! `MIN_ROWS` windows (zero windows pad small chunks; gemm's summation order depends on the row
//! count only at ≤ 64 rows, see `gemm_f32`), attention and every other loop is per window or per
//! row in a fixed order.

use rayon::prelude::*;

use super::gemm_f32::MIN_ROWS;
use super::layers::{
    par_runs, values, Dense, EncoderScratch, Norm, PooledEncoder, Spare, TransformerLayer,
    ENCODER_TILE,
};
use super::ops::{bias_elu, bias_elu_norm, dot, softmax_rows};
use crate::model::config::ClassifierConfig;
use crate::model::nn::weights::Vb;
use crate::model::Attention;
use crate::model::Precision;

/// Windows per transformer and head pass: 128-row GEMMs amortise packing the 1000×1000 weights.
const CHUNK: usize = 128;

/// Activation buffers of one thread.
struct Scratch {
    encoder: EncoderScratch,
    /// Tokens, `[CHUNK·tokens, E]` (a window's conv map read as its tokens)
    x: Vec<f32>,
    qkv: Vec<f32>,
    attn: Vec<f32>,
    tmp: Vec<f32>,
    hidden: Vec<f32>,
    scores: Vec<f32>,
    /// `[CHUNK, tokens·E + 1]`: flattened tokens and the MFE value, after `bn1`
    flat: Vec<f32>,
    first: Vec<f32>,
    second: Vec<f32>,
}

/// Model C's weights, rearranged for the CPU path.
pub struct ClassifierCpu {
    conv1: PooledEncoder,
    /// `PE.pe`, `[tokens, E]`
    pe: Vec<f32>,
    layers: Vec<TransformerLayer>,
    bn1: Norm,
    hidden2first: Dense,
    bn2: Norm,
    first2med: Dense,
    ff1: Dense,
    /// `FF2` (two outputs): `[2, hidden]` as stored, a dot product per output
    ff2: (Vec<f32>, Vec<f32>),
    d_model: usize,
    nhead: usize,
    tokens: usize,
    spare: Spare<Scratch>,
}

impl ClassifierCpu {
    /// Reads the same tensors as `ClassifierNet::load` (which checks the configuration).
    pub fn load(
        vb: &Vb,
        cfg: &ClassifierConfig,
        precision: Precision,
    ) -> candle_core::Result<Self> {
        let mut conv1 = PooledEncoder::load(&vb.pp("conv1"), &cfg.conv1)?;
        conv1.set_precision(precision);
        let t = &cfg.transformer;
        let e = t.d_model;
        let tokens = conv1.features() / e;
        let flat = tokens * e + 1;
        let encoder = vb.pp("transformer_encoder").pp("layers");
        let layers = (0..t.n_layers)
            .map(|i| TransformerLayer::load(&encoder.pp(i), t))
            .collect::<candle_core::Result<_>>()?;
        let ff2 = vb.pp("FF2");
        Ok(Self {
            pe: values(&vb.pp("PE"), &[1, tokens, e], "pe")?,
            layers,
            bn1: Norm::load(&vb.pp("bn1"), flat)?,
            hidden2first: Dense::load(&vb.pp("hidden2first"), flat, cfg.hidden)?,
            bn2: Norm::load(&vb.pp("bn2"), cfg.hidden)?,
            first2med: Dense::load(&vb.pp("first2med"), cfg.hidden, cfg.hidden)?,
            ff1: Dense::load(&vb.pp("FF1"), cfg.hidden, cfg.hidden)?,
            ff2: (
                values(&ff2, &[2, cfg.hidden], "weight")?,
                values(&ff2, &[2], "bias")?,
            ),
            conv1,
            d_model: e,
            nhead: t.nhead,
            tokens,
            spare: Spare::default(),
        })
    }

    /// `x`: bases + structure channels-first `[B, 5, 100]`, `mfe`: `[B]` → class-0 probability `[B]`.
    /// With [`Attention::BatchCompat`] the `B` windows are one batch of the original.
    pub fn forward(&self, x: &[f32], mfe: &[f32], attention: Attention) -> Vec<f32> {
        match attention {
            Attention::Window => self.per_window(x, mfe),
            Attention::BatchCompat => self.batch_compat(x, mfe),
        }
    }

    fn per_window(&self, x: &[f32], mfe: &[f32]) -> Vec<f32> {
        let per_window = self.conv1.inputs();
        let mut out = mfe.to_vec(); // each run reads its windows' MFE values from its output
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
        let rows = CHUNK * self.tokens;
        let e = self.d_model;
        let layer = self.layers.first();
        let (qkv, ff) = layer.map_or((0, 0), |l| (l.qkv_stride(), l.hidden_stride()));
        let h = self.hidden2first.output();
        Scratch {
            encoder: self.conv1.scratch(),
            x: vec![0.0; rows * e],
            qkv: vec![0.0; rows * qkv],
            attn: vec![0.0; rows * e],
            tmp: vec![0.0; rows * e],
            hidden: vec![0.0; rows * ff],
            scores: vec![0.0; self.tokens * self.tokens],
            flat: vec![0.0; CHUNK * self.hidden2first.input],
            first: vec![0.0; CHUNK * h],
            second: vec![0.0; CHUNK * h],
        }
    }

    /// Up to `CHUNK` windows; `out` holds their MFE values on entry, their scores on return.
    fn chunk(&self, x: &[f32], out: &mut [f32], s: &mut Scratch) {
        let windows = self.encode(x, out.len(), s);
        self.transform(windows, s);
        self.head(out, windows, s);
    }

    /// The original's batch: `.view(6, B, 64)` of the `[B, 6, 64]` tokens makes batch column `g`
    /// the flat token rows `i·B + g` (`i` < 6), so each group of 6 tokens that attend to each other
    /// mixes windows. Regrouped so that a column's tokens are adjacent, the columns go through the
    /// same per-group layers as windows do; `T.view(B, -1)` then reads the sequence-first memory
    /// back row by row, and the head runs per window.
    fn batch_compat(&self, x: &[f32], mfe: &[f32]) -> Vec<f32> {
        let (n, tokens, e) = (mfe.len(), self.tokens, self.d_model);
        let (span, per_window) = (self.conv1.features(), self.conv1.inputs());
        let mut flat = vec![0.0; n * span];
        flat.par_chunks_mut(CHUNK * span)
            .zip(x.par_chunks(CHUNK * per_window))
            .for_each(|(t, x)| {
                self.spare.with(
                    || self.scratch(),
                    |s| {
                        self.encode(x, t.len() / span, s);
                        t.copy_from_slice(&s.x[..t.len()]);
                    },
                )
            });
        let mut columns = vec![0.0; n * span];
        for g in 0..n {
            for i in 0..tokens {
                columns[(g * tokens + i) * e..][..e].copy_from_slice(&flat[(i * n + g) * e..][..e]);
            }
        }
        columns.par_chunks_mut(CHUNK * span).for_each(|c| {
            self.spare.with(
                || self.scratch(),
                |s| {
                    let windows = self.fill(c, s);
                    self.transform(windows, s);
                    c.copy_from_slice(&s.x[..c.len()]);
                },
            )
        });
        for g in 0..n {
            for i in 0..tokens {
                flat[(i * n + g) * e..][..e].copy_from_slice(&columns[(g * tokens + i) * e..][..e]);
            }
        }
        let mut out = mfe.to_vec();
        out.par_chunks_mut(CHUNK)
            .zip(flat.par_chunks(CHUNK * span))
            .for_each(|(out, t)| {
                self.spare.with(
                    || self.scratch(),
                    |s| {
                        let windows = self.fill(t, s);
                        self.head(out, windows, s);
                    },
                )
            });
        out
    }

    /// Copies the tokens of up to `CHUNK` windows into `s.x`, zero windows after them up to
    /// `MIN_ROWS`; returns the windows the GEMMs then cover.
    fn fill(&self, tokens: &[f32], s: &mut Scratch) -> usize {
        let span = self.conv1.features();
        let windows = (tokens.len() / span).max(MIN_ROWS);
        s.x[..tokens.len()].copy_from_slice(tokens);
        s.x[tokens.len()..windows * span].fill(0.0);
        windows
    }

    /// The tokens of `n` (≤ `CHUNK`) windows into `s.x`, zero windows after them up to `MIN_ROWS`,
    /// scaled and position-encoded; returns the windows the GEMMs then cover.
    fn encode(&self, x: &[f32], n: usize, s: &mut Scratch) -> usize {
        let (e, per_window) = (self.d_model, self.conv1.inputs());
        let span = self.conv1.features(); // values per window: tokens × E
        for (x, t) in x
            .chunks(ENCODER_TILE * per_window)
            .zip(s.x.chunks_mut(ENCODER_TILE * span))
        {
            self.conv1.forward(x, t, &mut s.encoder);
        }
        let windows = n.max(MIN_ROWS);
        s.x[n * span..windows * span].fill(0.0);
        // .view(B, -1, 64) of the channel-major conv map, then PE: A·sqrt(E) + pe
        let scale = (e as f64).sqrt() as f32;
        for w in s.x[..windows * span].chunks_exact_mut(span) {
            for (v, p) in w.iter_mut().zip(&self.pe) {
                *v = *v * scale + p;
            }
        }
        windows
    }

    /// The transformer layers over `windows` groups of tokens in `s.x`, in place.
    fn transform(&self, windows: usize, s: &mut Scratch) {
        let rows = windows * self.tokens;
        for layer in &self.layers {
            self.layer(layer, rows, s);
        }
    }

    /// The MLP head over `windows` windows' tokens in `s.x`; `out` (≤ `windows`) holds their MFE
    /// values on entry, their scores on return.
    fn head(&self, out: &mut [f32], windows: usize, s: &mut Scratch) {
        let span = self.conv1.features();
        // cat([T.view(B, -1), mfe]) → bn1 → hidden2first → ELU → bn2 → first2med → ELU → FF1 → ELU
        let flat = self.hidden2first.input;
        let (n1s, n1h) = (&self.bn1.scale, &self.bn1.shift);
        for (w, f) in s.flat[..windows * flat].chunks_exact_mut(flat).enumerate() {
            f[..span].copy_from_slice(&s.x[w * span..(w + 1) * span]);
            f[span] = out.get(w).copied().unwrap_or(0.0);
            for ((v, a), b) in f.iter_mut().zip(n1s).zip(n1h) {
                *v = *v * a + b;
            }
        }
        let h = self.hidden2first.output();
        self.hidden2first.apply(&mut s.first, &s.flat, windows);
        let n2 = &self.bn2;
        bias_elu_norm(
            &mut s.first[..windows * h],
            &self.hidden2first.bias,
            &n2.scale,
            &n2.shift,
        );
        self.first2med.apply(&mut s.second, &s.first, windows);
        bias_elu(&mut s.second[..windows * h], &self.first2med.bias);
        self.ff1.apply(&mut s.first, &s.second, windows);
        bias_elu(&mut s.first[..windows * h], &self.ff1.bias);
        // FF2 → softmax (as candle's: exp(l − max) / Σ), class 0
        let (w, b) = (&self.ff2.0, &self.ff2.1);
        for (o, row) in out.iter_mut().zip(s.first.chunks_exact(h)) {
            let l0 = dot(row, &w[..h]) + b[0];
            let l1 = dot(row, &w[h..]) + b[1];
            let max = l0.max(l1);
            let (e0, e1) = ((l0 - max).exp(), (l1 - max).exp());
            *o = e0 / (e0 + e1);
        }
    }

    /// One transformer layer over `rows` token rows, in place on `s.x`.
    fn layer(&self, l: &TransformerLayer, rows: usize, s: &mut Scratch) {
        let rs = l.qkv_stride();
        l.qkv(&mut s.qkv, &s.x, rows);
        self.attend(&s.qkv[..rows * rs], rs, &mut s.attn, &mut s.scores);
        l.finish(&mut s.x, &s.attn, &mut s.tmp, &mut s.hidden, rows);
    }

    /// Multi-head attention of each window over its own tokens: `qkv` rows `[q | k | v]` (q
    /// pre-scaled), `rs` apart → `attn` rows (heads side by side).
    fn attend(&self, qkv: &[f32], rs: usize, attn: &mut [f32], scores: &mut [f32]) {
        let (e, s) = (self.d_model, self.tokens);
        let hd = e / self.nhead;
        for (qkv, attn) in qkv.chunks_exact(s * rs).zip(attn.chunks_exact_mut(s * e)) {
            let row = |t: usize, part: usize, h: usize| &qkv[t * rs + part * e + h * hd..][..hd];
            for h in 0..self.nhead {
                for i in 0..s {
                    for j in 0..s {
                        scores[i * s + j] = dot(row(i, 0, h), row(j, 1, h));
                    }
                }
                softmax_rows(scores, s);
                for i in 0..s {
                    let o = &mut attn[i * e + h * hd..][..hd];
                    o.fill(0.0);
                    for j in 0..s {
                        let p = scores[i * s + j];
                        for (o, v) in o.iter_mut().zip(row(j, 2, h)) {
                            *o += p * v;
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::model::cpu::layers::testing::{
        random_input, random_weights, reference_weights, worst,
    };
    use crate::model::nn::classifier::ClassifierNet;
    use crate::model::{load, Kind};
    use crate::window::WINDOW_LENGTH;

    /// Largest |Δ| between the CPU path and the candle network allowed.
    const TOLERANCE: f32 = 1e-5;

    /// The same with the synthetic reference weights, whose scores are sensitive to rounding: there
    /// the candle network itself is up to 1.4e-5 from the original (tests/parity.rs), and the two
    /// paths differ by up to 1.3e-5 on these inputs (1e-7 with the random weights).
    const REFERENCE_TOLERANCE: f32 = 2e-5;

    fn compare(
        net: &ClassifierNet,
        cpu: &ClassifierCpu,
        n: usize,
        seed: u64,
        attention: Attention,
    ) -> f32 {
        let x = random_input(n, seed);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mfe: Vec<f32> = (0..n).map(|_| rng.random_range(0.0..0.6)).collect();
        let t = Tensor::from_vec(x.clone(), (n, 5, WINDOW_LENGTH), &Device::Cpu).unwrap();
        let m = Tensor::from_vec(mfe.clone(), (n, 1), &Device::Cpu).unwrap();
        let want = net.forward(&t, &m, attention).unwrap();
        let want = want.to_vec1::<f32>().unwrap();
        worst(&cpu.forward(&x, &mfe, attention), &want)
    }

    const ATTENTIONS: [Attention; 2] = [Attention::Window, Attention::BatchCompat];

    #[test]
    fn equals_the_candle_network_on_random_weights() {
        let cfg = ClassifierConfig::default();
        for seed in [1, 2] {
            let source = random_weights(Kind::Classifier, seed);
            let vb = Vb::root(&source);
            let net = ClassifierNet::load(&vb, &cfg).unwrap();
            let cpu = ClassifierCpu::load(&vb, &cfg, Precision::F32).unwrap();
            // 37: a partial encoder tile and a chunk padded to MIN_ROWS; 300: several chunks
            for (n, attention) in [1, 37, 300]
                .into_iter()
                .flat_map(|n| ATTENTIONS.map(|a| (n, a)))
            {
                let d = compare(&net, &cpu, n, seed + 10, attention);
                println!(
                    "classifier {attention:?}, random weights {seed}, {n} windows: worst |Δ| {d:e}"
                );
                assert!(
                    d <= TOLERANCE,
                    "{attention:?}, seed {seed}, {n} windows: worst |Δ| {d:e}"
                );
            }
        }
    }

    #[test]
    fn equals_the_candle_network_on_reference_weights() {
        let Some(bytes) = reference_weights("synthetic-predictor.safetensors") else {
            eprintln!("SKIP: shared reference weights not found");
            return;
        };
        let cfg = ClassifierConfig::default();
        let (net, cpu) = load::build(Kind::Classifier, &bytes, None, &Device::Cpu, |vb| {
            Ok((
                ClassifierNet::load(vb, &cfg)?,
                ClassifierCpu::load(vb, &cfg, Precision::F32)?,
            ))
        })
        .unwrap();
        for (seed, attention) in (0..4).flat_map(|s| ATTENTIONS.map(|a| (s, a))) {
            let d = compare(&net, &cpu, 300, seed, attention);
            println!("classifier {attention:?}, reference weights, inputs {seed}: worst |Δ| {d:e}");
            assert!(
                d <= REFERENCE_TOLERANCE,
                "{attention:?}, seed {seed}: worst |Δ| {d:e}"
            );
        }
    }
}
