//! Documents the twin keeps in its store (MongoDB collections, or files of
//! the embedded store with the same shapes). See README "Store".
use serde::{Deserialize, Serialize};

use crate::core::bba::PlaneFit;
use crate::core::journal::BbaRecord;
pub use crate::machine::MachineDocs;

/// Collection of lat2db lattice documents, `_id` = machine name.
pub const LATTICES: &str = "lattices";
/// Magnet → power converter and calibration (`_id` = magnet name).
pub const MAGNETS: &str = "magnets";
/// BPM slots of the packed vector (`_id` = BPM name).
pub const BPM_CONFIG: &str = "bpm_config";
/// BPM slots in the machine's orbit order (`_id` = slot index).
pub const BPM_SLOTS: &str = "bpm_slots";
/// Current value of every setpoint (`_id` = setpoint name).
pub const SETPOINTS: &str = "setpoints";
/// Every accepted setpoint write, once (`_id` = run id / sequence).
pub const SETPOINT_LOG: &str = "setpoint_log";
/// Every accepted client put, once (`_id` = run id / sequence).
pub const PUT_LOG: &str = "put_log";
/// Every BBA measurement with raw data and results (history).
pub const BBA_RESULTS: &str = "bba_results";

/// Latest value of one setpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetpointDoc {
    /// Setpoint name without prefix, e.g. "Q1PDR:set", "MCLKHX251C:freq".
    #[serde(rename = "_id")]
    pub name: String,
    pub value: f64,
    pub unit: String,
    /// When the write was accepted [ms since the Unix epoch].
    pub updated_at_ms: i64,
}

/// One accepted write, kept as history (never overwritten).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SetpointLogDoc {
    /// `<run id>-<sequence>`: unique, so a retried flush cannot duplicate.
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub at_ms: i64,
}

/// An entry of an append-only log: a unique id (retries insert nothing
/// twice) and when it happened.
pub trait LogDoc {
    fn id(&self) -> &str;
    fn at_ms(&self) -> i64;
}

impl LogDoc for SetpointLogDoc {
    fn id(&self) -> &str {
        &self.id
    }
    fn at_ms(&self) -> i64 {
        self.at_ms
    }
}

/// One accepted client put (Channel Access or PV Access, as the write
/// trap saw it; or the HTTP API's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PutLogDoc {
    /// `<run id>-<sequence>`.
    #[serde(rename = "_id")]
    pub id: String,
    /// Order of arrival within the run.
    pub seq: u64,
    pub at_ms: i64,
    /// The client's user and host name as the server authenticated them.
    pub user: String,
    pub host: String,
    /// "ca" or "pva".
    pub protocol: String,
    /// The channel written (record.field, with the prefix).
    pub pv: String,
    /// The value before and after the put, as text (arrays: the first
    /// element and the count).
    pub old: String,
    pub new: String,
}

impl LogDoc for PutLogDoc {
    fn id(&self) -> &str {
        &self.id
    }
    fn at_ms(&self) -> i64 {
        self.at_ms
    }
}

/// One BBA measurement as stored: raw readings and results per plane.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BbaResultDoc {
    pub quad: String,
    pub at_ms: i64,
    /// Auxiliary currents of the steps [A].
    pub steps_a: Vec<f64>,
    /// raw_x[step][reading][bpm] [m] (null: the BPM gave no number)
    pub raw_x: Vec<Vec<Vec<Option<f64>>>>,
    pub raw_y: Vec<Vec<Vec<Option<f64>>>>,
    pub x: PlaneResult,
    pub y: PlaneResult,
}

/// The fit of one plane, or why it failed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PlaneResult {
    pub offset_m: Option<f64>,
    pub sigma_m: Option<f64>,
    /// The nearest BPM's reading at the quad's centre [m] and its σ.
    #[serde(default)]
    pub bpm_offset_m: Option<f64>,
    #[serde(default)]
    pub bpm_sigma_m: Option<f64>,
    pub displacement_m: Option<f64>,
    pub kick_per_a_rad: Option<f64>,
    pub chi2_m2: Option<f64>,
    pub error: Option<String>,
}

impl PlaneResult {
    fn of(f: &PlaneFit) -> Self {
        match f {
            Ok(f) => Self {
                offset_m: Some(f.offset_m),
                sigma_m: Some(f.sigma_m),
                bpm_offset_m: Some(f.bpm_offset_m),
                bpm_sigma_m: Some(f.bpm_sigma_m),
                displacement_m: Some(f.displacement_m),
                kick_per_a_rad: Some(f.kick_per_a_rad),
                chi2_m2: Some(f.chi2),
                error: None,
            },
            Err(e) => Self { error: Some(e.clone()), ..Self::default() },
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn epoch_ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

impl From<&BbaRecord> for BbaResultDoc {
    fn from(r: &BbaRecord) -> Self {
        Self {
            quad: r.quad.clone(),
            at_ms: epoch_ms(r.at),
            steps_a: r.x.iter().map(|s| s.current_a).collect(),
            raw_x: r.x.iter().map(|s| raw(&s.readings)).collect(),
            raw_y: r.y.iter().map(|s| raw(&s.readings)).collect(),
            x: PlaneResult::of(&r.fits[0]),
            y: PlaneResult::of(&r.fits[1]),
        }
    }
}

/// Readings as stored: a reading that is not a number (a failed BPM) is null.
fn raw(readings: &[Vec<f64>]) -> Vec<Vec<Option<f64>>> {
    readings.iter().map(|r| r.iter().map(|v| v.is_finite().then_some(*v)).collect()).collect()
}
