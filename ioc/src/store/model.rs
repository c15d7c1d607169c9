//! Documents the twin keeps in its store (MongoDB collections, or files of
//! the embedded store with the same shapes). See README "Store".
use serde::{Deserialize, Serialize};

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
/// Every BBA measurement with raw data and results (history).
pub const BBA_RESULTS: &str = "bba_results";

/// The machine description as stored: lattice plus device tables.
#[derive(Clone, Debug, PartialEq)]
pub struct MachineDocs {
    /// lat2db document: {sequences, closed, enable_6d, default_energy}.
    pub lattice: serde_json::Value,
    pub magnets: Vec<serde_json::Value>,
    pub bpm_config: Vec<serde_json::Value>,
    /// [{name, used, longitudinal_position}] in orbit-slot order.
    pub bpm_slots: Vec<serde_json::Value>,
}

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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SetpointLogDoc {
    /// `<run id>-<sequence>`: unique, so a retried flush cannot duplicate.
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub at_ms: i64,
}
