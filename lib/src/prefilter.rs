//! Early rejection: a cheap stem finder that skips the Structure model for windows that cannot
//! hold a pre-miRNA hairpin.
//!
//! A pre-miRNA is a stem-loop whose stem pairs ~20–30 nt almost perfectly; most genome windows
//! hold no such inverted repeat. [`stem_score`] is the best local alignment of the window against
//! its own reverse, scored on base pairing (a Smith–Waterman over the pairs `(i, j)`, `i < j`):
//! pairs add (more for G–C), stacked pairs add a bonus (a G·U pair only that), mismatches and
//! bulges subtract, and the stem must close a hairpin loop of 3–25 nt (random windows hold many
//! short, isolated complementary runs; hairpins one long stacked stem). It costs ~5,000 cells
//! per 100-nt window (~25 µs), against ~0.8 GFLOP for the Structure model.
//!
//! The thresholds of [`Level`] were tuned on training hairpins only (`bench/prefilter/`); the
//! held-out recall and the share of genome windows skipped are reported there.

use std::fmt;
use std::str::FromStr;

/// The scores of the stem finder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scoring {
    /// A G–C pair.
    pub gc: i32,
    /// An A–U pair.
    pub au: i32,
    /// A G·U wobble pair.
    pub gu: i32,
    /// Two facing bases that do not pair (or an `N`).
    pub mismatch: i32,
    /// One unpaired base on one arm (a bulge, or the uneven part of an internal loop).
    pub bulge: i32,
    /// Bonus of a pair stacked on the pair before it (stems are runs of stacked pairs).
    pub stack: i32,
    /// Fewest unpaired bases closing a hairpin loop.
    pub min_loop: usize,
    /// Most unpaired bases inside the stem's innermost pair: a stem must end at a hairpin loop.
    pub max_loop: usize,
}

impl Default for Scoring {
    /// The values the thresholds of [`Level`] were tuned with.
    fn default() -> Self {
        Self {
            gc: 2,
            au: 1,
            gu: 0,
            mismatch: -2,
            bulge: -4,
            stack: 1,
            min_loop: 3,
            max_loop: 25,
        }
    }
}

/// How strong a stem a window needs to reach the models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Keeps 99.9% of the tuning hairpins (fewer windows skipped).
    Safe,
    /// Keeps 99% of the tuning hairpins.
    Default,
    /// Keeps 98% of the tuning hairpins (more windows skipped).
    Fast,
    /// A minimum [`stem_score`] given directly.
    MinScore(i32),
}

impl Level {
    /// The minimum [`stem_score`] a window needs to be scored by the models.
    pub fn min_score(self) -> i32 {
        match self {
            Level::Safe => 13,
            Level::Default => 19,
            Level::Fast => 20,
            Level::MinScore(s) => s,
        }
    }

    /// Whether a window passes (is worth running through the models).
    ///
    /// # Examples
    ///
    /// ```
    /// use mire2e::prefilter::Level;
    /// let arm = b"GGCUAGCUAGGCUAGCGAUCGGA";
    /// let back: Vec<u8> = arm.iter().rev().map(|&b| mire2e::window::complement(b)).collect();
    /// let hairpin = [&arm[..], b"UUCGAAAA", &back].concat();
    /// assert!(Level::Default.passes(&hairpin));
    /// assert!(!Level::Default.passes(&[b'A'; 100]));
    /// ```
    pub fn passes(self, seq: &[u8]) -> bool {
        stem_score(seq) >= self.min_score()
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Level::Safe => write!(f, "safe"),
            Level::Default => write!(f, "default"),
            Level::Fast => write!(f, "fast"),
            Level::MinScore(s) => write!(f, "{s}"),
        }
    }
}

impl FromStr for Level {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "safe" => Ok(Level::Safe),
            "default" => Ok(Level::Default),
            "fast" => Ok(Level::Fast),
            _ => s.parse().map(Level::MinScore).map_err(|_| {
                format!(
                    "'{s}' is not a prefilter level (safe, default, fast or a minimum stem score)"
                )
            }),
        }
    }
}

/// The score of two facing bases when they pair (letters `A C G U`, `T` read as `U`), or `None`.
fn pair(s: &Scoring, a: u8, b: u8) -> Option<i32> {
    match (a, b) {
        (b'G', b'C') | (b'C', b'G') => Some(s.gc),
        (b'A', b'U' | b'T') | (b'U' | b'T', b'A') => Some(s.au),
        (b'G', b'U' | b'T') | (b'U' | b'T', b'G') => Some(s.gu),
        _ => None,
    }
}

/// Far below any score, without overflowing when a penalty is added.
const NONE: i32 = i32::MIN / 2;

/// The score of the best stem in `seq`: the best local alignment of the 5' arm against the
/// reverse of the 3' arm, on pairing (see the module docs). 0 for a sequence without pairs.
///
/// # Examples
///
/// ```
/// use mire2e::prefilter::stem_score;
/// assert_eq!(stem_score(b"GGGGAAAACCCC"), 11); // 4 stacked G-C pairs (2 + 3 x 3) around a loop
/// assert_eq!(stem_score(b"AAAAAAAAAAAA"), 0);
/// ```
pub fn stem_score(seq: &[u8]) -> i32 {
    stem_score_with(seq, &Scoring::default())
}

/// [`stem_score`] with other scores.
pub fn stem_score_with(seq: &[u8], s: &Scoring) -> i32 {
    let n = seq.len();
    // Cell (i, j) faces 5' base i with 3' base j; a stem runs from its outer pair inwards, so
    // (i, j) follows (i-1, j+1) (a pair or mismatch) or (i-1, j) / (i, j+1) (a bulge).
    // `p`: best stem whose last cell is a pair; `x`: ... whose last cell is a mismatch or bulge.
    // Rows i-1 (`p0`, `x0`) and i (`p1`, `x1`), j from n-1 down.
    let (mut p0, mut x0) = (vec![NONE; n + 1], vec![NONE; n + 1]);
    let (mut p1, mut x1) = (vec![NONE; n + 1], vec![NONE; n + 1]);
    let mut best = 0;
    for i in 0..n {
        let a = seq[i];
        p1[n] = NONE;
        x1[n] = NONE;
        for j in (i + s.min_loop + 1..n).rev() {
            let before = p0[j + 1].max(x0[j + 1]);
            let bulge = p0[j].max(x0[j]).max(p1[j + 1]).max(x1[j + 1]) + s.bulge;
            match pair(s, a, seq[j]) {
                Some(score) => {
                    // A pair starts a stem or extends one, stacked on a pair or not.
                    let p = score + (p0[j + 1] + s.stack).max(x0[j + 1]).max(0);
                    p1[j] = p;
                    x1[j] = bulge;
                    // Only a stem closing a hairpin loop counts.
                    if j - i - 1 <= s.max_loop {
                        best = best.max(p);
                    }
                }
                None => {
                    p1[j] = NONE;
                    x1[j] = (before + s.mismatch).max(bulge);
                }
            }
        }
        std::mem::swap(&mut p0, &mut p1);
        std::mem::swap(&mut x0, &mut x1);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::complement;

    fn reverse_complement(s: &[u8]) -> Vec<u8> {
        s.iter().rev().map(|&b| complement(b)).collect()
    }

    /// A 100-nt window: flank, 25-nt arm, loop, the arm's reverse complement with one mismatch,
    /// flank.
    fn hairpin() -> Vec<u8> {
        let arm = b"UGAGGUAGUAGGUUGUAUAGUUUUA";
        let mut back = reverse_complement(arm);
        back[10] = b'A';
        let mut w = b"ACAUCAACACUUAC".to_vec();
        w.extend_from_slice(arm);
        w.extend_from_slice(b"GGGUCACACCCAC");
        w.extend_from_slice(&back);
        w.extend_from_slice(b"CAUUCAACAACAUUACAUCAACAC");
        w.truncate(100);
        w
    }

    #[test]
    fn perfect_stem_scores_its_pairs() {
        let arm = b"GCAUGCAUGC";
        let s = [&arm[..], b"AAAA", &reverse_complement(arm)].concat();
        // 6 G-C (2) + 4 A-U (1) + 9 stacks (1)
        assert_eq!(stem_score(&s), 25);
    }

    #[test]
    fn loop_must_hold_three_bases() {
        // One G-C pair at most: a second one would leave fewer than 3 loop bases.
        assert_eq!(stem_score(b"GGGCCC"), 2);
        assert_eq!(stem_score(b"GCCG"), 0);
    }

    #[test]
    fn bulge_costs_but_does_not_break_the_stem() {
        let arm = b"GCAUGCAUGCAUGCAUGC";
        let back = reverse_complement(arm);
        let mut bulged = arm.to_vec();
        bulged.insert(9, b'A');
        let clean = stem_score(&[&arm[..], b"AAAA", &back].concat());
        let with_bulge = stem_score(&[&bulged[..], b"AAAA", &back].concat());
        // The bulge costs its penalty and the stacking bonus it interrupts.
        let s = Scoring::default();
        assert!(
            with_bulge >= clean + s.bulge - s.stack && with_bulge < clean,
            "{with_bulge} vs {clean}"
        );
    }

    #[test]
    fn hairpins_pass_and_flat_windows_do_not() {
        let w = hairpin();
        assert_eq!(w.len(), 100);
        assert!(Level::Default.passes(&w), "score {}", stem_score(&w));
        assert!(Level::Fast.passes(&w));
        for flat in [
            vec![b'A'; 100],
            b"AC".repeat(50), // no pairs (ACGU would pair with itself)
            vec![b'N'; 100],
            b"AAC".repeat(34),
        ] {
            assert!(!Level::Safe.passes(&flat), "score {}", stem_score(&flat));
        }
    }

    #[test]
    fn both_strands_of_a_hairpin_pass() {
        let w = hairpin();
        assert!(Level::Default.passes(&reverse_complement(&w)));
    }

    #[test]
    fn levels_parse_and_print() {
        for level in [
            Level::Safe,
            Level::Default,
            Level::Fast,
            Level::MinScore(40),
        ] {
            assert_eq!(level.to_string().parse::<Level>(), Ok(level));
        }
        assert!("loose".parse::<Level>().is_err());
        assert!(Level::Safe.min_score() < Level::Default.min_score());
        assert!(Level::Default.min_score() < Level::Fast.min_score());
    }

    #[test]
    fn short_and_empty_sequences() {
        assert_eq!(stem_score(b""), 0);
        assert_eq!(stem_score(b"G"), 0);
    }
}
