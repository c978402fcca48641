//! Tensors as stored: dtype, shape and little-endian bytes, and gathering them out of a storage.

use std::fmt;

/// Element types a PyTorch storage can hold (named after their safetensors codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dtype {
    /// 64-bit float (`DoubleStorage`).
    F64,
    /// 32-bit float (`FloatStorage`), the models' weights.
    F32,
    /// 16-bit float (`HalfStorage`).
    F16,
    /// bfloat16 (`BFloat16Storage`).
    BF16,
    /// 64-bit integer (`LongStorage`), e.g. `num_batches_tracked`.
    I64,
    /// 32-bit integer (`IntStorage`).
    I32,
    /// 16-bit integer (`ShortStorage`).
    I16,
    /// 8-bit integer (`CharStorage`).
    I8,
    /// 8-bit unsigned integer (`ByteStorage`).
    U8,
    /// Boolean, one byte each (`BoolStorage`).
    Bool,
}

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::F64 | Self::I64 => 8,
            Self::F32 | Self::I32 => 4,
            Self::F16 | Self::BF16 | Self::I16 => 2,
            Self::I8 | Self::U8 | Self::Bool => 1,
        }
    }

    /// The dtype of a `torch.<Name>Storage` class, if it is one we know.
    pub(crate) fn from_storage_class(class: &str) -> Option<Self> {
        Some(match class {
            "DoubleStorage" => Self::F64,
            "FloatStorage" => Self::F32,
            "HalfStorage" => Self::F16,
            "BFloat16Storage" => Self::BF16,
            "LongStorage" => Self::I64,
            "IntStorage" => Self::I32,
            "ShortStorage" => Self::I16,
            "CharStorage" => Self::I8,
            "ByteStorage" => Self::U8,
            "BoolStorage" => Self::Bool,
            _ => return None,
        })
    }

    pub(crate) fn to_safetensors(self) -> safetensors::Dtype {
        use safetensors::Dtype as S;
        match self {
            Self::F64 => S::F64,
            Self::F32 => S::F32,
            Self::F16 => S::F16,
            Self::BF16 => S::BF16,
            Self::I64 => S::I64,
            Self::I32 => S::I32,
            Self::I16 => S::I16,
            Self::I8 => S::I8,
            Self::U8 => S::U8,
            Self::Bool => S::BOOL,
        }
    }

    pub(crate) fn from_safetensors(dtype: safetensors::Dtype) -> Option<Self> {
        use safetensors::Dtype as S;
        Some(match dtype {
            S::F64 => Self::F64,
            S::F32 => Self::F32,
            S::F16 => Self::F16,
            S::BF16 => Self::BF16,
            S::I64 => Self::I64,
            S::I32 => Self::I32,
            S::I16 => Self::I16,
            S::I8 => Self::I8,
            S::U8 => Self::U8,
            S::BOOL => Self::Bool,
            _ => return None,
        })
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::F64 => "f64",
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::BF16 => "bf16",
            Self::I64 => "i64",
            Self::I32 => "i32",
            Self::I16 => "i16",
            Self::I8 => "i8",
            Self::U8 => "u8",
            Self::Bool => "bool",
        })
    }
}

/// One named tensor: its bytes exactly as stored (little-endian, row-major).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tensor {
    /// The `state_dict` name, e.g. `conv1.conv_layers.1.weight`.
    pub name: String,
    /// The element type.
    pub dtype: Dtype,
    /// The shape (`[]` for a scalar).
    pub shape: Vec<usize>,
    /// `shape.iter().product() * dtype.size()` bytes.
    pub data: Vec<u8>,
}

impl safetensors::View for &Tensor {
    fn dtype(&self) -> safetensors::Dtype {
        self.dtype.to_safetensors()
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.data)
    }

    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// Where a tensor's elements sit in its storage (in elements, as PyTorch counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) offset: usize,
    pub(crate) shape: Vec<usize>,
    pub(crate) stride: Vec<usize>,
}

impl Layout {
    /// Elements in the tensor, if that fits in `usize`.
    pub(crate) fn numel(&self) -> Option<usize> {
        self.shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
    }

    /// One past the last storage element the tensor touches (`offset` for an empty tensor).
    pub(crate) fn end(&self) -> Option<usize> {
        if self.numel()? == 0 {
            return Some(self.offset);
        }
        let last = self
            .shape
            .iter()
            .zip(&self.stride)
            .try_fold(self.offset, |acc, (&d, &s)| {
                acc.checked_add((d - 1).checked_mul(s)?)
            })?;
        last.checked_add(1)
    }

    fn is_contiguous(&self) -> bool {
        let mut expect = 1;
        for (&d, &s) in self.shape.iter().zip(&self.stride).rev() {
            if d != 1 && s != expect {
                return false;
            }
            expect *= d;
        }
        true
    }
}

/// Copies the tensor's elements out of `storage` in row-major order.
///
/// A storage too short for the layout (or sizes that overflow) gives `None`.
pub(crate) fn gather(storage: &[u8], elem: usize, layout: &Layout) -> Option<Vec<u8>> {
    let numel = layout.numel()?;
    let start = layout.offset.checked_mul(elem)?;
    if layout.is_contiguous() {
        return storage
            .get(start..start.checked_add(numel.checked_mul(elem)?)?)
            .map(<[u8]>::to_vec);
    }
    // General strides: walk the index like an odometer.
    let mut out = Vec::with_capacity(numel.checked_mul(elem)?);
    let mut index = vec![0usize; layout.shape.len()];
    for _ in 0..numel {
        let at = index
            .iter()
            .zip(&layout.stride)
            .try_fold(layout.offset, |acc, (&i, &s)| {
                acc.checked_add(i.checked_mul(s)?)
            })?;
        let byte = at.checked_mul(elem)?;
        out.extend_from_slice(storage.get(byte..byte.checked_add(elem)?)?);
        for (i, &d) in index.iter_mut().zip(&layout.shape).rev() {
            *i += 1;
            if *i < d {
                break;
            }
            *i = 0;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(offset: usize, shape: &[usize], stride: &[usize]) -> Layout {
        Layout {
            offset,
            shape: shape.to_vec(),
            stride: stride.to_vec(),
        }
    }

    #[test]
    fn contiguous_with_offset() {
        let storage: Vec<u8> = (0..10).collect();
        let l = layout(2, &[2, 3], &[3, 1]);
        assert!(l.is_contiguous());
        assert_eq!(l.end(), Some(8));
        assert_eq!(gather(&storage, 1, &l), Some(vec![2, 3, 4, 5, 6, 7]));
    }

    #[test]
    fn transposed() {
        // storage [[0,1,2],[3,4,5]] viewed as its transpose (3, 2)
        let storage: Vec<u8> = (0..6).collect();
        let l = layout(0, &[3, 2], &[1, 3]);
        assert!(!l.is_contiguous());
        assert_eq!(l.end(), Some(6));
        assert_eq!(gather(&storage, 1, &l), Some(vec![0, 3, 1, 4, 2, 5]));
    }

    #[test]
    fn scalar_and_empty() {
        let storage = 7i64.to_le_bytes();
        assert_eq!(
            gather(&storage, 8, &layout(0, &[], &[])),
            Some(storage.to_vec())
        );
        assert_eq!(layout(5, &[0, 4], &[4, 1]).end(), Some(5));
        assert_eq!(gather(&[], 4, &layout(0, &[0], &[1])), Some(vec![]));
    }

    #[test]
    fn short_storage_is_none() {
        assert_eq!(gather(&[0; 7], 4, &layout(0, &[2], &[1])), None);
        assert_eq!(gather(&[0; 7], 1, &layout(0, &[2, 2], &[1, 6])), None);
    }

    #[test]
    fn overflow_is_none() {
        assert_eq!(layout(0, &[usize::MAX, 2], &[1, 1]).numel(), None);
        assert_eq!(layout(usize::MAX, &[2], &[1]).end(), None);
    }
}
