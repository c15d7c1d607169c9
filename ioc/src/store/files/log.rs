//! The embedded store's logs (setpoint writes, client puts): JSON lines
//! appended to `<stem>.jsonl`, rotated to `<stem>.1.jsonl`, `.2`, … when it
//! holds `rotate_entries` lines; the oldest beyond `keep_files` are
//! removed. A crash mid-append leaves a torn last line: it is cut off when
//! the store opens (and skipped, should it remain, when the log is read).
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::super::StoreError;
use super::super::model::LogDoc;
use super::{io, malformed};

/// How far the log may grow.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogLimits {
    /// Lines of the current file before it is rotated.
    pub rotate_entries: u64,
    /// Rotated files kept besides the current one.
    pub keep_files: u32,
}

#[derive(Debug)]
pub struct WriteLog<T> {
    dir: PathBuf,
    /// File name stem (the collection's name).
    stem: &'static str,
    limits: LogLimits,
    /// Lines in the current file (counted at open, kept by `append`, so an
    /// append does not read the file).
    lines: Mutex<u64>,
    entries: PhantomData<fn() -> T>,
}

/// The documents of a JSON-lines file, in order (none if it is missing).
/// A torn last line (bytes after the last newline, UTF-8 or not) is what a
/// crash mid-append leaves: skipped; a broken line before it is malformed.
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, StoreError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(path, e)),
    };
    let whole = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let text = std::str::from_utf8(&bytes[..whole]).map_err(|e| malformed(path, format!("not UTF-8: {e}")))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(line).map_err(|e| malformed(path, format!("line {}: {e}", i + 1)))?);
    }
    Ok(out)
}

impl<T: LogDoc + Serialize + DeserializeOwned> WriteLog<T> {
    /// Opens the log `<stem>.jsonl`; cuts off a torn last line and says so.
    pub fn open(dir: &Path, stem: &'static str, limits: LogLimits) -> Result<(Self, Option<String>), StoreError> {
        let log = Self { dir: dir.to_path_buf(), stem, limits, lines: Mutex::new(0), entries: PhantomData };
        let repaired = log.repair_tail()?;
        *log.lines.lock().unwrap_or_else(|p| p.into_inner()) = Self::count_lines(&log.file(0))?;
        Ok((log, repaired))
    }

    /// A log to read only (another handle appends to it): no repair, no
    /// line count.
    pub fn reader(dir: &Path, stem: &'static str, limits: LogLimits) -> Self {
        Self { dir: dir.to_path_buf(), stem, limits, lines: Mutex::new(0), entries: PhantomData }
    }

    /// The current file (n = 0) or rotated file n.
    fn file(&self, n: u32) -> PathBuf {
        match n {
            0 => self.dir.join(format!("{}.jsonl", self.stem)),
            n => self.dir.join(format!("{}.{n}.jsonl", self.stem)),
        }
    }

    fn repair_tail(&self) -> Result<Option<String>, StoreError> {
        let path = self.file(0);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path, e)),
        };
        if bytes.is_empty() || bytes.ends_with(b"\n") {
            return Ok(None);
        }
        let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let torn = String::from_utf8_lossy(&bytes[keep..]).chars().take(80).collect::<String>();
        let f = OpenOptions::new().write(true).open(&path).map_err(|e| io(&path, e))?;
        f.set_len(keep as u64).and_then(|()| f.sync_all()).map_err(|e| io(&path, e))?;
        // the kind first: a 40-character string record shows only the start
        Ok(Some(format!("torn last line cut off (a crash mid-append) in {}: {torn:?}", path.display())))
    }

    fn count_lines(path: &Path) -> Result<u64, StoreError> {
        match fs::read(path) {
            Ok(b) => Ok(b.iter().filter(|c| **c == b'\n').count() as u64),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(io(path, e)),
        }
    }

    /// Appends `entries` (durable on return), rotating first when full.
    pub fn append(&self, entries: &[T]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let path = self.file(0);
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if *lines >= self.limits.rotate_entries {
            self.rotate()?;
            *lines = 0;
        }
        let mut text = Vec::new();
        for entry in entries {
            serde_json::to_writer(&mut text, entry).map_err(|e| StoreError::Unavailable(e.to_string()))?;
            text.push(b'\n');
        }
        let mut f = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| io(&path, e))?;
        let before = f.metadata().map_err(|e| io(&path, e))?.len();
        if let Err(e) = f.write_all(&text).and_then(|()| f.sync_data()) {
            // a partial append (a full disk) must not leave a torn line for
            // the next append to glue onto: cut back to the last whole line
            let _ = f.set_len(before);
            return Err(io(&path, e));
        }
        *lines += entries.len() as u64;
        Ok(())
    }

    fn rotate(&self) -> Result<(), StoreError> {
        let oldest = self.file(self.limits.keep_files);
        if oldest.exists() {
            fs::remove_file(&oldest).map_err(|e| io(&oldest, e))?;
        }
        for n in (0..self.limits.keep_files).rev() {
            let from = self.file(n);
            if from.exists() {
                let to = self.file(n + 1);
                fs::rename(&from, &to).map_err(|e| io(&to, e))?;
            }
        }
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(|e| io(&self.dir, e))
    }

    /// Every logged write kept, oldest first (duplicates of an id removed;
    /// a torn last line skipped).
    pub fn read_all(&self) -> Result<Vec<T>, StoreError> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for n in (0..=self.limits.keep_files).rev() {
            for d in read_jsonl::<T>(&self.file(n))? {
                if seen.insert(d.id().to_string()) {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }

    /// The log files, for a reset's backup.
    pub fn files(&self) -> Vec<PathBuf> {
        (0..=self.limits.keep_files).map(|n| self.file(n)).filter(|p| p.exists()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::model::{SETPOINT_LOG, SetpointLogDoc};

    fn open(d: &Path, limits: LogLimits) -> Result<(WriteLog<SetpointLogDoc>, Option<String>), StoreError> {
        WriteLog::open(d, SETPOINT_LOG, limits)
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("twin-log-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("dir");
        d
    }

    fn entry(k: u64) -> SetpointLogDoc {
        SetpointLogDoc {
            id: format!("run-{k:09}"),
            name: "A:set".into(),
            value: k as f64,
            unit: "A".into(),
            at_ms: k as i64,
        }
    }

    #[test]
    fn the_log_rotates_keeps_its_bound_and_reads_back_in_order() {
        let d = dir("rotate");
        let (log, _) = open(&d, LogLimits { rotate_entries: 100, keep_files: 2 }).expect("open");
        for k in 0..450 {
            log.append(&[entry(k)]).expect("append");
        }
        let all = log.read_all().expect("read");
        // the current file (400..449) and 2 rotated files of 100: the oldest 200 are gone
        assert_eq!(all.len(), 250, "bounded");
        assert_eq!(all.first().map(|e| e.value), Some(200.0));
        assert!(all.windows(2).all(|w| w[0].value < w[1].value), "oldest first");
        assert_eq!(log.files().len(), 3);
    }

    #[test]
    fn a_torn_tail_that_is_not_utf8_is_skipped_when_read() {
        let d = dir("torn-binary");
        let (log, _) = open(&d, LogLimits { rotate_entries: 100, keep_files: 1 }).expect("open");
        log.append(&[entry(1), entry(2)]).expect("append");
        let mut f = OpenOptions::new().append(true).open(log.file(0)).expect("open log");
        f.write_all(b"{\"_id\": \"run-3\xff\xfe").expect("torn");
        assert_eq!(log.read_all().expect("a torn tail is skipped").len(), 2);
        let (reopened, repaired) = open(&d, LogLimits { rotate_entries: 100, keep_files: 1 }).expect("reopen");
        assert!(repaired.is_some());
        reopened.append(&[entry(3)]).expect("append after repair");
        assert_eq!(reopened.read_all().expect("read").len(), 3);
    }

    #[test]
    fn a_torn_last_line_is_cut_off_at_open_and_skipped_when_read() {
        let d = dir("torn");
        let limits = LogLimits { rotate_entries: 1000, keep_files: 1 };
        let (log, repaired) = open(&d, limits).expect("open");
        assert!(repaired.is_none());
        log.append(&[entry(1), entry(2)]).expect("append");
        let path = d.join("setpoint_log.jsonl");
        let mut f = OpenOptions::new().append(true).open(&path).expect("file");
        f.write_all(br#"{"_id": "run-3", "name": "A:s"#).expect("torn");
        assert_eq!(log.read_all().expect("a torn tail is skipped").len(), 2);
        let (log, repaired) = open(&d, limits).expect("reopen");
        assert!(repaired.is_some_and(|r| r.contains("torn")));
        log.append(&[entry(3)]).expect("append after repair");
        assert_eq!(log.read_all().expect("read").iter().map(|e| e.value).collect::<Vec<_>>(), [1.0, 2.0, 3.0]);
        // a broken line in the middle is corruption, not a crash mid-append
        fs::write(&path, "{\"not\": 1}\n{}\n").expect("corrupt");
        assert!(matches!(log.read_all(), Err(StoreError::Malformed { .. })));
    }
}
