//! The device tables of the machine documents, resolved against the
//! lattice with the profile's naming rules.
use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde::Deserialize;
use twin_engine::lattice::{ElementKind, Lattice, Plane};

use super::docs::MachineDocs;
use super::{BpmId, BpmSlot, MagnetDrive, MagnetKind, PcId, PowerConverter, design_current};
use crate::profile::Profile;

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
    #[serde(default)]
    longitudinal_position: Option<f64>,
}

/// The device tables, parsed.
pub struct MachineData {
    magnets: Vec<RawMagnet>,
    bpm_config: Vec<RawBpmConfig>,
    orbit_slots: Vec<RawOrbitSlot>,
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

fn slot(lattice: &Lattice, name: &str, s_m: Option<f64>) -> BpmSlot {
    let element = lattice.find(name).ok().filter(|&id| lattice.element(id).is_bpm());
    let s_m = element.map(|e| lattice.s_entrance_m(e)).or(s_m).unwrap_or(f64::NAN);
    let bpm = element.and_then(|e| lattice.bpms().iter().position(|&b| b == e)).map(BpmId);
    BpmSlot { name: name.to_string(), element, bpm, s_m }
}

/// The profile's unmodelled converters: steerer-like limits; a name that
/// is a modelled converter is an error.
pub(super) fn unmodelled(profile: &Profile, pcs: &[PowerConverter]) -> anyhow::Result<Vec<super::Unmodelled>> {
    let limit = profile.magnets.steerer_limit_a;
    profile
        .magnets
        .unmodelled_converters
        .iter()
        .map(|name| {
            if pcs.iter().any(|p| &p.name == name) {
                bail!("profile: unmodelled converter {name} drives magnets of the lattice data");
            }
            Ok(super::Unmodelled { name: name.clone(), limits_a: (-limit, limit) })
        })
        .collect()
}

impl MachineData {
    /// What a magnet of the table is: its kind and the lattice element.
    fn drive(&self, m: &RawMagnet, lattice: &Lattice, profile: &Profile) -> anyhow::Result<MagnetDrive> {
        let rules = &profile.magnets;
        let steerer = |prefix: &str| m.name.strip_prefix(prefix).filter(|rest| !rest.is_empty());
        let (kind, element_name) = match m.kind.as_str() {
            "Quadrupole" => (MagnetKind::Quadrupole, m.name.as_str()),
            "Sextupole" => (MagnetKind::Sextupole, m.name.as_str()),
            "Steerer" => match (steerer(&rules.horizontal_steerer_prefix), steerer(&rules.vertical_steerer_prefix)) {
                (Some(e), _) => (MagnetKind::Steerer(Plane::Horizontal), e),
                (None, Some(e)) => (MagnetKind::Steerer(Plane::Vertical), e),
                _ => bail!("steerer {}: its name starts with neither steering prefix of the profile", m.name),
            },
            other => bail!("magnet {}: unknown type {other}", m.name),
        };
        let element = lattice.find(element_name).with_context(|| format!("magnet {} not in the lattice", m.name))?;
        let fits = matches!(
            (kind, &lattice.element(element).kind),
            (MagnetKind::Quadrupole, ElementKind::Quadrupole(_))
                | (MagnetKind::Sextupole, ElementKind::Sextupole(_))
                | (MagnetKind::Steerer(_), ElementKind::Sextupole(_) | ElementKind::Quadrupole(_))
        );
        if !fits || m.magnetic_strength == 0.0 || !m.magnetic_strength.is_finite() {
            bail!("magnet {}: type or calibration does not fit lattice element {element_name}", m.name);
        }
        Ok(MagnetDrive { name: m.name.clone(), element, kind, magnetic_strength_per_a: m.magnetic_strength })
    }

    pub(super) fn power_converters(
        &self,
        lattice: &Lattice,
        profile: &Profile,
        rigidity_tm: f64,
    ) -> anyhow::Result<Vec<PowerConverter>> {
        let mut by_pc: BTreeMap<&str, Vec<MagnetDrive>> = BTreeMap::new();
        for m in &self.magnets {
            by_pc.entry(&m.pc).or_default().push(self.drive(m, lattice, profile)?);
        }
        let rules = &profile.magnets;
        let pcs = by_pc
            .into_iter()
            .enumerate()
            .map(|(i, (name, magnets))| {
                let design = design_current(lattice, &magnets, rigidity_tm);
                let limits_a = match magnets[0].kind {
                    MagnetKind::Steerer(_) => (-rules.steerer_limit_a, rules.steerer_limit_a),
                    _ => {
                        let top = (design.abs() * rules.family_limit_factor).ceil();
                        if design >= 0.0 { (0.0, top) } else { (-top, 0.0) }
                    }
                };
                PowerConverter { id: PcId(i), name: name.to_string(), magnets, design_current_a: design, limits_a }
            })
            .collect();
        Ok(pcs)
    }

    /// Slots of the packed vector: slot = idx − 1 (idx is 1-based).
    pub(super) fn packed_slots(&self, lattice: &Lattice, slots: usize) -> anyhow::Result<Vec<BpmSlot>> {
        let mut out: Vec<BpmSlot> =
            (0..slots).map(|_| BpmSlot { name: String::new(), element: None, bpm: None, s_m: f64::NAN }).collect();
        for b in &self.bpm_config {
            if b.idx == 0 || b.idx > slots {
                bail!("bpm_config: {} has idx {} outside 1..={slots}", b.bpm_name, b.idx);
            }
            // idx is 1-based: subtract exactly once.
            out[b.idx - 1] = slot(lattice, &b.bpm_name, None);
        }
        Ok(out)
    }

    pub(super) fn orbit_slots(&self, lattice: &Lattice, slots: usize) -> anyhow::Result<Vec<BpmSlot>> {
        if self.orbit_slots.len() != slots {
            bail!("orbit slot file has {} entries, the profile says {slots}", self.orbit_slots.len());
        }
        Ok(self.orbit_slots.iter().map(|s| slot(lattice, &s.name, s.longitudinal_position)).collect())
    }
}
