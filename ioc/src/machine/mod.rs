//! The device schema: the machine's power converters, magnets, BPM slots
//! and RF, resolved once from the profile's data against the lattice, and
//! the setpoint catalogue on it. The EPICS records (`records/`) and the
//! twin's typed handles both come from it.
mod catalogue;
mod data;
mod docs;
mod follow;
mod loaded;
mod modes;

use twin_engine::constants::electron_rigidity_tm;
use twin_engine::lattice::{ElementId, Lattice, Plane};

pub use catalogue::{
    Catalogue, OutputKind, Setpoint, SetpointEntry, Unit, UnmodelledId, strength_scale, strength_unit,
};
pub use data::{MachineData, load_machine_data};
pub(crate) use docs::read_json;
pub use docs::{MachineDocs, machine_docs_from_files};
pub use follow::{ComparedChannels, FollowPlan, FollowedChannel};
pub use loaded::Machine;
pub use modes::{BpmFault, SOFB_DEFAULTS, SofbPlanes};

use crate::profile::Profile;

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
    /// The lattice BPM in the slot.
    pub bpm: Option<BpmId>,
    /// s of the BPM (the lattice's, else the slot file's; NaN if unknown) [m].
    pub s_m: f64,
}

/// Index of a lattice BPM in `Schema::bpms` (the lattice's BPM order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BpmId(pub usize);

/// A BPM of the lattice: its hidden errors and faults are set per BPM.
#[derive(Clone, Debug, PartialEq)]
pub struct Bpm {
    pub id: BpmId,
    pub name: String,
    pub element: ElementId,
}

/// Index of a dipole in `Schema::dipoles` (the lattice's dipole order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DipoleId(pub usize);

/// A bending magnet of the lattice: its field error is set per dipole.
#[derive(Clone, Debug, PartialEq)]
pub struct Dipole {
    pub id: DipoleId,
    pub name: String,
    pub element: ElementId,
}

/// Index of a magnet in `Schema::magnets`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MagnetId(pub usize);

/// A magnet: its converter and its place in the converter's list.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MagnetRef {
    pub id: MagnetId,
    pub pc: PcId,
    /// Index in the converter's `magnets`.
    pub index: usize,
    /// The element it sits on.
    pub align: AlignId,
}

/// Index of a lattice element carrying magnets, in `Schema::aligned`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AlignId(pub usize);

/// A lattice element carrying one or more magnets (a quad; a sextupole
/// with its steering windings): its transverse offset is one state.
#[derive(Clone, Debug, PartialEq)]
pub struct Aligned {
    pub id: AlignId,
    /// The element's name.
    pub name: String,
    pub element: ElementId,
    pub magnets: Vec<MagnetId>,
}

/// A converter the clients know that drives no magnet of the lattice data.
#[derive(Clone, Debug, PartialEq)]
pub struct Unmodelled {
    pub name: String,
    /// Drive limits (DRVL, DRVH) [A].
    pub limits_a: (f64, f64),
}

/// Index of a quadrupole magnet in `Schema::quads`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QuadId(pub usize);

/// A quadrupole magnet, its converter and whether the BBA multiplexer
/// reaches it.
#[derive(Clone, Debug, PartialEq)]
pub struct Quad {
    pub id: QuadId,
    pub name: String,
    pub pc: PcId,
    /// Index of the magnet in its converter's `magnets`.
    pub magnet: usize,
    pub on_multiplexer: bool,
    /// Its element (quads come first in `Schema::aligned`: `align.0 == id.0`).
    pub align: AlignId,
}

/// The machine as the twin serves it.
#[derive(Clone, Debug)]
pub struct Schema {
    pub power_converters: Vec<PowerConverter>,
    /// Slots of the packed BPM vector (empty without one).
    pub packed_slots: Vec<BpmSlot>,
    /// Slots of the orbit vector, in the machine's order.
    pub orbit_slots: Vec<BpmSlot>,
    /// Bρ of the design energy [T·m].
    pub rigidity_tm: f64,
    /// Design RF frequency [kHz].
    pub design_rf_khz: f64,
    /// Harmonic number of the main RF (from the lattice).
    pub harmonic_number: f64,
    /// Every quadrupole magnet (hidden offsets are set per quad).
    pub quads: Vec<Quad>,
    /// Every magnet, converter by converter.
    pub magnets: Vec<MagnetRef>,
    /// Every element carrying magnets: the quads in `QuadId` order, then
    /// the others in lattice order.
    pub aligned: Vec<Aligned>,
    /// Converters without a magnet in the lattice data.
    pub unmodelled: Vec<Unmodelled>,
    /// Every BPM of the lattice, in lattice order.
    pub bpms: Vec<Bpm>,
    /// Every dipole of the lattice, in lattice order.
    pub dipoles: Vec<Dipole>,
}

impl MagnetKind {
    /// The lattice strength this magnet has now.
    fn strength(self, lattice: &Lattice, element: ElementId) -> Option<f64> {
        let body = lattice.element(element).body()?;
        Some(match self {
            MagnetKind::Quadrupole => body.polynom_b.get(1).copied().unwrap_or(0.0),
            MagnetKind::Sextupole => body.polynom_b.get(2).copied().unwrap_or(0.0),
            MagnetKind::Steerer(p) => lattice.kick_rad(element, p),
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
    pub fn build(profile: &Profile, lattice: &Lattice, data: &MachineData) -> anyhow::Result<Self> {
        let rigidity_tm = electron_rigidity_tm(lattice.energy_ev());
        let power_converters = data.power_converters(lattice, profile, rigidity_tm)?;
        let packed_slots = match &profile.packed_bpm {
            Some(p) => data.packed_slots(lattice, p.slots)?,
            None => Vec::new(),
        };
        let orbit_slots = data.orbit_slots(lattice, profile.orbit.slots)?;
        let design_rf_khz = lattice.rf_frequency_hz().ok_or_else(|| anyhow::anyhow!("lattice has no RF cavity"))? / 1e3;
        let harmonic_number = lattice.harmonic_number().ok_or_else(|| anyhow::anyhow!("lattice has no RF cavity"))?;
        let reaches = |name: &str| profile.multiplexer.as_ref().is_some_and(|m| m.reaches(name));
        let mut quads: Vec<Quad> = power_converters
            .iter()
            .flat_map(|pc| {
                pc.magnets.iter().enumerate().filter(|(_, m)| m.kind == MagnetKind::Quadrupole).map(|(k, m)| Quad {
                    id: QuadId(0),
                    name: m.name.clone(),
                    pc: pc.id,
                    magnet: k,
                    on_multiplexer: reaches(&m.name),
                    align: AlignId(0),
                })
            })
            .collect();
        quads.sort_by_key(|q| pc_element(&power_converters, q));
        quads.iter_mut().enumerate().for_each(|(i, q)| (q.id, q.align) = (QuadId(i), AlignId(i)));
        let (magnets, aligned) = aligned_elements(lattice, &power_converters, &quads);
        let unmodelled = data::unmodelled(profile, &power_converters)?;
        let bpms: Vec<Bpm> = lattice
            .bpms()
            .into_iter()
            .enumerate()
            .map(|(i, element)| Bpm { id: BpmId(i), name: lattice.element(element).name.clone(), element })
            .collect();
        let dipoles = lattice
            .dipoles()
            .into_iter()
            .enumerate()
            .map(|(i, element)| Dipole { id: DipoleId(i), name: lattice.element(element).name.clone(), element })
            .collect();
        Ok(Self {
            power_converters,
            packed_slots,
            orbit_slots,
            rigidity_tm,
            design_rf_khz,
            harmonic_number,
            quads,
            magnets,
            aligned,
            unmodelled,
            bpms,
            dipoles,
        })
    }

    pub fn pc(&self, id: PcId) -> &PowerConverter {
        &self.power_converters[id.0]
    }

    pub fn quad(&self, id: QuadId) -> &Quad {
        &self.quads[id.0]
    }

    /// The lattice element of a quad.
    pub fn quad_element(&self, id: QuadId) -> ElementId {
        pc_element(&self.power_converters, self.quad(id))
    }

    /// The drive (calibration) of a quad's magnet.
    pub fn quad_drive(&self, id: QuadId) -> &MagnetDrive {
        let q = self.quad(id);
        &self.pc(q.pc).magnets[q.magnet]
    }

    pub fn magnet(&self, id: MagnetId) -> &MagnetDrive {
        let m = &self.magnets[id.0];
        &self.pc(m.pc).magnets[m.index]
    }

    /// Quads on the BBA multiplexer, in schema order.
    /// The converters driving steerers of `plane` only.
    pub fn steering_converters(&self, plane: Plane) -> impl Iterator<Item = &PowerConverter> {
        self.power_converters.iter().filter(move |pc| pc.magnets.iter().all(|m| m.kind == MagnetKind::Steerer(plane)))
    }

    pub fn multiplexer_quads(&self) -> impl Iterator<Item = &Quad> {
        self.quads.iter().filter(|q| q.on_multiplexer)
    }
}

/// DESC of a converter: its magnet, or how many it drives.
pub fn describe(pc: &PowerConverter) -> String {
    let what = match pc.magnets[0].kind {
        MagnetKind::Quadrupole => "quadrupole",
        MagnetKind::Sextupole => "sextupole",
        MagnetKind::Steerer(_) => "steerer",
    };
    if pc.magnets.len() == 1 {
        format!("{} {what}", pc.magnets[0].name)
    } else {
        format!("{} {what}s", pc.magnets.len())
    }
}

/// Every magnet with its element, and the elements carrying magnets: the
/// quads first (in `QuadId` order), then the others in lattice order.
fn aligned_elements(lattice: &Lattice, pcs: &[PowerConverter], quads: &[Quad]) -> (Vec<MagnetRef>, Vec<Aligned>) {
    let mut aligned: Vec<Aligned> = quads
        .iter()
        .map(|q| {
            let element = pc_element(pcs, q);
            Aligned { id: q.align, name: lattice.element(element).name.clone(), element, magnets: Vec::new() }
        })
        .collect();
    let mut others: Vec<ElementId> = pcs
        .iter()
        .flat_map(|pc| pc.magnets.iter().map(|m| m.element))
        .filter(|e| !aligned.iter().any(|a| a.element == *e))
        .collect();
    others.sort();
    others.dedup();
    for element in others {
        let id = AlignId(aligned.len());
        aligned.push(Aligned { id, name: lattice.element(element).name.clone(), element, magnets: Vec::new() });
    }
    let by_element: std::collections::HashMap<ElementId, AlignId> = aligned.iter().map(|a| (a.element, a.id)).collect();
    let mut magnets = Vec::new();
    for pc in pcs {
        for (index, m) in pc.magnets.iter().enumerate() {
            let id = MagnetId(magnets.len());
            // every magnet's element was listed above
            let align = by_element[&m.element];
            aligned[align.0].magnets.push(id);
            magnets.push(MagnetRef { id, pc: pc.id, index, align });
        }
    }
    (magnets, aligned)
}

fn pc_element(pcs: &[PowerConverter], q: &Quad) -> ElementId {
    pcs[q.pc.0].magnets[q.magnet].element
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
