//! The profile's operations section: alarm limits and archive policies of
//! the PV families, generated into the records (`records/`) and into the
//! operations artefacts (`ops/`). Defaults and their reasoning are in
//! `config/bessy2/profile.toml`.
use serde::Deserialize;

/// EPICS alarm severities a limit can raise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    NoAlarm,
    Minor,
    Major,
    Invalid,
}

impl Severity {
    /// The menuAlarmSevr spelling (HSV, ZRSV, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::NoAlarm => "NO_ALARM",
            Severity::Minor => "MINOR",
            Severity::Major => "MAJOR",
            Severity::Invalid => "INVALID",
        }
    }
}

/// Limits of an analog value: below `low` MINOR, below `lolo` MAJOR,
/// above `high` MINOR, above `hihi` MAJOR; an alarm clears only once the
/// value is `hyst` back inside (EPICS HYST). Units of the record (EGU).
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub lolo: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub hihi: Option<f64>,
    #[serde(default)]
    pub hyst: f64,
}

impl Limits {
    /// (field, value, severity field, severity) of each limit set.
    pub fn fields(&self) -> Vec<(&'static str, f64, &'static str, Severity)> {
        [
            ("HIHI", self.hihi, "HHSV", Severity::Major),
            ("HIGH", self.high, "HSV", Severity::Minor),
            ("LOW", self.low, "LSV", Severity::Minor),
            ("LOLO", self.lolo, "LLSV", Severity::Major),
        ]
        .into_iter()
        .filter_map(|(f, v, s, sev)| v.map(|v| (f, v, s, sev)))
        .collect()
    }

    fn check(&self, what: &str) -> Result<(), String> {
        let ordered = [self.lolo, self.low, self.high, self.hihi].into_iter().flatten().collect::<Vec<_>>();
        let sorted = ordered.windows(2).all(|w| w[0] < w[1]);
        match sorted && self.hyst >= 0.0 && ordered.iter().all(|v| v.is_finite()) {
            true => Ok(()),
            false => Err(format!("alarms.{what}: limits must be finite and lolo < low < high < hihi, hyst >= 0")),
        }
    }
}

/// How the alarm server treats one family's alarms.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Annunciation {
    /// The alarm stays until acknowledged even after it clears.
    #[serde(default)]
    pub latching: bool,
    /// An alarm must persist this long before it is raised [s].
    #[serde(default)]
    pub delay_s: u32,
}

/// Alarm configuration of the families the twin raises alarms on.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alarms {
    /// Stored beam current [mA].
    pub beam_current: Limits,
    /// Beam lifetime [h].
    pub lifetime: Limits,
    /// |readback − setpoint| of a power converter [A].
    pub converter_deviation: Limits,
    /// Severity of the model's UNSTABLE and NO ORBIT states.
    pub model_invalid: Severity,
    /// Severity of a store outage.
    pub store_outage: Severity,
    /// Severity of a BBA run that ended in an error.
    pub bba_error: Severity,
    pub beam: Annunciation,
    pub converters: Annunciation,
    pub model: Annunciation,
}

impl Alarms {
    pub(super) fn check(&self) -> Result<(), String> {
        self.beam_current.check("beam_current")?;
        self.lifetime.check("lifetime")?;
        self.converter_deviation.check("converter_deviation")
    }
}

/// How the archiver samples a PV.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SamplingMethod {
    /// Every change (within the archive deadband), at most one per period.
    Monitor,
    /// One sample per period.
    Scan,
}

impl SamplingMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SamplingMethod::Monitor => "MONITOR",
            SamplingMethod::Scan => "SCAN",
        }
    }
}

/// The archive policy of one PV family.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchivePolicy {
    pub method: SamplingMethod,
    pub period_s: f64,
    /// Archive deadband (ADEL) in the record's units; analog records only.
    pub deadband: Option<f64>,
}

/// Archive policies per family. Hidden truth (offsets) and per-element
/// magnet records are not archived.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Archive {
    /// Converter, RF, multiplexer and top-up setpoints.
    pub setpoints: ArchivePolicy,
    /// Converter readbacks [A].
    pub readbacks: ArchivePolicy,
    /// Orbit and BPM vectors, tune spectrum (waveforms).
    pub orbit: ArchivePolicy,
    /// Beam current [mA] (lifetime, single bunch: same policy).
    pub beam: ArchivePolicy,
    /// Tunes, RF readbacks, counters and the other scalars.
    pub diagnostics: ArchivePolicy,
    /// The twin's model, BBA and store PVs.
    pub twin: ArchivePolicy,
}

/// The operations section of a profile.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operations {
    pub alarms: Alarms,
    pub archive: Archive,
}

impl Operations {
    pub(super) fn check(&self) -> Result<(), String> {
        self.alarms.check()?;
        let a = &self.archive;
        let all = [a.setpoints, a.readbacks, a.orbit, a.beam, a.diagnostics, a.twin];
        match all.iter().all(|p| p.period_s > 0.0 && p.deadband.is_none_or(|d| d >= 0.0)) {
            true => Ok(()),
            false => Err("archive: period_s must be > 0 and deadband >= 0".into()),
        }
    }
}
