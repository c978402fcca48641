//! Train-mode layers against their formulas; saved weights reproduce the training model.

use std::sync::Arc;

use candle_core::{Device, Tensor};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::model::nn::layers::batch_norm_train;
use crate::model::nn::structure::StructureNet;
use crate::model::nn::train_mode::TrainCtx;
use crate::model::nn::weights::Vb;
use crate::train::params::{serialize, snapshot_entries, Params, Snapshot};

#[test]
fn train_batch_norm_follows_the_formula() {
    let dev = Device::Cpu;
    // [B=2, C=2, T=3]
    let v: Vec<f32> = vec![1., 2., 3., 0., 0., 6., 4., 5., 9., 2., 2., 2.];
    let x = Tensor::from_vec(v.clone(), (2, 2, 3), &dev).unwrap();
    let w = Tensor::new(&[2.0f32, 1.0], &dev).unwrap();
    let b = Tensor::new(&[0.5f32, -1.0], &dev).unwrap();
    let ctx = TrainCtx::new(ChaCha8Rng::seed_from_u64(0));
    let y = batch_norm_train(&x, &w, &b, "bn", &ctx).unwrap();
    let y = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let stats = ctx.take_stats();
    for c in 0..2 {
        let vals: Vec<f64> = (0..2)
            .flat_map(|bi| (0..3).map(move |t| (bi, t)))
            .map(|(bi, t)| f64::from(v[bi * 6 + c * 3 + t]))
            .collect();
        let mean = vals.iter().sum::<f64>() / 6.0;
        let var = vals.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 6.0;
        let (wc, bc) = ([2.0, 1.0][c], [0.5, -1.0][c]);
        for bi in 0..2 {
            for t in 0..3 {
                let i = bi * 6 + c * 3 + t;
                let want = (f64::from(v[i]) - mean) / (var + 1e-5).sqrt() * wc + bc;
                assert!((f64::from(y[i]) - want).abs() < 1e-5, "{c} {bi} {t}");
            }
        }
        let m = stats[0].mean.to_vec1::<f32>().unwrap()[c];
        let u = stats[0].var.to_vec1::<f32>().unwrap()[c];
        assert!((f64::from(m) - mean).abs() < 1e-6);
        assert!((f64::from(u) - var).abs() < 1e-5, "biased variance");
        assert_eq!(stats[0].n, 6);
    }
}

#[test]
fn running_statistics_update_with_momentum() {
    let dev = Device::Cpu;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut p = Params::new(Kind::Mfe, &Snapshot::default(), true, &mut rng, &dev).unwrap();
    let ctx = TrainCtx::new(rng);
    // two micro-batches of 2 values per channel: {1, 3} and {5, 7} → mean 4, unbiased var 20/3
    for (m, n) in [(2.0f32, 2), (6.0, 2)] {
        ctx.report_batch_stats(
            "bn2",
            Tensor::full(m, 30, &dev).unwrap(),
            Tensor::full(1.0f32, 30, &dev).unwrap(),
            n,
        );
    }
    p.update_running(ctx.take_stats()).unwrap();
    let mean = p.buffers["bn2.running_mean"].to_vec1::<f32>().unwrap();
    let var = p.buffers["bn2.running_var"].to_vec1::<f32>().unwrap();
    assert!((mean[0] - 0.4).abs() < 1e-6, "{}", mean[0]);
    assert!(
        (var[0] - (0.9 + 0.1 * 20.0 / 3.0)).abs() < 1e-5,
        "{}",
        var[0]
    );
    assert_eq!(p.batches_tracked, 1);
}

#[test]
fn saved_weights_reproduce_the_training_model() {
    let dev = Device::Cpu;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut params =
        Params::new(Kind::Structure, &Snapshot::default(), true, &mut rng, &dev).unwrap();
    // one train-mode step so that the running statistics are not the initial ones
    let window: Vec<u8> = (0..100).map(|i| b"ACGUN"[(i * 7 + i / 3) % 5]).collect();
    let other: Vec<u8> = window.iter().rev().copied().collect();
    let seqs: Vec<&[u8]> = vec![&window, &other];
    let x = Tensor::from_vec(channels_first(&seqs, None), (2, 4, 100), &dev).unwrap();
    {
        let ctx = Arc::new(TrainCtx::new(rng));
        let source = params.train_source(ctx.clone());
        let net = StructureNet::load(&Vb::root(&source), &Default::default()).unwrap();
        let loss = net.forward(&x).unwrap().sqr().unwrap().mean_all().unwrap();
        assert!(loss.backward().is_ok());
        drop(net);
        params.update_running(ctx.take_stats()).unwrap();
    }
    let want = eval_structure(&params, &x).unwrap();
    let snap = params.snapshot().unwrap();
    let bytes = serialize(&snapshot_entries(Kind::Structure, &snap, "").unwrap(), None).unwrap();
    let names: Vec<String> = safetensors::SafeTensors::deserialize(&bytes)
        .unwrap()
        .names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let mut expected: Vec<String> = crate::model::expected_tensors(Kind::Structure)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let mut names = names;
    names.sort();
    expected.sort();
    assert_eq!(names, expected);
    let loaded =
        crate::model::Structure::load_from_buffer(&bytes, crate::model::Device::Cpu).unwrap();
    let got = loaded.predict(&seqs).unwrap();
    // prediction takes the hand-written CPU path (cpu::structure), training candle's: the same
    // network summed in another order, so equal to within the parity tolerance, not bit for bit
    assert_eq!(got.len(), want.len());
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "worst |Δ| {worst}");
}

#[test]
fn structure_inputs_take_the_cpu_path_for_full_windows_only() {
    use crate::model::cpu::StructureCpu;
    use crate::train::tasks::{predict_structure, EvalStructure, FoldSet};
    let dev = Device::Cpu;
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let params = Params::new(Kind::Structure, &Snapshot::default(), true, &mut rng, &dev).unwrap();
    let source = params.eval_source();
    let vb = Vb::root(&source);
    let net = || StructureNet::load(&vb, &Default::default()).unwrap();
    let records: Vec<crate::train::FoldRecord> = [100, 64, 100]
        .iter()
        .enumerate()
        .map(|(i, &len)| crate::train::FoldRecord {
            id: format!("r{i}"),
            seq: (0..len).map(|j| b"ACGU"[(j * 7 + i) % 4]).collect(),
            pairing: vec![0.0; len],
            mfe_per_nt: 0.0,
        })
        .collect();
    let set = FoldSet::new(&records);
    let candle_only = EvalStructure {
        net: net(),
        cpu: None,
    };
    let both = EvalStructure {
        net: net(),
        cpu: Some(
            StructureCpu::load(&vb, &Default::default(), crate::model::Precision::F32).unwrap(),
        ),
    };
    let want = predict_structure(&candle_only, &set, &dev).unwrap();
    let got = predict_structure(&both, &set, &dev).unwrap();
    // the short record takes the same (candle) path in both: the same bits
    assert_eq!(got[100..200], want[100..200]);
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "worst |Δ| {worst}");
}
