//! The persister against the embedded file store: batching, order, no
//! duplicates, outage and recovery, the flush on request.
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc::unbounded_channel;
use tokio::sync::oneshot;

use super::{Control, StatusSink, StoreStatus, run};
use crate::config::StoreConfig;
use crate::core::journal::{Journal, SetpointChange};
use crate::store::Store;
use crate::store::files::{FileStore, LogLimits};

const LIMITS: LogLimits = LogLimits { rotate_entries: 1000, keep_files: 2 };

#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<StoreStatus>>>);

impl StatusSink for Seen {
    fn show(&mut self, status: &StoreStatus) -> anyhow::Result<()> {
        self.0.lock().expect("test lock").push(status.clone());
        Ok(())
    }
}

impl Seen {
    /// The latest status shown (the default before the first).
    fn last(&self) -> StoreStatus {
        let empty = StoreStatus { outage: None, pending: 0, flushed: 0, lag_s: 0.0 };
        self.0.lock().expect("test lock").last().cloned().unwrap_or(empty)
    }
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("twin-persister-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn change(name: &str, value: f64) -> Journal {
    Journal::Setpoint(SetpointChange { name: name.into(), value, unit: "A", at: SystemTime::now() })
}

fn config(dir: &std::path::Path) -> StoreConfig {
    StoreConfig { dir: dir.to_path_buf(), flush_interval_s: 0.05, max_backoff_s: 0.2, ..StoreConfig::default() }
}

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !ok() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A persister running on its own task, writing `writer`.
struct Running {
    tx: tokio::sync::mpsc::UnboundedSender<Journal>,
    ctl: tokio::sync::mpsc::UnboundedSender<Control>,
    seen: Seen,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    fn start(writer: FileStore, config: StoreConfig) -> Self {
        let (tx, rx) = unbounded_channel();
        let (ctl, control) = unbounded_channel();
        let seen = Seen::default();
        let task = tokio::spawn(run(Store::Files(writer), rx, control, config, seen.clone(), None));
        Self { tx, ctl, seen, task }
    }

    fn send(&self, name: &str, value: f64) {
        self.tx.send(change(name, value)).expect("persister");
    }

    /// Closes the journal and waits for a clean stop.
    async fn stop(self) {
        drop(self.tx);
        self.task.await.expect("joined").expect("clean stop");
    }
}

#[tokio::test]
async fn writes_become_durable_once_in_order_and_the_latest_value_wins() {
    let d = dir("order");
    let files = FileStore::open(&d, LIMITS).expect("store");
    let p = Running::start(FileStore::open(&d, LIMITS).expect("writer"), config(&d));
    for k in 0..20 {
        p.send(if k % 2 == 0 { "A:set" } else { "B:set" }, f64::from(k));
    }
    until("20 durable writes", || p.seen.last().flushed == 20).await;
    let log = files.setpoint_log().expect("log");
    assert_eq!(log.iter().map(|d| d.value).collect::<Vec<_>>(), (0..20).map(f64::from).collect::<Vec<_>>());
    let latest = files.load_setpoints().expect("setpoints");
    assert_eq!(
        latest.iter().map(|d| (d.name.as_str(), d.value)).collect::<Vec<_>>(),
        [("A:set", 18.0), ("B:set", 19.0)]
    );
    assert_eq!(p.seen.last().outage, None);
    p.stop().await;
}

#[tokio::test]
async fn an_outage_keeps_writes_pending_and_flushes_them_when_the_store_returns() {
    let d = dir("outage");
    let files = FileStore::open(&d, LIMITS).expect("store");
    let writer = FileStore::open(&d, LIMITS).expect("writer");
    // the store's directory replaced by a file: every write fails
    std::fs::remove_dir_all(&d).expect("rm");
    std::fs::write(&d, b"not a directory").expect("blocker");
    let p = Running::start(writer, config(&d));
    p.send("A:set", 1.0);
    p.send("A:set", 2.0);
    until("an outage", || p.seen.last().outage.is_some()).await;
    assert_eq!(p.seen.last().pending, 2);
    std::fs::remove_file(&d).expect("unblock");
    std::fs::create_dir_all(&d).expect("dir back");
    until("the flush after the outage", || p.seen.last().flushed == 2 && p.seen.last().outage.is_none()).await;
    let log = files.setpoint_log().expect("log");
    assert_eq!(log.len(), 2, "each write exactly once");
    p.stop().await;
}

#[tokio::test]
async fn a_flush_request_makes_everything_durable_before_it_answers() {
    let d = dir("flush");
    let files = FileStore::open(&d, LIMITS).expect("store");
    let slow = StoreConfig { flush_interval_s: 1.0, max_backoff_s: 1.0, ..config(&d) };
    let p = Running::start(FileStore::open(&d, LIMITS).expect("writer"), slow);
    p.send("B:set", 5.0);
    let (reply, answer) = oneshot::channel();
    p.ctl.send(Control::Flush(reply)).expect("persister");
    answer.await.expect("answered").expect("flushed");
    assert_eq!(files.load_setpoints().expect("setpoints")[0].value, 5.0);
    p.stop().await;
}

#[tokio::test]
async fn a_retried_flush_never_appends_an_entry_twice() {
    let d = dir("retry");
    let files = FileStore::open(&d, LIMITS).expect("store");
    // the latest values cannot be written (a directory stands where the file goes): the log is
    let blocker = d.join("setpoints.json");
    std::fs::create_dir_all(&blocker).expect("blocker");
    let p = Running::start(FileStore::open(&d, LIMITS).expect("writer"), config(&d));
    p.send("A:set", 1.0);
    until("an outage", || p.seen.last().outage.is_some()).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // several retries
    p.send("B:set", 2.0);
    std::fs::remove_dir(&blocker).expect("unblock");
    until("both durable", || p.seen.last().flushed == 2 && p.seen.last().outage.is_none()).await;
    let log = files.setpoint_log().expect("log");
    assert_eq!(log.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["A:set", "B:set"], "each once, in order");
    let raw = std::fs::read_to_string(d.join("setpoint_log.jsonl")).expect("log file");
    assert_eq!(raw.lines().count(), 2, "no duplicate lines in the file");
    p.stop().await;
}
