//! The equilibrium emittances `$(P)TWIN:MODEL:EMIT1`, `:EMIT2`,
//! `:COUPLING`: posted when the snapshot brings a new envelope (at the
//! beam-update cadence, `core::envelope`), time-stamped then. Not part of a
//! write's completion: a write completes when its recompute is shown; the
//! envelope follows one or two beam updates later.
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context;
use epics_pvxs_sys::{Alarm, AlarmStatus, Field, Ioc, Severity, Update};
use tokio::sync::watch;

use crate::core::snapshot::Snapshot;
use crate::names;
use crate::prefix::Prefix;
use crate::records::ENVELOPE_SCALARS;

pub struct EnvelopePublisher {
    /// In `ENVELOPE_SCALARS` order.
    fields: Vec<Field<f64>>,
}

impl EnvelopePublisher {
    pub fn attach(ioc: &Ioc, prefix: &Prefix) -> anyhow::Result<Self> {
        let fields: Result<Vec<Field<f64>>, _> =
            ENVELOPE_SCALARS.iter().map(|(n, ..)| ioc.field(&prefix.pv(&names::model(n)))).collect();
        Ok(Self { fields: fields.context("envelope PVs")? })
    }

    pub async fn run(self, mut snapshots: watch::Receiver<Arc<Snapshot>>) -> anyhow::Result<()> {
        let mut shown = None;
        loop {
            let envelope = snapshots.borrow_and_update().envelope.clone();
            if let Some(view) = envelope.filter(|v| shown != Some(v.computation)) {
                shown = Some(view.computation);
                let now = Update::at(SystemTime::now());
                let (values, update) = match &view.mode_emittances_m {
                    Ok([e1, e2, _]) => ([e1 * 1e9, e2 * 1e12, 100.0 * e2 / e1], now),
                    Err(reason) => {
                        let alarm = Alarm::new(Severity::Invalid, AlarmStatus::Calc, reason.clone());
                        ([f64::NAN; 3], now.with_alarm(alarm))
                    }
                };
                for (f, v) in self.fields.iter().zip(values) {
                    f.post(&v, &update)?;
                }
            }
            snapshots.changed().await.context("the model core stopped")?;
        }
    }
}
