//! iocStats-style health PVs in the twin's own namespace.
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use epics_pvxs_sys::{Field, Ioc, Update};

use crate::http::Metrics;
use crate::prefix::Prefix;

/// Heartbeat and uptime period.
const PERIOD: Duration = Duration::from_secs(1);

/// `$(P)TWIN:UPTIME` (s), `$(P)TWIN:HEARTBEAT` (counter), `$(P)TWIN:VERSION`,
/// `$(P)TWIN:PVA:CLIENTS` / `:CHANNELS` (PV Access connections and channels).
pub struct Health {
    ioc: Arc<Ioc>,
    uptime_s: Field<f64>,
    heartbeat: Field<i32>,
    version: Field<str>,
    pva_clients: Field<i32>,
    pva_channels: Field<i32>,
    metrics: Arc<Metrics>,
}

impl Health {
    pub fn attach(ioc: &Arc<Ioc>, prefix: &Prefix, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        Ok(Self {
            metrics,
            ioc: Arc::clone(ioc),
            pva_clients: ioc.field(&prefix.pv("TWIN:PVA:CLIENTS"))?,
            pva_channels: ioc.field(&prefix.pv("TWIN:PVA:CHANNELS"))?,
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
            let pva = self.ioc.pva_clients();
            self.metrics.observe_pva(pva);
            if let Some(pva) = pva {
                let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
                self.pva_clients.post(&count(pva.connections), &update).context("posting the PVA clients")?;
                self.pva_channels.post(&count(pva.channels), &update).context("posting the PVA channels")?;
            }
            beat = beat.wrapping_add(1);
        }
    }
}
