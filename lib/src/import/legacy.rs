//! The legacy `torch.save` format (PyTorch < 1.6, or `_use_new_zipfile_serialization=False`):
//! five pickles and the raw storages, back to back in one stream.
//!
//! 1. the magic number `0x1950a86a20f9469cfc6c`;
//! 2. the protocol version 1001;
//! 3. `sys_info` (`{'little_endian': True, ...}`);
//! 4. the object, whose persistent ids `('storage', torch.FloatStorage, key, location, numel, None)`
//!    name storages;
//! 5. the list of storage keys;
//!
//! then for each key, in that order, an `int64` element count and the elements' bytes.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

use super::pickle::{self, Node, Pickle};
use super::torch::{self, StateDict, Storages};

/// The magic number's little-endian bytes (a 10-byte `LONG1`).
const MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const PROTOCOL_VERSION: i64 = 1001;

/// An open legacy checkpoint: where each storage's bytes are.
pub(crate) struct Legacy {
    file: BufReader<File>,
    /// Storage key -> (file offset of its bytes, byte length).
    spans: HashMap<String, (u64, u64)>,
}

/// Reads the pickles and locates every storage, checking each against the file length.
pub(crate) fn open(file: File, len: u64) -> Result<(StateDict, Legacy), String> {
    let mut r = BufReader::new(file);
    let magic = load(&mut r, "magic number")?;
    if !matches!(magic.node(magic.root()), Node::BigInt(b) if b[..] == MAGIC) {
        return Err("not a PyTorch checkpoint (wrong magic number)".into());
    }
    let version = load(&mut r, "protocol version")?;
    match version.int(version.root()) {
        Some(PROTOCOL_VERSION) => {}
        _ => {
            return Err(format!(
                "unsupported legacy protocol version ({})",
                version.describe(version.root())
            ))
        }
    }
    check_sys_info(&load(&mut r, "sys_info")?)?;
    let dict = torch::state_dict(&load(&mut r, "state dict")?)?;
    let keys = storage_keys(&load(&mut r, "storage key list")?)?;
    let mut pos = r
        .stream_position()
        .map_err(|e| format!("read failed: {e}"))?;
    let mut spans = HashMap::new();
    for key in keys {
        let storage = dict.storages.get(&key).ok_or_else(|| {
            format!("storage {key} is in the storage list but the pickle never names it")
        })?;
        let label = dict.storage_label(&key);
        if len.saturating_sub(pos) < 8 {
            return Err(format!("file truncated before {label}"));
        }
        let mut count = [0; 8];
        r.read_exact(&mut count)
            .map_err(|e| format!("{label}: read failed: {e}"))?;
        let count = i64::from_le_bytes(count);
        if u64::try_from(count).ok() != Some(storage.numel) {
            return Err(format!(
                "{label}: {count} elements in the file, {} in the pickle",
                storage.numel
            ));
        }
        let nbytes = storage
            .nbytes()
            .ok_or_else(|| format!("{label} is too large"))?;
        pos += 8;
        if nbytes > len - pos {
            return Err(format!(
                "file truncated inside {label} (needs {nbytes} bytes, {} left)",
                len - pos
            ));
        }
        if spans.insert(key.clone(), (pos, nbytes)).is_some() {
            return Err(format!("storage {key} is listed twice"));
        }
        pos += nbytes;
        r.seek(SeekFrom::Start(pos))
            .map_err(|e| format!("read failed: {e}"))?;
    }
    if let Some(t) = dict
        .tensors
        .iter()
        .find(|t| !spans.contains_key(&t.storage))
    {
        return Err(format!(
            "the data of tensor {} (storage {}) is missing from the file",
            t.name, t.storage
        ));
    }
    if pos < len {
        log::warn!("{} bytes after the last storage ignored", len - pos);
    }
    Ok((dict, Legacy { file: r, spans }))
}

fn load(r: &mut BufReader<File>, what: &str) -> Result<Pickle, String> {
    pickle::load(r).map_err(|e| {
        if e.message == "truncated pickle" {
            format!("file truncated inside the {what} pickle")
        } else if what == "magic number" {
            format!("not a PyTorch checkpoint (unreadable magic number pickle: {e})")
        } else {
            format!("cannot read the {what} pickle: {e}")
        }
    })
}

/// Storages are raw little-endian bytes; a big-endian file would need swapping we do not do.
fn check_sys_info(p: &Pickle) -> Result<(), String> {
    let Node::Dict(items) = p.node(p.root()) else {
        return Err(format!("sys_info is {}, not a dict", p.describe(p.root())));
    };
    let little = items
        .iter()
        .find(|&&(k, _)| p.str(k) == Some("little_endian"))
        .map(|&(_, v)| p.node(v));
    match little {
        Some(Node::Bool(true)) | None => Ok(()),
        _ => Err("big-endian checkpoints are not supported".into()),
    }
}

fn storage_keys(p: &Pickle) -> Result<Vec<String>, String> {
    let Node::List(items) = p.node(p.root()) else {
        return Err(format!("the storage key list is {}", p.describe(p.root())));
    };
    items
        .iter()
        .map(|&id| {
            p.str(id)
                .map(str::to_owned)
                .ok_or_else(|| format!("a storage key is {}", p.describe(id)))
        })
        .collect()
}

impl Storages for Legacy {
    fn load(&mut self, key: &str, nbytes: u64) -> Result<Vec<u8>, String> {
        let &(offset, len) = self
            .spans
            .get(key)
            .ok_or_else(|| format!("storage {key} is not in the file"))?;
        if len != nbytes {
            return Err(format!(
                "storage {key} holds {len} bytes, expected {nbytes}"
            ));
        }
        self.file
            .seek(SeekFrom::Start(offset))
            .map_err(|e| format!("storage {key}: read failed: {e}"))?;
        // `open` checked the span against the file length, so this allocation is bounded by it.
        let size = usize::try_from(len).map_err(|_| format!("storage {key} is too large"))?;
        let mut buf = vec![0; size];
        self.file
            .read_exact(&mut buf)
            .map_err(|e| format!("storage {key}: read failed: {e}"))?;
        Ok(buf)
    }
}
