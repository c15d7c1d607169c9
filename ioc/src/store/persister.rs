//! Write-behind persistence of accepted setpoints: batched every
//! `flush_interval_s`, retried with backoff while the store is away, and
//! flushed completely when it returns. Status PVs under `$(P)TWIN:STORE:`.
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use epics_pvxs_sys::{Alarm, AlarmStatus, EnumIndex, Field, Ioc, Severity, Update};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;

use super::model::{SetpointDoc, SetpointLogDoc};
use super::{Store, StoreError};
use crate::config::StoreConfig;
use crate::prefix::Prefix;

/// One accepted setpoint write.
#[derive(Clone, Debug, PartialEq)]
pub struct PersistItem {
    /// Setpoint name without prefix ("Q1PDR:set").
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
    pub at: SystemTime,
}

/// One BBA measurement as stored: raw readings and results per plane.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BbaResultDoc {
    pub quad: String,
    pub at_ms: i64,
    /// Auxiliary currents of the steps [A].
    pub steps_a: Vec<f64>,
    /// raw_x[step][reading][bpm] [m]
    pub raw_x: Vec<Vec<Vec<f64>>>,
    pub raw_y: Vec<Vec<Vec<f64>>>,
    pub x: PlaneResult,
    pub y: PlaneResult,
}

/// The fit of one plane, or why it failed.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlaneResult {
    pub offset_m: Option<f64>,
    pub sigma_m: Option<f64>,
    pub displacement_m: Option<f64>,
    pub kick_per_a_rad: Option<f64>,
    pub chi2_m2: Option<f64>,
    pub error: Option<String>,
}

impl PlaneResult {
    fn of(f: &Result<twin_engine::bba::BbaFit, String>) -> Self {
        match f {
            Ok(f) => Self {
                offset_m: Some(f.offset_m),
                sigma_m: Some(f.sigma_m),
                displacement_m: Some(f.displacement_m),
                kick_per_a_rad: Some(f.kick_per_a_rad),
                chi2_m2: Some(f.chi2),
                error: None,
            },
            Err(e) => Self {
                offset_m: None,
                sigma_m: None,
                displacement_m: None,
                kick_per_a_rad: None,
                chi2_m2: None,
                error: Some(e.clone()),
            },
        }
    }
}

impl BbaResultDoc {
    pub fn new(
        quad: &str,
        fits: &[Result<twin_engine::bba::BbaFit, String>; 2],
        x: &[twin_engine::bba::Step],
        y: &[twin_engine::bba::Step],
    ) -> Self {
        Self {
            quad: quad.to_string(),
            at_ms: epoch_ms(SystemTime::now()),
            steps_a: x.iter().map(|s| s.current_a).collect(),
            raw_x: x.iter().map(|s| s.readings.clone()).collect(),
            raw_y: y.iter().map(|s| s.readings.clone()).collect(),
            x: PlaneResult::of(&fits[0]),
            y: PlaneResult::of(&fits[1]),
        }
    }
}

/// Messages to the persister.
#[derive(Debug)]
pub enum PersistMsg {
    Item(PersistItem),
    /// A BBA result, stored as history (never overwritten).
    Bba(Box<BbaResultDoc>),
    /// Flush what is pending now (shutdown); answers when done or failed.
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

/// Sender side, held by the model owner and the app.
pub type PersistSender = UnboundedSender<PersistMsg>;

/// Status PVs of the store.
pub struct StoreFields {
    status: Field<EnumIndex>,
    pending: Field<i32>,
    flushed: Field<i32>,
    lag_s: Field<f64>,
    message: Field<str>,
    backend: Field<str>,
}

impl StoreFields {
    pub fn attach(ioc: &Ioc, prefix: &Prefix) -> anyhow::Result<Self> {
        let pv = |n: &str| prefix.pv(&format!("TWIN:STORE:{n}"));
        Ok(Self {
            status: ioc.field(&pv("STATUS"))?,
            pending: ioc.field(&pv("PENDING"))?,
            flushed: ioc.field(&pv("FLUSHED"))?,
            lag_s: ioc.field(&pv("LAG"))?,
            message: ioc.field(&pv("MESSAGE"))?,
            backend: ioc.field(&pv("BACKEND"))?,
        })
    }
}

fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
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
}

impl Pending {
    fn push(&mut self, item: PersistItem) {
        self.seq += 1;
        let at_ms = epoch_ms(item.at);
        self.log.push(SetpointLogDoc {
            id: format!("{}-{:09}", self.run_id, self.seq),
            name: item.name.clone(),
            value: item.value,
            unit: item.unit.into(),
            at_ms,
        });
        self.latest.insert(
            item.name.clone(),
            SetpointDoc { name: item.name, value: item.value, unit: item.unit.into(), updated_at_ms: at_ms },
        );
        self.oldest.get_or_insert_with(Instant::now);
    }

    async fn flush(&mut self, store: &Store) -> Result<(), StoreError> {
        if !self.bba.is_empty() {
            store.insert_bba(&self.bba).await?;
            self.bba.clear();
        }
        if self.log.is_empty() {
            return Ok(());
        }
        let latest: Vec<SetpointDoc> = self.latest.values().cloned().collect();
        store.persist(&self.log, &latest).await?;
        self.flushed = self.flushed.wrapping_add(self.log.len() as i32);
        self.log.clear();
        self.latest.clear();
        self.oldest = None;
        Ok(())
    }
}

/// Runs until every sender is gone (then flushes once more).
pub async fn run(
    store: Store,
    mut rx: UnboundedReceiver<PersistMsg>,
    cfg: StoreConfig,
    fields: StoreFields,
    backend: String,
    initial_error: Option<String>,
) -> anyhow::Result<()> {
    let interval = Duration::from_secs_f64(cfg.flush_interval_s);
    let max_backoff = Duration::from_secs_f64(cfg.max_backoff_s);
    let run_id = format!("{:x}", epoch_ms(SystemTime::now()));
    let mut p = Pending {
        run_id,
        seq: 0,
        log: Vec::new(),
        latest: BTreeMap::new(),
        oldest: None,
        flushed: 0,
        error: initial_error,
        bba: Vec::new(),
    };
    let mut wait = interval;
    let mut next = tokio::time::Instant::now() + wait;
    fields.backend.post(&backend, &Update::at(SystemTime::now()))?;
    post_status(&fields, &p)?;
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(PersistMsg::Item(item)) => p.push(item),
                Some(PersistMsg::Bba(doc)) => p.bba.push(*doc),
                Some(PersistMsg::Flush(reply)) => {
                    let r = p.flush(&store).await;
                    p.error = r.as_ref().err().map(ToString::to_string);
                    post_status(&fields, &p)?;
                    let _ = reply.send(r);
                }
                None => {
                    let _ = p.flush(&store).await;
                    store.close().await;
                    return Ok(());
                }
            },
            () = tokio::time::sleep_until(next) => {
                let idle = p.log.is_empty() && p.bba.is_empty();
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
                post_status(&fields, &p)?;
                next = tokio::time::Instant::now() + wait;
            }
        }
    }
}

/// Checks the store is reachable without writing.
async fn probe(store: &Store) -> Result<(), StoreError> {
    store.load_setpoints().await.map(|_| ())
}

fn post_status(f: &StoreFields, p: &Pending) -> anyhow::Result<()> {
    let now = Update::at(SystemTime::now());
    let lag = p.oldest.map_or(0.0, |t| t.elapsed().as_secs_f64());
    match &p.error {
        None => {
            f.status.post(&EnumIndex(0), &now)?;
            f.message.post("", &now)?;
        }
        Some(e) => {
            let alarm = now.clone().with_alarm(Alarm::new(Severity::Major, AlarmStatus::Comm, e.clone()));
            f.status.post(&EnumIndex(1), &alarm)?;
            f.message.post(e, &alarm)?;
        }
    }
    f.pending.post(&(p.log.len() as i32), &now)?;
    f.flushed.post(&p.flushed, &now)?;
    f.lag_s.post(&lag, &now)?;
    Ok(())
}
