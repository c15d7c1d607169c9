//! Write-behind persistence of the core's journal: accepted setpoint writes
//! are batched every `flush_interval_s`, retried with backoff while the
//! store is away and flushed completely when it returns; BBA results are
//! stored as history. The state of the store is shown through a
//! [`StatusSink`] (the `$(P)TWIN:STORE:` PVs in the IOC).
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::oneshot;

use super::model::{BbaResultDoc, PutLogDoc, SetpointDoc, SetpointLogDoc, epoch_ms};
use super::{Store, StoreError};
use crate::config::StoreConfig;
use crate::core::journal::{Journal, PutRecord, SetpointChange};

/// Requests to the persister besides the journal.
#[derive(Debug)]
pub enum Control {
    /// Flush what is pending now (shutdown); answers when done or failed.
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

/// What the store's status PVs show.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreStatus {
    /// None: connected; else why the store is unavailable.
    pub outage: Option<String>,
    /// Writes not yet durable.
    pub pending: i32,
    /// Writes made durable since start.
    pub flushed: i32,
    /// Age of the oldest pending write [s].
    pub lag_s: f64,
}

/// Where the persister shows its state.
pub trait StatusSink: Send {
    fn show(&mut self, status: &StoreStatus) -> anyhow::Result<()>;
}

/// Both sinks show the state (the status PVs and the metrics).
impl<A: StatusSink, B: StatusSink> StatusSink for (A, B) {
    fn show(&mut self, status: &StoreStatus) -> anyhow::Result<()> {
        self.0.show(status)?;
        self.1.show(status)
    }
}

/// Pending writes and the state of the connection.
struct Pending {
    run_id: String,
    seq: u64,
    log: Vec<SetpointLogDoc>,
    latest: BTreeMap<String, SetpointDoc>,
    oldest: Option<Instant>,
    flushed: i32,
    error: Option<String>,
    bba: Vec<BbaResultDoc>,
    /// Client puts not yet in the store's put log, and their sequence.
    puts: Vec<PutLogDoc>,
    put_seq: u64,
    /// How many of the pending log entries are in the store's log already
    /// (a flush whose latest values failed): a retry appends only the rest.
    appended: usize,
}

impl Pending {
    fn push(&mut self, item: SetpointChange) {
        self.seq += 1;
        let at_ms = epoch_ms(item.at);
        self.log.push(SetpointLogDoc {
            id: format!("{}-{:09}", self.run_id, self.seq),
            name: item.name.clone(),
            value: item.value,
            unit: item.unit.into(),
            at_ms,
        });
        let doc =
            SetpointDoc { name: item.name.clone(), value: item.value, unit: item.unit.into(), updated_at_ms: at_ms };
        self.latest.insert(item.name, doc);
        self.oldest.get_or_insert_with(Instant::now);
    }

    fn push_put(&mut self, put: PutRecord) {
        self.put_seq += 1;
        self.puts.push(PutLogDoc {
            id: format!("{}-{:09}", self.run_id, self.put_seq),
            seq: self.put_seq,
            at_ms: epoch_ms(put.at),
            user: put.user,
            host: put.host,
            protocol: put.protocol.into(),
            pv: put.channel,
            old: put.old,
            new: put.new,
        });
        self.oldest.get_or_insert_with(Instant::now);
    }

    fn take(&mut self, entry: Journal) {
        match entry {
            Journal::Setpoint(change) => self.push(change),
            Journal::Bba(record) => self.bba.push(BbaResultDoc::from(&*record)),
            Journal::Put(put) => self.push_put(put),
        }
    }

    fn idle(&self) -> bool {
        self.log.is_empty() && self.bba.is_empty() && self.puts.is_empty()
    }

    async fn flush(&mut self, store: &Store) -> Result<(), StoreError> {
        if !self.bba.is_empty() {
            store.insert_bba(&self.bba).await?;
            self.bba.clear();
        }
        if !self.puts.is_empty() {
            // ids are unique: a retry after a partial insert adds nothing twice
            store.append_puts(&self.puts).await?;
            self.puts.clear();
            if self.log.is_empty() {
                self.oldest = None;
            }
        }
        if self.log.is_empty() {
            return Ok(());
        }
        if self.appended < self.log.len() {
            store.append_log(&self.log[self.appended..]).await?;
            self.appended = self.log.len();
        }
        let latest: Vec<SetpointDoc> = self.latest.values().cloned().collect();
        store.write_latest(&latest).await?;
        self.flushed = self.flushed.wrapping_add(self.log.len() as i32);
        self.log.clear();
        self.latest.clear();
        self.oldest = None;
        self.appended = 0;
        Ok(())
    }

    fn status(&self) -> StoreStatus {
        StoreStatus {
            outage: self.error.clone(),
            pending: self.log.len() as i32,
            flushed: self.flushed,
            lag_s: self.oldest.map_or(0.0, |t| t.elapsed().as_secs_f64()),
        }
    }
}

/// Runs until the journal closes (then flushes once more).
pub async fn run(
    store: Store,
    mut journal: UnboundedReceiver<Journal>,
    mut control: UnboundedReceiver<Control>,
    cfg: StoreConfig,
    mut sink: impl StatusSink,
    initial_error: Option<String>,
) -> anyhow::Result<()> {
    let interval = Duration::from_secs_f64(cfg.flush_interval_s);
    let max_backoff = Duration::from_secs_f64(cfg.max_backoff_s);
    let mut p = Pending {
        run_id: format!("{:x}", epoch_ms(SystemTime::now())),
        seq: 0,
        log: Vec::new(),
        latest: BTreeMap::new(),
        oldest: None,
        flushed: 0,
        error: initial_error,
        bba: Vec::new(),
        puts: Vec::new(),
        put_seq: 0,
        appended: 0,
    };
    let mut wait = interval;
    let mut next = tokio::time::Instant::now() + wait;
    sink.show(&p.status())?;
    loop {
        tokio::select! {
            entry = journal.recv() => match entry {
                Some(entry) => {
                    p.take(entry);
                    // during an outage the status PVs show each accepted
                    // write at once, not at the next retry
                    if p.error.is_some() {
                        sink.show(&p.status())?;
                    }
                }
                None => {
                    let last = p.flush(&store).await;
                    store.close().await;
                    return last.map_err(|e| anyhow::anyhow!("last flush before stopping: {e}"));
                }
            },
            Some(Control::Flush(reply)) = control.recv() => {
                while let Ok(entry) = journal.try_recv() {
                    p.take(entry);
                }
                let r = p.flush(&store).await;
                p.error = r.as_ref().err().map(ToString::to_string);
                sink.show(&p.status())?;
                // the one waiting at shutdown may have given up
                let _ = reply.send(r);
            }
            () = tokio::time::sleep_until(next) => {
                let idle = p.idle();
                let result = if p.error.is_some() && idle { probe(&store).await } else { p.flush(&store).await };
                match result {
                    Ok(()) => {
                        if p.error.take().is_some() {
                            tracing::info!("store reachable again");
                        }
                        wait = interval;
                    }
                    Err(StoreError::Malformed { document, problem }) => {
                        anyhow::bail!("store refused a document {document}: {problem}");
                    }
                    Err(e) => {
                        if p.error.is_none() {
                            tracing::warn!("store outage: {e}");
                        }
                        p.error = Some(e.to_string());
                        wait = (wait * 2).min(max_backoff);
                    }
                }
                sink.show(&p.status())?;
                next = tokio::time::Instant::now() + wait;
            }
        }
    }
}

/// Checks the store is reachable without writing.
async fn probe(store: &Store) -> Result<(), StoreError> {
    store.load_setpoints().await.map(|_| ())
}

#[cfg(test)]
mod tests;
