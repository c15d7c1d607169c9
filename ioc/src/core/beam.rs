//! Beam current and lifetime: exponential decay with the lifetime and,
//! optionally, top-up injections that keep the current in a band. Advanced
//! by the core on its clock ticks.
use crate::config::BeamConfig;

use super::snapshot::BeamState;

/// The stored beam.
#[derive(Clone, Debug, PartialEq)]
pub struct Beam {
    cfg: BeamConfig,
    current_ma: f64,
}

impl Beam {
    pub fn new(cfg: BeamConfig) -> Self {
        let current_ma = if cfg.enabled { cfg.current_ma } else { 0.0 };
        Self { cfg, current_ma }
    }

    /// Advances by `dt_s`: decay with the lifetime, then one injection up to
    /// the top of the band if the current fell below its bottom.
    pub fn advance(&mut self, dt_s: f64) {
        if !self.cfg.enabled {
            return;
        }
        self.current_ma *= (-dt_s / (self.cfg.lifetime_h * 3600.0)).exp();
        if self.cfg.topup && self.current_ma < self.cfg.topup_low_ma {
            self.current_ma = self.cfg.topup_high_ma;
        }
    }

    pub fn state(&self) -> BeamState {
        let lifetime_h = if self.current_ma > 0.0 { self.cfg.lifetime_h } else { 0.0 };
        BeamState { current_ma: self.current_ma, lifetime_h }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(topup: bool) -> BeamConfig {
        BeamConfig { topup, ..BeamConfig::default() }
    }

    #[test]
    fn decays_with_the_lifetime_and_tops_up() {
        let mut b = Beam::new(BeamConfig { current_ma: 300.0, ..cfg(false) });
        b.advance(8.0 * 3600.0);
        assert!((b.state().current_ma - 300.0 / std::f64::consts::E).abs() < 1e-9);
        let mut b = Beam::new(BeamConfig { current_ma: 299.6, ..cfg(true) });
        b.advance(3600.0);
        assert_eq!(b.state().current_ma, 300.5);
    }

    #[test]
    fn no_beam_when_disabled() {
        let mut b = Beam::new(BeamConfig { enabled: false, ..cfg(true) });
        b.advance(10.0);
        assert_eq!(b.state(), BeamState { current_ma: 0.0, lifetime_h: 0.0 });
    }
}
