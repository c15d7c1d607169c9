//! The embedded store: a directory of JSON files, each replaced atomically
//! (write to a temporary file, fsync, rename), plus an append-only write
//! log. Chosen over an embedded database crate because the files are
//! readable and diffable by people, need no extra dependency, and rename
//! gives crash safety: a kill leaves either the old or the new file.
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::StoreError;
use super::model::{
    BPM_CONFIG, BPM_SLOTS, LATTICES, MAGNETS, MachineDocs, SETPOINT_LOG, SETPOINTS, SetpointDoc, SetpointLogDoc,
};

#[derive(Clone, Debug)]
pub struct FileStore {
    dir: PathBuf,
}

fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("{}: {e}", path.display()))
}

impl FileStore {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        Ok(Self { dir: dir.to_path_buf() })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    fn read(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let path = self.path(name);
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| StoreError::Malformed { document: path.display().to_string(), problem: e.to_string() }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path, e)),
        }
    }

    fn write_atomic(&self, name: &str, value: &serde_json::Value) -> Result<(), StoreError> {
        let path = self.path(name);
        let tmp = self.dir.join(format!(".{name}.json.tmp"));
        let text = serde_json::to_vec_pretty(value).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let mut f = File::create(&tmp).map_err(|e| io(&tmp, e))?;
        f.write_all(&text).and_then(|()| f.sync_all()).map_err(|e| io(&tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(|e| io(&self.dir, e))
    }

    fn array(&self, name: &str, value: Option<serde_json::Value>) -> Result<Vec<serde_json::Value>, StoreError> {
        match value {
            Some(serde_json::Value::Array(items)) => Ok(items),
            Some(_) => Err(StoreError::Malformed {
                document: self.path(name).display().to_string(),
                problem: "expected a JSON array".into(),
            }),
            None => Err(StoreError::Malformed {
                document: self.path(name).display().to_string(),
                problem: "missing".into(),
            }),
        }
    }

    pub fn load_machine(&self) -> Result<Option<MachineDocs>, StoreError> {
        let Some(lattice) = self.read(LATTICES)? else { return Ok(None) };
        Ok(Some(MachineDocs {
            lattice,
            magnets: self.array(MAGNETS, self.read(MAGNETS)?)?,
            bpm_config: self.array(BPM_CONFIG, self.read(BPM_CONFIG)?)?,
            bpm_slots: self.array(BPM_SLOTS, self.read(BPM_SLOTS)?)?,
        }))
    }

    pub fn save_machine(&self, docs: &MachineDocs) -> Result<(), StoreError> {
        self.write_atomic(MAGNETS, &serde_json::Value::Array(docs.magnets.clone()))?;
        self.write_atomic(BPM_CONFIG, &serde_json::Value::Array(docs.bpm_config.clone()))?;
        self.write_atomic(BPM_SLOTS, &serde_json::Value::Array(docs.bpm_slots.clone()))?;
        // the lattice last: its presence marks a complete machine
        self.write_atomic(LATTICES, &docs.lattice)
    }

    pub fn load_setpoints(&self) -> Result<Vec<SetpointDoc>, StoreError> {
        let Some(v) = self.read(SETPOINTS)? else { return Ok(Vec::new()) };
        let document = self.path(SETPOINTS).display().to_string();
        serde_path_to_error::deserialize(v)
            .map_err(|e| StoreError::Malformed { document, problem: format!("{}: {}", e.path(), e.inner()) })
    }

    pub fn persist(&self, log: &[SetpointLogDoc], latest: &[SetpointDoc]) -> Result<(), StoreError> {
        let log_path = self.dir.join(format!("{SETPOINT_LOG}.jsonl"));
        let mut f = OpenOptions::new().create(true).append(true).open(&log_path).map_err(|e| io(&log_path, e))?;
        let mut lines = Vec::new();
        for entry in log {
            serde_json::to_writer(&mut lines, entry).map_err(|e| StoreError::Unavailable(e.to_string()))?;
            lines.push(b'\n');
        }
        f.write_all(&lines).and_then(|()| f.sync_data()).map_err(|e| io(&log_path, e))?;
        let mut all: BTreeMap<String, SetpointDoc> =
            self.load_setpoints()?.into_iter().map(|d| (d.name.clone(), d)).collect();
        for d in latest {
            all.insert(d.name.clone(), d.clone());
        }
        let v = serde_json::to_value(all.into_values().collect::<Vec<_>>())
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.write_atomic(SETPOINTS, &v)
    }

    pub fn insert_bba(&self, docs: &[super::model::BbaResultDoc]) -> Result<(), StoreError> {
        let path = self.dir.join(format!("{}.jsonl", super::model::BBA_RESULTS));
        let mut f = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| io(&path, e))?;
        let mut lines = Vec::new();
        for d in docs {
            serde_json::to_writer(&mut lines, d).map_err(|e| StoreError::Unavailable(e.to_string()))?;
            lines.push(b'\n');
        }
        f.write_all(&lines).and_then(|()| f.sync_data()).map_err(|e| io(&path, e))
    }

    /// All logged writes (duplicates of a retried append removed by id).
    pub fn setpoint_log(&self) -> Result<Vec<SetpointLogDoc>, StoreError> {
        let path = self.dir.join(format!("{SETPOINT_LOG}.jsonl"));
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&path, e)),
        };
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let d: SetpointLogDoc = serde_json::from_str(line)
                .map_err(|e| StoreError::Malformed { document: path.display().to_string(), problem: e.to_string() })?;
            if seen.insert(d.id.clone()) {
                out.push(d);
            }
        }
        Ok(out)
    }
}
