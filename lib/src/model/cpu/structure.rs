//! Model A on the CPU without candle's per-op dispatch: the same network as `StructureNet`, computed
//! on plain f32 buffers that are allocated once per thread and reused for every tile of windows.
//!
//! Why: the transformer is ~0.8 GFLOP per window; candle allocates every intermediate tensor, makes
//! permuted copies contiguous and spin-waits its threads inside each small op. Here each GEMM covers
//! a whole tile (Q/K/V projection, output projection, feed-forward over [`tile_windows`]·100
//! rows), attention runs per (window, head), bias/activation/residual/LayerNorm are fused row
//! loops, and threads take whole tiles (rayon), each GEMM single-threaded.
//!
//! Layout: time-major, row r = window·100 + position, channels along the row (Q/K/V and the
//! feed-forward layer's hidden rows padded to whole cache lines: `aligned`). The convolutions are
//! GEMMs over im2col rows (`[x(t-1), x(t), x(t+1)]`, zero outside the window).
//!
//! A window's result is the same bytes whatever the tile, batch or thread count: every GEMM has
//! ≥ 100 rows and a fixed shape otherwise (see `gemm_f32`), every other loop is per row.
//!
//! With `Precision::Bf16` every GEMM (convolutions, projections, feed-forward, and per window and
//! head `Q·Kᵀ` and `P·V`) goes through `gemm_bf16` (Intel AMX where available) on bf16-rounded
//! operands with f32 sums; everything else stays f32, and windows stay independent bit for bit.

use rayon::prelude::*;

use super::aligned::Aligned;
use super::gemm_bf16::{self, PackedB};
use super::gemm_f32::{matmul, Mat};
use super::layers::{Dense, NormConv, Spare, TransformerLayer as Layer};
use super::ops::{bias_elu, softmax_rows};
use crate::encode::{get_pe, PE_FEATURES};
use crate::model::config::StructureConfig;
use crate::model::nn::weights::Vb;
use crate::model::Precision;
use crate::window::WINDOW_LENGTH;

/// Windows per tile, by precision. f32: 800-row GEMMs amortise the gemm crate's packing of the
/// weights, which it repeats per call (8 windows took 0.974× the time of 4, 16 0.979×; Intel Xeon
/// with AMX, 1 thread). bf16, whose weights are packed once at load: 4, so that a tile's
/// activations (~12 kB per row) stay near the L2 cache (8 took 1.07× the time).
fn tile_windows(precision: Precision) -> usize {
    match precision {
        Precision::F32 => 8,
        Precision::Bf16 => 4,
    }
}

/// Activation buffers of one tile, reused across tiles and layers.
struct Scratch {
    col: Aligned,
    conv: Aligned,
    tmp: Aligned,
    x: Aligned,
    qkv: Aligned,
    scores: Vec<f32>,
    attn: Aligned,
    hidden: Aligned,
    /// bf16: a head's keys (transposed) and values as AMX operands.
    keys: PackedB,
    values: PackedB,
}

impl Scratch {
    fn new(net: &StructureCpu) -> Self {
        let rows = tile_windows(net.precision) * WINDOW_LENGTH;
        let (e, c) = (net.d_model, net.width);
        let layer = net.layers.first();
        let (qkv, ff) = layer.map_or((0, 0), |l| (l.qkv_stride(), l.hidden_stride()));
        Self {
            col: Aligned::zeros(rows * 3 * c.max(net.stem.cin)),
            conv: Aligned::zeros(rows * c),
            tmp: Aligned::zeros(rows * c.max(e)),
            x: Aligned::zeros(rows * e),
            qkv: Aligned::zeros(rows * qkv),
            scores: vec![0.0; WINDOW_LENGTH * WINDOW_LENGTH],
            attn: Aligned::zeros(rows * e),
            hidden: Aligned::zeros(rows * ff.max(net.hidden2first.output())),
            keys: PackedB::empty(),
            values: PackedB::empty(),
        }
    }
}

/// Model A's weights, rearranged for the CPU path.
pub struct StructureCpu {
    stem: NormConv,
    /// Per ResNet: the two `BN(ReLU(·)) → Conv` halves.
    resnets: Vec<(NormConv, NormConv)>,
    /// `get_pe(100, 100)`, [100, 111]
    pe: Vec<f32>,
    layers: Vec<Layer>,
    hidden2first: Dense,
    first2med: Dense,
    med2tag: Dense,
    width: usize,
    d_model: usize,
    nhead: usize,
    precision: Precision,
    /// Buffers of finished tasks, for the next call (~5 MB each).
    spare: Spare<Scratch>,
}

impl StructureCpu {
    /// Reads the same tensors as `StructureNet::load`, every product packed for `precision`.
    pub fn load(vb: &Vb, cfg: &StructureConfig, precision: Precision) -> candle_core::Result<Self> {
        let enc = &cfg.conv_in;
        if enc.pool || enc.n_blocks == 0 {
            candle_core::bail!("the CPU path expects the unpooled EncoderStr");
        }
        let t = &cfg.transformer;
        let (e, c) = (t.d_model, enc.width);
        let layers = vb.pp("conv_in").pp("conv_layers");
        let stem = NormConv::load(&layers.pp(1), &layers.pp(2), enc.in_channels, c)?;
        let resnets = (0..enc.n_blocks * enc.n_resnets)
            .map(|i| {
                let r = layers.pp(3 + i).pp("layers");
                Ok((
                    NormConv::load(&r.pp(1), &r.pp(2), c, c)?,
                    NormConv::load(&r.pp(4), &r.pp(5), c, c)?,
                ))
            })
            .collect::<candle_core::Result<_>>()?;
        let encoder = vb.pp("transformer_encoder").pp("layers");
        let layers = (0..t.n_layers)
            .map(|i| Layer::load(&encoder.pp(i), t))
            .collect::<candle_core::Result<_>>()?;
        let mut cpu = Self {
            stem,
            resnets,
            pe: get_pe(WINDOW_LENGTH, WINDOW_LENGTH),
            layers,
            hidden2first: Dense::load(&vb.pp("hidden2first"), e, cfg.hidden)?,
            first2med: Dense::load(&vb.pp("first2med"), cfg.hidden, cfg.med)?,
            med2tag: Dense::load(&vb.pp("med2tag"), cfg.med, 1)?,
            width: c,
            d_model: e,
            nhead: t.nhead,
            precision: Precision::F32,
            spare: Spare::default(),
        };
        if precision != Precision::F32 {
            cpu.pack(precision);
        }
        Ok(cpu)
    }

    /// `x`: one-hot channels-first `[B, 4, 100]` → `[B, 100]`: one run of tiles per thread of the
    /// rayon pool (how windows are grouped does not change their values).
    pub fn forward(&self, x: &[f32]) -> Vec<f32> {
        let per_window = self.stem.cin * WINDOW_LENGTH;
        let windows = x.len() / per_window;
        let mut out = vec![0.0; windows * WINDOW_LENGTH];
        let tile = tile_windows(self.precision);
        let tiles = windows.div_ceil(tile);
        let per_task = tiles.div_ceil(rayon::current_num_threads()).max(1) * tile;
        out.par_chunks_mut(per_task * WINDOW_LENGTH)
            .zip(x.par_chunks(per_task * per_window))
            .for_each(|(out, x)| {
                self.spare.with(
                    || Scratch::new(self),
                    |s| {
                        for (out, x) in out
                            .chunks_mut(tile * WINDOW_LENGTH)
                            .zip(x.chunks(tile * per_window))
                        {
                            self.tile(x, out, s);
                        }
                    },
                )
            });
        out
    }

    /// Packs the bf16 operands of every GEMM (see [`Precision`]).
    fn pack(&mut self, precision: Precision) {
        self.stem.set_precision(precision);
        for (a, b) in &mut self.resnets {
            a.set_precision(precision);
            b.set_precision(precision);
        }
        for l in &mut self.layers {
            for d in [
                &mut l.in_proj,
                &mut l.out_proj,
                &mut l.linear1,
                &mut l.linear2,
            ] {
                d.set_precision(precision);
            }
        }
        self.hidden2first.set_precision(precision);
        self.first2med.set_precision(precision);
        self.precision = precision;
    }

    /// One tile of up to [`tile_windows`] windows.
    fn tile(&self, x: &[f32], out: &mut [f32], s: &mut Scratch) {
        let rows = out.len();
        let (e, c, cin) = (self.d_model, self.width, self.stem.cin);
        // channels-first input → time-major rows (ReLU/BN happen in the conv's im2col)
        for (w, xw) in x.chunks_exact(cin * WINDOW_LENGTH).enumerate() {
            for t in 0..WINDOW_LENGTH {
                for ch in 0..cin {
                    s.tmp[(w * WINDOW_LENGTH + t) * cin + ch] = xw[ch * WINDOW_LENGTH + t];
                }
            }
        }
        self.stem.apply(&mut s.conv, &s.tmp, rows, &mut s.col);
        for (a, b) in &self.resnets {
            a.apply(&mut s.tmp, &s.conv, rows, &mut s.col);
            b.apply(&mut s.attn, &s.tmp, rows, &mut s.col);
            for (v, y) in s.conv[..rows * c].iter_mut().zip(s.attn.iter()) {
                *v += y;
            }
        }
        // cat([conv, pe]) along channels
        for (r, xr) in s.x[..rows * e].chunks_exact_mut(e).enumerate() {
            let t = r % WINDOW_LENGTH;
            xr[..c].copy_from_slice(&s.conv[r * c..(r + 1) * c]);
            xr[c..].copy_from_slice(&self.pe[t * PE_FEATURES..(t + 1) * PE_FEATURES]);
        }
        for layer in &self.layers {
            self.layer(layer, rows, s);
        }
        self.hidden2first.apply(&mut s.hidden, &s.x, rows);
        let h = self.hidden2first.output();
        bias_elu(&mut s.hidden[..rows * h], &self.hidden2first.bias);
        self.first2med.apply(&mut s.tmp, &s.hidden, rows);
        let m = self.first2med.output();
        bias_elu(&mut s.tmp[..rows * m], &self.first2med.bias);
        // one output: a dot product per row
        let (w, b) = (&self.med2tag.weight, self.med2tag.bias[0]);
        for (o, hr) in out.iter_mut().zip(s.tmp.chunks_exact(m)) {
            let dot: f32 = hr.iter().zip(w).map(|(a, b)| a * b).sum();
            *o = (dot + b).tanh();
        }
    }

    /// One transformer layer over the tile's rows, in place on `s.x`.
    fn layer(&self, l: &Layer, rows: usize, s: &mut Scratch) {
        let e = self.d_model;
        let (hd, rs) = (e / self.nhead, l.qkv_stride());
        l.qkv(&mut s.qkv, &s.x, rows);
        for w in 0..rows / WINDOW_LENGTH {
            let qkv = &s.qkv[w * WINDOW_LENGTH * rs..(w + 1) * WINDOW_LENGTH * rs];
            let attn = &mut s.attn[w * WINDOW_LENGTH * e..(w + 1) * WINDOW_LENGTH * e];
            for h in 0..self.nhead {
                let (q, k, v) = (&qkv[h * hd..], &qkv[e + h * hd..], &qkv[2 * e + h * hd..]);
                if self.precision == Precision::Bf16 {
                    s.keys.pack_transposed(k, WINDOW_LENGTH, hd, rs);
                    gemm_bf16::matmul(&mut s.scores, WINDOW_LENGTH, q, rs, WINDOW_LENGTH, &s.keys);
                    softmax_rows(&mut s.scores, WINDOW_LENGTH);
                    s.values.pack(v, WINDOW_LENGTH, hd, rs);
                    let (p, out) = (&s.scores, &mut attn[h * hd..]);
                    gemm_bf16::matmul(out, e, p, WINDOW_LENGTH, WINDOW_LENGTH, &s.values);
                    continue;
                }
                let q = Mat::new(q, WINDOW_LENGTH, hd, rs);
                let k = Mat::new(k, WINDOW_LENGTH, hd, rs);
                let v = Mat::new(v, WINDOW_LENGTH, hd, rs);
                matmul(&mut s.scores, WINDOW_LENGTH, q, k.t());
                softmax_rows(&mut s.scores, WINDOW_LENGTH);
                let p = Mat::new(&s.scores, WINDOW_LENGTH, WINDOW_LENGTH, WINDOW_LENGTH);
                matmul(&mut attn[h * hd..], e, p, v);
            }
        }
        l.finish(&mut s.x, &s.attn, &mut s.tmp, &mut s.hidden, rows);
    }
}
