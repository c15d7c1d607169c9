//! Records of the twin's model: status, scalars, optics along the ring
//! (with the earlier twin's names as aliases), read-out settings, store.
use super::columns::OpticsColumn;
use super::diagnostics::rf_facts;
use super::generate::{Section, ai, bi, longin, outputs, stringin, waveform};
use super::{Record, RecordType};
use crate::machine::{Machine, Setpoint};
use crate::names::{self, dt4acc};

fn model_status(m: &Machine) -> Vec<Record> {
    let invalid = m.profile.operations.alarms.model_invalid.as_str();
    vec![
        Record::new(RecordType::Mbbi, names::model("STATUS"))
            .desc("Model state")
            .field("ZRST", "VALID")
            .field("ONST", "UNSTABLE")
            .field("TWST", "NO ORBIT")
            .field("ZRSV", "NO_ALARM")
            .field("ONSV", invalid)
            .field("TWSV", invalid)
            .posted(),
        stringin(names::model("MESSAGE"), "Why the model is not valid"),
        longin(names::model("RECOMPUTES"), "Model recomputations since start"),
        longin(names::model("WRITES"), "Setpoint writes applied since start"),
        longin(names::model("MERGED"), "Writes merged into the last recompute"),
        ai(names::model("DURATION"), "Duration of the last recompute", "ms", 3),
        bi(dt4acc::orbit("found"), "Closed orbit found", "No", "Yes"),
    ]
}

/// The model's scalars: (name, description, EGU, PREC).
pub const MODEL_SCALARS: [(&str, &str, &str, u8); 9] = [
    ("QX", "Horizontal tune (total)", "", 5),
    ("QY", "Vertical tune (total)", "", 5),
    ("QS", "Synchrotron tune", "", 6),
    ("CHROMX", "Horizontal chromaticity", "", 4),
    ("CHROMY", "Vertical chromaticity", "", 4),
    ("ALPHAC", "Momentum compaction factor", "", 8),
    ("EMITTANCE", "Natural emittance", "nm rad", 4),
    ("ELOSS", "Energy loss per turn", "keV", 3),
    ("DELTA", "Momentum deviation of closed orbit", "", 8),
];

/// The equilibrium envelope's scalars (`core::envelope`, at the
/// beam-update cadence): (name, description, EGU, PREC).
pub const ENVELOPE_SCALARS: [(&str, &str, &str, u8); 3] = [
    ("EMIT1", "Emittance of mode 1 (x), envelope", "nm rad", 4),
    ("EMIT2", "Emittance of mode 2 (y), envelope", "pm rad", 3),
    ("COUPLING", "Emittance ratio mode 2 / mode 1", "%", 4),
];

fn envelope() -> Vec<Record> {
    ENVELOPE_SCALARS.iter().map(|(n, d, e, p)| ai(names::model(n), d, e, *p)).collect()
}

fn scalars(m: &Machine) -> Vec<Record> {
    MODEL_SCALARS
        .iter()
        .map(|(n, d, e, p)| {
            let total = match *n {
                "QX" => m.profile.tunes.total.iter().map(|t| t[0].clone()).collect(),
                "QY" => m.profile.tunes.total.iter().map(|t| t[1].clone()).collect(),
                _ => Vec::new(),
            };
            ai(names::model(n), d, e, *p).aliases(total)
        })
        .collect()
}

/// The earlier twin's names of the optics along the ring.
fn dt4acc_aliases(column: Option<OpticsColumn>) -> Vec<String> {
    let names: &[&str] = match column {
        None => &[
            "beam:orbit:names",
            "beam:orbit:uids",
            "beam:twiss:names",
            "beam:twiss:uids",
            "survey:names",
            "survey:uids",
        ],
        Some(OpticsColumn::S) => &["survey:s"],
        Some(OpticsColumn::X) => &["beam:orbit:x"],
        Some(OpticsColumn::Y) => &["beam:orbit:y"],
        Some(OpticsColumn::BetaX) => &["beam:twiss:x:beta"],
        Some(OpticsColumn::BetaY) => &["beam:twiss:y:beta"],
        Some(OpticsColumn::AlphaX) => &["beam:twiss:x:alpha"],
        Some(OpticsColumn::AlphaY) => &["beam:twiss:y:alpha"],
        Some(_) => &[],
    };
    names.iter().map(|n| n.to_string()).collect()
}

fn optics(group: &str, at: &str, n: usize, with_dt4acc: bool) -> Vec<Record> {
    let aliases = |c| if with_dt4acc { dt4acc_aliases(c) } else { Vec::new() };
    let names = waveform(names::optics(group, "NAMES"), &format!("Names ({at})"), "STRING", n).posted();
    let mut records = vec![names.aliases(aliases(None))];
    for c in OpticsColumn::ALL {
        let (desc, egu, prec) = c.meta();
        records.push(
            waveform(names::optics(group, c.suffix()), &format!("{desc} at {at}"), "DOUBLE", n)
                .field("EGU", egu)
                .field("PREC", prec)
                .posted()
                .aliases(aliases(Some(c))),
        );
    }
    if with_dt4acc {
        for plane in ['x', 'y'] {
            let desc = format!("phase advance {plane} at {at}");
            records.push(
                waveform(dt4acc::twiss(plane, "nu"), &desc, "DOUBLE", n).field("EGU", "2pi").field("PREC", 6).posted(),
            );
        }
    }
    records
}

pub(super) fn model(m: &Machine) -> Vec<Section> {
    vec![
        Section::new("status and counters", model_status(m)),
        Section::new("scalars of the last valid computation", scalars(m)),
        Section::new("equilibrium emittances with radiation (envelope, at the beam-update cadence)", envelope()),
        Section::new(
            "optics at every element entrance and the ring end (the earlier twin's beam:*, survey:* as aliases)",
            optics("OPTICS", "element entrances", m.lattice.len() + 1, true),
        ),
        Section::new("optics at the lattice BPMs", optics("BPM", "BPMs", m.lattice.bpms().len(), false)),
        Section::new("revolution frequency and RF facts (the earlier twin's names)", rf_facts()),
        Section::new("BPM read-out settings", outputs(m, |s| matches!(s, Setpoint::BpmNoise | Setpoint::BpmNoiseRms))),
        super::sofb::sofb(m),
        super::shadow::shadow(m),
    ]
}

pub(super) fn store(m: &Machine) -> Section {
    let records = vec![
        Record::new(RecordType::Mbbi, names::store("STATUS"))
            .desc("Store connection")
            .field("ZRST", "CONNECTED")
            .field("ONST", "OUTAGE")
            .field("ONSV", m.profile.operations.alarms.store_outage.as_str())
            .posted(),
        stringin(names::store("MESSAGE"), "Last store error"),
        stringin(names::store("BACKEND"), "mongodb or files"),
        stringin(names::store("NOTICE"), "Repair or reset at start-up"),
        longin(names::store("PENDING"), "Setpoint writes not yet durable"),
        longin(names::store("FLUSHED"), "Setpoint writes made durable"),
        ai(names::store("LAG"), "Age of the oldest pending write", "s", 2),
    ];
    Section::new("status of the store", records)
}
