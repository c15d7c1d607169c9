//! The machine description as the store keeps it: the lat2db lattice and
//! the device tables, read from the profile's data files or from the store.
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::profile::Profile;

/// The machine description as stored: lattice plus device tables.
#[derive(Clone, Debug, PartialEq)]
pub struct MachineDocs {
    /// lat2db document: {sequences, closed, enable_6d, default_energy}.
    pub lattice: serde_json::Value,
    pub magnets: Vec<serde_json::Value>,
    /// Slots of the packed BPM vector (empty when the machine has none).
    pub bpm_config: Vec<serde_json::Value>,
    /// [{name, used, longitudinal_position}] in orbit-slot order.
    pub bpm_slots: Vec<serde_json::Value>,
}

pub(crate) fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // The machine's files were written by Python, which writes NaN as a
    // bare token (not JSON); only values such as unknown positions are NaN.
    let text = text.replace(": NaN", ": null");
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn array(v: serde_json::Value, what: &Path) -> anyhow::Result<Vec<serde_json::Value>> {
    match v {
        serde_json::Value::Array(items) => Ok(items),
        _ => bail!("{}: expected a JSON array", what.display()),
    }
}

#[derive(Deserialize)]
struct OrbitSlotFile {
    col: Vec<serde_json::Value>,
}

/// The machine documents from the data files the profile names; `lattice`
/// replaces the profile's lattice file.
pub fn machine_docs_from_files(profile: &Profile, lattice: Option<&Path>) -> anyhow::Result<MachineDocs> {
    let f = &profile.files;
    let slots: OrbitSlotFile = serde_json::from_value(read_json(&f.orbit_slots)?)
        .with_context(|| format!("parsing {}", f.orbit_slots.display()))?;
    let bpm_config = match &f.packed_slots {
        Some(path) => array(read_json(path)?, path)?,
        None => Vec::new(),
    };
    Ok(MachineDocs {
        lattice: read_json(lattice.unwrap_or(&f.lattice))?,
        magnets: array(read_json(&f.magnets)?, &f.magnets)?,
        bpm_config,
        bpm_slots: slots.col,
    })
}
