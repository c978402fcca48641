//! Hyper-parameters of the three models; `Default` is the published miRe2e 0.17 architecture.

use serde::Deserialize;

/// The convolutional front end (`Encoder` / `EncoderStr` of the original).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EncoderConfig {
    /// Input channels (4 one-hot, +1 for the structure channel).
    pub in_channels: usize,
    /// Channels of the conv stack.
    pub width: usize,
    /// ResNet blocks before each pooling step.
    pub n_resnets: usize,
    /// Number of (ResNets, pooling) groups.
    pub n_blocks: usize,
    /// Whether each group ends with AvgPool1d(2) (`Encoder`) or not (`EncoderStr`).
    pub pool: bool,
}

impl EncoderConfig {
    /// Sequence length after the stack for an input of `len` positions (AvgPool1d(2) floors).
    pub fn out_len(&self, len: usize) -> usize {
        if self.pool {
            (0..self.n_blocks).fold(len, |t, _| t / 2)
        } else {
            len
        }
    }
}

/// A stack of post-norm transformer encoder layers (PyTorch `nn.TransformerEncoderLayer`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TransformerConfig {
    /// Model width E.
    pub d_model: usize,
    /// Attention heads (each sees E / nhead contiguous dimensions).
    pub nhead: usize,
    /// Hidden width of the feed-forward block.
    pub dim_feedforward: usize,
    /// Number of layers.
    pub n_layers: usize,
}

/// Model A: per-nucleotide pairing from sequence and positional features.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StructureConfig {
    /// `conv_in`: 4 → 111 channels, one ResNet per group, three groups, no pooling.
    pub conv_in: EncoderConfig,
    /// `transformer_encoder`: E = 111 conv + 111 positional channels, 2 heads, 6 layers.
    pub transformer: TransformerConfig,
    /// Width of `hidden2first`.
    pub hidden: usize,
    /// Width of `first2med`.
    pub med: usize,
}

impl Default for StructureConfig {
    fn default() -> Self {
        Self {
            conv_in: EncoderConfig {
                in_channels: 4,
                width: 111,
                n_resnets: 1,
                n_blocks: 3,
                pool: false,
            },
            transformer: TransformerConfig {
                d_model: 222,
                nhead: 2,
                dim_feedforward: 888,
                n_layers: 6,
            },
            hidden: 100,
            med: 10,
        }
    }
}

/// Model B: |MFE| per nucleotide from sequence and structure.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct MfeConfig {
    /// `conv1`: 5 → 64 channels, one ResNet per group, three pooled groups (100 → 12 positions).
    pub conv1: EncoderConfig,
    /// Width of `hidden2first` (and `bn1`).
    pub hidden: usize,
    /// Width of `first2med` (and `bn2`).
    pub med: usize,
}

impl Default for MfeConfig {
    fn default() -> Self {
        Self {
            conv1: EncoderConfig {
                in_channels: 5,
                width: 64,
                n_resnets: 1,
                n_blocks: 3,
                pool: true,
            },
            hidden: 100,
            med: 30,
        }
    }
}

/// Model C: the pre-miRNA classifier (`Predictor` in the original).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct ClassifierConfig {
    /// `conv1`: 5 → 64 channels, three ResNets per group, four pooled groups (100 → 6 positions).
    pub conv1: EncoderConfig,
    /// `transformer_encoder`: E = 64, 4 heads, 3 layers, over 6 tokens.
    pub transformer: TransformerConfig,
    /// Width of `hidden2first`, `first2med` and `FF1`.
    pub hidden: usize,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        Self {
            conv1: EncoderConfig {
                in_channels: 5,
                width: 64,
                n_resnets: 3,
                n_blocks: 4,
                pool: true,
            },
            transformer: TransformerConfig {
                d_model: 64,
                nhead: 4,
                dim_feedforward: 256,
                n_layers: 3,
            },
            hidden: 1000,
        }
    }
}
