//! The stored beam and the top-up engine: the current decays with the
//! lifetime; with automatic top-up on, an injection sequence starts when
//! the current falls below the band and adds one shot per period of the
//! selected rate until it reaches the top. Advanced by the core's clock.
use crate::config::BeamConfig;

use super::snapshot::BeamState;

/// The stored beam.
#[derive(Clone, Debug, PartialEq)]
pub struct Beam {
    cfg: BeamConfig,
    current_ma: f64,
    injecting: bool,
    /// Time since the last shot of the running sequence [s].
    since_shot_s: f64,
}

/// What the top-up engine is set to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TopUpSetting {
    pub on: bool,
    /// Shots per second of an injection sequence [Hz].
    pub rate_hz: f64,
}

impl Beam {
    pub fn new(cfg: BeamConfig) -> Self {
        let current_ma = if cfg.enabled { cfg.current_ma } else { 0.0 };
        Self { cfg, current_ma, injecting: false, since_shot_s: 0.0 }
    }

    /// Advances by `dt_s`: decay with the lifetime, then the injection shots
    /// that fall into this time.
    pub fn advance(&mut self, dt_s: f64, topup: TopUpSetting) {
        if !self.cfg.enabled {
            return;
        }
        self.current_ma *= (-dt_s / (self.cfg.lifetime_h * 3600.0)).exp();
        if !topup.on {
            self.injecting = false;
            return;
        }
        if !self.injecting && self.current_ma < self.cfg.topup_low_ma {
            // the first shot of a sequence comes with the trigger
            self.injecting = true;
            self.since_shot_s = 1.0 / topup.rate_hz;
        } else if self.injecting {
            self.since_shot_s += dt_s;
        }
        while self.injecting && self.since_shot_s >= 1.0 / topup.rate_hz {
            self.since_shot_s -= 1.0 / topup.rate_hz;
            self.current_ma = (self.current_ma + self.cfg.topup_shot_ma).min(self.cfg.topup_high_ma);
            self.injecting = self.current_ma < self.cfg.topup_high_ma;
        }
    }

    pub fn state(&self, topup: TopUpSetting) -> BeamState {
        let with_beam = self.current_ma > 0.0;
        let tau_s = self.cfg.lifetime_h * 3600.0;
        let countdown_s = match (topup.on, self.injecting, with_beam) {
            (true, false, true) => (tau_s * (self.current_ma / self.cfg.topup_low_ma).ln()).max(0.0),
            _ => 0.0,
        };
        BeamState {
            current_ma: self.current_ma,
            lifetime_h: if with_beam { self.cfg.lifetime_h } else { 0.0 },
            single_bunch_ma: self.current_ma * self.cfg.single_bunch_fraction,
            injecting: self.injecting,
            countdown_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ON: TopUpSetting = TopUpSetting { on: true, rate_hz: 1.0 };
    const OFF: TopUpSetting = TopUpSetting { on: false, rate_hz: 1.0 };

    #[test]
    fn decays_with_the_lifetime_when_top_up_is_off() {
        let mut b = Beam::new(BeamConfig { current_ma: 300.0, ..BeamConfig::default() });
        b.advance(8.0 * 3600.0, OFF);
        assert!((b.state(OFF).current_ma - 300.0 / std::f64::consts::E).abs() < 1e-9);
        assert_eq!(b.state(OFF).countdown_s, 0.0);
    }

    #[test]
    fn top_up_injects_one_shot_per_period_until_the_top_of_the_band() {
        let cfg = BeamConfig { current_ma: 297.3, topup_shot_ma: 1.0, ..BeamConfig::default() };
        let mut b = Beam::new(cfg);
        b.advance(1.0, ON);
        let s = b.state(ON);
        let decayed = 297.3 * (-1.0f64 / (8.0 * 3600.0)).exp();
        assert!(s.injecting && (s.current_ma - (decayed + 1.0)).abs() < 1e-9, "one shot after the decay: {s:?}");
        for _ in 0..3 {
            b.advance(1.0, ON);
        }
        let s = b.state(ON);
        assert!(!s.injecting && s.current_ma == 300.5, "capped at the top: {s:?}");
        // 8 h lifetime: from 300.5 to 299.5 mA takes 8 h × ln(300.5/299.5) ≈ 96 s
        assert!((s.countdown_s - 8.0 * 3600.0 * (300.5f64 / 299.5).ln()).abs() < 1.0, "{s:?}");
        let slow = TopUpSetting { on: true, rate_hz: 0.1 };
        let mut b = Beam::new(BeamConfig { current_ma: 290.0, ..BeamConfig::default() });
        b.advance(1.0, slow);
        b.advance(1.0, slow);
        assert!((b.state(slow).current_ma - 291.0).abs() < 0.03, "one shot in 2 s at 0.1 Hz (and 2 s of decay)");
    }

    #[test]
    fn no_beam_when_disabled() {
        let mut b = Beam::new(BeamConfig { enabled: false, ..BeamConfig::default() });
        b.advance(10.0, ON);
        let s = b.state(ON);
        assert_eq!((s.current_ma, s.lifetime_h, s.countdown_s), (0.0, 0.0, 0.0));
    }
}
