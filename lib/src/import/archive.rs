//! The zip `torch.save` format (PyTorch >= 1.6): `ARCHIVE/data.pkl` holds the object, whose
//! persistent ids `('storage', torch.FloatStorage, key, location, numel)` name the entries
//! `ARCHIVE/data/KEY` with the raw bytes; `ARCHIVE/byteorder`, when present, says `little`.

use std::fs::File;
use std::io::{BufReader, Read};

use zip::ZipArchive;

use super::pickle;
use super::torch::{self, StateDict, Storages};

/// An open zip checkpoint.
pub(crate) struct Archive {
    zip: ZipArchive<BufReader<File>>,
    /// The archive's top folder, with its trailing `/`.
    prefix: String,
}

/// Reads `data.pkl` and checks that every storage a tensor uses is there and large enough.
pub(crate) fn open(file: File, len: u64) -> Result<(StateDict, Archive), String> {
    let zip = ZipArchive::new(BufReader::new(file))
        .map_err(|e| format!("not a readable zip archive, truncated or corrupt? ({e})"))?;
    let prefix = data_pkl_prefix(&zip)?;
    let mut archive = Archive { zip, prefix };
    archive.check_byteorder()?;
    let dict = {
        let name = format!("{}data.pkl", archive.prefix);
        let mut entry = archive
            .zip
            .by_name(&name)
            .map_err(|e| format!("{name}: {e}"))?;
        if entry.size() > pickle::MAX_PICKLE_BYTES {
            return Err(format!(
                "{name} is {} bytes: too large for a state dict",
                entry.size()
            ));
        }
        // Whole, so that the CRC is checked (the zip reader checks it at the end).
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| format!("{name}: {e}"))?;
        let p = pickle::load(&mut bytes.as_slice()).map_err(|e| format!("{name}: {e}"))?;
        torch::state_dict(&p).map_err(|e| format!("{name}: {e}"))?
    };
    for t in &dict.tensors {
        archive.check_entry(&dict, &t.storage, len)?;
    }
    Ok((dict, archive))
}

/// The folder holding `data.pkl` (torch names it after the file, or `archive`).
fn data_pkl_prefix(zip: &ZipArchive<BufReader<File>>) -> Result<String, String> {
    let mut found = Vec::new();
    for name in zip.file_names().filter_map(Result::ok) {
        if let Some(folder) = name.strip_suffix("data.pkl") {
            if folder.is_empty() || (folder.ends_with('/') && folder.matches('/').count() == 1) {
                found.push(folder.to_owned());
            }
        }
    }
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err("a zip archive without data.pkl: not a PyTorch checkpoint".into()),
        _ => Err(format!("several data.pkl in the zip archive ({found:?})")),
    }
}

impl Archive {
    fn check_byteorder(&mut self) -> Result<(), String> {
        let name = format!("{}byteorder", self.prefix);
        let Ok(entry) = self.zip.by_name(&name) else {
            return Ok(());
        };
        let mut order = Vec::new();
        entry
            .take(16)
            .read_to_end(&mut order)
            .map_err(|e| format!("{name}: {e}"))?;
        match order.trim_ascii() {
            b"little" => Ok(()),
            b"big" => Err("big-endian checkpoints are not supported".into()),
            other => Err(format!("{name} says {:?}", String::from_utf8_lossy(other))),
        }
    }

    /// The storage's entry exists, declares its exact size, and (uncompressed) fits in the file.
    fn check_entry(&mut self, dict: &StateDict, key: &str, len: u64) -> Result<(), String> {
        let label = dict.storage_label(key);
        let name = format!("{}data/{key}", self.prefix);
        let entry = self
            .zip
            .by_name(&name)
            .map_err(|e| format!("{label}: no entry {name} ({e})"))?;
        let nbytes = dict
            .storages
            .get(key)
            .and_then(|s| s.nbytes())
            .ok_or_else(|| format!("{label} is too large"))?;
        if entry.size() != nbytes {
            return Err(format!(
                "{label}: entry {name} holds {} bytes, expected {nbytes}",
                entry.size()
            ));
        }
        if entry.compression() == zip::CompressionMethod::Stored && entry.size() > len {
            return Err(format!(
                "{label}: entry {name} claims {} bytes, more than the file",
                entry.size()
            ));
        }
        Ok(())
    }
}

impl Storages for Archive {
    fn load(&mut self, key: &str, nbytes: u64) -> Result<Vec<u8>, String> {
        let name = format!("{}data/{key}", self.prefix);
        let mut entry = self
            .zip
            .by_name(&name)
            .map_err(|e| format!("{name}: {e}"))?;
        // Reading to the end checks the CRC; the zip reader stops at the declared size, which
        // `open` checked equals `nbytes`, and the buffer grows only with the bytes actually there.
        let mut buf = Vec::new();
        entry
            .read_to_end(&mut buf)
            .map_err(|e| format!("{name}: {e}"))?;
        if buf.len() as u64 != nbytes {
            return Err(format!(
                "{name}: truncated ({} of {nbytes} bytes)",
                buf.len()
            ));
        }
        Ok(buf)
    }
}
