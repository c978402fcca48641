//! The CPU paths give a window the same bytes whatever the batch it comes in, its place in the
//! batch, and the number of threads (tests/determinism.rs checks the same through the binaries):
//! Structure, MFE and the Classifier with `Attention::Window`.

#[path = "../../tests/support/mod.rs"]
mod support;

use mire2e::model::{Attention, Classifier, Device, Mfe, Structure};

fn in_pool<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(f)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn models_ignore_batch_and_threads() {
    let shared = require_shared!();
    let weights = shared.join("reference/weights");
    let st = Structure::load(
        &weights.join("synthetic-structure.safetensors"),
        Device::Cpu,
    )
    .unwrap();
    let mf = Mfe::load(&weights.join("hsa-mfe.safetensors"), Device::Cpu).unwrap();
    let cl = Classifier::load(
        &weights.join("synthetic-predictor.safetensors"),
        Device::Cpu,
    )
    .unwrap();
    // with some N, so that windows differ in more than their bases
    let seqs: Vec<Vec<u8>> = (0..37)
        .map(|i| {
            let mut s = support::random_dna(100, i + 1)
                .replace('T', "U")
                .into_bytes();
            s[(i as usize * 7) % 100] = b'N';
            s
        })
        .collect();
    let windows: Vec<&[u8]> = seqs.iter().map(Vec::as_slice).collect();
    // structure, mfe and score of consecutive calls on `batch` windows each
    let run = |batch: usize| {
        let (mut s_all, mut m_all, mut c_all) = (Vec::new(), Vec::new(), Vec::new());
        for chunk in windows.chunks(batch) {
            let s = st.predict(chunk).unwrap();
            let m = mf.predict(chunk, &s).unwrap();
            c_all.extend(cl.predict(chunk, &s, &m, Attention::Window).unwrap());
            m_all.extend(m);
            s_all.extend(s);
        }
        (s_all, m_all, c_all)
    };
    // reference: one window per call, one thread
    let (s_ref, m_ref, c_ref) = in_pool(1, || run(1));
    for threads in [1, 2, 3] {
        for batch in [2, 5, 8, 37] {
            let (s, m, c) = in_pool(threads, || run(batch));
            let what = format!("{threads} threads, batch {batch}");
            assert_eq!(bits(&s), bits(&s_ref), "structure, {what}");
            assert_eq!(bits(&m), bits(&m_ref), "mfe, {what}");
            assert_eq!(bits(&c), bits(&c_ref), "classifier, {what}");
        }
    }
}

#[test]
fn mfe_and_classifier_ignore_chunks_and_threads() {
    // more windows than one head pass (128) of the CPU paths, calls on each side of its 65-row floor
    let shared = require_shared!();
    let weights = shared.join("reference/weights");
    let mf = Mfe::load(&weights.join("hsa-mfe.safetensors"), Device::Cpu).unwrap();
    let cl = Classifier::load(
        &weights.join("synthetic-predictor.safetensors"),
        Device::Cpu,
    )
    .unwrap();
    let n = 300;
    let seqs: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let mut s = support::random_dna(100, i + 1000)
                .replace('T', "U")
                .into_bytes();
            s[(i as usize * 13) % 100] = b'N';
            s
        })
        .collect();
    let windows: Vec<&[u8]> = seqs.iter().map(Vec::as_slice).collect();
    let structure: Vec<f32> = (0..n as usize * 100)
        .map(|i| ((i * 7919) % 2001) as f32 / 1000.0 - 1.0)
        .collect();
    let run = |batch: usize| {
        let (mut m_all, mut c_all) = (Vec::new(), Vec::new());
        for (k, chunk) in windows.chunks(batch).enumerate() {
            let s = &structure[k * batch * 100..][..chunk.len() * 100];
            let m = mf.predict(chunk, s).unwrap();
            c_all.extend(cl.predict(chunk, s, &m, Attention::Window).unwrap());
            m_all.extend(m);
        }
        (m_all, c_all)
    };
    let (m_ref, c_ref) = in_pool(1, || run(1));
    for threads in [1, 2, 3] {
        for batch in [7, 64, 65, 129, 300] {
            let (m, c) = in_pool(threads, || run(batch));
            let what = format!("{threads} threads, batch {batch}");
            assert_eq!(bits(&m), bits(&m_ref), "mfe, {what}");
            assert_eq!(bits(&c), bits(&c_ref), "classifier, {what}");
        }
    }
}
