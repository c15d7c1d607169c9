//! Beam current and lifetime: exponential decay with the lifetime and,
//! optionally, top-up injections that keep the current in a band.
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use epics_pvxs_sys::{Field, Ioc, Update};

use super::bpm::BpmPublisher;
use crate::config::BeamConfig;
use crate::prefix::Prefix;

/// State of the stored beam.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Beam {
    pub current_ma: f64,
}

impl Beam {
    /// Advances by `dt_s`: decay with the lifetime, then one injection up to
    /// the top of the band if the current fell below its bottom.
    pub fn step(&mut self, cfg: &BeamConfig, dt_s: f64) {
        self.current_ma *= (-dt_s / (cfg.lifetime_h * 3600.0)).exp();
        if cfg.topup && self.current_ma < cfg.topup_low_ma {
            self.current_ma = cfg.topup_high_ma;
        }
    }
}

struct BeamFields {
    current: Field<f64>,
    topup_current: Field<f64>,
    lifetime_h: Field<f64>,
}

/// Posts current and lifetime every `update_period_s`.
pub async fn run(ioc: Arc<Ioc>, prefix: Prefix, cfg: BeamConfig, bpm: Arc<Mutex<BpmPublisher>>) -> anyhow::Result<()> {
    let f = BeamFields {
        current: ioc.field(&prefix.pv("CUMZR:rdCur"))?,
        topup_current: ioc.field(&prefix.pv("TOPUPCC:rdCur"))?,
        lifetime_h: ioc.field(&prefix.pv("TOPUPCC:rdLT"))?,
    };
    let mut beam = Beam { current_ma: if cfg.enabled { cfg.current_ma } else { 0.0 } };
    let period = Duration::from_secs_f64(cfg.update_period_s);
    let mut ticks = tokio::time::interval(period);
    loop {
        ticks.tick().await;
        let now = Update::at(SystemTime::now());
        f.current.post(&beam.current_ma, &now)?;
        f.topup_current.post(&beam.current_ma, &now)?;
        f.lifetime_h.post(&if beam.current_ma > 0.0 { cfg.lifetime_h } else { 0.0 }, &now)?;
        bpm.lock().map_err(|_| anyhow::anyhow!("BPM publisher poisoned"))?.set_current_ma(beam.current_ma);
        if cfg.enabled {
            beam.step(&cfg, period.as_secs_f64());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(topup: bool) -> BeamConfig {
        BeamConfig {
            enabled: true,
            current_ma: 300.0,
            lifetime_h: 8.0,
            topup,
            topup_low_ma: 299.5,
            topup_high_ma: 300.5,
            update_period_s: 1.0,
        }
    }

    #[test]
    fn decays_with_the_lifetime_and_tops_up() {
        let mut b = Beam { current_ma: 300.0 };
        b.step(&cfg(false), 8.0 * 3600.0);
        assert!((b.current_ma - 300.0 / std::f64::consts::E).abs() < 1e-9);
        let mut b = Beam { current_ma: 299.6 };
        b.step(&cfg(true), 3600.0);
        assert_eq!(b.current_ma, 300.5);
    }
}
