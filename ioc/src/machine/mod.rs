//! The device schema: BESSY II's power converters, magnets, BPM slots and
//! RF, resolved once from config/ against the lattice. Both the EPICS
//! records (db/*.substitutions) and the twin's typed handles come from it.
mod data;
mod substitutions;

use twin_engine::constants::electron_rigidity_tm;
use twin_engine::lattice::{ElementId, Lattice, Plane};

pub use data::{MachineData, load_machine_data, machine_docs_from_files};
pub use substitutions::power_converter_substitutions;

use crate::config::Config;

/// Index of a power converter in the schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PcId(pub usize);

/// What a magnet's current sets in the lattice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MagnetKind {
    /// K1 = PolynomB[1] [1/m²]
    Quadrupole,
    /// PolynomB[2] = K2/2 [1/m³]
    Sextupole,
    /// a steering winding: kick angle [rad]
    Steerer(Plane),
}

/// One magnet driven by a power converter.
#[derive(Clone, Debug, PartialEq)]
pub struct MagnetDrive {
    /// Device name (Q1M2D1R, HS4M2D1R).
    pub name: String,
    pub element: ElementId,
    pub kind: MagnetKind,
    /// Calibration: integrated field per ampere (strength = I · this / Bρ).
    pub magnetic_strength_per_a: f64,
}

/// A power converter and the magnets it drives.
#[derive(Clone, Debug, PartialEq)]
pub struct PowerConverter {
    pub id: PcId,
    pub name: String,
    pub magnets: Vec<MagnetDrive>,
    /// Current that reproduces the lattice's design strengths [A].
    pub design_current_a: f64,
    /// Drive limits (DRVL, DRVH) [A].
    pub limits_a: (f64, f64),
}

/// One slot of a BPM vector and the lattice BPM behind it, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct BpmSlot {
    pub name: String,
    pub element: Option<ElementId>,
}

/// The machine as the twin serves it.
#[derive(Clone, Debug)]
pub struct Schema {
    pub power_converters: Vec<PowerConverter>,
    /// 128 slots of MDIZ2T5G:bdata, slot = idx − 1 of bpm_config.json.
    pub bdata_slots: Vec<BpmSlot>,
    /// 128 slots of ORBITCC:rdPos / rdBpm, order of bpm_cfg_as_in_machine.json.
    pub orbit_slots: Vec<BpmSlot>,
    /// Bρ of the design energy [T·m].
    pub rigidity_tm: f64,
    /// Design RF frequency [kHz].
    pub design_rf_khz: f64,
}

/// Number of slots in the machine's BPM vectors.
pub const BPM_SLOTS: usize = 128;

impl MagnetKind {
    /// The lattice strength this magnet has now.
    fn strength(self, lattice: &Lattice, element: ElementId) -> Option<f64> {
        let body = lattice.element(element).body()?;
        Some(match self {
            MagnetKind::Quadrupole => body.polynom_b.get(1).copied().unwrap_or(0.0),
            MagnetKind::Sextupole => body.polynom_b.get(2).copied().unwrap_or(0.0),
            MagnetKind::Steerer(p) => body.kick_angle_rad[p.index()],
        })
    }
}

impl MagnetDrive {
    /// Strength for a converter current: I · magnetic_strength / Bρ.
    pub fn strength(&self, current_a: f64, rigidity_tm: f64) -> f64 {
        current_a * self.magnetic_strength_per_a / rigidity_tm
    }
}

impl Schema {
    /// Builds the schema and checks it against the lattice.
    pub fn build(cfg: &Config, lattice: &Lattice, data: &MachineData) -> anyhow::Result<Self> {
        let rigidity_tm = electron_rigidity_tm(lattice.energy_ev());
        let power_converters = data.power_converters(lattice, cfg, rigidity_tm)?;
        let bdata_slots = data.bdata_slots(lattice)?;
        let orbit_slots = data.orbit_slots(lattice)?;
        let design_rf_khz = lattice.rf_frequency_hz().ok_or_else(|| anyhow::anyhow!("lattice has no RF cavity"))? / 1e3;
        Ok(Self { power_converters, bdata_slots, orbit_slots, rigidity_tm, design_rf_khz })
    }

    pub fn pc(&self, id: PcId) -> &PowerConverter {
        &self.power_converters[id.0]
    }
}

/// Design current of a converter from the lattice strengths of its
/// magnets (their mean; family members share one design strength).
fn design_current(lattice: &Lattice, magnets: &[MagnetDrive], rigidity_tm: f64) -> f64 {
    let sum: f64 = magnets
        .iter()
        .map(|m| m.kind.strength(lattice, m.element).unwrap_or(0.0) * rigidity_tm / m.magnetic_strength_per_a)
        .sum();
    sum / magnets.len() as f64
}
