//! Encoding of windows for the models: one-hot bases and the positional features (`get_pe`).
//!
//! Both follow miRe2e 0.17 exactly (`Preprocessor(0)` and `get_pe`, see
//! `shared/reference/ARCHITECTURE.md`, "Input preprocessing").

use crate::{Error, Result};

/// One-hot channels, in model order: A, C, G, U (N is all-zero).
pub const ALPHABET: [u8; 4] = *b"ACGU";

/// Number of positional features per position (columns of [`get_pe`]).
pub const PE_FEATURES: usize = 111;

/// The one-hot channel of an encoded base: `A`→0, `C`→1, `G`→2, `U`→3, `N`→`None` (all-zero row).
///
/// Only the encoded alphabet (upper case `A C G U N`) is accepted; callers map T→U, lower→upper and
/// IUPAC codes→N first (see `window`).
///
/// # Examples
///
/// ```
/// use mire2e::encode::channel;
/// assert_eq!(channel(b'G').unwrap(), Some(2));
/// assert_eq!(channel(b'N').unwrap(), None);
/// assert!(channel(b'T').is_err());
/// ```
pub fn channel(base: u8) -> Result<Option<usize>> {
    match base {
        b'A' => Ok(Some(0)),
        b'C' => Ok(Some(1)),
        b'G' => Ok(Some(2)),
        b'U' => Ok(Some(3)),
        b'N' => Ok(None),
        other => Err(Error::Invalid(format!(
            "base {} is not one of A, C, G, U, N",
            describe_byte(other)
        ))),
    }
}

/// One-hot encoding of a window: `len × 4` values, row-major (position, channel A C G U), N = zeros.
///
/// This is the model input `x` of the original (`[L, 4]` per window).
///
/// # Examples
///
/// ```
/// use mire2e::encode::one_hot;
/// let x = one_hot(b"ANU").unwrap();
/// assert_eq!(x, vec![1., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 1.]);
/// ```
pub fn one_hot(window: &[u8]) -> Result<Vec<f32>> {
    let mut x = vec![0.0; window.len() * ALPHABET.len()];
    for (pos, &base) in window.iter().enumerate() {
        let c = channel(base).map_err(|e| Error::Invalid(format!("position {pos}: {e}")))?;
        if let Some(c) = c {
            x[pos * ALPHABET.len() + c] = 1.0;
        }
    }
    Ok(x)
}

/// Positional features of the Structure model (`get_pe` of the original): `max_len × 111` values,
/// row-major, computed in f64 and rounded to f32 once.
///
/// With p = 1..=max_len (absolute position) and r = p / seq_len (relative position) the columns are
/// 0: p, 1: r, 2: 1/p, 3: 1/p², then (sin(n·p), sin(n·r)) for n = 1..49 (columns 4..101),
/// 102: r², 103: r³, 104: r⁴, then (g_i(p), g_i(r)) for i = 0, 1, 2 (columns 105..110) with
/// g_i(z) = exp(−z²)·sqrt(2^i/i!)·z^i. Rows at or past `seq_len` are zero (only short training
/// sequences have any). For inference every window uses `get_pe(100, 100)`.
///
/// # Examples
///
/// ```
/// use mire2e::encode::{get_pe, PE_FEATURES};
/// let pe = get_pe(100, 100);
/// assert_eq!(pe.len(), 100 * PE_FEATURES);
/// assert_eq!(&pe[..4], &[1.0, 0.01, 1.0, 1.0]); // p, r, 1/p, 1/p² at position 1
/// ```
pub fn get_pe(seq_len: usize, max_len: usize) -> Vec<f32> {
    let mut pe = vec![0.0f32; max_len * PE_FEATURES];
    for (row, out) in pe.chunks_exact_mut(PE_FEATURES).enumerate().take(seq_len) {
        let p = (row + 1) as f64;
        let r = p / seq_len as f64;
        let mut cols = Vec::with_capacity(PE_FEATURES);
        cols.extend([p, r, 1.0 / p, 1.0 / (p * p)]);
        for n in 1..50 {
            let n = f64::from(n);
            cols.extend([(n * p).sin(), (n * r).sin()]);
        }
        // numpy squares for `** 2` and calls C pow() for other exponents
        cols.extend([r * r, r.powf(3.0), r.powf(4.0)]);
        for i in 0..3i32 {
            // numpy's order: exp(-z²) * sqrt(2^i / i!) * z^i, left to right
            let c = (2f64.powi(i) / [1.0, 1.0, 2.0][i as usize]).sqrt();
            for z in [p, r] {
                cols.push((-(z * z)).exp() * c * z.powi(i));
            }
        }
        for (o, v) in out.iter_mut().zip(cols) {
            *o = v as f32;
        }
    }
    pe
}

/// A byte as text for error messages: the character when printable, else its hex code.
fn describe_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("0x{b:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_follow_model_order() {
        for (i, &b) in ALPHABET.iter().enumerate() {
            assert_eq!(channel(b).unwrap(), Some(i));
        }
        assert_eq!(channel(b'N').unwrap(), None);
        for bad in [b'T', b'a', b'R', b'-', 0u8] {
            assert!(channel(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn one_hot_names_the_position() {
        let err = one_hot(b"ACGX").unwrap_err().to_string();
        assert!(err.contains("position 3") && err.contains("'X'"), "{err}");
        assert_eq!(one_hot(b"").unwrap(), Vec::<f32>::new());
        let x = one_hot(b"CGN").unwrap();
        assert_eq!(x, [0., 1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 0.]);
    }

    #[test]
    fn pe_columns() {
        let pe = get_pe(100, 100);
        let row = |p: usize| &pe[(p - 1) * PE_FEATURES..p * PE_FEATURES];
        let r = row(2);
        assert_eq!(r[0], 2.0);
        assert_eq!(r[1], 0.02);
        assert_eq!(r[2], 0.5);
        assert_eq!(r[3], 0.25);
        assert_eq!(r[4], (2f64).sin() as f32); // sin(1·p)
        assert_eq!(r[5], (0.02f64).sin() as f32); // sin(1·r)
        assert_eq!(r[102], (0.02f64 * 0.02) as f32);
        assert_eq!(r[105], (-4f64).exp() as f32); // g_0(p)
        assert_eq!(r[108], ((-0.0004f64).exp() * 2f64.sqrt() * 0.02) as f32); // g_1(r)
    }

    #[test]
    fn pe_zeroes_rows_past_the_sequence() {
        let pe = get_pe(3, 5);
        assert_eq!(pe.len(), 5 * PE_FEATURES);
        assert!(pe[..3 * PE_FEATURES].iter().any(|&v| v != 0.0));
        assert!(pe[3 * PE_FEATURES..].iter().all(|&v| v == 0.0));
        assert_eq!(pe[1], 1.0 / 3.0); // r = p / seq_len
    }
}
