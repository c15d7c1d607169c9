//! Records of the machine's converters, diagnostics, RF, beam and top-up.
use super::columns::TableColumn;
use super::generate::{Section, ai, bi, longin, nttable, num, output, outputs, waveform};
use super::ops::{archived, limits};
use super::{Record, RecordType};
use crate::machine::{Machine, Setpoint, UnmodelledId};
use crate::names::{self, dt4acc};
use crate::profile::Limits;

/// Points of the tune spectrum.
pub const SPECTRUM_POINTS: usize = 512;

fn readback(name: String, desc: &str, limits: (f64, f64)) -> Record {
    Record::new(RecordType::Ai, name)
        .desc(desc)
        .field("EGU", "A")
        .field("PREC", 4)
        .field("LOPR", num(limits.0))
        .field("HOPR", num(limits.1))
        .posted()
}

/// |readback − setpoint| of a converter, computed when the readback is
/// posted (the setpoint the model used then) and once a second (a readback
/// that does not change — a stuck converter — does not post), with the
/// profile's limits.
fn deviation(pc: &str, set: &str, rdbk: &str, l: &Limits) -> Record {
    let r = Record::new(RecordType::Calc, names::converter_deviation(pc))
        .desc(&format!("{pc} |readback - setpoint|"))
        .field("SCAN", "1 second")
        .field("INPA", format!("$(P){rdbk} CP NMS"))
        .field("INPB", format!("$(P){set} NPP NMS"))
        .field("CALC", "ABS(A-B)")
        .field("EGU", "A")
        .field("PREC", 4);
    limits(r, l)
}

pub(super) fn power_converters(m: &Machine) -> Vec<Section> {
    let suffix = &m.profile.magnets.readback_suffix;
    let tolerance = &m.profile.operations.alarms.converter_deviation;
    let mut records = Vec::new();
    let mut deviations = Vec::new();
    for pc in &m.schema.power_converters {
        let Some(set) = m.catalogue.entry(Setpoint::PcCurrent(pc.id)) else { continue };
        let rdbk = format!("{}{suffix}", pc.name);
        deviations.push(deviation(&pc.name, &set.pv, &rdbk, tolerance));
        records.push(output(set));
        records.push(readback(rdbk, &set.description, pc.limits_a));
    }
    let mut unmodelled = Vec::new();
    for (i, u) in m.schema.unmodelled.iter().enumerate() {
        let Some(set) = m.catalogue.entry(Setpoint::Unmodelled(UnmodelledId(i))) else { continue };
        unmodelled.push(output(set));
        unmodelled.push(readback(format!("{}{suffix}", u.name), &set.description, u.limits_a));
    }
    vec![
        Section::new("setpoint and readback of every converter", records),
        Section::new(
            "converters without a magnet in the model: readback MINOR/SOFT \"no magnet in the model\"",
            unmodelled,
        ),
        Section::new("readback deviating from the setpoint (twin; alarm limits from the profile)", deviations),
        Section::new(
            "faults (twin, instructors): a tripped converter delivers 0 A, a stuck one what it delivered; the RF the beam sees",
            outputs(m, |s| matches!(s, Setpoint::Trip(_) | Setpoint::Stuck(_) | Setpoint::RfOffset)),
        ),
    ]
}

fn orbit(m: &Machine) -> Vec<Record> {
    let o = &m.profile.orbit;
    let n = o.slots;
    let mut records = vec![
        waveform(&o.positions, &format!("Orbit x0,y0,x1,y1,... ({n} slots)"), "DOUBLE", 2 * n)
            .field("EGU", "nm")
            .field("PREC", 0)
            .posted(),
        waveform(&o.names, "BPM names in orbit slot order", "STRING", n).posted(),
        longin(&o.count, "Orbit update counter"),
        waveform(&o.buttons, "Button signals A,B,C,D per slot", "DOUBLE", 4 * n).posted(),
    ];
    if let Some(s) = &o.s_positions {
        records.push(
            waveform(s, "s of the BPMs in orbit slot order", "DOUBLE", n).field("EGU", "m").field("PREC", 3).posted(),
        );
    }
    let columns: Vec<(&str, &str, &str)> = TableColumn::ALL
        .iter()
        .map(|c| match c {
            TableColumn::Bpm => (c.label(), "STRING", ""),
            TableColumn::X | TableColumn::Y => (c.label(), "DOUBLE", "nm"),
            _ => (c.label(), "DOUBLE", ""),
        })
        .collect();
    records.extend(nttable(&o.table, "Orbit", n, &columns));
    if let Some(t) = &o.model_table {
        let rows = m.schema.orbit_slots.iter().filter(|s| s.element.is_some()).count();
        let columns = [
            ("BPM", "STRING", ""),
            ("SPos", "DOUBLE", "m"),
            ("BetaHor", "DOUBLE", "m"),
            ("BetaVer", "DOUBLE", "m"),
            ("PhaseAdvanceHor", "DOUBLE", "2pi"),
            ("PhaseAdvanceVer", "DOUBLE", "2pi"),
        ];
        records.extend(nttable(t, "Model at BPM", rows, &columns));
    }
    records
}

fn packed(m: &Machine) -> Vec<Record> {
    let Some(p) = &m.profile.packed_bpm else { return Vec::new() };
    let mut records = vec![
        waveform(&p.data, "BPM data x,y,z,s,status,gain,xrms,yrms", "SHORT", p.length).posted(),
        longin(&p.count, "Packed BPM data update counter"),
    ];
    if let Some(ready) = &p.ready {
        records.push(bi(ready, "BPM data ready (0 while acquiring)", "Acquiring", "Ready"));
    }
    records
}

fn tunes(m: &Machine) -> Vec<Record> {
    let t = &m.profile.tunes;
    let mut records = vec![
        ai(&t.horizontal, "Horizontal tune frac(Q)*f_rev", "kHz", 3),
        ai(&t.vertical, "Vertical tune frac(Q)*f_rev", "kHz", 3),
    ];
    for (k, plane) in ['x', 'y'].into_iter().enumerate() {
        let aliases = t.fractional.iter().map(|names| names[k].clone());
        let desc = format!("Fractional tune {plane}");
        records.push(ai(dt4acc::twiss(plane, "tune"), &desc, "", 6).aliases(aliases));
    }
    if let Some(c) = &t.count {
        records.push(longin(c, "Tune measurement counter"));
    }
    if let Some(s) = &t.spectrum {
        let desc = format!("H tune spectrum 0..f_rev/2 ({SPECTRUM_POINTS} bins)");
        records.push(waveform(s, &desc, "DOUBLE", SPECTRUM_POINTS).field("EGU", "arb").field("PREC", 4).posted());
    }
    records
}

fn rf(m: &Machine) -> Vec<Record> {
    let rf = &m.profile.rf;
    let mut records = outputs(m, |s| s == Setpoint::MasterClock);
    for (k, cavity) in rf.cavities.iter().enumerate() {
        records.push(ai(cavity, &format!("Cavity {} frequency", k + 1), "kHz", 4));
    }
    if let Some(hw) = &rf.hardware_readback {
        records.push(ai(hw, "Master clock hardware readback", "kHz", 4));
    }
    if let Some(off) = &rf.offset {
        records.push(ai(off, "Summed frequency offset", "kHz", 4));
    }
    records
}

/// The first name is the record, the others its aliases.
fn monitor(names: &[String], desc: &str, egu: &str, prec: u8, hopr: f64) -> Option<Record> {
    let (first, others) = names.split_first()?;
    let r = Record::new(RecordType::Ai, first).desc(desc).field("EGU", egu).field("PREC", prec);
    Some(r.field("HOPR", num(hopr)).field("LOPR", 0).aliases(others.iter().cloned()))
}

fn beam(m: &Machine) -> Vec<Record> {
    let b = &m.profile.beam;
    let ops = &m.profile.operations;
    let alarmed = |r: Option<Record>, l: &Limits| r.map(|r| archived(limits(r, l), &ops.archive.beam));
    [
        alarmed(monitor(&b.current, "Beam current", "mA", 3, 350.0), &ops.alarms.beam_current),
        alarmed(monitor(&b.lifetime, "Beam lifetime", "h", 2, 20.0), &ops.alarms.lifetime),
        monitor(&b.multibunch_current, "Multibunch current", "mA", 3, 350.0).map(|r| archived(r, &ops.archive.beam)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn topup(m: &Machine) -> Vec<Record> {
    let Some(t) = &m.profile.topup else { return Vec::new() };
    let mut records = outputs(m, |s| matches!(s, Setpoint::TopUpOn | Setpoint::TopUpRate));
    let [inactive, active] = &t.trigger_names;
    records.push(ai(&t.countdown, "Time to the next injection", "s", 1));
    records.push(bi(&t.trigger, "Injection trigger", inactive, active));
    records.push(bi(&t.busy, "Injection sequence running", inactive, active));
    records.push(ai(&t.single_bunch_current, "Single (camshaft) bunch current", "mA", 3));
    records.push(longin(&t.max_bunches, "Bunches filled by top-up"));
    records
}

pub(super) fn diagnostics(m: &Machine) -> Vec<Section> {
    vec![
        Section::new("orbit: positions, names, counter, buttons, s, NTTables (PVA)", orbit(m)),
        Section::new("packed BPM vector: 8 rows x slots, int16; acquisition flag", packed(m)),
        Section::new(
            "hidden BPM errors (twin, instructors): reading = offset + gain x rolled beam + noise; faults DEAD, FROZEN, GARBAGE",
            outputs(m, |s| {
                matches!(
                    s,
                    Setpoint::BpmOffset(..)
                        | Setpoint::BpmGain(..)
                        | Setpoint::BpmRoll(_)
                        | Setpoint::BpmOwnNoise(_)
                        | Setpoint::BpmFault(_)
                )
            }),
        ),
        Section::new("tunes: frac(Q) * f_rev, fractional, counter, spectrum", tunes(m)),
        Section::new("RF: master clock (writable), the cavities following it, hardware readback", rf(m)),
        Section::new("beam current and lifetime (one beam: the other monitors are aliases)", beam(m)),
        Section::new("top-up engine", topup(m)),
    ]
}

/// The earlier twin's revolution frequency and RF facts.
pub(super) fn rf_facts() -> Vec<Record> {
    vec![
        ai(dt4acc::rev_freq(), "Revolution frequency", "kHz", 6),
        longin(dt4acc::rf_buckets(), "Harmonic number"),
        ai(dt4acc::lattice_info("ref_freq"), "Design RF frequency", "kHz", 6),
        longin(dt4acc::lattice_info("ref_freq:khz:up"), "Design RF frequency, whole kHz"),
        longin(dt4acc::lattice_info("ref_freq:khz:frac"), "Design RF frequency, mHz above up"),
    ]
}
