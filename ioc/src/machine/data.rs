//! Reading the machine data files (config/bessy2/) into the schema.
use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;
use twin_engine::lattice::{ElementKind, Lattice, Plane};

use super::{BPM_SLOTS, BpmSlot, MagnetDrive, MagnetKind, PcId, PowerConverter, design_current};
use crate::config::Config;
use crate::store::model::MachineDocs;

#[derive(Deserialize)]
struct RawMagnet {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    magnetic_strength: f64,
    pc: String,
}

#[derive(Deserialize)]
struct RawBpmConfig {
    bpm_name: String,
    idx: usize,
}

#[derive(Deserialize)]
struct RawOrbitSlot {
    name: String,
}

/// The machine data files, parsed.
pub struct MachineData {
    magnets: Vec<RawMagnet>,
    bpm_config: Vec<RawBpmConfig>,
    orbit_slots: Vec<RawOrbitSlot>,
}

fn read_json(path: &Path) -> anyhow::Result<serde_json::Value> {
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

/// The machine documents from the files named in the configuration.
pub fn machine_docs_from_files(cfg: &Config) -> anyhow::Result<MachineDocs> {
    let m = &cfg.machine;
    let slots: RawOrbitSlotsValue = serde_json::from_value(read_json(&m.orbit_slots)?)
        .with_context(|| format!("parsing {}", m.orbit_slots.display()))?;
    Ok(MachineDocs {
        lattice: read_json(&m.lattice)?,
        magnets: array(read_json(&m.magnets)?, &m.magnets)?,
        bpm_config: array(read_json(&m.bpm_slots)?, &m.bpm_slots)?,
        bpm_slots: slots.col,
    })
}

#[derive(Deserialize)]
struct RawOrbitSlotsValue {
    col: Vec<serde_json::Value>,
}

fn parse<T: for<'de> Deserialize<'de>>(v: &serde_json::Value, what: &str, i: usize) -> anyhow::Result<T> {
    serde_path_to_error::deserialize(v.clone())
        .map_err(|e| anyhow::anyhow!("malformed {what} document #{i}: field `{}`: {}", e.path(), e.inner()))
}

fn parse_all<T: for<'de> Deserialize<'de>>(items: &[serde_json::Value], what: &str) -> anyhow::Result<Vec<T>> {
    items.iter().enumerate().map(|(i, v)| parse(v, what, i)).collect()
}

/// Parses the device tables of the machine documents.
pub fn load_machine_data(docs: &MachineDocs) -> anyhow::Result<MachineData> {
    Ok(MachineData {
        magnets: parse_all(&docs.magnets, "magnets")?,
        bpm_config: parse_all(&docs.bpm_config, "bpm_config")?,
        orbit_slots: parse_all(&docs.bpm_slots, "bpm_slots")?,
    })
}

fn slot(lattice: &Lattice, name: &str) -> BpmSlot {
    let element = lattice.find(name).ok().filter(|&id| lattice.element(id).is_bpm());
    BpmSlot { name: name.to_string(), element }
}

impl MachineData {
    pub(super) fn power_converters(
        &self,
        lattice: &Lattice,
        cfg: &Config,
        rigidity_tm: f64,
    ) -> anyhow::Result<Vec<PowerConverter>> {
        let mut by_pc: BTreeMap<&str, Vec<MagnetDrive>> = BTreeMap::new();
        for m in &self.magnets {
            let (kind, element_name) = match m.kind.as_str() {
                "Quadrupole" => (MagnetKind::Quadrupole, &m.name[..]),
                "Sextupole" => (MagnetKind::Sextupole, &m.name[..]),
                "Steerer" if m.name.starts_with('H') => (MagnetKind::Steerer(Plane::Horizontal), &m.name[1..]),
                "Steerer" if m.name.starts_with('V') => (MagnetKind::Steerer(Plane::Vertical), &m.name[1..]),
                other => bail!("magnet {}: unknown type {other}", m.name),
            };
            let element =
                lattice.find(element_name).with_context(|| format!("magnet {} not in the lattice", m.name))?;
            let fits = matches!(
                (kind, &lattice.element(element).kind),
                (MagnetKind::Quadrupole, ElementKind::Quadrupole(_))
                    | (MagnetKind::Sextupole | MagnetKind::Steerer(_), ElementKind::Sextupole(_))
            );
            if !fits || m.magnetic_strength == 0.0 || !m.magnetic_strength.is_finite() {
                bail!("magnet {}: type or calibration does not fit lattice element {element_name}", m.name);
            }
            by_pc.entry(&m.pc).or_default().push(MagnetDrive {
                name: m.name.clone(),
                element,
                kind,
                magnetic_strength_per_a: m.magnetic_strength,
            });
        }
        let pcs = by_pc
            .into_iter()
            .enumerate()
            .map(|(i, (name, magnets))| {
                let design = design_current(lattice, &magnets, rigidity_tm);
                let limits_a = match magnets[0].kind {
                    MagnetKind::Steerer(_) => {
                        (-cfg.power_converters.steerer_limit_a, cfg.power_converters.steerer_limit_a)
                    }
                    _ => {
                        let top = (design.abs() * cfg.power_converters.family_limit_factor).ceil();
                        if design >= 0.0 { (0.0, top) } else { (-top, 0.0) }
                    }
                };
                PowerConverter { id: PcId(i), name: name.to_string(), magnets, design_current_a: design, limits_a }
            })
            .collect();
        Ok(pcs)
    }

    pub(super) fn bdata_slots(&self, lattice: &Lattice) -> anyhow::Result<Vec<BpmSlot>> {
        let mut slots: Vec<BpmSlot> = (0..BPM_SLOTS).map(|_| BpmSlot { name: String::new(), element: None }).collect();
        for b in &self.bpm_config {
            if b.idx == 0 || b.idx > BPM_SLOTS {
                bail!("bpm_config: {} has idx {} outside 1..={BPM_SLOTS}", b.bpm_name, b.idx);
            }
            // idx is 1-based: subtract exactly once.
            slots[b.idx - 1] = slot(lattice, &b.bpm_name);
        }
        Ok(slots)
    }

    pub(super) fn orbit_slots(&self, lattice: &Lattice) -> anyhow::Result<Vec<BpmSlot>> {
        if self.orbit_slots.len() != BPM_SLOTS {
            bail!("orbit slot file has {} entries, expected {BPM_SLOTS}", self.orbit_slots.len());
        }
        Ok(self.orbit_slots.iter().map(|s| slot(lattice, &s.name)).collect())
    }
}
