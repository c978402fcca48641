//! What a `torch.save` pickle means: storages named by persistent ids, tensors rebuilt from them
//! (`torch._utils._rebuild_tensor_v2`), and the state dict that maps names to tensors.
//!
//! Only fixed-depth walks over the object graph: a crafted pickle cannot make them loop or recurse.

use std::collections::{BTreeMap, HashSet};

use super::pickle::{Id, Node, Pickle};
use super::tensor::{Dtype, Layout};

/// A storage: a flat array of `numel` elements of `dtype`, kept outside the pickle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Storage {
    pub(crate) dtype: Dtype,
    pub(crate) numel: u64,
}

impl Storage {
    /// Its size in bytes, if that fits in a `u64`.
    pub(crate) fn nbytes(&self) -> Option<u64> {
        self.numel.checked_mul(self.dtype.size() as u64)
    }
}

/// A state dict entry: which storage holds the tensor, and where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TensorRef {
    pub(crate) name: String,
    pub(crate) storage: String,
    pub(crate) dtype: Dtype,
    pub(crate) layout: Layout,
}

/// The tensors of a state dict, in its order, and every storage the pickle names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StateDict {
    pub(crate) tensors: Vec<TensorRef>,
    pub(crate) storages: BTreeMap<String, Storage>,
}

impl StateDict {
    /// The first tensor that uses storage `key`, to name it in errors.
    pub(crate) fn user_of(&self, key: &str) -> Option<&str> {
        self.tensors
            .iter()
            .find(|t| t.storage == key)
            .map(|t| t.name.as_str())
    }

    /// `storage KEY`, or `storage KEY of tensor NAME` when a tensor uses it.
    pub(crate) fn storage_label(&self, key: &str) -> String {
        match self.user_of(key) {
            Some(name) => format!("storage {key} of tensor {name}"),
            None => format!("storage {key}"),
        }
    }
}

/// Where to read storages' bytes from (a zip entry, or a span of a legacy file).
pub(crate) trait Storages {
    /// The `nbytes` bytes of storage `key`.
    fn load(&mut self, key: &str, nbytes: u64) -> Result<Vec<u8>, String>;
}

/// Reads the state dict out of an unpickled checkpoint.
pub(crate) fn state_dict(p: &Pickle) -> Result<StateDict, String> {
    let items = find_state_dict(p)?;
    let storages = storages(p)?;
    let mut seen = HashSet::new();
    let mut tensors = Vec::with_capacity(items.len());
    for &(key, value) in items {
        let name = p
            .str(key)
            .ok_or_else(|| format!("a state dict key is {}, not a string", p.describe(key)))?;
        if !seen.insert(name) {
            return Err(format!("tensor {name} appears twice in the state dict"));
        }
        let Some((storage_key, layout)) =
            tensor(p, value).map_err(|e| format!("tensor {name}: {e}"))?
        else {
            return Err(format!(
                "state dict entry {name} is {}, not a tensor",
                p.describe(value)
            ));
        };
        let storage = storages
            .get(&storage_key)
            .ok_or_else(|| format!("tensor {name}: unknown storage {storage_key}"))?;
        let end = layout
            .end()
            .ok_or_else(|| format!("tensor {name}: shape {:?} is too large", layout.shape))?;
        if end as u64 > storage.numel {
            return Err(format!(
                "tensor {name} (shape {:?}, offset {}) reaches past the end of its storage {storage_key} \
                 ({} elements)",
                layout.shape, layout.offset, storage.numel
            ));
        }
        tensors.push(TensorRef {
            name: name.to_owned(),
            storage: storage_key,
            dtype: storage.dtype,
            layout,
        });
    }
    if tensors.is_empty() {
        return Err("the state dict holds no tensors".into());
    }
    Ok(StateDict { tensors, storages })
}

/// Every storage persistent id, `('storage', torch.FloatStorage, key, location, numel[, view])`.
fn storages(p: &Pickle) -> Result<BTreeMap<String, Storage>, String> {
    let mut out = BTreeMap::new();
    for node in p.nodes() {
        let Node::Persistent(pid) = node else {
            continue;
        };
        // Other persistent ids (a pickled module's source code) are no storages: tensors
        // pointing at them are refused as tensors with an unknown storage.
        let Some(items) = p.tuple(*pid) else { continue };
        if items.first().and_then(|&id| p.str(id)) != Some("storage") {
            continue;
        }
        let (class, key, numel) = match *items {
            [_, class, key, _location, numel] | [_, class, key, _location, numel, _] => {
                (class, key, numel)
            }
            _ => {
                return Err(format!(
                    "storage persistent id has {} items, expected 5 or 6",
                    items.len()
                ))
            }
        };
        if items
            .get(5)
            .is_some_and(|&v| !matches!(p.node(v), Node::None))
        {
            return Err(
                "storage views (checkpoints of PyTorch before 0.4) are not supported".into(),
            );
        }
        let key = storage_key(p, key)?;
        let dtype = match p.global(class) {
            Some((_, name)) => Dtype::from_storage_class(name)
                .ok_or_else(|| format!("storage {key}: unsupported storage type {name}"))?,
            None => {
                return Err(format!(
                    "storage {key}: type is {}, not a storage class",
                    p.describe(class)
                ))
            }
        };
        let numel = p
            .int(numel)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| format!("storage {key}: size is {}", p.describe(numel)))?;
        let storage = Storage { dtype, numel };
        if let Some(before) = out.insert(key.clone(), storage.clone()) {
            if before != storage {
                return Err(format!(
                    "storage {key} is declared twice with different types or sizes"
                ));
            }
        }
    }
    Ok(out)
}

/// Storage keys are strings (`'0'`, `'462821392'`); accept integers too.
fn storage_key(p: &Pickle, id: Id) -> Result<String, String> {
    match p.node(id) {
        Node::Str(s) => Ok(s.clone()),
        Node::Int(v) => Ok(v.to_string()),
        _ => Err(format!("storage key is {}", p.describe(id))),
    }
}

/// The dict of tensors: the root itself, or one level down (`{'state_dict': ..., 'epoch': ...}`).
fn find_state_dict(p: &Pickle) -> Result<&[(Id, Id)], String> {
    let root = p.root();
    let items = match p.node(root) {
        Node::Dict(items) => items,
        Node::Call { .. } => {
            return Err(format!(
                "the checkpoint holds {}, not a state dict (save model.state_dict() instead)",
                p.describe(root)
            ))
        }
        _ => {
            return Err(format!(
                "the checkpoint holds {}, not a state dict",
                p.describe(root)
            ))
        }
    };
    if items.is_empty() {
        return Err("the checkpoint is an empty dict, not a state dict with tensors".into());
    }
    if items.iter().any(|&(_, v)| is_tensor(p, v)) {
        return Ok(items);
    }
    let nested: Vec<(&str, &[(Id, Id)])> = items
        .iter()
        .filter_map(|&(k, v)| match p.node(v) {
            Node::Dict(inner) if inner.iter().any(|&(_, v)| is_tensor(p, v)) => {
                Some((p.str(k)?, inner.as_slice()))
            }
            _ => None,
        })
        .collect();
    const PREFERRED: [&str; 3] = ["state_dict", "model_state_dict", "model"];
    let chosen = match nested.as_slice() {
        [(_, inner)] => Some(*inner),
        _ => PREFERRED.iter().find_map(|want| {
            nested
                .iter()
                .find(|(k, _)| k == want)
                .map(|(_, inner)| *inner)
        }),
    };
    chosen.ok_or_else(|| {
        let keys: Vec<&str> = items
            .iter()
            .filter_map(|&(k, _)| p.str(k))
            .take(8)
            .collect();
        if nested.is_empty() {
            format!("no state dict found: the checkpoint is a dict without tensors (keys {keys:?})")
        } else {
            format!("several state dicts found (keys {keys:?}); none is called {PREFERRED:?}")
        }
    })
}

/// A tensor, or something built like one that fails to parse (reported later, by name).
fn is_tensor(p: &Pickle, id: Id) -> bool {
    !matches!(tensor(p, id), Ok(None))
}

/// Unwraps `_rebuild_parameter` / `_rebuild_from_type_v2` down to `_rebuild_tensor(_v2)`.
/// `Ok(None)`: not a tensor at all.
fn tensor(p: &Pickle, mut id: Id) -> Result<Option<(String, Layout)>, String> {
    for _ in 0..4 {
        let Node::Call { func, args, .. } = p.node(id) else {
            return Ok(None);
        };
        let Some((module, name)) = p.global(*func) else {
            return Ok(None);
        };
        let args = p.tuple(*args).unwrap_or(&[]);
        match (module, name) {
            ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => {
                return rebuild(p, args).map(Some)
            }
            ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => {
                id = *args.first().ok_or("_rebuild_parameter without arguments")?;
            }
            ("torch._tensor", "_rebuild_from_type_v2") => {
                // (func, type, args, state): call func(*args)
                let (Some(&func), Some(inner)) =
                    (args.first(), args.get(2).and_then(|&a| p.tuple(a)))
                else {
                    return Err("malformed _rebuild_from_type_v2".into());
                };
                return match p.global(func) {
                    Some(("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor")) => {
                        rebuild(p, inner).map(Some)
                    }
                    _ => Ok(None),
                };
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// `(storage, storage_offset, size, stride, ...)`.
fn rebuild(p: &Pickle, args: &[Id]) -> Result<(String, Layout), String> {
    let [storage, offset, size, stride, ..] = *args else {
        return Err(format!(
            "_rebuild_tensor has {} arguments, expected at least 4",
            args.len()
        ));
    };
    let Node::Persistent(pid) = p.node(storage) else {
        return Err(format!(
            "storage is {}, not a persistent id",
            p.describe(storage)
        ));
    };
    let key = p
        .tuple(*pid)
        .and_then(|items| items.get(2))
        .ok_or("malformed storage persistent id")
        .and_then(|&k| storage_key(p, k).map_err(|_| "malformed storage key"))?;
    let offset =
        usize_of(p, offset).ok_or_else(|| format!("storage offset is {}", p.describe(offset)))?;
    let shape = usizes(p, size).ok_or_else(|| format!("size is {}", p.describe(size)))?;
    let stride = usizes(p, stride).ok_or_else(|| format!("stride is {}", p.describe(stride)))?;
    if shape.len() != stride.len() {
        return Err(format!(
            "size {shape:?} and stride {stride:?} differ in rank"
        ));
    }
    Ok((
        key,
        Layout {
            offset,
            shape,
            stride,
        },
    ))
}

fn usize_of(p: &Pickle, id: Id) -> Option<usize> {
    p.int(id).and_then(|v| usize::try_from(v).ok())
}

fn usizes(p: &Pickle, id: Id) -> Option<Vec<usize>> {
    p.tuple(id)?.iter().map(|&i| usize_of(p, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::pickle;

    /// Emits pickle opcodes for hand-made checkpoints.
    #[derive(Default)]
    struct Emit(Vec<u8>);

    impl Emit {
        fn raw(&mut self, b: &[u8]) -> &mut Self {
            self.0.extend_from_slice(b);
            self
        }
        fn str(&mut self, s: &str) -> &mut Self {
            self.0.push(b'X');
            self.0.extend_from_slice(&(s.len() as u32).to_le_bytes());
            self.raw(s.as_bytes())
        }
        fn int(&mut self, v: i32) -> &mut Self {
            self.0.push(b'J');
            self.raw(&v.to_le_bytes())
        }
        fn ints(&mut self, vs: &[i32]) -> &mut Self {
            self.raw(b"(");
            vs.iter().for_each(|&v| {
                self.int(v);
            });
            self.raw(b"t")
        }
        fn global(&mut self, module: &str, name: &str) -> &mut Self {
            self.raw(format!("c{module}\n{name}\n").as_bytes())
        }
        /// `_rebuild_tensor_v2(storage key, offset, shape, stride)` on a FloatStorage of `numel`.
        fn tensor(
            &mut self,
            key: &str,
            numel: i32,
            offset: i32,
            shape: &[i32],
            stride: &[i32],
        ) -> &mut Self {
            self.global("torch._utils", "_rebuild_tensor_v2")
                .raw(b"((")
                .str("storage");
            self.global("torch", "FloatStorage")
                .str(key)
                .str("cpu")
                .int(numel)
                .raw(b"tQ");
            self.int(offset).ints(shape).ints(stride).raw(b"\x89)tR")
        }
        fn parse(&mut self) -> Result<StateDict, String> {
            self.0.push(b'.');
            state_dict(&pickle::load(&mut self.0.as_slice()).map_err(|e| e.to_string())?)
        }
    }

    fn dict() -> Emit {
        let mut e = Emit::default();
        e.raw(b"\x80\x02")
            .global("collections", "OrderedDict")
            .raw(b")R(");
        e
    }

    #[test]
    fn reads_a_state_dict() {
        let mut e = dict();
        e.str("a.weight").tensor("0", 6, 0, &[2, 3], &[3, 1]);
        e.str("a.bias").tensor("0", 6, 4, &[2], &[1]).raw(b"u");
        let d = e.parse().unwrap();
        assert_eq!(d.tensors.len(), 2);
        assert_eq!(d.tensors[1].name, "a.bias");
        assert_eq!(
            d.tensors[1].layout,
            Layout {
                offset: 4,
                shape: vec![2],
                stride: vec![1]
            }
        );
        assert_eq!(
            d.storages["0"],
            Storage {
                dtype: Dtype::F32,
                numel: 6
            }
        );
        assert_eq!(d.storage_label("0"), "storage 0 of tensor a.weight");
    }

    #[test]
    fn unwraps_parameters() {
        let mut e = dict();
        e.str("w")
            .global("torch._utils", "_rebuild_parameter")
            .raw(b"(");
        e.tensor("0", 1, 0, &[1], &[1]).raw(b"\x88)tRu");
        assert_eq!(e.parse().unwrap().tensors[0].name, "w");
    }

    #[test]
    fn finds_a_nested_state_dict() {
        let mut e = Emit::default();
        e.raw(b"}(")
            .str("epoch")
            .int(3)
            .str("state_dict")
            .global("collections", "OrderedDict")
            .raw(b")R(");
        e.str("w").tensor("0", 1, 0, &[1], &[1]).raw(b"uu");
        assert_eq!(e.parse().unwrap().tensors[0].name, "w");
    }

    #[test]
    fn refuses_what_is_not_a_state_dict() {
        let mut e = Emit::default();
        e.global("miRe2e.structure", "Structure").raw(b")R}b");
        assert!(e
            .parse()
            .unwrap_err()
            .contains("miRe2e.structure.Structure object, not a state dict"));
        let mut e = Emit::default();
        e.raw(b"}(").str("epoch").int(3).raw(b"u");
        assert!(e.parse().unwrap_err().contains("no state dict found"));
        let mut e = dict();
        e.str("w")
            .tensor("0", 1, 0, &[1], &[1])
            .str("n")
            .int(3)
            .raw(b"u");
        assert_eq!(
            e.parse().unwrap_err(),
            "state dict entry n is the integer 3, not a tensor"
        );
        let mut e = dict();
        e.str("w")
            .tensor("0", 1, 0, &[1], &[1])
            .str("w")
            .tensor("1", 1, 0, &[1], &[1])
            .raw(b"u");
        assert_eq!(
            e.parse().unwrap_err(),
            "tensor w appears twice in the state dict"
        );
        assert_eq!(
            dict().raw(b"u").parse().unwrap_err(),
            "the checkpoint is an empty dict, not a state dict with tensors"
        );
    }

    #[test]
    fn refuses_bad_layouts() {
        let mut e = dict();
        e.str("w").tensor("0", 5, 0, &[2, 3], &[3, 1]).raw(b"u");
        assert!(e
            .parse()
            .unwrap_err()
            .contains("tensor w (shape [2, 3], offset 0) reaches past the end"));
        let mut e = dict();
        e.str("w").tensor("0", 5, -1, &[2], &[1]).raw(b"u");
        assert!(e
            .parse()
            .unwrap_err()
            .contains("tensor w: storage offset is the integer -1"));
        let mut e = dict();
        e.str("w").tensor("0", 5, 0, &[2], &[1, 1]).raw(b"u");
        assert!(e.parse().unwrap_err().contains("differ in rank"));
        let mut e = dict();
        e.str("w")
            .tensor("0", 5, 0, &[i32::MAX, i32::MAX, i32::MAX], &[1, 1, 1])
            .raw(b"u");
        assert!(e
            .parse()
            .unwrap_err()
            .contains("tensor w: shape [2147483647, 2147483647, 2147483647] is too large"));
    }

    #[test]
    fn refuses_bad_storages() {
        let mut e = dict();
        e.str("w")
            .global("torch._utils", "_rebuild_tensor_v2")
            .raw(b"((")
            .str("storage");
        e.global("torch", "ComplexFloatStorage")
            .str("0")
            .str("cpu")
            .int(1)
            .raw(b"tQ");
        e.int(0).ints(&[1]).ints(&[1]).raw(b"\x89)tRu");
        assert_eq!(
            e.parse().unwrap_err(),
            "storage 0: unsupported storage type ComplexFloatStorage"
        );
        let mut e = dict();
        e.str("w")
            .tensor("0", 1, 0, &[1], &[1])
            .str("v")
            .tensor("0", 2, 0, &[1], &[1])
            .raw(b"u");
        assert!(e.parse().unwrap_err().contains("declared twice"));
    }
}
