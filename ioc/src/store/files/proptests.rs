//! Property tests that hunt the embedded store's documents (issue 12,
//! "Tests that hunt"): `setpoints.json` whatever its bytes, the write log
//! with torn tails and corrupt lines, and its rotation, each on a scratch
//! directory of its own under the system's temporary directory (removed
//! afterwards, also when a case fails).
//!
//! The case counts keep `cargo test --release` to a few seconds; the
//! environment variable `PROPTEST_CASES` replaces every count of this module
//! for a longer hunt, e.g.
//! `PROPTEST_CASES=5000 cargo test --release -p twin-ioc store::files::proptests`.
use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use proptest::sample::Index;

use super::{FileStore, LogLimits};
use crate::store::StoreError;
use crate::store::model::{SetpointDoc, SetpointLogDoc};

/// `PROPTEST_CASES` if set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(default)
}

/// `cases` cases and no regression files (what a hunt finds becomes a
/// named test instead).
fn config(default_cases: u32) -> ProptestConfig {
    ProptestConfig { cases: cases(default_cases), failure_persistence: None, ..ProptestConfig::default() }
}

/// Limits that never rotate in the tests of one file.
const ONE_FILE: LogLimits = LogLimits { rotate_entries: 1_000_000, keep_files: 2 };

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("twin-store-props-{what}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        Self(dir)
    }

    fn open(&self, limits: LogLimits) -> FileStore {
        FileStore::open(&self.0, limits).expect("a store on a scratch directory")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn append_raw(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new().create(true).append(true).open(path).expect("log file");
    f.write_all(bytes).expect("raw append");
}

// ---------------------------------------------------------------- inputs

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        1 => prop::sample::select(vec![0.0, -0.0, 5e-324, -5e-324, f64::MAX, f64::MIN, f64::MIN_POSITIVE, 0.1]),
        4 => any::<f64>().prop_filter("finite", |v| v.is_finite()),
    ]
}

/// Names from a small pool (so that batches repeat them) or any text.
fn name() -> impl Strategy<Value = String> {
    let pool = ["Q1PDR:set", "MCLKHX251C:freq", "TWIN:QF1:x:set", "HS4P1D1R:set", "A:set"];
    prop_oneof![3 => prop::sample::select(pool.to_vec()).prop_map(String::from), 1 => "\\PC{0,16}"]
}

fn unit() -> impl Strategy<Value = String> {
    prop_oneof![prop::sample::select(vec!["A", "kHz", "m", "um", "1/m2", ""]).prop_map(String::from), "\\PC{0,4}"]
}

fn setpoint_doc() -> impl Strategy<Value = SetpointDoc> {
    (name(), finite(), unit(), any::<i64>()).prop_map(|(name, value, unit, updated_at_ms)| SetpointDoc {
        name,
        value,
        unit,
        updated_at_ms,
    })
}

/// Batches of `write_latest`, at least one document in all.
fn setpoint_batches() -> impl Strategy<Value = Vec<Vec<SetpointDoc>>> {
    prop::collection::vec(prop::collection::vec(setpoint_doc(), 0..6), 1..5)
        .prop_filter("a document", |b| b.iter().any(|d| !d.is_empty()))
}

/// Log entries of `sizes` batches, ids `run-0`, `run-1`, … in order.
fn log_batches(sizes: &[usize], fields: &[(String, f64, String, i64)]) -> Vec<Vec<SetpointLogDoc>> {
    let mut k = 0;
    sizes
        .iter()
        .map(|&n| {
            (0..n)
                .map(|_| {
                    let (name, value, unit, at_ms) = fields[k % fields.len()].clone();
                    k += 1;
                    SetpointLogDoc { id: format!("run-{}", k - 1), name, value, unit, at_ms }
                })
                .collect()
        })
        .collect()
}

fn log_fields() -> impl Strategy<Value = Vec<(String, f64, String, i64)>> {
    prop::collection::vec((name(), finite(), unit(), any::<i64>()), 1..8)
}

// ------------------------------------------------------------ comparison

/// Documents as comparable keys: values bit for bit (-0.0 is not 0.0).
fn setpoint_keys(docs: &[SetpointDoc]) -> Vec<(String, u64, String, i64)> {
    docs.iter().map(|d| (d.name.clone(), d.value.to_bits(), d.unit.clone(), d.updated_at_ms)).collect()
}

fn log_keys(docs: &[SetpointLogDoc]) -> Vec<(String, String, u64, String, i64)> {
    docs.iter().map(|d| (d.id.clone(), d.name.clone(), d.value.to_bits(), d.unit.clone(), d.at_ms)).collect()
}

/// The latest document of every name written in `batches`.
fn latest(batches: &[Vec<SetpointDoc>]) -> Vec<SetpointDoc> {
    let mut all = BTreeMap::new();
    for d in batches.iter().flatten() {
        all.insert(d.name.clone(), d.clone());
    }
    all.into_values().collect()
}

/// What `load_setpoints` may answer for any bytes: documents with unique
/// names, or a malformed document that names `setpoints.json`.
fn check_setpoints_outcome(outcome: &Result<Vec<SetpointDoc>, StoreError>) -> Result<(), TestCaseError> {
    match outcome {
        Ok(docs) => {
            let mut names: Vec<&str> = docs.iter().map(|d| d.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            prop_assert_eq!(names.len(), docs.len(), "names are unique");
        }
        Err(e) => {
            prop_assert!(matches!(e, StoreError::Malformed { .. }), "bad content is no outage: {}", e);
            prop_assert!(e.to_string().contains("setpoints.json"), "the error names the file: {}", e);
        }
    }
    Ok(())
}

/// A change to a valid `setpoints.json`.
#[derive(Clone, Debug)]
enum Corruption {
    /// Bytes replaced at (position, new byte).
    Flip(Vec<(Index, u8)>),
    /// Cut to a strict prefix.
    Truncate(Index),
    /// Entry `.0` stored again at position `.1`.
    Duplicate(Index, Index),
    /// The whole file replaced.
    Replace(Vec<u8>),
}

fn corruption() -> impl Strategy<Value = Corruption> {
    prop_oneof![
        prop::collection::vec((any::<Index>(), any::<u8>()), 1..6).prop_map(Corruption::Flip),
        any::<Index>().prop_map(Corruption::Truncate),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Corruption::Duplicate(a, b)),
        prop::collection::vec(any::<u8>(), 0..256).prop_map(Corruption::Replace),
    ]
}

/// Applies `c` to the file at `path`.
fn corrupt(path: &Path, c: &Corruption) {
    let mut bytes = fs::read(path).expect("setpoints.json");
    match c {
        Corruption::Flip(flips) => flips.iter().for_each(|(at, b)| {
            let i = at.index(bytes.len());
            bytes[i] = *b;
        }),
        Corruption::Truncate(at) => bytes.truncate(at.index(bytes.len())),
        Corruption::Duplicate(which, to) => {
            let mut docs: Vec<serde_json::Value> = serde_json::from_slice(&bytes).expect("a valid document");
            let copy = which.get(&docs).clone();
            docs.insert(to.index(docs.len() + 1), copy);
            bytes = serde_json::to_vec_pretty(&docs).expect("JSON");
        }
        Corruption::Replace(b) => bytes.clone_from(b),
    }
    fs::write(path, bytes).expect("corrupted setpoints.json");
}

// --------------------------------------------------- setpoints.json (a)

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_bytes_in_setpoints_json_never_panic_the_store(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let scratch = Scratch::new("setpoint-bytes");
        fs::create_dir_all(&scratch.0).expect("scratch");
        fs::write(scratch.file("setpoints.json"), &bytes).expect("bytes");
        let store = scratch.open(ONE_FILE);
        check_setpoints_outcome(&store.load_setpoints())?;
    }

    #[test]
    fn setpoints_written_are_read_back_exactly_and_latest_wins(batches in setpoint_batches()) {
        let scratch = Scratch::new("setpoint-roundtrip");
        let store = scratch.open(ONE_FILE);
        for b in &batches {
            store.write_latest(b).expect("write_latest");
        }
        let reopened = scratch.open(ONE_FILE);
        let loaded = reopened.load_setpoints().expect("an untouched document loads");
        prop_assert_eq!(setpoint_keys(&loaded), setpoint_keys(&latest(&batches)));
    }

    #[test]
    fn a_corrupted_setpoints_json_is_refused_naming_it_or_still_sound(
        batches in setpoint_batches(), c in corruption(),
    ) {
        let scratch = Scratch::new("setpoint-corrupt");
        let store = scratch.open(ONE_FILE);
        for b in &batches {
            store.write_latest(b).expect("write_latest");
        }
        corrupt(&scratch.file("setpoints.json"), &c);
        let outcome = scratch.open(ONE_FILE).load_setpoints();
        check_setpoints_outcome(&outcome)?;
        match (&c, &outcome) {
            (Corruption::Truncate(_), Ok(_)) => prop_assert!(false, "a cut document loaded"),
            (Corruption::Duplicate(..), Ok(_)) => prop_assert!(false, "a setpoint stored twice loaded"),
            (Corruption::Duplicate(..), Err(e)) => prop_assert!(e.to_string().contains("stored twice"), "{}", e),
            _ => {}
        }
    }
}

// --------------------------------------------------------- write log (b)

/// What a crash mid-append leaves: a strict prefix of the next line, or
/// any bytes without a newline.
fn torn_tail() -> impl Strategy<Value = Vec<u8>> {
    let prefix = (log_fields(), any::<Index>()).prop_map(|(fields, cut)| {
        let line = serde_json::to_vec(&log_batches(&[1], &fields)[0][0]).expect("JSON");
        line[..cut.index(line.len() - 1) + 1].to_vec()
    });
    let bytes = prop::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 1..200);
    prop_oneof![prefix, bytes]
}

/// A line that is no log entry (and not blank, which the log skips).
fn garbage_line() -> impl Strategy<Value = Vec<u8>> {
    let text = "[^\n]{1,80}".prop_map(String::into_bytes);
    let bytes = prop::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 1..80);
    prop_oneof![text, bytes, Just(br#"{"_id": "run-x", "name": "A:set"}"#.to_vec())].prop_filter(
        "not an entry, not blank",
        |g| match std::str::from_utf8(g) {
            Ok(s) => !s.trim().is_empty() && serde_json::from_str::<SetpointLogDoc>(s).is_err(),
            Err(_) => true,
        },
    )
}

/// `text` with `line` and a newline inserted before line `at` (or at the
/// end); the 0-based number of the inserted line.
fn insert_line(text: &[u8], at: Index, line: &[u8]) -> (usize, Vec<u8>) {
    let ends = text.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1);
    let starts: Vec<usize> = std::iter::once(0).chain(ends).collect();
    let n = at.index(starts.len());
    let with = [&text[..starts[n]], line, b"\n", &text[starts[n]..]].concat();
    (n, with)
}

fn batch_sizes(max_batches: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..5usize, 0..max_batches)
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn a_torn_tail_is_cut_off_at_open_and_every_entry_before_it_kept(
        sizes in batch_sizes(6), fields in log_fields(), tail in torn_tail(), more in 1..4usize,
    ) {
        let scratch = Scratch::new("log-torn");
        let store = scratch.open(ONE_FILE);
        let mut all = log_batches(&[sizes.clone(), vec![more]].concat(), &fields);
        let after = all.pop().expect("the batch after the repair");
        all.iter().for_each(|b| store.append_log(b).expect("append"));
        let written: Vec<SetpointLogDoc> = all.concat();
        let path = scratch.file("setpoint_log.jsonl");
        append_raw(&path, &tail);
        if std::str::from_utf8(&tail).is_ok() {
            // the log skips a torn tail it finds when read, before any repair
            prop_assert_eq!(log_keys(&store.setpoint_log().expect("a torn tail is skipped")), log_keys(&written));
        }
        let reopened = scratch.open(ONE_FILE);
        let notice = reopened.repaired().map(str::to_string).unwrap_or_default();
        prop_assert!(notice.contains("torn") && notice.contains("setpoint_log.jsonl"), "notice: {:?}", notice);
        // the notice quotes the torn line: its first characters, as `{:?}` shows them
        let start = format!("{:?}", String::from_utf8_lossy(&tail).chars().take(20).collect::<String>());
        prop_assert!(notice.contains(start.trim_end_matches('"')), "notice: {:?}", notice);
        prop_assert_eq!(log_keys(&reopened.setpoint_log().expect("log")), log_keys(&written));
        reopened.append_log(&after).expect("append after the repair");
        let expected = [written, after].concat();
        prop_assert_eq!(log_keys(&reopened.setpoint_log().expect("log")), log_keys(&expected));
        prop_assert!(fs::read(&path).expect("log").ends_with(b"\n"), "the log ends with a whole line");
    }

    #[test]
    fn a_corrupt_line_inside_the_log_is_an_error_naming_the_file(
        sizes in batch_sizes(6), fields in log_fields(), garbage in garbage_line(), at in any::<Index>(),
    ) {
        let scratch = Scratch::new("log-garbage");
        let store = scratch.open(ONE_FILE);
        log_batches(&sizes, &fields).iter().for_each(|b| store.append_log(b).expect("append"));
        let path = scratch.file("setpoint_log.jsonl");
        let (line, corrupted) = insert_line(&fs::read(&path).unwrap_or_default(), at, &garbage);
        fs::write(&path, &corrupted).expect("corrupted log");
        let reopened = scratch.open(ONE_FILE);
        prop_assert_eq!(reopened.repaired(), None, "a whole line is no torn tail");
        match reopened.setpoint_log() {
            Ok(docs) => prop_assert!(false, "garbage at line {} skipped, {} entries read", line + 1, docs.len()),
            Err(e) => {
                let message = e.to_string();
                prop_assert!(matches!(e, StoreError::Malformed { .. }), "{}", message);
                prop_assert!(message.contains("setpoint_log.jsonl"), "{}", message);
                let utf8 = std::str::from_utf8(&corrupted).is_ok();
                prop_assert!(!utf8 || message.contains(&format!("line {}:", line + 1)), "{}", message);
            }
        }
    }
}

// ---------------------------------------------------------- rotation (c)

/// The entries each log file holds after appending `sizes` (index 0: the
/// current file), as `WriteLog` promises: rotate before an append when the
/// current file holds `rotate_entries`, keep `keep_files` rotated files.
fn model_files(limits: LogLimits, sizes: &[usize]) -> Vec<u64> {
    let mut files = vec![0u64];
    for &n in sizes.iter().filter(|&&n| n > 0) {
        if files[0] >= limits.rotate_entries {
            files.insert(0, 0);
            files.truncate(limits.keep_files as usize + 1);
        }
        files[0] += n as u64;
    }
    files
}

fn log_files(dir: &Path) -> usize {
    let names = fs::read_dir(dir).expect("scratch").map(|e| e.expect("entry").file_name());
    names.filter(|n| n.to_string_lossy().starts_with("setpoint_log") && n.to_string_lossy().ends_with(".jsonl")).count()
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn rotation_keeps_its_bound_and_the_newest_entries_in_order(
        rotate_entries in 1..6u64, keep_files in 0..4u32,
        batches in prop::collection::vec((1..6usize, any::<bool>()), 1..16), fields in log_fields(),
    ) {
        let limits = LogLimits { rotate_entries, keep_files };
        let scratch = Scratch::new("log-rotate");
        let mut store = scratch.open(limits);
        let sizes: Vec<usize> = batches.iter().map(|(n, _)| *n).collect();
        let all = log_batches(&sizes, &fields);
        for (batch, (_, reopen)) in all.iter().zip(&batches) {
            store.append_log(batch).expect("append");
            if *reopen {
                store = scratch.open(limits);
                prop_assert_eq!(store.repaired(), None);
            }
        }
        let written: Vec<SetpointLogDoc> = all.concat();
        let files = log_files(&scratch.0);
        prop_assert!(files <= keep_files as usize + 1, "{} files kept, {} allowed", files, keep_files + 1);
        let model = model_files(limits, &sizes);
        prop_assert_eq!(files, model.iter().filter(|&&n| n > 0).count());
        let kept = model.iter().sum::<u64>() as usize;
        let read = store.setpoint_log().expect("log");
        // the newest entries, oldest first, no duplicate, no gap
        prop_assert_eq!(log_keys(&read), log_keys(&written[written.len() - kept..]));
    }
}

#[test]
fn the_rotation_model_is_the_documented_one() {
    // 450 single appends, 100 a file, 2 rotated files kept (log.rs's own test)
    let limits = LogLimits { rotate_entries: 100, keep_files: 2 };
    assert_eq!(model_files(limits, &[1; 450]), [50, 100, 100]);
    // a batch is never split: the current file may exceed rotate_entries
    assert_eq!(model_files(LogLimits { rotate_entries: 2, keep_files: 1 }, &[1, 5, 1]), [1, 6]);
    assert_eq!(model_files(LogLimits { rotate_entries: 2, keep_files: 0 }, &[3, 3]), [3]);
}
