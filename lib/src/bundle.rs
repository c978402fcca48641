//! Model bundles: the three weights files of one model plus a manifest with their provenance.
//!
//! A bundle is a folder holding `manifest.json` and the three safetensors files it names:
//!
//! ```json
//! {
//!   "name": "default",
//!   "architecture": "mire2e-0.17",
//!   "files": {
//!     "structure":  { "path": "structure.safetensors",  "sha256": "…" },
//!     "mfe":        { "path": "mfe.safetensors",        "sha256": "…" },
//!     "classifier": { "path": "classifier.safetensors", "sha256": "…" }
//!   },
//!   "description": "…", "training": { … }, "metrics": { … }
//! }
//! ```
//!
//! `training` and `metrics` are free-form records of how the weights were made and how they score.
//! Checksums are verified when a file is used, so a bundle whose files were swapped or damaged is
//! refused with the file's name.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::model::Kind;

/// The manifest's file name inside a bundle folder.
pub const MANIFEST: &str = "manifest.json";

/// The architecture every bundle of this version uses: miRe2e 0.17's three models.
pub const ARCHITECTURE: &str = "mire2e-0.17";

/// One weights file of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the bundle folder.
    pub path: String,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: String,
}

/// The three weights files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Files {
    /// Model A.
    pub structure: FileEntry,
    /// Model B.
    pub mfe: FileEntry,
    /// Model C.
    pub classifier: FileEntry,
}

/// The manifest of a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Short name (`default`, `original-hsa`, …).
    pub name: String,
    /// Architecture of the weights; must be [`ARCHITECTURE`].
    pub architecture: String,
    /// The weights files.
    pub files: Files,
    /// What the bundle is, in a sentence or two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How the weights were made: data and checksums, command lines, budget.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub training: serde_json::Value,
    /// Evaluation figures.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub metrics: serde_json::Value,
    /// The score at or above which a window is called, and how it was chosen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<OperatingThreshold>,
}

/// A bundle's operating threshold: the default of `--threshold` for its candidate loci.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperatingThreshold {
    /// The score, in [0, 1].
    pub value: f32,
    /// How it was chosen (data and criterion), in a sentence.
    pub basis: String,
}

/// An opened bundle folder.
#[derive(Debug, Clone)]
pub struct Bundle {
    dir: PathBuf,
    manifest: Manifest,
}

impl Bundle {
    /// Reads and checks the manifest of the bundle in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(MANIFEST);
        let text = fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| Error::Weights {
            path: path.clone(),
            message: format!("invalid manifest: {e}"),
        })?;
        if manifest.architecture != ARCHITECTURE {
            return Err(Error::Weights {
                path,
                message: format!(
                    "architecture '{}' is not supported (this version reads '{ARCHITECTURE}')",
                    manifest.architecture
                ),
            });
        }
        if let Some(t) = &manifest.threshold {
            if !(0.0..=1.0).contains(&t.value) {
                return Err(Error::Weights {
                    path,
                    message: format!("threshold {} is outside [0, 1]", t.value),
                });
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            manifest,
        })
    }

    /// The bundle folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn entry(&self, kind: Kind) -> &FileEntry {
        match kind {
            Kind::Structure => &self.manifest.files.structure,
            Kind::Mfe => &self.manifest.files.mfe,
            Kind::Classifier => &self.manifest.files.classifier,
        }
    }

    /// The weights file of `kind`, after checking its SHA-256 against the manifest.
    pub fn weights(&self, kind: Kind) -> Result<PathBuf> {
        self.read_weights(kind).map(|(path, _)| path)
    }

    /// The weights file of `kind`, read whole and checked against the manifest's SHA-256: its path
    /// and bytes, for `Model::load_bytes` (so that the file is read once).
    pub fn read_weights(&self, kind: Kind) -> Result<(PathBuf, Vec<u8>)> {
        let entry = self.entry(kind);
        let path = self.dir.join(&entry.path);
        let bytes = crate::model::load::read(&path)?;
        let found = sha256(&bytes);
        if !found.eq_ignore_ascii_case(&entry.sha256) {
            return Err(Error::Weights {
                path,
                message: format!(
                    "SHA-256 {found} does not match the manifest's {} (damaged or replaced file)",
                    entry.sha256
                ),
            });
        }
        Ok((path, bytes))
    }

    /// A short identity for stream metadata: `name` and the first 12 hex digits of each checksum.
    pub fn id(&self) -> String {
        let short = |e: &FileEntry| e.sha256.chars().take(12).collect::<String>();
        let f = &self.manifest.files;
        format!(
            "{} (structure {}, mfe {}, classifier {})",
            self.manifest.name,
            short(&f.structure),
            short(&f.mfe),
            short(&f.classifier)
        )
    }
}

/// Lower-case hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_bundle(dir: &Path, structure: &[u8]) -> Manifest {
        let mut files = Vec::new();
        for (name, bytes) in [
            ("s.safetensors", structure),
            ("m.safetensors", b"m"),
            ("c.safetensors", b"c"),
        ] {
            fs::write(dir.join(name), bytes).unwrap();
            files.push(FileEntry {
                path: name.into(),
                sha256: sha256_file(&dir.join(name)).unwrap(),
            });
        }
        let manifest = Manifest {
            name: "t".into(),
            architecture: ARCHITECTURE.into(),
            files: Files {
                classifier: files.pop().unwrap(),
                mfe: files.pop().unwrap(),
                structure: files.pop().unwrap(),
            },
            description: None,
            training: serde_json::Value::Null,
            metrics: serde_json::Value::Null,
            threshold: None,
        };
        fs::write(
            dir.join(MANIFEST),
            serde_json::to_string_pretty(&manifest).unwrap(),
        )
        .unwrap();
        manifest
    }

    #[test]
    fn checksums_are_verified() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = write_bundle(dir.path(), b"structure");
        let bundle = Bundle::open(dir.path()).unwrap();
        assert_eq!(bundle.manifest(), &manifest);
        assert_eq!(
            bundle.weights(Kind::Mfe).unwrap(),
            dir.path().join("m.safetensors")
        );
        fs::write(dir.path().join("s.safetensors"), b"tampered").unwrap();
        let err = bundle.weights(Kind::Structure).unwrap_err().to_string();
        assert!(
            err.contains("s.safetensors") && err.contains("does not match"),
            "{err}"
        );
    }

    #[test]
    fn bad_manifests_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Bundle::open(dir.path())
            .unwrap_err()
            .to_string()
            .contains("manifest.json"));
        fs::write(dir.path().join(MANIFEST), "{\"name\": 1}").unwrap();
        assert!(Bundle::open(dir.path())
            .unwrap_err()
            .to_string()
            .contains("invalid manifest"));
    }
}
