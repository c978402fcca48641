//! Decoy sequence for a false-discovery estimate: the input with its dinucleotides shuffled.
//!
//! A dinucleotide-preserving shuffle keeps what a genome-wide score responds to most (base and
//! dinucleotide composition: GC, CpG, low complexity) and destroys what a precursor needs (a long
//! inverted repeat), so loci called on the decoy estimate how many calls on the real sequence are
//! false. The shuffle is Altschul & Erickson's (1985), drawn uniformly among all sequences with the
//! same dinucleotide counts by the Euler-path method of Kandel et al. (1996): a random spanning
//! arborescence of last exits (Wilson's algorithm), the other exits shuffled, then one walk.
//!
//! Runs of `N` (gaps, IUPAC codes) stay where they are and each stretch between them is shuffled
//! on its own, so the decoy has the real sequence's gaps. A [`Plan`] picks which blocks of a record
//! become decoy, seeded, so the same input, fraction and seed give the same decoy.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Decoy blocks are cut at this length, so a fraction below 1 samples the whole input evenly.
pub const BLOCK: usize = 10_000;

// A record read in parts gets the decoy of the record read whole: no block straddles two parts.
const _: () = assert!(crate::window::PART_ALIGN.is_multiple_of(BLOCK));

/// How much of the input becomes decoy, and the seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    /// Fraction of the input's blocks, in (0, 1]; 1 = all of it.
    pub fraction: f64,
    /// Seed of the block choice and of the shuffles.
    pub seed: u64,
}

/// The decoy of one input, block after block.
#[derive(Debug, Clone)]
pub struct Plan {
    spec: Spec,
    rng: ChaCha8Rng,
}

/// One block of decoy sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// `decoy_<record>_<start>`: the record and 0-based start of the real block it shuffles.
    pub id: String,
    /// The shuffled sequence (same length as the real block).
    pub seq: Vec<u8>,
}

impl Plan {
    /// The plan of `spec`, from the start of the input.
    pub fn new(spec: Spec) -> Self {
        Self {
            spec,
            rng: ChaCha8Rng::seed_from_u64(spec.seed),
        }
    }

    /// The decoy blocks of `seq`, the bases of record `id` from `offset` (a multiple of
    /// [`BLOCK`]) on. Records, and the parts of a record, are to be given in input order: the
    /// choice of blocks and the shuffles continue one seeded stream.
    pub fn blocks(&mut self, id: &str, offset: usize, seq: &[u8]) -> Vec<Block> {
        debug_assert!(offset.is_multiple_of(BLOCK));
        let mut out = Vec::new();
        for (i, block) in seq.chunks(BLOCK).enumerate() {
            let fraction = self.spec.fraction;
            let picked = fraction >= 1.0 || self.rng.random::<f64>() < fraction;
            if picked {
                out.push(Block {
                    id: format!("decoy_{id}_{}", offset + i * BLOCK),
                    seq: shuffle_keeping_gaps(block, &mut self.rng),
                });
            }
        }
        out
    }
}

fn is_gap(b: u8) -> bool {
    b.eq_ignore_ascii_case(&b'N')
}

/// `seq` with every stretch between `N`s shuffled on its own ([`shuffle`]).
pub fn shuffle_keeping_gaps<R: Rng>(seq: &[u8], rng: &mut R) -> Vec<u8> {
    let mut out = Vec::with_capacity(seq.len());
    for run in seq.chunk_by(|a, b| is_gap(*a) == is_gap(*b)) {
        if is_gap(run[0]) {
            out.extend_from_slice(run);
        } else {
            out.extend(shuffle(run, rng));
        }
    }
    out
}

/// A uniformly random sequence with the dinucleotide counts of `seq` (hence its letter counts and
/// its first and last letter).
pub fn shuffle<R: Rng>(seq: &[u8], rng: &mut R) -> Vec<u8> {
    if seq.len() < 3 {
        return seq.to_vec();
    }
    // exits[v]: the letters that follow letter v in seq, one per occurrence (edges v -> w)
    let mut exits: Vec<Vec<u8>> = vec![Vec::new(); 256];
    for pair in seq.windows(2) {
        exits[pair[0] as usize].push(pair[1]);
    }
    let (first, last) = (seq[0], seq[seq.len() - 1]);
    // Wilson's algorithm: a random arborescence of "last exits" towards `last`, every vertex
    // weighted by its edges' multiplicities (what makes the Euler path uniform).
    let mut in_tree = [false; 256];
    in_tree[last as usize] = true;
    let mut next: [Option<usize>; 256] = [None; 256]; // index into exits[v] of v's last exit
    for v in 0..256 {
        if exits[v].is_empty() || in_tree[v] {
            continue;
        }
        let mut u = v;
        while !in_tree[u] {
            let e = rng.random_range(0..exits[u].len());
            next[u] = Some(e);
            u = exits[u][e] as usize;
        }
        let mut u = v;
        while !in_tree[u] {
            in_tree[u] = true;
            u = exits[u][next[u].expect("set on the walk")] as usize;
        }
    }
    // every vertex's other exits in random order, its last exit at the end
    for (v, list) in exits.iter_mut().enumerate() {
        if let Some(e) = next[v] {
            let n = list.len() - 1;
            list.swap(e, n);
            list[..n].shuffle(rng);
        } else {
            list.shuffle(rng);
        }
    }
    let mut used = vec![0usize; 256];
    let mut out = Vec::with_capacity(seq.len());
    let mut v = first;
    out.push(v);
    while used[v as usize] < exits[v as usize].len() {
        let w = exits[v as usize][used[v as usize]];
        used[v as usize] += 1;
        out.push(w);
        v = w;
    }
    debug_assert_eq!(out.len(), seq.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dinucleotides(seq: &[u8]) -> std::collections::BTreeMap<(u8, u8), usize> {
        let mut counts = std::collections::BTreeMap::new();
        for p in seq.windows(2) {
            *counts.entry((p[0], p[1])).or_default() += 1;
        }
        counts
    }

    fn random_seq(rng: &mut ChaCha8Rng, n: usize, letters: &[u8]) -> Vec<u8> {
        (0..n)
            .map(|_| letters[rng.random_range(0..letters.len())])
            .collect()
    }

    #[test]
    fn keeps_dinucleotides_length_and_ends() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for (n, letters) in [
            (5, &b"ACGU"[..]),
            (1000, b"ACGU"),
            (997, b"AAAAAAACGU"),
            (300, b"acgACGU"),
            (50, b"AU"),
        ] {
            let seq = random_seq(&mut rng, n, letters);
            let out = shuffle(&seq, &mut rng);
            assert_eq!(out.len(), seq.len());
            assert_eq!((out[0], out[n - 1]), (seq[0], seq[n - 1]));
            assert_eq!(dinucleotides(&out), dinucleotides(&seq), "{n}");
        }
    }

    #[test]
    fn shuffles() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let seq = random_seq(&mut rng, 2000, b"ACGU");
        let out = shuffle(&seq, &mut rng);
        let same = seq.iter().zip(&out).filter(|(a, b)| a == b).count();
        // a random sequence agrees with another at about a quarter of positions
        assert!(same < 700, "{same} of 2000 positions unchanged");
    }

    /// Every sequence with the same dinucleotide counts comes out, equally often. In "AACAGA" the
    /// last letter A is the root: its three exits (to A, C, G) come in any of 3! orders, each a
    /// different sequence (AACAGA, AAGACA, ACAAGA, ACAGAA, AGAACA, AGACAA), each 1/6 of the draws.
    #[test]
    fn draws_uniformly() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut seen = std::collections::BTreeMap::new();
        for _ in 0..4000 {
            *seen.entry(shuffle(b"AACAGA", &mut rng)).or_insert(0) += 1;
        }
        assert_eq!(seen.len(), 6, "{seen:?}");
        for (seq, n) in &seen {
            assert_eq!(dinucleotides(seq), dinucleotides(b"AACAGA"));
            // 4000/6 = 667, standard deviation 24
            assert!((550..790).contains(n), "{seq:?}: {n} of 4000");
        }
    }

    #[test]
    fn gaps_stay_in_place() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let seq = b"ACGUACGGUUNNNNNAUGCAUGCCANacguacg".to_vec();
        let out = shuffle_keeping_gaps(&seq, &mut rng);
        for (i, (&a, &b)) in seq.iter().zip(&out).enumerate() {
            assert_eq!(is_gap(a), is_gap(b), "position {i}");
        }
        for (a, b) in seq.split(|&b| is_gap(b)).zip(out.split(|&b| is_gap(b))) {
            assert_eq!(dinucleotides(a), dinucleotides(b));
        }
    }

    #[test]
    fn plans_are_seeded() {
        let seq: Vec<u8> = {
            let mut rng = ChaCha8Rng::seed_from_u64(9);
            random_seq(&mut rng, 95_000, b"ACGU")
        };
        let blocks = |seed| {
            let spec = Spec {
                fraction: 0.3,
                seed,
            };
            Plan::new(spec).blocks("chr1", 0, &seq)
        };
        assert_eq!(blocks(5), blocks(5));
        assert_ne!(blocks(5), blocks(6));
        let all = Plan::new(Spec {
            fraction: 1.0,
            seed: 5,
        })
        .blocks("chr1", 0, &seq);
        assert_eq!(all.len(), 10);
        assert_eq!(all[9].id, "decoy_chr1_90000");
        assert_eq!(all[9].seq.len(), 5_000);
        let some = blocks(5);
        assert!(!some.is_empty() && some.len() < 10, "{} blocks", some.len());
        // A record given in parts has the decoy of the record given whole.
        let mut plan = Plan::new(Spec {
            fraction: 0.3,
            seed: 5,
        });
        let mut parts = plan.blocks("chr1", 0, &seq[..50_000]);
        parts.extend(plan.blocks("chr1", 50_000, &seq[50_000..]));
        assert_eq!(parts, some);
    }
}
