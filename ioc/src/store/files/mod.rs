//! The embedded store: a directory of JSON files, each replaced atomically
//! (write to a temporary file, fsync, rename), plus an append-only write
//! log. Chosen over an embedded database crate because the files are
//! readable and diffable by people, need no extra dependency, and rename
//! gives crash safety: a kill leaves either the old or the new file.
mod log;
#[cfg(test)]
mod proptests;

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

pub use log::{LogLimits, WriteLog, read_jsonl};

use super::StoreError;
use super::model::{
    BPM_CONFIG, BPM_SLOTS, LATTICES, MAGNETS, MachineDocs, PUT_LOG, PutLogDoc, SETPOINT_LOG, SETPOINTS, SetpointDoc,
    SetpointLogDoc,
};

#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    limits: LogLimits,
    log: WriteLog<SetpointLogDoc>,
    puts: WriteLog<PutLogDoc>,
    /// What opening the store repaired (a torn last log line).
    repaired: Option<String>,
}

pub(crate) fn io(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Unavailable(format!("{}: {e}", path.display()))
}

fn malformed(path: &Path, problem: impl Into<String>) -> StoreError {
    StoreError::Malformed { document: path.display().to_string(), problem: problem.into() }
}

impl FileStore {
    pub fn open(dir: &Path, limits: LogLimits) -> Result<Self, StoreError> {
        fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let (log, repaired) = WriteLog::open(dir, SETPOINT_LOG, limits)?;
        let (puts, repaired_puts) = WriteLog::open(dir, PUT_LOG, limits)?;
        let repaired = match (repaired, repaired_puts) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        };
        Ok(Self { dir: dir.to_path_buf(), limits, log, puts, repaired })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn limits(&self) -> LogLimits {
        self.limits
    }

    /// What opening the store repaired, if anything.
    pub fn repaired(&self) -> Option<&str> {
        self.repaired.as_deref()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// A stored document: None if absent; bytes that are not UTF-8 or not
    /// JSON are a malformed document (never an outage).
    fn read(&self, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
        let path = self.path(name);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path, e)),
        };
        let text = String::from_utf8(bytes).map_err(|e| malformed(&path, format!("not UTF-8: {e}")))?;
        serde_json::from_str(&text).map(Some).map_err(|e| malformed(&path, e.to_string()))
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
            Some(_) => Err(malformed(&self.path(name), "expected a JSON array")),
            None => Err(malformed(&self.path(name), "missing")),
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

    /// The latest value of every setpoint; a setpoint stored twice is malformed.
    pub fn load_setpoints(&self) -> Result<Vec<SetpointDoc>, StoreError> {
        let Some(v) = self.read(SETPOINTS)? else { return Ok(Vec::new()) };
        let path = self.path(SETPOINTS);
        let docs: Vec<SetpointDoc> = serde_path_to_error::deserialize(v)
            .map_err(|e| malformed(&path, format!("field `{}`: {}", e.path(), e.inner())))?;
        let mut seen = std::collections::HashSet::new();
        if let Some(d) = docs.iter().find(|d| !seen.insert(d.name.as_str())) {
            return Err(malformed(&path, format!("setpoint {:?} stored twice", d.name)));
        }
        Ok(docs)
    }

    /// Appends accepted writes to the log (durable on return).
    pub fn append_log(&self, log: &[SetpointLogDoc]) -> Result<(), StoreError> {
        self.log.append(log)
    }

    /// Appends accepted client puts to the put log (durable on return).
    pub fn append_puts(&self, puts: &[PutLogDoc]) -> Result<(), StoreError> {
        self.puts.append(puts)
    }

    /// Replaces the latest values of `latest`, keeping the others.
    pub fn write_latest(&self, latest: &[SetpointDoc]) -> Result<(), StoreError> {
        if latest.is_empty() {
            return Ok(());
        }
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

    /// Every logged write kept (rotated files included), oldest first.
    pub fn setpoint_log(&self) -> Result<Vec<SetpointLogDoc>, StoreError> {
        self.log.read_all()
    }

    /// Moves everything stored into `reset-<stamp>/` (kept for inspection):
    /// the store starts empty.
    pub fn reset(&self, stamp: &str) -> Result<PathBuf, StoreError> {
        let backup = self.dir.join(format!("reset-{stamp}"));
        fs::create_dir_all(&backup).map_err(|e| io(&backup, e))?;
        let names = [LATTICES, MAGNETS, BPM_CONFIG, BPM_SLOTS, SETPOINTS].map(|n| self.path(n));
        let bba = self.dir.join(format!("{}.jsonl", super::model::BBA_RESULTS));
        for path in
            names.into_iter().chain(self.log.files()).chain(self.puts.files()).chain([bba]).filter(|p| p.exists())
        {
            let to = backup.join(path.file_name().unwrap_or_default());
            fs::rename(&path, &to).map_err(|e| io(&to, e))?;
        }
        Ok(backup)
    }
}
