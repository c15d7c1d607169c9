//! The setpoint catalogue: every writable quantity of the machine in one
//! table — typed setpoint, PV name, unit, output record and initial value —
//! built once from the schema and the profile. Record generation, write
//! routing, persistence and the parsing of stored names all read it.
use std::collections::HashMap;

use twin_engine::lattice::Plane;

use super::{AlignId, BpmFault, BpmId, DipoleId, MagnetId, MagnetKind, PcId, QuadId, Schema, SofbPlanes};
use crate::config::Config;
use crate::names;
use crate::profile::Profile;

/// Index of an unmodelled converter in `Schema::unmodelled`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnmodelledId(pub usize);

/// A writable quantity of the machine, resolved once at start-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Setpoint {
    /// A converter's current [A].
    PcCurrent(PcId),
    /// A converter without a magnet in the lattice data [A].
    Unmodelled(UnmodelledId),
    /// RF master clock [kHz].
    MasterClock,
    /// A converter tripped (bo, twin only, instructors): its output and its
    /// magnets' current are 0 while its setpoint stays.
    Trip(PcId),
    /// A converter stuck (bo, twin only, instructors): its output stays
    /// where it was while its setpoint moves.
    Stuck(PcId),
    /// The RF the beam sees differs from the master clock by this much
    /// [Hz] (twin only, instructors): a hidden frequency error.
    RfOffset,
    /// Transverse offset of an element carrying magnets [m] (twin only).
    Offset(AlignId, Plane),
    /// Roll about s of an element carrying magnets [rad] (twin only):
    /// couples the planes.
    Roll(AlignId),
    /// A dipole's relative field error (twin only, instructors): the beam
    /// sees (1 + error) × the design field.
    DipoleField(DipoleId),
    /// A magnet's main strength in effect (K1 [1/m²], K2 [1/m³], kick
    /// [rad]); a write sets the magnet's trim (dt4acc's `<M>:Cm:set`).
    MagnetStrength(MagnetId),
    /// A magnet's strength added to what its converter gives (same unit).
    MagnetTrim(MagnetId),
    /// A magnet's calibration error (twin only, instructors): its strength
    /// from the converter's current is (1 + error) times the nominal.
    Calibration(MagnetId),
    /// Multiplexer switch of a quad (bo).
    MuxSelect(QuadId),
    /// Multiplexer: disconnect all (bo).
    MuxOff,
    /// The multiplexer's auxiliary supply [A].
    AuxCurrent,
    /// The auxiliary supply switched on (bo).
    AuxOn,
    /// Automatic top-up on (bo).
    TopUpOn,
    /// Top-up injection rate (mbbo index).
    TopUpRate,
    /// A BPM's hidden electrical offset [m] (twin only, instructors).
    BpmOffset(BpmId, Plane),
    /// A BPM's gain in a plane of its own frame (1: calibrated; twin only,
    /// instructors).
    BpmGain(BpmId, Plane),
    /// A BPM's roll about s [rad] (twin only, instructors).
    BpmRoll(BpmId),
    /// A BPM's own noise rms, added in quadrature to the read-out noise
    /// [m] (twin only, instructors).
    BpmOwnNoise(BpmId),
    /// A BPM's fault (mbbo: OK, DEAD, FROZEN, GARBAGE; twin only,
    /// instructors).
    BpmFault(BpmId),
    /// The twin's slow orbit feedback on (bo).
    SofbOn,
    /// Its gain: the fraction of the correction applied per iteration.
    SofbGain,
    /// Its iterations per second [Hz].
    SofbRate,
    /// Its singular-value cut (relative to the largest).
    SofbCut,
    /// The planes it corrects (mbbo BOTH, X, Y).
    SofbPlanes,
    /// Paused while a BBA measurement runs (bo).
    SofbPauseForBba,
    /// Command: the current orbit becomes the reference (bo).
    SofbTakeReference,
    /// Command: the design orbit becomes the reference (bo).
    SofbDesignReference,
    /// Shadow mode: a what-if delta added to what a followed converter
    /// delivers [A] (twin only; refused outside shadow mode).
    WhatIf(PcId),
    /// Shadow mode: every what-if delta back to 0 (bo command).
    WhatIfClear,
    /// The BBA service's bump variant on/off (bo, twin only).
    BbaBump,
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
    Hertz,
    Metre,
    Micrometre,
    PerSquareMetre,
    PerCubicMetre,
    Radian,
    Dimensionless,
}

impl Unit {
    /// The EGU field / stored unit.
    pub fn egu(self) -> &'static str {
        match self {
            Unit::Ampere => "A",
            Unit::KiloHertz => "kHz",
            Unit::Hertz => "Hz",
            Unit::Metre => "m",
            Unit::Micrometre => "um",
            Unit::PerSquareMetre => "1/m2",
            Unit::PerCubicMetre => "1/m3",
            Unit::Radian => "rad",
            Unit::Dimensionless => "",
        }
    }
}

/// The output record of a setpoint.
#[derive(Clone, Debug, PartialEq)]
pub enum OutputKind {
    /// `ao`: drive limits (DRVL, DRVH: EPICS clamps; None: the core refuses
    /// values outside `SetpointEntry::valid`), display range, PREC.
    Analog { limits: Option<(f64, f64)>, display: (f64, f64), precision: u8 },
    /// `bo` with its two state names (ZNAM, ONAM).
    Binary { zero: String, one: String },
    /// `mbbo` with its state names (ZRST, ONST, ...).
    Multi { states: Vec<String> },
}

/// One row of the catalogue.
#[derive(Clone, Debug, PartialEq)]
pub struct SetpointEntry {
    pub setpoint: Setpoint,
    /// PV name without the prefix; also the setpoint's name in the store.
    pub pv: String,
    /// Further names of the same record (EPICS aliases).
    pub aliases: Vec<String>,
    pub unit: Unit,
    pub description: String,
    pub output: OutputKind,
    /// Values outside this range are refused (in the record's unit).
    pub valid: Option<(f64, f64)>,
    /// Value the record starts from (design value, or the configured one).
    pub initial: f64,
    /// Kept in the store across restarts (the multiplexer, its supply and
    /// the top-up engine start as configured, as after a power cycle; a
    /// magnet's strength is kept as its trim).
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
    OutputKind::Analog { limits: Some(limits), display: limits, precision }
}

fn binary(zero: &str, one: &str) -> OutputKind {
    OutputKind::Binary { zero: zero.into(), one: one.into() }
}

/// Collects the rows.
struct Rows(Vec<SetpointEntry>);

impl Rows {
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        setpoint: Setpoint,
        pv: String,
        unit: Unit,
        description: String,
        output: OutputKind,
        initial: f64,
        persisted: bool,
    ) {
        self.0.push(SetpointEntry {
            setpoint,
            pv,
            aliases: Vec::new(),
            unit,
            description,
            output,
            valid: None,
            initial,
            persisted,
        });
    }

    fn last(&mut self) -> &mut SetpointEntry {
        let n = self.0.len();
        &mut self.0[n - 1]
    }
}

impl Catalogue {
    pub fn build(schema: &Schema, profile: &Profile, config: &Config) -> Self {
        let mut rows = Rows(Vec::new());
        converters(&mut rows, schema, profile);
        let rf = schema.design_rf_khz;
        let range = profile.rf.range_khz;
        let rf_limits = analog((rf - range, rf + range), 4);
        let rf_desc = "Master clock = RF frequency".to_string();
        rows.add(Setpoint::MasterClock, profile.rf.master_clock.clone(), Unit::KiloHertz, rf_desc, rf_limits, rf, true);
        offsets(&mut rows, schema);
        strengths(&mut rows, schema);
        faults(&mut rows, schema);
        bpm_errors(&mut rows, schema);
        let desc = "RF seen by the beam minus master clock (fault)".to_string();
        let output = OutputKind::Analog { limits: Some((-5e3, 5e3)), display: (-1e3, 1e3), precision: 3 };
        rows.add(Setpoint::RfOffset, names::fault("RF:offset"), Unit::Hertz, desc, output, 0.0, true);
        if let Some(mux) = &profile.multiplexer {
            for q in schema.multiplexer_quads() {
                let pv = format!("{}{}", mux.switch_prefix, q.name);
                let desc = format!("Multiplexer: select {}", q.name);
                rows.add(Setpoint::MuxSelect(q.id), pv, Unit::Dimensionless, desc, binary("Off", "On"), 0.0, false);
            }
            let desc = "Multiplexer: disconnect all".to_string();
            rows.add(Setpoint::MuxOff, mux.off.clone(), Unit::Dimensionless, desc, binary("Idle", "Off"), 0.0, false);
            let limits = analog((-mux.supply_limit_a, mux.supply_limit_a), 4);
            let desc = "Auxiliary (muxer) supply".to_string();
            rows.add(Setpoint::AuxCurrent, format!("{}:set", mux.supply), Unit::Ampere, desc, limits, 0.0, false);
            let pv = format!("{}{}", mux.supply, mux.supply_command_suffix);
            let desc = "Auxiliary supply on/off".to_string();
            rows.add(Setpoint::AuxOn, pv, Unit::Dimensionless, desc, binary("Off", "On"), 1.0, false);
        }
        if let Some(t) = &profile.topup {
            let [off, on] = &t.state_names;
            let on_at_start = f64::from(u8::from(config.beam.topup));
            rows.add(
                Setpoint::TopUpOn,
                t.state.clone(),
                Unit::Dimensionless,
                "Top-up automatic".into(),
                binary(off, on),
                on_at_start,
                false,
            );
            let states = OutputKind::Multi { states: t.rate_names.clone() };
            rows.add(
                Setpoint::TopUpRate,
                t.rate.clone(),
                Unit::Dimensionless,
                "Top-up injection rate".into(),
                states,
                0.0,
                false,
            );
        }
        sofb(&mut rows);
        whatif(&mut rows, schema);
        if schema.quads.iter().any(|q| q.on_multiplexer) {
            let desc = "BBA bumps the beam onto each quad".to_string();
            rows.add(Setpoint::BbaBump, names::bba("bump"), Unit::Dimensionless, desc, binary("Off", "On"), 0.0, true);
        }
        let noise = f64::from(u8::from(config.diagnostics.noise));
        let desc = "Gaussian noise on BPM readings".to_string();
        rows.add(Setpoint::BpmNoise, names::bpm_noise(), Unit::Dimensionless, desc, binary("Off", "On"), noise, false);
        let rms = OutputKind::Analog { limits: Some((0.0, 1000.0)), display: (0.0, 100.0), precision: 3 };
        let initial = config.diagnostics.noise_rms_m * 1e6;
        rows.add(
            Setpoint::BpmNoiseRms,
            names::bpm_noise_rms(),
            Unit::Micrometre,
            "BPM noise rms".into(),
            rms,
            initial,
            false,
        );
        Self::from_entries(rows.0)
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

    /// The setpoint a PV (or stored) name stands for (not its aliases).
    pub fn parse(&self, pv: &str) -> Option<Setpoint> {
        self.by_pv.get(pv).map(|&i| self.entries[i].setpoint)
    }
}

fn converters(rows: &mut Rows, schema: &Schema, profile: &Profile) {
    for pc in &schema.power_converters {
        let pv = format!("{}{}", pc.name, profile.magnets.setpoint_suffix);
        let desc = super::describe(pc);
        rows.add(Setpoint::PcCurrent(pc.id), pv, Unit::Ampere, desc, analog(pc.limits_a, 4), pc.design_current_a, true);
    }
    for (i, u) in schema.unmodelled.iter().enumerate() {
        let pv = format!("{}{}", u.name, profile.magnets.setpoint_suffix);
        let desc = format!("{} (no magnet in the model)", u.name);
        rows.add(Setpoint::Unmodelled(UnmodelledId(i)), pv, Unit::Ampere, desc, analog(u.limits_a, 4), 0.0, true);
    }
}

/// Offsets of every element carrying magnets: `TWIN:<element>:x:set`, with
/// the earlier twin's `<magnet>:x:set` of each magnet on it as aliases; its
/// roll `TWIN:<element>:roll:set`.
fn offsets(rows: &mut Rows, schema: &Schema) {
    for a in &schema.aligned {
        for (plane, axis) in [(Plane::Horizontal, 'x'), (Plane::Vertical, 'y')] {
            let output = OutputKind::Analog { limits: Some((-5e-3, 5e-3)), display: (-1e-3, 1e-3), precision: 9 };
            let desc = format!("{} {} offset", a.name, if axis == 'x' { "horizontal" } else { "vertical" });
            rows.add(Setpoint::Offset(a.id, plane), names::offset(&a.name, axis), Unit::Metre, desc, output, 0.0, true);
            rows.last().aliases =
                a.magnets.iter().map(|m| names::magnet_offset(&schema.magnet(*m).name, axis)).collect();
        }
        let output = OutputKind::Analog { limits: Some((-1e-2, 1e-2)), display: (-1e-3, 1e-3), precision: 9 };
        let desc = format!("{} roll about s", a.name);
        rows.add(Setpoint::Roll(a.id), names::roll(&a.name), Unit::Radian, desc, output, 0.0, true);
    }
    for d in &schema.dipoles {
        let output = OutputKind::Analog { limits: Some((-1e-2, 1e-2)), display: (-1e-3, 1e-3), precision: 7 };
        let (pv, desc) = (names::dipole_field(&d.name), format!("{} relative field error", d.name));
        rows.add(Setpoint::DipoleField(d.id), pv, Unit::Dimensionless, desc, output, 0.0, true);
    }
}

/// The slow orbit feedback's settings `TWIN:SOFB:*` (kept in the store,
/// except on/off and the commands: it starts off).
fn sofb(rows: &mut Rows) {
    let d = super::SOFB_DEFAULTS;
    let flag = |b: bool| f64::from(u8::from(b));
    let dimensionless = [
        (Setpoint::SofbGain, "GAIN", "SOFB gain per iteration", (0.0, 1.0), d.gain, 3),
        (Setpoint::SofbCut, "SV_CUT", "SOFB singular values cut below (relative)", (0.0, 1.0), d.singular_cut, 4),
    ];
    for (setpoint, what, desc, limits, initial, precision) in dimensionless {
        rows.add(
            setpoint,
            names::sofb(what),
            Unit::Dimensionless,
            desc.into(),
            analog(limits, precision),
            initial,
            true,
        );
    }
    let rate = analog((0.05, 10.0), 2);
    rows.add(
        Setpoint::SofbRate,
        names::sofb("RATE"),
        Unit::Hertz,
        "SOFB iterations per second".into(),
        rate,
        d.rate_hz,
        true,
    );
    let planes = OutputKind::Multi { states: SofbPlanes::NAMES.iter().map(|s| s.to_string()).collect() };
    rows.add(Setpoint::SofbPlanes, names::sofb("PLANES"), Unit::Dimensionless, "SOFB planes".into(), planes, 0.0, true);
    let pause = binary("No", "Yes");
    let desc = "SOFB pauses while BBA measures".to_string();
    rows.add(
        Setpoint::SofbPauseForBba,
        names::sofb("PAUSE_BBA"),
        Unit::Dimensionless,
        desc,
        pause,
        flag(d.pause_for_bba),
        true,
    );
    let commands = [
        (Setpoint::SofbOn, "ON", "SOFB on", binary("Off", "On")),
        (Setpoint::SofbTakeReference, "REF:TAKE", "SOFB reference := current orbit", binary("Idle", "Take")),
        (Setpoint::SofbDesignReference, "REF:DESIGN", "SOFB reference := design orbit", binary("Idle", "Design")),
    ];
    for (setpoint, what, desc, output) in commands {
        rows.add(setpoint, names::sofb(what), Unit::Dimensionless, desc.into(), output, 0.0, false);
    }
}

/// Shadow mode's what-if overlay `TWIN:SHADOW:<PC>:whatif` (a delta of
/// up to the converter's drive span) and `TWIN:SHADOW:WHATIF:CLEAR`; not
/// kept in the store (a restart is the pure shadow).
fn whatif(rows: &mut Rows, schema: &Schema) {
    for pc in &schema.power_converters {
        let span = pc.limits_a.1 - pc.limits_a.0;
        let desc = format!("{} what-if delta (shadow)", pc.name);
        rows.add(
            Setpoint::WhatIf(pc.id),
            names::whatif(&pc.name),
            Unit::Ampere,
            desc,
            analog((-span, span), 4),
            0.0,
            false,
        );
    }
    let desc = "Shadow: clear every what-if delta".to_string();
    rows.add(
        Setpoint::WhatIfClear,
        names::shadow("WHATIF:CLEAR"),
        Unit::Dimensionless,
        desc,
        binary("Idle", "Clear"),
        0.0,
        false,
    );
}

/// The instructors' converter faults: `TWIN:FAULT:<PC>:trip`, `:stuck`.
fn faults(rows: &mut Rows, schema: &Schema) {
    for pc in &schema.power_converters {
        let kinds: [(Setpoint, String, &str); 2] = [
            (Setpoint::Trip(pc.id), names::fault_trip(&pc.name), "TRIPPED"),
            (Setpoint::Stuck(pc.id), names::fault_stuck(&pc.name), "STUCK"),
        ];
        for (setpoint, pv, state) in kinds {
            let desc = format!("{} {} (fault)", pc.name, state.to_lowercase());
            rows.add(setpoint, pv, Unit::Dimensionless, desc, binary("OK", state), 0.0, true);
        }
    }
}

/// Every BPM's hidden errors `TWIN:<BPM>:offset:x:set`, `:gain:x:set`,
/// `:roll:set`, `:noise:set` and its fault `TWIN:FAULT:<BPM>:mode`.
fn bpm_errors(rows: &mut Rows, schema: &Schema) {
    let analog = |limits: (f64, f64), display: (f64, f64), precision| OutputKind::Analog {
        limits: Some(limits),
        display,
        precision,
    };
    for b in &schema.bpms {
        for (plane, axis) in [(Plane::Horizontal, 'x'), (Plane::Vertical, 'y')] {
            let (pv, desc) =
                (names::bpm_error(&b.name, &format!("offset:{axis}")), format!("{} {axis} offset", b.name));
            let output = analog((-5e-3, 5e-3), (-1e-3, 1e-3), 9);
            rows.add(Setpoint::BpmOffset(b.id, plane), pv, Unit::Metre, desc, output, 0.0, true);
            let (pv, desc) = (names::bpm_error(&b.name, &format!("gain:{axis}")), format!("{} {axis} gain", b.name));
            let output = analog((0.5, 1.5), (0.9, 1.1), 6);
            rows.add(Setpoint::BpmGain(b.id, plane), pv, Unit::Dimensionless, desc, output, 1.0, true);
        }
        let (pv, desc) = (names::bpm_error(&b.name, "roll"), format!("{} roll about s", b.name));
        rows.add(Setpoint::BpmRoll(b.id), pv, Unit::Radian, desc, analog((-0.1, 0.1), (-0.01, 0.01), 9), 0.0, true);
        let (pv, desc) = (names::bpm_error(&b.name, "noise"), format!("{} own noise rms", b.name));
        rows.add(Setpoint::BpmOwnNoise(b.id), pv, Unit::Metre, desc, analog((0.0, 1e-3), (0.0, 1e-5), 9), 0.0, true);
        let states = OutputKind::Multi { states: BpmFault::NAMES.iter().map(|s| s.to_string()).collect() };
        let desc = format!("{} fault", b.name);
        rows.add(Setpoint::BpmFault(b.id), names::fault_bpm(&b.name), Unit::Dimensionless, desc, states, 0.0, true);
    }
}

/// The unit, display precision and description of a magnet's strength.
pub fn strength_unit(kind: MagnetKind) -> (Unit, u8, &'static str) {
    match kind {
        MagnetKind::Quadrupole => (Unit::PerSquareMetre, 6, "K1"),
        MagnetKind::Sextupole => (Unit::PerCubicMetre, 5, "K2"),
        MagnetKind::Steerer(_) => (Unit::Radian, 9, "kick"),
    }
}

/// A magnet's strength per unit of lattice strength: K2 = 2 · PolynomB[2]
/// for sextupoles (MAD's convention), 1 otherwise.
pub fn strength_scale(kind: MagnetKind) -> f64 {
    match kind {
        MagnetKind::Sextupole => 2.0,
        _ => 1.0,
    }
}

/// Every magnet's strength (`<M>:Cm:set`) and trim (`TWIN:<M>:Cm:trim`);
/// valid strengths are those the converter's drive range gives.
fn strengths(rows: &mut Rows, schema: &Schema) {
    for m in &schema.magnets {
        let pc = schema.pc(m.pc);
        let drive = &pc.magnets[m.index];
        let (unit, precision, what) = strength_unit(drive.kind);
        let scale = strength_scale(drive.kind);
        let at = |i: f64| scale * drive.strength(i, schema.rigidity_tm);
        let (a, b) = (at(pc.limits_a.0), at(pc.limits_a.1));
        let valid = (a.min(b), a.max(b));
        let design = at(pc.design_current_a);
        let output = OutputKind::Analog { limits: None, display: valid, precision };
        let desc = format!("{} {what}", drive.name);
        rows.add(
            Setpoint::MagnetStrength(m.id),
            names::magnet_strength(&drive.name),
            unit,
            desc,
            output,
            design,
            false,
        );
        rows.last().valid = Some(valid);
        let span = valid.1 - valid.0;
        let trim = OutputKind::Analog { limits: Some((-span, span)), display: (-span / 10.0, span / 10.0), precision };
        let desc = format!("{} {what} trim", drive.name);
        rows.add(Setpoint::MagnetTrim(m.id), names::magnet_trim(&drive.name), unit, desc, trim, 0.0, true);
        let calibration = OutputKind::Analog { limits: Some((-0.2, 0.2)), display: (-0.05, 0.05), precision: 6 };
        let desc = format!("{} relative calibration error", drive.name);
        let pv = names::magnet_calibration(&drive.name);
        rows.add(Setpoint::Calibration(m.id), pv, Unit::Dimensionless, desc, calibration, 0.0, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Machine;

    fn fodo() -> Machine {
        Machine::fodo()
    }

    #[test]
    fn one_row_per_setpoint_and_names_parse_back_exactly() {
        let m = fodo();
        let cat = &m.catalogue;
        for e in cat.entries() {
            assert_eq!(cat.parse(&e.pv), Some(e.setpoint), "{}", e.pv);
            assert_eq!(cat.entry(e.setpoint).map(|r| &r.pv), Some(&e.pv));
        }
        assert_eq!(cat.parse("PQF:sp"), Some(Setpoint::PcCurrent(PcId(0))));
        assert_eq!(cat.parse("TWIN:QF1:y:set"), Some(Setpoint::Offset(AlignId(0), Plane::Vertical)));
        // no guessing: an axis other than x or y is no setpoint at all
        assert_eq!(cat.parse("TWIN:QF1:z:set"), None);
        assert_eq!(cat.parse("PQF:rb"), None);
        let rms = cat.entry(Setpoint::BpmNoiseRms).expect("noise rms");
        assert_eq!((rms.unit, rms.initial), (Unit::Micrometre, 1.0));
        assert!(cat.entries().iter().filter(|e| e.persisted).all(|e| !matches!(e.setpoint, Setpoint::BpmNoise)));
    }

    #[test]
    fn magnets_have_a_strength_a_trim_and_their_element_offset_under_their_own_name() {
        let m = fodo();
        let cat = &m.catalogue;
        let xs1 = m.schema.magnets.iter().find(|r| m.schema.magnet(r.id).name == "XS1").expect("XS1");
        let strength = cat.entry(Setpoint::MagnetStrength(xs1.id)).expect("strength");
        assert_eq!((strength.pv.as_str(), strength.unit, strength.persisted), ("XS1:Cm:set", Unit::Radian, false));
        let (lo, hi) = strength.valid.expect("a range");
        assert!(lo < 0.0 && hi > 0.0 && (hi + lo).abs() < 1e-15, "a steerer's range is symmetric");
        assert!(cat.entry(Setpoint::MagnetTrim(xs1.id)).is_some_and(|e| e.persisted));
        let offset = cat.entry(Setpoint::Offset(xs1.align, Plane::Horizontal)).expect("offset of S1");
        assert_eq!(offset.pv, "TWIN:S1:x:set");
        assert_eq!(offset.aliases, ["XS1:x:set"]);
    }
}
