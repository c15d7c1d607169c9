//! What the core hands to the store: every accepted write, once, in order,
//! and every finished BBA measurement. A channel, not the snapshot watch:
//! durability needs every entry, a watch keeps only the latest value.
use std::time::SystemTime;

use twin_engine::bba::Step;

use super::bba::PlaneFit;

/// One accepted setpoint write.
#[derive(Clone, Debug, PartialEq)]
pub struct SetpointChange {
    /// The setpoint's name in the catalogue (its PV name without prefix).
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
    pub at: SystemTime,
}

/// One BBA measurement: raw readings and the fits of both planes.
#[derive(Clone, Debug, PartialEq)]
pub struct BbaRecord {
    pub quad: String,
    pub at: SystemTime,
    pub x: Vec<Step>,
    pub y: Vec<Step>,
    pub fits: [PlaneFit; 2],
}

/// One accepted client put (the put log), as the write trap saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct PutRecord {
    pub at: SystemTime,
    pub user: String,
    pub host: String,
    /// "ca" or "pva".
    pub protocol: &'static str,
    /// `record.FIELD` as the client named it (with the prefix).
    pub channel: String,
    pub old: String,
    pub new: String,
}

/// An entry for the store.
#[derive(Clone, Debug, PartialEq)]
pub enum Journal {
    Setpoint(SetpointChange),
    Bba(Box<BbaRecord>),
    Put(PutRecord),
}
