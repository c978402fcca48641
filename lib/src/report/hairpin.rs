//! A predicted hairpin drawn as miRBase draws precursors: the 5' arm on top, the 3' arm beneath it
//! read backwards, pairs joined by `|`, unpaired bases (bulges, interior loops, flanks) in lower
//! case on the outer lines, and the terminal loop closing the drawing on the right.
//!
//! ```text
//!      a    --u  ga
//! cug gg gcu   gc  u
//! ||| || |||   ||  a
//! gac cc cga   cg  c
//!    a  -   uaa  ag
//! ```
//!
//! The structure string is the Structure model's output ([`crate::stream::push_dot_bracket`]),
//! which need not balance: brackets without a partner count as unpaired. Where the stem branches
//! (a multiloop), the drawing stops and everything inside is drawn as the loop.

/// The five lines of the drawing, top to bottom, all of one width.
pub fn draw(seq: &str, structure: &str) -> [String; 5] {
    let seq: Vec<char> = seq.chars().collect();
    let partner = partners(structure);
    let n = seq.len().min(partner.len());
    let mut lines: [String; 5] = Default::default();
    let unpaired = |i: usize| seq[i].to_ascii_lowercase();
    let Some(first) = (0..n).find(|&i| partner[i].is_some_and(|j| j > i)) else {
        // no pair at all: the whole window as one loop
        loop_end(
            &mut lines,
            &seq[..n]
                .iter()
                .map(|c| c.to_ascii_lowercase())
                .collect::<Vec<_>>(),
        );
        return lines;
    };
    let (mut i, mut j) = (first, partner[first].expect("paired"));
    // the flanks, 5' on top and 3' beneath
    let top: Vec<char> = (0..i).map(unpaired).collect();
    let bottom: Vec<char> = (j + 1..n).rev().map(unpaired).collect();
    gap(&mut lines, &top, &bottom);
    loop {
        column(&mut lines, [' ', seq[i], '|', seq[j], ' ']);
        match inner_pair(&partner, i, j) {
            Some((k, l)) => {
                let top: Vec<char> = (i + 1..k).map(unpaired).collect();
                let bottom: Vec<char> = (l + 1..j).rev().map(unpaired).collect();
                gap(&mut lines, &top, &bottom);
                (i, j) = (k, l);
            }
            None => {
                let inside: Vec<char> = (i + 1..j).map(unpaired).collect();
                loop_end(&mut lines, &inside);
                return lines;
            }
        }
    }
}

/// Each position's partner, from the brackets (unbalanced ones left unpaired).
fn partners(structure: &str) -> Vec<Option<usize>> {
    let mut partner = vec![None; structure.len()];
    let mut open = Vec::new();
    for (i, c) in structure.bytes().enumerate() {
        match c {
            b'(' => open.push(i),
            b')' => {
                if let Some(o) = open.pop() {
                    partner[o] = Some(i);
                    partner[i] = Some(o);
                }
            }
            _ => {}
        }
    }
    partner
}

/// The pair that continues the stem inside (i, j): the first opening after i, if its partner is
/// the last closing before j (else the inside branches, or is a loop).
fn inner_pair(partner: &[Option<usize>], i: usize, j: usize) -> Option<(usize, usize)> {
    let k = (i + 1..j).find(|&k| partner[k].is_some())?;
    let l = partner[k]?;
    let last = (i + 1..j).rev().find(|&l| partner[l].is_some())?;
    (l > k && l == last).then_some((k, l))
}

fn column(lines: &mut [String; 5], c: [char; 5]) {
    for (line, c) in lines.iter_mut().zip(c) {
        line.push(c);
    }
}

/// An interior loop or bulge: `top` over `bottom`, the shorter padded with `-`.
fn gap(lines: &mut [String; 5], top: &[char], bottom: &[char]) {
    for k in 0..top.len().max(bottom.len()) {
        let t = top.get(k).copied().unwrap_or('-');
        let b = bottom.get(k).copied().unwrap_or('-');
        column(lines, [t, ' ', ' ', ' ', b]);
    }
}

/// The terminal loop: its first half along the top, its last half back along the bottom, the one
/// or two bases between them on the right edge.
fn loop_end(lines: &mut [String; 5], inside: &[char]) {
    let half = inside.len().saturating_sub(1) / 2;
    let (top, rest) = inside.split_at(half);
    let (middle, bottom) = rest.split_at(rest.len() - half);
    for k in 0..half {
        column(lines, [top[k], ' ', ' ', ' ', bottom[half - 1 - k]]);
    }
    match middle {
        [] => {}
        [m] => column(lines, [' ', ' ', *m, ' ', ' ']),
        [a, b] => column(lines, [' ', *a, ' ', *b, ' ']),
        _ => unreachable!("one or two bases"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(seq: &str, structure: &str) -> String {
        draw(seq, structure).join("\n")
    }

    #[test]
    fn a_perfect_stem() {
        // GGGG AAAA CCCC: 4 pairs, loop of 4
        assert_eq!(
            text("GGGGAAAACCCC", "((((....))))"),
            ["    a ", "GGGG a", "||||  ", "CCCC a", "    a "].join("\n")
        );
    }

    #[test]
    fn flanks_bulge_and_interior_loop() {
        // flank u | G C pair | bulge a on top | G C pair | interior loop 1x2 | A U pair | loop gua
        let seq = "UGAGCAGGUAGAGCUCCC";
        let structure = ".((.((...)).))..."; // unbalanced tail dots are flank
        let lines = draw(seq, structure);
        assert!(lines
            .iter()
            .all(|l| l.chars().count() == lines[0].chars().count()));
        // every pair of the structure appears as a `|` between its bases
        let pairs = lines[2].matches('|').count();
        assert_eq!(pairs, 4, "{lines:#?}");
    }

    #[test]
    fn unbalanced_brackets_are_unpaired() {
        let lines = draw("GGGAAACCCU", "(((...))))");
        assert_eq!(lines[2].matches('|').count(), 3, "{lines:#?}");
        assert!(lines[4].contains('u'), "{lines:#?}");
    }

    #[test]
    fn no_pairs_is_one_loop() {
        let lines = draw("ACGUA", ".....");
        assert_eq!(lines.concat().replace(' ', "").len(), 5);
    }
}
