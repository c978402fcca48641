//! Training the three models (issue 4): the original's fit procedures with the sound choices made
//! explicit. See `docs/training.md` for the user's view.
//!
//! The API is framework-free: records in, safetensors bytes of the best weights out, progress through
//! an [`Observer`]. The networks come from `model` (candle's, in train mode, or the CPU engine's
//! blocks with their backward passes in `engine`); nothing in `model` depends on this module.
//!
//! * [`train_structure`]: model A on [`FoldRecord`]s, masked MSE against the dot-bracket pairing.
//! * [`train_mfe`]: model B on the same records, MSE against |MFE| / length; its structure input is
//!   the given Structure model's prediction, computed once.
//! * [`train_classifier`]: model C on positive and negative sequences, focal loss on the softmax,
//!   early stopping on the validation max F1.
//!
//! Every run is reproducible from its seed (initialisation, sampling and dropout draw from one
//! ChaCha8 stream) and can be resumed from the checkpoint written after each epoch, giving the same
//! weights bit for bit as an uninterrupted run on the same device and thread count.

mod config;
mod data;
mod engine;
mod fit;
mod models;
mod optim;
mod params;
mod tasks;

pub use config::{
    ClassifierOptions, Engine, EpochRecord, Observer, OptimizerKind, Outcome, TrainConfig,
};
pub use data::{read_fold_records, read_sequences, FoldRecord};

pub use models::{train_classifier, train_mfe, train_structure, ClassifierData};
