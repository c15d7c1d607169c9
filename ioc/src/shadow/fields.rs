//! Shadow mode's own PVs: the follower's state and the machine − model
//! differences.
use std::time::SystemTime;

use epics_pvxs_sys::{Alarm, AlarmStatus, EnumIndex, Field, Ioc, Severity, Update};

use super::diff::OrbitDifference;
use crate::names;
use crate::prefix::Prefix;

/// The follower's state (mbbi index order).
#[derive(Clone, Debug, PartialEq)]
pub enum FollowerState {
    Following,
    /// Nothing of the source is connected (the reason).
    SourceLost(String),
    /// Connected, but part of it is missing or silent (the reason).
    Stale(String),
}

impl FollowerState {
    fn index(&self) -> u16 {
        match self {
            FollowerState::Following => 1,
            FollowerState::SourceLost(_) => 2,
            FollowerState::Stale(_) => 3,
        }
    }

    fn message(&self) -> &str {
        match self {
            FollowerState::Following => "",
            FollowerState::SourceLost(m) | FollowerState::Stale(m) => m,
        }
    }

    /// The alarm the differences carry: they compare with a machine that
    /// is not (fully) there.
    fn alarm(&self) -> Option<Alarm> {
        match self {
            FollowerState::Following => None,
            FollowerState::SourceLost(m) => Some(Alarm::new(Severity::Invalid, AlarmStatus::Comm, m.clone())),
            FollowerState::Stale(m) => Some(Alarm::new(Severity::Minor, AlarmStatus::Comm, m.clone())),
        }
    }
}

pub struct ShadowFields {
    status: Field<EnumIndex>,
    message: Field<str>,
    dx: Field<[f64]>,
    dy: Field<[f64]>,
    rms: [Field<f64>; 2],
    max: [Field<f64>; 2],
    dtune: [Field<f64>; 2],
    lag: Field<f64>,
    updates: Field<i32>,
    connected: Field<i32>,
}

impl ShadowFields {
    /// Attaches and shows the source and the number of channels.
    pub fn attach(ioc: &Ioc, prefix: &Prefix, source: &str, channels: usize) -> anyhow::Result<Self> {
        let pv = |what: &str| prefix.pv(&names::shadow(what));
        let now = Update::at(SystemTime::now());
        let source_field: Field<str> = ioc.field(&pv("SOURCE"))?;
        source_field.post(source, &now)?;
        let total: Field<i32> = ioc.field(&pv("CHANNELS"))?;
        total.post(&i32::try_from(channels)?, &now)?;
        Ok(Self {
            status: ioc.field(&pv("STATUS"))?,
            message: ioc.field(&pv("MESSAGE"))?,
            dx: ioc.field(&pv("ORBIT:DX"))?,
            dy: ioc.field(&pv("ORBIT:DY"))?,
            rms: [ioc.field(&pv("ORBIT:RMS:X"))?, ioc.field(&pv("ORBIT:RMS:Y"))?],
            max: [ioc.field(&pv("ORBIT:MAX:X"))?, ioc.field(&pv("ORBIT:MAX:Y"))?],
            dtune: [ioc.field(&pv("TUNE:DX"))?, ioc.field(&pv("TUNE:DY"))?],
            lag: ioc.field(&pv("LAG"))?,
            updates: ioc.field(&pv("UPDATES"))?,
            connected: ioc.field(&pv("CONNECTED"))?,
        })
    }

    pub fn state(&self, state: &FollowerState, connected: usize) -> anyhow::Result<()> {
        let now = Update::at(SystemTime::now());
        self.status.post(&EnumIndex(state.index()), &now)?;
        self.message.post(state.message(), &now)?;
        self.connected.post(&i32::try_from(connected)?, &now)?;
        Ok(())
    }

    /// The differences, with the follower's alarm when it is not following.
    pub fn differences(
        &self,
        orbit: &OrbitDifference,
        dtune: [f64; 2],
        state: &FollowerState,
        time: SystemTime,
    ) -> anyhow::Result<()> {
        let update = match state.alarm() {
            Some(alarm) => Update::at(time).with_alarm(alarm),
            None => Update::at(time),
        };
        self.dx.post(orbit.dx_nm.as_slice(), &update)?;
        self.dy.post(orbit.dy_nm.as_slice(), &update)?;
        for (p, dq) in dtune.iter().enumerate() {
            self.rms[p].post(&orbit.rms_nm[p], &update)?;
            self.max[p].post(&orbit.max_nm[p], &update)?;
            self.dtune[p].post(dq, &update)?;
        }
        Ok(())
    }

    /// One burst of source updates published: its lag and the count.
    pub fn followed(&self, lag_ms: f64, updates: i32) -> anyhow::Result<()> {
        let now = Update::at(SystemTime::now());
        self.lag.post(&lag_ms, &now)?;
        self.updates.post(&updates, &now)?;
        Ok(())
    }
}
