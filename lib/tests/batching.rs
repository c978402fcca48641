//! The CPU paths give a window the same bytes whatever the batch it comes in, its place in the
//! batch, and the number of threads (tests/determinism.rs checks the same through the binaries).

#[path = "../../tests/support/mod.rs"]
mod support;

use mire2e::model::{Device, Mfe, Structure};

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
fn structure_and_mfe_ignore_batch_and_threads() {
    let shared = require_shared!();
    let weights = shared.join("reference/weights");
    let st = Structure::load(
        &weights.join("synthetic-structure.safetensors"),
        &Device::Cpu,
    )
    .unwrap();
    let mf = Mfe::load(&weights.join("hsa-mfe.safetensors"), &Device::Cpu).unwrap();
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
    // reference: one window per call, one thread
    let (s_ref, m_ref): (Vec<f32>, Vec<f32>) = in_pool(1, || {
        let mut s_all = Vec::new();
        let mut m_all = Vec::new();
        for w in &windows {
            let s = st.predict(&[w]).unwrap();
            m_all.extend(mf.predict(&[w], &s).unwrap());
            s_all.extend(s);
        }
        (s_all, m_all)
    });
    for threads in [1, 2, 3] {
        for batch in [2, 5, 8, 37] {
            let (s, m) = in_pool(threads, || {
                let mut s_all = Vec::new();
                let mut m_all = Vec::new();
                for chunk in windows.chunks(batch) {
                    let s = st.predict(chunk).unwrap();
                    m_all.extend(mf.predict(chunk, &s).unwrap());
                    s_all.extend(s);
                }
                (s_all, m_all)
            });
            assert_eq!(
                bits(&s),
                bits(&s_ref),
                "structure, {threads} threads, batch {batch}"
            );
            assert_eq!(
                bits(&m),
                bits(&m_ref),
                "mfe, {threads} threads, batch {batch}"
            );
        }
    }
}
