//! The store's status PVs under `$(P)TWIN:STORE:`.
use std::time::SystemTime;

use epics_pvxs_sys::{Alarm, AlarmStatus, EnumIndex, Field, Ioc, Severity, Update};

use super::persister::{StatusSink, StoreStatus};
use crate::names;
use crate::prefix::Prefix;

pub struct StoreFields {
    status: Field<EnumIndex>,
    pending: Field<i32>,
    flushed: Field<i32>,
    lag_s: Field<f64>,
    message: Field<str>,
}

impl StoreFields {
    /// Resolves the PVs and shows the backend and what the start-up
    /// repaired or reset (MINOR/STATE alarm) once.
    pub fn attach(ioc: &Ioc, prefix: &Prefix, backend: &str, notices: &[String]) -> anyhow::Result<Self> {
        let pv = |n: &str| prefix.pv(&names::store(n));
        let now = Update::at(SystemTime::now());
        ioc.field::<str>(&pv("BACKEND"))?.post(backend, &now)?;
        let notice = ioc.field::<str>(&pv("NOTICE"))?;
        match notices.join("; ") {
            n if n.is_empty() => notice.post("", &now)?,
            n => {
                notice.post(&n, &now.clone().with_alarm(Alarm::new(Severity::Minor, AlarmStatus::State, n.clone())))?
            }
        }
        Ok(Self {
            status: ioc.field(&pv("STATUS"))?,
            pending: ioc.field(&pv("PENDING"))?,
            flushed: ioc.field(&pv("FLUSHED"))?,
            lag_s: ioc.field(&pv("LAG"))?,
            message: ioc.field(&pv("MESSAGE"))?,
        })
    }
}

impl StatusSink for StoreFields {
    fn show(&mut self, s: &StoreStatus) -> anyhow::Result<()> {
        let now = Update::at(SystemTime::now());
        match &s.outage {
            None => {
                self.status.post(&EnumIndex(0), &now)?;
                self.message.post("", &now)?;
            }
            Some(e) => {
                let alarm = now.clone().with_alarm(Alarm::new(Severity::Major, AlarmStatus::Comm, e.clone()));
                self.status.post(&EnumIndex(1), &alarm)?;
                self.message.post(e, &alarm)?;
            }
        }
        self.pending.post(&s.pending, &now)?;
        self.flushed.post(&s.flushed, &now)?;
        self.lag_s.post(&s.lag_s, &now)?;
        Ok(())
    }
}
