//! Checks the caller's windows and lays them out as the models' channel-first input.

use crate::encode::{channel, ALPHABET};
use crate::window::WINDOW_LENGTH;
use crate::{Error, Result};

/// `[B, C, 100]` row-major: the one-hot bases in channels 0..4 and, when given, the structure values
/// as channel 4 (`cat([x, structure], 2).permute(0, 2, 1)` of the original).
pub(crate) fn channels_first(windows: &[&[u8]], structure: Option<&[f32]>) -> Result<Vec<f32>> {
    if let Some(s) = structure {
        expect_len(
            "structure values",
            s.len(),
            windows.len() * WINDOW_LENGTH,
            windows.len(),
        )?;
    }
    let c = ALPHABET.len() + usize::from(structure.is_some());
    let mut x = vec![0.0f32; windows.len() * c * WINDOW_LENGTH];
    for (i, (window, out)) in windows
        .iter()
        .zip(x.chunks_exact_mut(c * WINDOW_LENGTH))
        .enumerate()
    {
        if window.len() != WINDOW_LENGTH {
            return Err(Error::Invalid(format!(
                "window {i} is {} nt long, the models need {WINDOW_LENGTH}",
                window.len()
            )));
        }
        for (t, &base) in window.iter().enumerate() {
            let ch = channel(base)
                .map_err(|e| Error::Invalid(format!("window {i}, position {t}: {e}")))?;
            if let Some(ch) = ch {
                out[ch * WINDOW_LENGTH + t] = 1.0;
            }
        }
        if let Some(s) = structure {
            out[ALPHABET.len() * WINDOW_LENGTH..]
                .copy_from_slice(&s[i * WINDOW_LENGTH..(i + 1) * WINDOW_LENGTH]);
        }
    }
    Ok(x)
}

/// An error unless `found == expected` values were given for `windows` windows.
pub(crate) fn expect_len(what: &str, found: usize, expected: usize, windows: usize) -> Result<()> {
    if found == expected {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{found} {what} for {windows} windows, expected {expected}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lays_out_channels_first() {
        let w: Vec<u8> = (0..WINDOW_LENGTH).map(|i| b"ACGUN"[i % 5]).collect();
        let s: Vec<f32> = (0..WINDOW_LENGTH).map(|i| i as f32).collect();
        let x = channels_first(&[&w], Some(&s)).unwrap();
        assert_eq!(x.len(), 5 * WINDOW_LENGTH);
        assert_eq!(&x[..5], &[1., 0., 0., 0., 0.]); // channel A over positions 0..5
        assert_eq!(
            &x[3 * WINDOW_LENGTH..3 * WINDOW_LENGTH + 5],
            &[0., 0., 0., 1., 0.]
        ); // U
        assert_eq!(&x[4 * WINDOW_LENGTH..], s.as_slice());
        assert_eq!(
            channels_first(&[&w], None).unwrap().len(),
            4 * WINDOW_LENGTH
        );
    }

    #[test]
    fn names_bad_windows() {
        let good = vec![b'A'; WINDOW_LENGTH];
        let mut bad = good.clone();
        bad[7] = b'T';
        let err = channels_first(&[&good, &bad], None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("window 1, position 7"), "{err}");
        let err = channels_first(&[&good[..99]], None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("window 0 is 99 nt"), "{err}");
        let err = channels_first(&[&good], Some(&[0.0; 99]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("99 structure values for 1 windows, expected 100"),
            "{err}"
        );
    }
}
