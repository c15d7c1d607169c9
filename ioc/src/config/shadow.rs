//! Shadow mode's configuration (`[shadow]`, `TWIN_SHADOW_SOURCE`): which
//! machine the twin follows read-only, and what of it.
use serde::{Deserialize, Serialize};

/// Which of a converter's values the twin follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FollowValue {
    /// What the converter delivers (`<PC>:rdbk`): the machine as it is.
    Readback,
    /// What it was told (`<PC>:set`).
    Setpoint,
}

/// Converter families the twin can follow (by the magnets they drive).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShadowFamily {
    Quadrupole,
    Sextupole,
    Steerer,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShadowConfig {
    /// PV prefix of the machine to follow; empty: no shadow mode
    /// (`TWIN_SHADOW_SOURCE`). The follower is a Channel Access client
    /// configured by the usual EPICS client variables (`EPICS_CA_ADDR_LIST`,
    /// `EPICS_CA_AUTO_ADDR_LIST`, ...).
    pub source: String,
    pub follow: FollowValue,
    /// The converter families followed; the others stay the twin's own.
    pub families: Vec<ShadowFamily>,
    /// Follow the RF master clock.
    pub rf: bool,
    /// The follower shows STALE when the machine's orbit has not updated
    /// for this long [s] while the source is connected.
    pub stale_after_s: f64,
}

impl Default for ShadowConfig {
    fn default() -> Self {
        Self {
            source: String::new(),
            follow: FollowValue::Readback,
            families: vec![ShadowFamily::Quadrupole, ShadowFamily::Sextupole, ShadowFamily::Steerer],
            rf: true,
            stale_after_s: 5.0,
        }
    }
}

impl ShadowConfig {
    /// Whether the twin follows a machine.
    pub fn enabled(&self) -> bool {
        !self.source.is_empty()
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(self.stale_after_s > 0.0 && self.stale_after_s.is_finite()) {
            return Err("shadow.stale_after_s must be > 0".into());
        }
        if self.source.chars().any(|c| c.is_whitespace()) {
            return Err(format!("shadow.source {:?} contains white space", self.source));
        }
        Ok(())
    }
}
