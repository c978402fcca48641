//! Does a state dict fit a model? Every tensor the model reads must be there with its shape; the
//! original's unused tensors may be there (and are kept, so a conversion loses nothing); anything
//! else is refused. When the names do not fit, say which model they do fit.

use std::collections::{BTreeMap, HashSet};
use std::sync::OnceLock;

use super::tensor::Dtype;
use super::torch::TensorRef;
use crate::model::{self, Kind};

/// One tensor a checkpoint may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Want {
    shape: Vec<usize>,
    dtype: Dtype,
    /// Used by the model (else a known-unused tensor of the original).
    required: bool,
}

/// What a checkpoint of one model holds.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    name: String,
    tensors: BTreeMap<String, Want>,
}

impl Spec {
    /// The spec of `kind`, from the model's own lists: everything the original state dict holds
    /// (`expected_tensors`), of which the forward pass reads `required_tensors`.
    /// Built once per process: listing a model's tensors builds the model.
    pub(crate) fn of(kind: Kind) -> &'static Self {
        static SPECS: OnceLock<[Spec; 3]> = OnceLock::new();
        let specs = SPECS.get_or_init(|| Kind::ALL.map(Self::build));
        let index = Kind::ALL.iter().position(|&k| k == kind).unwrap_or(0);
        &specs[index]
    }

    fn build(kind: Kind) -> Self {
        let required = model::required_tensors(kind)
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        Self::new(kind.to_string(), model::expected_tensors(kind), &required)
    }

    /// `expected`: every tensor a faithful checkpoint holds; those not in `required` (the
    /// original's stray `encoder_layer.*`, `med2tag`, `num_batches_tracked`) may be absent.
    pub(crate) fn new(
        name: String,
        expected: Vec<(String, Vec<usize>)>,
        required: &HashSet<String>,
    ) -> Self {
        let tensors = expected
            .into_iter()
            .map(|(name, shape)| {
                let want = Want {
                    shape,
                    dtype: dtype_of(&name),
                    required: required.contains(&name),
                };
                (name, want)
            })
            .collect();
        Self { name, tensors }
    }

    /// Checks names first (a whole other model is one message), then each tensor's shape and dtype.
    pub(crate) fn check(&self, found: &[TensorRef]) -> Result<(), Mismatch> {
        let names: HashSet<&str> = found.iter().map(|t| t.name.as_str()).collect();
        let missing: Vec<&str> = self
            .tensors
            .iter()
            .filter(|(name, want)| want.required && !names.contains(name.as_str()))
            .map(|(name, _)| name.as_str())
            .collect();
        let unexpected: Vec<&str> = found
            .iter()
            .map(|t| t.name.as_str())
            .filter(|name| !self.tensors.contains_key(*name))
            .collect();
        if !missing.is_empty() || !unexpected.is_empty() {
            return Err(Mismatch::Names(names_message(
                &self.name,
                &missing,
                &unexpected,
            )));
        }
        for t in found {
            let Some(want) = self.tensors.get(&t.name) else {
                continue;
            };
            if t.layout.shape != want.shape {
                return Err(Mismatch::Tensor(format!(
                    "tensor {} has shape {:?} in the checkpoint, the {} model expects {:?}",
                    t.name, t.layout.shape, self.name, want.shape
                )));
            }
            if t.dtype != want.dtype {
                return Err(Mismatch::Tensor(format!(
                    "tensor {} is {} in the checkpoint, the {} model expects {}",
                    t.name, t.dtype, self.name, want.dtype
                )));
            }
        }
        Ok(())
    }
}

/// Why a state dict does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mismatch {
    /// Missing or unexpected names.
    Names(String),
    /// A tensor with the wrong shape or dtype.
    Tensor(String),
}

/// Checks `found` against the model `kind`; a name mismatch says which model the names fit, if any.
pub(crate) fn check(kind: Kind, found: &[TensorRef]) -> Result<(), String> {
    let spec = Spec::of(kind);
    match spec.check(found) {
        Ok(()) => Ok(()),
        Err(Mismatch::Tensor(message)) => Err(message),
        Err(Mismatch::Names(message)) => {
            let fits = Kind::ALL
                .into_iter()
                .map(Spec::of)
                .find(|other| other.name != spec.name && other.check(found).is_ok());
            Err(match fits {
                Some(other) => format!("{message}; it fits the {} model instead", other.name),
                None => message,
            })
        }
    }
}

/// Weights are float32; batch norm counters int64.
fn dtype_of(name: &str) -> Dtype {
    if name.ends_with("num_batches_tracked") {
        Dtype::I64
    } else {
        Dtype::F32
    }
}

fn names_message(model: &str, missing: &[&str], unexpected: &[&str]) -> String {
    let list = |what: &str, names: &[&str]| match names {
        [one] => format!("{what} tensor {one}"),
        [first, rest @ ..] => format!("{what} tensor {first} and {} more", rest.len()),
        [] => String::new(),
    };
    let them = |names: &[&str]| if names.len() == 1 { "it" } else { "them" };
    match (missing.is_empty(), unexpected.is_empty()) {
        (false, true) => format!(
            "{} (the {model} model needs {})",
            list("missing", missing),
            them(missing)
        ),
        (true, false) => format!(
            "{} (not part of the {model} model)",
            list("unexpected", unexpected)
        ),
        _ => format!(
            "not a {model} checkpoint: {}, {}",
            list("missing", missing),
            list("unexpected", unexpected)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::tensor::Layout;

    fn spec() -> Spec {
        let expected = [
            ("bn.running_mean", vec![3]),
            ("bn.num_batches_tracked", vec![]),
            ("encoder_layer.w", vec![2, 2]),
            ("fc.weight", vec![4, 3]),
        ];
        let required = HashSet::from(["bn.running_mean".to_owned(), "fc.weight".to_owned()]);
        Spec::new(
            "toy".into(),
            expected
                .into_iter()
                .map(|(n, s)| (n.to_owned(), s))
                .collect(),
            &required,
        )
    }

    fn t(name: &str, shape: &[usize], dtype: Dtype) -> TensorRef {
        TensorRef {
            name: name.into(),
            storage: "0".into(),
            dtype,
            layout: Layout {
                offset: 0,
                shape: shape.to_vec(),
                stride: vec![1; shape.len()],
            },
        }
    }

    fn complete() -> Vec<TensorRef> {
        vec![
            t("bn.running_mean", &[3], Dtype::F32),
            t("fc.weight", &[4, 3], Dtype::F32),
        ]
    }

    #[test]
    fn accepts_complete_and_known_unused() {
        let mut found = complete();
        assert_eq!(spec().check(&found), Ok(()));
        found.push(t("bn.num_batches_tracked", &[], Dtype::I64));
        found.push(t("encoder_layer.w", &[2, 2], Dtype::F32));
        assert_eq!(spec().check(&found), Ok(()));
    }

    #[test]
    fn names_missing_and_unexpected() {
        let mut found = complete();
        found.remove(1);
        let Err(Mismatch::Names(m)) = spec().check(&found) else {
            panic!()
        };
        assert_eq!(m, "missing tensor fc.weight (the toy model needs it)");
        found.push(t("fc.weight", &[4, 3], Dtype::F32));
        found.push(t("extra", &[1], Dtype::F32));
        let Err(Mismatch::Names(m)) = spec().check(&found) else {
            panic!()
        };
        assert_eq!(m, "unexpected tensor extra (not part of the toy model)");
        found.remove(0);
        found.push(t("extra2", &[1], Dtype::F32));
        let Err(Mismatch::Names(m)) = spec().check(&found) else {
            panic!()
        };
        assert_eq!(
            m,
            "not a toy checkpoint: missing tensor bn.running_mean, unexpected tensor extra and 1 more"
        );
    }

    #[test]
    fn names_wrong_shape_and_dtype() {
        let mut found = complete();
        found[1] = t("fc.weight", &[3, 4], Dtype::F32);
        assert_eq!(
            spec().check(&found),
            Err(Mismatch::Tensor(
                "tensor fc.weight has shape [3, 4] in the checkpoint, the toy model expects [4, 3]"
                    .into()
            ))
        );
        let mut found = complete();
        found.push(t("encoder_layer.w", &[2, 3], Dtype::F32));
        assert!(
            matches!(spec().check(&found), Err(Mismatch::Tensor(m)) if m.contains("encoder_layer.w"))
        );
        let mut found = complete();
        found.push(t("bn.num_batches_tracked", &[], Dtype::F32));
        assert_eq!(
            spec().check(&found),
            Err(Mismatch::Tensor(
                "tensor bn.num_batches_tracked is f32 in the checkpoint, the toy model expects i64"
                    .into()
            ))
        );
    }
}
