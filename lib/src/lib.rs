//! # mire2e
//!
//! Genome-wide discovery of pre-miRNAs (microRNA precursors) from raw sequence: a re-implementation of
//! miRe2e (Raad et al., Bioinformatics 2022, doi:10.1093/bioinformatics/btab823). A sliding 100-nt
//! window runs over both strands through three models in cascade: Structure (A) predicts per-nucleotide
//! pairing, MFE (B) estimates the minimum free energy, and the Classifier (C) scores pre-miRNA.
//!
//! This crate holds everything that is not argument parsing: FASTA input ([`fasta`]), windows
//! ([`window`]), the TSV streams the stages pass ([`stream`]), encoding ([`encode`]), the models
//! ([`model`]) and the cascade over them ([`pipeline`]), candidate loci as BED and GFF3 with decoy
//! q-values ([`candidates`], [`decoy`]), browser tracks ([`tracks`]), the HTML report
//! ([`report`]), checkpoint import ([`import`]) and evaluation ([`eval`]).

pub mod bundle;
pub mod candidates;
pub mod decoy;
pub mod encode;
pub mod error;
pub mod eval;
pub mod fasta;
pub mod import;
pub mod model;
pub mod npy;
pub mod outfile;
pub mod pipeline;
pub mod prefilter;
pub mod report;
pub mod stream;
pub mod tracks;
pub mod train;
pub mod window;

pub use error::{Error, Result};
