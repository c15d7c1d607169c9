//! Alarm severity/status and the metadata posted with a value.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// EPICS alarm severity (menuAlarmSevr).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(i32)]
pub enum Severity {
    NoAlarm = 0,
    Minor = 1,
    Major = 2,
    Invalid = 3,
}

/// EPICS alarm condition (menuAlarmStat), the subset the twin raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum AlarmStatus {
    NoAlarm = 0,
    Read = 1,
    Write = 2,
    HiHi = 3,
    High = 4,
    State = 7,
    Comm = 9,
    Timeout = 10,
    Calc = 12,
    Soft = 15,
    Udf = 17,
}

/// An alarm raised with a posted value; the message reaches PVA clients
/// (alarm.message) and `dbCommon.AMSG`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alarm {
    pub severity: Severity,
    pub status: AlarmStatus,
    pub message: String,
}

impl Alarm {
    pub fn new(severity: Severity, status: AlarmStatus, message: impl Into<String>) -> Self {
        Self { severity, status, message: message.into() }
    }
}

/// Metadata of one update: an optional alarm and an optional time stamp.
/// The time stamp is applied to records with `TSE=-2` (device time), so
/// all values of one computation can carry the same time.
#[derive(Clone, Debug, Default)]
pub struct Update {
    pub alarm: Option<Alarm>,
    pub time: Option<SystemTime>,
}

impl Update {
    pub fn at(time: SystemTime) -> Self {
        Self { alarm: None, time: Some(time) }
    }

    pub fn with_alarm(mut self, alarm: Alarm) -> Self {
        self.alarm = Some(alarm);
        self
    }
}

/// Seconds between the POSIX epoch and the EPICS epoch (1990-01-01 UTC).
pub(crate) const POSIX_TIME_AT_EPICS_EPOCH_S: u64 = 631_152_000;

/// An EPICS time stamp (seconds since 1990-01-01 UTC and nanoseconds).
pub(crate) fn from_epics_time(sec_past_epoch: u32, nsec: u32) -> SystemTime {
    let since = Duration::from_secs(POSIX_TIME_AT_EPICS_EPOCH_S + u64::from(sec_past_epoch))
        + Duration::from_nanos(u64::from(nsec));
    UNIX_EPOCH + since
}

/// Converts to the EPICS epoch; times before 1990 clamp to the epoch.
pub(crate) fn to_epics_time(t: SystemTime) -> (u32, u32) {
    let since_posix = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_posix.as_secs().saturating_sub(POSIX_TIME_AT_EPICS_EPOCH_S);
    (u32::try_from(secs).unwrap_or(u32::MAX), since_posix.subsec_nanos())
}
