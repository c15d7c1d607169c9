//! The twin's records, file by file, from the loaded machine, and the
//! helpers every family uses.
use super::{Record, RecordType, diagnostics, directory, health_records, magnets, model, ops};
use crate::access::AccessGroup;
use crate::machine::{Machine, OutputKind, Setpoint, SetpointEntry};

/// A group of records under one comment.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    pub title: String,
    pub records: Vec<Record>,
}

impl Section {
    pub fn new(title: &str, records: Vec<Record>) -> Self {
        Self { title: title.into(), records }
    }
}

/// One generated `.db` file.
#[derive(Clone, Debug, PartialEq)]
pub struct DbFile {
    /// File name in the profile's records directory.
    pub name: &'static str,
    pub title: String,
    pub sections: Vec<Section>,
}

/// Every generated file of a machine (a machine without a multiplexer, a
/// packed BPM vector or a top-up engine gets files without those sections).
pub fn db_files(m: &Machine) -> Vec<DbFile> {
    let mut files = vec![
        DbFile {
            name: "power_converters.db",
            title: "Power converters: <PC>:set (ao, A) and <PC>:rdbk (ai, A)".into(),
            sections: diagnostics::power_converters(m),
        },
        DbFile {
            name: "diagnostics.db",
            title: "Machine diagnostics, RF, beam and top-up as the twin serves them (the machine's names)".into(),
            sections: diagnostics::diagnostics(m),
        },
        DbFile {
            name: "magnets.db",
            title: "Magnets: offsets (twin), strengths and trims, the earlier twin's per-magnet names".into(),
            sections: magnets::magnets(m),
        },
        DbFile {
            name: "bba.db",
            title: "BBA: the multiplexer and its auxiliary supply (the machine's names), the BBA service (twin)".into(),
            sections: magnets::bba(m),
        },
        DbFile {
            name: "model.db",
            title: "The twin's model: status, optics, read-out settings".into(),
            sections: model::model(m),
        },
        DbFile { name: "store.db", title: "Persistence of the twin's state".into(), sections: vec![model::store(m)] },
    ];
    ops::archive(&mut files, &m.profile.operations.archive);
    let directory = directory::section(&files, &health_records());
    if let Some(model) = files.iter_mut().find(|f| f.name == "model.db") {
        model.sections.push(directory);
    }
    files
}

/// Shortest text that reads back as the same f64.
pub(super) fn num(v: f64) -> String {
    format!("{}", v + 0.0) // + 0.0: no "-0"
}

/// State-name fields of an mbbi/mbbo.
const STATE_FIELDS: [&str; 16] = [
    "ZRST", "ONST", "TWST", "THST", "FRST", "FVST", "SXST", "SVST", "EIST", "NIST", "TEST", "ELST", "TVST", "TTST",
    "FTST", "FFST",
];

/// The output record of a catalogue row: DTYP Twin, processed at iocInit
/// so the model starts from its value.
pub fn output(e: &SetpointEntry) -> Record {
    let r = match &e.output {
        OutputKind::Analog { limits, display, precision } => {
            let r = Record::new(RecordType::Ao, &e.pv)
                .desc(&e.description)
                .field("DTYP", "Twin")
                .field("EGU", e.unit.egu())
                .field("PREC", precision);
            let r = match limits {
                Some((lo, hi)) => r.field("DRVL", num(*lo)).field("DRVH", num(*hi)),
                None => r,
            };
            r.field("LOPR", num(display.0)).field("HOPR", num(display.1)).field("VAL", num(e.initial))
        }
        OutputKind::Binary { zero, one } => Record::new(RecordType::Bo, &e.pv)
            .desc(&e.description)
            .field("DTYP", "Twin")
            .field("ZNAM", zero)
            .field("ONAM", one)
            .field("VAL", num(e.initial)),
        OutputKind::Multi { states } => {
            let r = Record::new(RecordType::Mbbo, &e.pv).desc(&e.description).field("DTYP", "Twin");
            STATE_FIELDS.iter().zip(states).fold(r, |r, (f, s)| r.field(f, s)).field("VAL", num(e.initial))
        }
    };
    r.field("PINI", "YES").field("ASG", setpoint_access(e.setpoint).asg()).aliases(e.aliases.iter().cloned())
}

/// Who may write a setpoint: the hidden truth (offsets, rolls, calibration
/// and field errors, the BPMs' errors) and the faults are instructors',
/// every other setpoint operators'.
pub fn setpoint_access(setpoint: Setpoint) -> AccessGroup {
    match setpoint {
        Setpoint::Offset(..)
        | Setpoint::Roll(_)
        | Setpoint::Calibration(_)
        | Setpoint::Trip(_)
        | Setpoint::Stuck(_)
        | Setpoint::RfOffset
        | Setpoint::DipoleField(_)
        | Setpoint::BpmOffset(..)
        | Setpoint::BpmGain(..)
        | Setpoint::BpmRoll(_)
        | Setpoint::BpmOwnNoise(_)
        | Setpoint::BpmFault(_) => AccessGroup::Instruct,
        _ => AccessGroup::Operate,
    }
}

pub(super) fn outputs(m: &Machine, which: impl Fn(Setpoint) -> bool) -> Vec<Record> {
    m.catalogue.entries().iter().filter(|e| which(e.setpoint)).map(output).collect()
}

pub(super) fn ai(name: impl Into<String>, desc: &str, egu: &str, prec: u8) -> Record {
    Record::new(RecordType::Ai, name).desc(desc).field("EGU", egu).field("PREC", prec).posted()
}

pub(super) fn longin(name: impl Into<String>, desc: &str) -> Record {
    Record::new(RecordType::Longin, name).desc(desc).posted()
}

pub(super) fn bi(name: impl Into<String>, desc: &str, zero: &str, one: &str) -> Record {
    Record::new(RecordType::Bi, name).desc(desc).field("ZNAM", zero).field("ONAM", one).posted()
}

pub(super) fn stringin(name: impl Into<String>, desc: &str) -> Record {
    Record::new(RecordType::Stringin, name).desc(desc).posted()
}

pub(super) fn waveform(name: impl Into<String>, desc: &str, ftvl: &str, nelm: usize) -> Record {
    Record::new(RecordType::Waveform, name).desc(desc).field("FTVL", ftvl).field("NELM", nelm)
}

pub(super) fn bo_command(name: String, desc: &str, one: &str, group: AccessGroup) -> Record {
    Record::new(RecordType::Bo, name)
        .desc(desc)
        .field("DTYP", "Twin")
        .field("ZNAM", "Idle")
        .field("ONAM", one)
        .field("ASG", group.asg())
}

/// The members of an NTTable served by QSRV2: a labels record and one
/// waveform per column; the last column triggers one update of the whole
/// table. `columns`: (label, FTVL, EGU).
pub(super) fn nttable(table: &str, desc: &str, rows: usize, columns: &[(&str, &str, &str)]) -> Vec<Record> {
    let labels: Vec<String> = columns.iter().map(|(l, ..)| format!("\"{l}\"")).collect();
    let group = format!(
        "{{\"$(P){table}\": {{\"+id\": \"epics:nt/NTTable:1.0\", \"labels\": {{\"+type\": \"plain\", \"+channel\": \"VAL\"}}}}}}"
    );
    let mut records = vec![
        waveform(format!("{table}:labels"), &format!("Column labels of {table}"), "STRING", labels.len())
            .field("INP", format!("{{const: [{}]}}", labels.join(", ")))
            .field("PINI", "YES")
            .info("Q:group", group),
    ];
    for (k, (label, ftvl, egu)) in columns.iter().enumerate() {
        let member = format!("\"value.{label}\": {{\"+type\": \"plain\", \"+channel\": \"VAL\"");
        let info = match k + 1 == columns.len() {
            false => format!("{{\"$(P){table}\": {{{member}}}}}}}"),
            true => format!(
                "{{\"$(P){table}\": {{{member}, \"+trigger\": \"*\"}}, \"\": {{\"+type\": \"meta\", \"+channel\": \"VAL\"}}}}}}"
            ),
        };
        let r = waveform(format!("{table}:{label}"), &format!("{desc} {label}"), ftvl, rows);
        let r = if egu.is_empty() { r } else { r.field("EGU", *egu) };
        records.push(r.posted().info("Q:group", info));
    }
    records
}
