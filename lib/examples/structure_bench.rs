//! Throughput of the Structure model alone: `structure_bench WEIGHTS [WINDOWS] [THREADS] [BATCH]`.
//!
//! Prints windows per second (wall) and CPU-seconds per window (user + system of the process,
//! from /proc/self/stat, so Linux only) for one warm-up call and then the timed calls.

use std::time::Instant;

use mire2e::model::{Device, Structure};

/// User + system CPU seconds of this process so far (clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / 100.0 // utime, stime (fields 14 and 15 of the line)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let weights = args
        .get(1)
        .expect("usage: structure_bench WEIGHTS [WINDOWS] [THREADS] [BATCH]");
    let n: usize = args.get(2).map_or(512, |v| v.parse().unwrap());
    let threads: usize = args.get(3).map_or(1, |v| v.parse().unwrap());
    let batch: usize = args.get(4).map_or(256, |v| v.parse().unwrap());
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .unwrap();
    let model = Structure::load(weights.as_ref(), Device::Cpu).unwrap();
    let mut state = 12345u64;
    let seqs: Vec<Vec<u8>> = (0..n)
        .map(|_| {
            (0..100)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    b"ACGU"[(state >> 33) as usize % 4]
                })
                .collect()
        })
        .collect();
    let windows: Vec<&[u8]> = seqs.iter().map(Vec::as_slice).collect();
    model.predict(&windows[..batch.min(n)]).unwrap(); // warm-up
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let mut checksum = 0.0f64;
    for chunk in windows.chunks(batch) {
        checksum += model
            .predict(chunk)
            .unwrap()
            .iter()
            .map(|&v| v as f64)
            .sum::<f64>();
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    println!(
        "windows {n} threads {threads} batch {batch}: {:.1} windows/s wall, {:.3} ms CPU/window, checksum {checksum:.4}",
        n as f64 / wall,
        1e3 * cpu / n as f64
    );
}
