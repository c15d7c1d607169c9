//! What shadow mode follows of a source machine: the source channels (PV
//! names without the source's prefix) of the followed setpoints, and the
//! machine's own measurements the twin compares itself with.
use std::collections::HashSet;

use super::{MagnetKind, Schema, Setpoint};
use crate::config::{FollowValue, ShadowConfig, ShadowFamily};
use crate::profile::Profile;

/// One followed setpoint and the source channel that sets it.
#[derive(Clone, Debug, PartialEq)]
pub struct FollowedChannel {
    pub setpoint: Setpoint,
    pub pv: String,
}

/// The machine's measurements the difference PVs compare with.
#[derive(Clone, Debug, PartialEq)]
pub struct ComparedChannels {
    /// The orbit vector (nm, x/y interleaved by slot).
    pub orbit: String,
    /// The tunes as frac(Q)·f_rev [kHz] (x, y).
    pub tunes: [String; 2],
    /// The stored current [mA], if the machine has a monitor.
    pub current: Option<String>,
}

/// Everything shadow mode subscribes to.
#[derive(Clone, Debug, PartialEq)]
pub struct FollowPlan {
    pub followed: Vec<FollowedChannel>,
    pub compared: ComparedChannels,
}

impl FollowPlan {
    pub fn new(schema: &Schema, profile: &Profile, config: &ShadowConfig) -> Self {
        let suffix = match config.follow {
            FollowValue::Readback => &profile.magnets.readback_suffix,
            FollowValue::Setpoint => &profile.magnets.setpoint_suffix,
        };
        let families: HashSet<ShadowFamily> = config.families.iter().copied().collect();
        let mut followed: Vec<FollowedChannel> = schema
            .power_converters
            .iter()
            .filter(|pc| pc.magnets.first().is_some_and(|m| families.contains(&family(m.kind))))
            .map(|pc| FollowedChannel { setpoint: Setpoint::PcCurrent(pc.id), pv: format!("{}{suffix}", pc.name) })
            .collect();
        if config.rf {
            followed.push(FollowedChannel { setpoint: Setpoint::MasterClock, pv: profile.rf.master_clock.clone() });
        }
        let compared = ComparedChannels {
            orbit: profile.orbit.positions.clone(),
            tunes: [profile.tunes.horizontal.clone(), profile.tunes.vertical.clone()],
            current: profile.beam.current.first().cloned(),
        };
        Self { followed, compared }
    }

    /// The setpoints that follow the source (read-only to clients).
    pub fn setpoints(&self) -> HashSet<Setpoint> {
        self.followed.iter().map(|f| f.setpoint).collect()
    }

    /// Every channel in subscription order: the followed ones, the orbit,
    /// the two tunes, the current if any.
    pub fn channels(&self) -> Vec<&str> {
        let c = &self.compared;
        let mut all: Vec<&str> = self.followed.iter().map(|f| f.pv.as_str()).collect();
        all.push(&c.orbit);
        all.extend(c.tunes.iter().map(String::as_str));
        all.extend(c.current.as_deref());
        all
    }
}

fn family(kind: MagnetKind) -> ShadowFamily {
    match kind {
        MagnetKind::Quadrupole => ShadowFamily::Quadrupole,
        MagnetKind::Sextupole => ShadowFamily::Sextupole,
        MagnetKind::Steerer(_) => ShadowFamily::Steerer,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Machine;

    #[test]
    fn follows_the_configured_families_by_readback_and_the_rf() {
        let m = Machine::fodo();
        let all = FollowPlan::new(&m.schema, &m.profile, &ShadowConfig::default());
        assert_eq!(all.followed.len(), m.schema.power_converters.len() + 1);
        assert!(all.followed.iter().all(|f| f.setpoint == Setpoint::MasterClock || f.pv.ends_with(":rb")));
        let steerers = ShadowConfig {
            families: vec![ShadowFamily::Steerer],
            rf: false,
            follow: FollowValue::Setpoint,
            ..ShadowConfig::default()
        };
        let plan = FollowPlan::new(&m.schema, &m.profile, &steerers);
        let n =
            m.schema.power_converters.iter().filter(|p| matches!(p.magnets[0].kind, MagnetKind::Steerer(_))).count();
        assert!(n > 0 && plan.followed.len() == n);
        assert!(plan.followed.iter().all(|f| f.pv.ends_with(":sp")));
        assert_eq!(plan.channels().len(), n + 3 + usize::from(plan.compared.current.is_some()));
    }
}
