//! iocStats-style health PVs in the twin's own namespace.
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use epics_pvxs_sys::{Field, Ioc, Update};

use crate::prefix::Prefix;

/// Heartbeat and uptime period.
const PERIOD: Duration = Duration::from_secs(1);

/// `$(P)TWIN:UPTIME` (s), `$(P)TWIN:HEARTBEAT` (counter), `$(P)TWIN:VERSION`.
pub struct Health {
    uptime_s: Field<f64>,
    heartbeat: Field<i32>,
    version: Field<str>,
}

impl Health {
    pub fn attach(ioc: &Ioc, prefix: &Prefix) -> anyhow::Result<Self> {
        Ok(Self {
            uptime_s: ioc.field(&prefix.pv("TWIN:UPTIME"))?,
            heartbeat: ioc.field(&prefix.pv("TWIN:HEARTBEAT"))?,
            version: ioc.field(&prefix.pv("TWIN:VERSION"))?,
        })
    }

    /// Version string served by `$(P)TWIN:VERSION` (fits 39 bytes).
    pub fn version_text() -> String {
        format!("twin-ioc {} EPICS {}", env!("CARGO_PKG_VERSION"), epics_pvxs_sys::epics_version())
    }

    /// Posts the version once, then uptime and heartbeat every second.
    pub async fn run(self, started: Instant) -> anyhow::Result<()> {
        self.version.post(&Self::version_text(), &Update::at(SystemTime::now())).context("posting the version")?;
        let mut ticks = tokio::time::interval(PERIOD);
        let mut beat: i32 = 0;
        loop {
            ticks.tick().await;
            let update = Update::at(SystemTime::now());
            self.uptime_s.post(&started.elapsed().as_secs_f64(), &update).context("posting the uptime")?;
            self.heartbeat.post(&beat, &update).context("posting the heartbeat")?;
            beat = beat.wrapping_add(1);
        }
    }
}
