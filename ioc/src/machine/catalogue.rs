//! The setpoint catalogue: every writable quantity of the machine in one
//! table — typed setpoint, PV name, unit, output record and initial value —
//! built once from the schema and the profile. Record generation, write
//! routing, persistence and the parsing of stored names all read it.
use std::collections::HashMap;

use twin_engine::lattice::Plane;

use super::{PcId, QuadId, Schema};
use crate::config::DiagnosticsConfig;
use crate::names;
use crate::profile::Profile;

/// A writable quantity the model depends on, resolved once at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Setpoint {
    /// A converter's current [A].
    PcCurrent(PcId),
    /// RF master clock [kHz].
    MasterClock,
    /// Hidden offset of a quad [m] (twin only).
    QuadOffset(QuadId, Plane),
    /// Multiplexer switch of a quad (bo).
    MuxSelect(QuadId),
    /// Multiplexer: disconnect all (bo).
    MuxOff,
    /// The multiplexer's auxiliary supply [A].
    AuxCurrent,
    /// BPM read-out noise on/off (bo, twin only).
    BpmNoise,
    /// BPM read-out noise rms [µm] (twin only).
    BpmNoiseRms,
}

/// Engineering unit of a setpoint as its record shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Ampere,
    KiloHertz,
    Metre,
    Micrometre,
    Dimensionless,
}

impl Unit {
    /// The EGU field / stored unit.
    pub fn egu(self) -> &'static str {
        match self {
            Unit::Ampere => "A",
            Unit::KiloHertz => "kHz",
            Unit::Metre => "m",
            Unit::Micrometre => "um",
            Unit::Dimensionless => "",
        }
    }
}

/// The output record of a setpoint.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OutputKind {
    /// `ao`: drive limits (DRVL, DRVH), display range (LOPR, HOPR), PREC.
    Analog { limits: (f64, f64), display: (f64, f64), precision: u8 },
    /// `bo` with its two state names (ZNAM, ONAM).
    Binary { zero: &'static str, one: &'static str },
}

/// One row of the catalogue.
#[derive(Clone, Debug, PartialEq)]
pub struct SetpointEntry {
    pub setpoint: Setpoint,
    /// PV name without the prefix; also the setpoint's name in the store.
    pub pv: String,
    pub unit: Unit,
    pub description: String,
    pub output: OutputKind,
    /// Value the record starts from (design value, or the configured one).
    pub initial: f64,
    /// Kept in the store across restarts (the multiplexer and its supply
    /// start off, as after a power cycle; the read-out noise from the
    /// configuration).
    pub persisted: bool,
}

/// The catalogue of one machine.
#[derive(Clone, Debug)]
pub struct Catalogue {
    entries: Vec<SetpointEntry>,
    by_setpoint: HashMap<Setpoint, usize>,
    by_pv: HashMap<String, usize>,
}

fn analog(limits: (f64, f64), precision: u8) -> OutputKind {
    OutputKind::Analog { limits, display: limits, precision }
}

const SWITCH: OutputKind = OutputKind::Binary { zero: "Off", one: "On" };

impl Catalogue {
    pub fn build(schema: &Schema, profile: &Profile, diagnostics: &DiagnosticsConfig) -> Self {
        let mut entries = Vec::new();
        let mut add = |setpoint, pv: String, unit, description: String, output, initial, persisted| {
            entries.push(SetpointEntry { setpoint, pv, unit, description, output, initial, persisted });
        };
        for pc in &schema.power_converters {
            let pv = format!("{}{}", pc.name, profile.magnets.setpoint_suffix);
            let desc = super::describe(pc);
            add(Setpoint::PcCurrent(pc.id), pv, Unit::Ampere, desc, analog(pc.limits_a, 4), pc.design_current_a, true);
        }
        let rf = schema.design_rf_khz;
        let range = profile.rf.range_khz;
        let rf_limits = analog((rf - range, rf + range), 4);
        let rf_desc = "Master clock = RF frequency".to_string();
        add(Setpoint::MasterClock, profile.rf.master_clock.clone(), Unit::KiloHertz, rf_desc, rf_limits, rf, true);
        for q in &schema.quads {
            for (plane, axis) in [(Plane::Horizontal, 'x'), (Plane::Vertical, 'y')] {
                let output = OutputKind::Analog { limits: (-5e-3, 5e-3), display: (-1e-3, 1e-3), precision: 9 };
                let desc = format!("{} {} offset", q.name, if axis == 'x' { "horizontal" } else { "vertical" });
                let pv = names::quad_offset(&q.name, axis);
                add(Setpoint::QuadOffset(q.id, plane), pv, Unit::Metre, desc, output, 0.0, true);
            }
        }
        if let Some(mux) = &profile.multiplexer {
            for q in schema.multiplexer_quads() {
                let pv = format!("{}{}", mux.switch_prefix, q.name);
                let desc = format!("Multiplexer: select {}", q.name);
                add(Setpoint::MuxSelect(q.id), pv, Unit::Dimensionless, desc, SWITCH, 0.0, false);
            }
            let off = OutputKind::Binary { zero: "Idle", one: "Off" };
            let desc = "Multiplexer: disconnect all".to_string();
            add(Setpoint::MuxOff, mux.off.clone(), Unit::Dimensionless, desc, off, 0.0, false);
            let limits = analog((-mux.supply_limit_a, mux.supply_limit_a), 4);
            let desc = "Auxiliary (muxer) supply".to_string();
            add(Setpoint::AuxCurrent, format!("{}:set", mux.supply), Unit::Ampere, desc, limits, 0.0, false);
        }
        let noise = f64::from(u8::from(diagnostics.noise));
        let desc = "Gaussian noise on BPM readings".to_string();
        add(Setpoint::BpmNoise, names::bpm_noise(), Unit::Dimensionless, desc, SWITCH, noise, false);
        let rms = OutputKind::Analog { limits: (0.0, 1000.0), display: (0.0, 100.0), precision: 3 };
        let desc = "BPM noise rms".to_string();
        let initial = diagnostics.noise_rms_m * 1e6;
        add(Setpoint::BpmNoiseRms, names::bpm_noise_rms(), Unit::Micrometre, desc, rms, initial, false);
        Self::from_entries(entries)
    }

    fn from_entries(entries: Vec<SetpointEntry>) -> Self {
        let by_setpoint = entries.iter().enumerate().map(|(i, e)| (e.setpoint, i)).collect();
        let by_pv = entries.iter().enumerate().map(|(i, e)| (e.pv.clone(), i)).collect();
        Self { entries, by_setpoint, by_pv }
    }

    pub fn entries(&self) -> &[SetpointEntry] {
        &self.entries
    }

    /// The row of a setpoint. Every setpoint of the machine has one.
    pub fn entry(&self, setpoint: Setpoint) -> Option<&SetpointEntry> {
        self.by_setpoint.get(&setpoint).map(|&i| &self.entries[i])
    }

    /// The setpoint a PV (or stored) name stands for.
    pub fn parse(&self, pv: &str) -> Option<Setpoint> {
        self.by_pv.get(pv).map(|&i| self.entries[i].setpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{MagnetDrive, MagnetKind, PowerConverter, Quad};
    use twin_engine::lattice::ElementId;

    fn schema() -> Schema {
        let magnet = |name: &str, kind| MagnetDrive {
            name: name.into(),
            element: ElementId(1),
            kind,
            magnetic_strength_per_a: 0.1,
        };
        Schema {
            power_converters: vec![
                PowerConverter {
                    id: PcId(0),
                    name: "QF".into(),
                    magnets: vec![magnet("QF1", MagnetKind::Quadrupole)],
                    design_current_a: 10.0,
                    limits_a: (0.0, 15.0),
                },
                PowerConverter {
                    id: PcId(1),
                    name: "HC1".into(),
                    magnets: vec![magnet("HC1", MagnetKind::Steerer(Plane::Horizontal))],
                    design_current_a: 0.0,
                    limits_a: (-1.0, 1.0),
                },
            ],
            packed_slots: vec![],
            orbit_slots: vec![],
            rigidity_tm: 1.0,
            design_rf_khz: 500e3,
            harmonic_number: 10.0,
            quads: vec![Quad { id: QuadId(0), name: "QF1".into(), pc: PcId(0), magnet: 0, on_multiplexer: false }],
        }
    }

    fn profile() -> Profile {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fodo/profile.toml");
        Profile::load(&path).expect("fodo profile")
    }

    #[test]
    fn one_row_per_setpoint_and_names_parse_back_exactly() {
        let cat = Catalogue::build(&schema(), &profile(), &DiagnosticsConfig::default());
        for e in cat.entries() {
            assert_eq!(cat.parse(&e.pv), Some(e.setpoint), "{}", e.pv);
            assert_eq!(cat.entry(e.setpoint).map(|r| &r.pv), Some(&e.pv));
        }
        assert_eq!(cat.parse("QF:sp"), Some(Setpoint::PcCurrent(PcId(0))));
        assert_eq!(cat.parse("TWIN:QF1:y:set"), Some(Setpoint::QuadOffset(QuadId(0), Plane::Vertical)));
        // no guessing: an axis other than x or y is no setpoint at all
        assert_eq!(cat.parse("TWIN:QF1:z:set"), None);
        assert_eq!(cat.parse("QF:rb"), None);
        let rms = cat.entry(Setpoint::BpmNoiseRms).expect("noise rms");
        assert_eq!((rms.unit, rms.initial), (Unit::Micrometre, 1.0));
        assert!(cat.entries().iter().filter(|e| e.persisted).all(|e| !matches!(e.setpoint, Setpoint::BpmNoise)));
    }
}
