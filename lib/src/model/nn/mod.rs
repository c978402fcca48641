//! The candle networks: the original's three models layer for layer (`layers`), with their weight
//! source (`weights`: safetensors, train-mode variables, or reference tensors for tests) and one
//! pass over a slice of windows (`passes`), and their train mode (`train_mode`: seeded dropout,
//! BatchNorm batch statistics). They run on a GPU, in training, and for the
//! Classifier's batch-compat attention; the CPU engine (`model::cpu`) is tested against them.

pub(crate) mod classifier;
pub(crate) mod layers;
pub(crate) mod mfe;
pub(crate) mod passes;
pub(crate) mod structure;
pub(crate) mod train_mode;
pub(crate) mod weights;
