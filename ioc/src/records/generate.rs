//! The twin's records, family by family, from the loaded machine.
use super::columns::{OpticsColumn, TableColumn};
use super::{Record, RecordType};
use crate::machine::{Machine, OutputKind, Setpoint, SetpointEntry};
use crate::names;

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

/// Every generated file of a machine (a machine without a multiplexer or a
/// packed BPM vector gets files without those sections).
pub fn db_files(m: &Machine) -> Vec<DbFile> {
    vec![
        DbFile {
            name: "power_converters.db",
            title: "Power converters: <PC>:set (ao, A) and <PC>:rdbk (ai, A)".into(),
            sections: vec![power_converters(m)],
        },
        DbFile {
            name: "diagnostics.db",
            title: "Machine diagnostics and RF as the twin serves them (the machine's names)".into(),
            sections: diagnostics(m),
        },
        DbFile {
            name: "quadrupoles.db",
            title: "Quadrupoles: hidden offsets (twin), BBA multiplexer and BBA service".into(),
            sections: quadrupoles(m),
        },
        DbFile {
            name: "model.db",
            title: "The twin's model: status, optics, read-out settings".into(),
            sections: model(m),
        },
        DbFile { name: "store.db", title: "Persistence of the twin's state".into(), sections: vec![store()] },
    ]
}

/// Shortest text that reads back as the same f64.
fn num(v: f64) -> String {
    format!("{}", v + 0.0) // + 0.0: no "-0"
}

/// The output record of a catalogue row: DTYP Twin, processed at iocInit
/// so the model starts from its value.
pub fn output(e: &SetpointEntry) -> Record {
    let r = match e.output {
        OutputKind::Analog { limits, display, precision } => Record::new(RecordType::Ao, &e.pv)
            .desc(&e.description)
            .field("DTYP", "Twin")
            .field("EGU", e.unit.egu())
            .field("PREC", precision)
            .field("DRVL", num(limits.0))
            .field("DRVH", num(limits.1))
            .field("LOPR", num(display.0))
            .field("HOPR", num(display.1))
            .field("VAL", num(e.initial)),
        OutputKind::Binary { zero, one } => Record::new(RecordType::Bo, &e.pv)
            .desc(&e.description)
            .field("DTYP", "Twin")
            .field("ZNAM", zero)
            .field("ONAM", one)
            .field("VAL", num(e.initial)),
    };
    r.field("PINI", "YES")
}

fn outputs(m: &Machine, which: impl Fn(Setpoint) -> bool) -> Vec<Record> {
    m.catalogue.entries().iter().filter(|e| which(e.setpoint)).map(output).collect()
}

fn ai(name: impl Into<String>, desc: &str, egu: &str, prec: u8) -> Record {
    Record::new(RecordType::Ai, name).desc(desc).field("EGU", egu).field("PREC", prec).posted()
}

fn longin(name: impl Into<String>, desc: &str) -> Record {
    Record::new(RecordType::Longin, name).desc(desc).posted()
}

fn stringin(name: impl Into<String>, desc: &str) -> Record {
    Record::new(RecordType::Stringin, name).desc(desc).posted()
}

fn waveform(name: impl Into<String>, desc: &str, ftvl: &str, nelm: usize) -> Record {
    Record::new(RecordType::Waveform, name).desc(desc).field("FTVL", ftvl).field("NELM", nelm)
}

fn power_converters(m: &Machine) -> Section {
    let mut records = Vec::new();
    for pc in &m.schema.power_converters {
        let Some(set) = m.catalogue.entry(Setpoint::PcCurrent(pc.id)) else { continue };
        let (lo, hi) = pc.limits_a;
        records.push(output(set));
        let rdbk = format!("{}{}", pc.name, m.profile.magnets.readback_suffix);
        records.push(
            Record::new(RecordType::Ai, rdbk)
                .desc(&set.description)
                .field("EGU", "A")
                .field("PREC", 4)
                .field("LOPR", num(lo))
                .field("HOPR", num(hi))
                .posted(),
        );
    }
    Section::new("setpoint and readback of every converter", records)
}

fn table_group(table: &str, column: TableColumn, last: bool) -> String {
    let member = format!("\"value.{}\": {{\"+type\": \"plain\", \"+channel\": \"VAL\"", column.label());
    match last {
        false => format!("{{\"$(P){table}\": {{{member}}}}}}}"),
        true => format!(
            "{{\"$(P){table}\": {{{member}, \"+trigger\": \"*\"}}, \"\": {{\"+type\": \"meta\", \"+channel\": \"VAL\"}}}}}}"
        ),
    }
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
    let labels: Vec<String> = TableColumn::ALL.iter().map(|c| format!("\"{}\"", c.label())).collect();
    let group = format!(
        "{{\"$(P){}\": {{\"+id\": \"epics:nt/NTTable:1.0\", \"labels\": {{\"+type\": \"plain\", \"+channel\": \"VAL\"}}}}}}",
        o.table
    );
    records.push(
        waveform(format!("{}:labels", o.table), &format!("Column labels of {}", o.table), "STRING", labels.len())
            .field("INP", format!("{{const: [{}]}}", labels.join(", ")))
            .field("PINI", "YES")
            .info("Q:group", group),
    );
    for (k, c) in TableColumn::ALL.iter().enumerate() {
        let name = format!("{}:{}", o.table, c.label());
        let r = match c {
            TableColumn::Bpm => waveform(name, "BPM names", "STRING", n),
            TableColumn::X | TableColumn::Y => {
                waveform(name, &format!("Orbit {}", c.label().to_lowercase()), "DOUBLE", n).field("EGU", "nm")
            }
            _ => waveform(name, &format!("Button {}", c.label()), "DOUBLE", n),
        };
        // the last column is posted last: it triggers one table update
        records.push(r.posted().info("Q:group", table_group(&o.table, *c, k + 1 == TableColumn::ALL.len())));
    }
    records
}

fn packed(m: &Machine) -> Vec<Record> {
    let Some(p) = &m.profile.packed_bpm else { return Vec::new() };
    vec![
        waveform(&p.data, "BPM data x,y,z,s,status,gain,xrms,yrms", "SHORT", p.length).posted(),
        longin(&p.count, "Packed BPM data update counter"),
    ]
}

fn rf(m: &Machine) -> Vec<Record> {
    let mut records = outputs(m, |s| s == Setpoint::MasterClock);
    for (k, cavity) in m.profile.rf.cavities.iter().enumerate() {
        records.push(ai(cavity, &format!("Cavity {} frequency", k + 1), "kHz", 4));
    }
    records
}

fn beam(m: &Machine) -> Vec<Record> {
    let b = &m.profile.beam;
    let current = b.current.iter().map(|pv| {
        Record::new(RecordType::Ai, pv)
            .desc("Beam current")
            .field("EGU", "mA")
            .field("PREC", 3)
            .field("HOPR", 350)
            .field("LOPR", 0)
    });
    let lifetime = b
        .lifetime
        .iter()
        .map(|pv| Record::new(RecordType::Ai, pv).desc("Beam lifetime").field("EGU", "h").field("PREC", 2));
    current.chain(lifetime).collect()
}

fn diagnostics(m: &Machine) -> Vec<Section> {
    let t = &m.profile.tunes;
    vec![
        Section::new("orbit: positions, names, counter, buttons, NTTable (PVA)", orbit(m)),
        Section::new("packed BPM vector: 8 rows x slots, int16", packed(m)),
        Section::new(
            "tunes: frac(Q) * f_rev",
            vec![
                ai(&t.horizontal, "Horizontal tune frac(Q)*f_rev", "kHz", 3),
                ai(&t.vertical, "Vertical tune frac(Q)*f_rev", "kHz", 3),
            ],
        ),
        Section::new("RF: master clock (writable) and the cavities following it", rf(m)),
        Section::new("beam current and lifetime", beam(m)),
    ]
}

fn bo_command(name: String, desc: &str, one: &str) -> Record {
    Record::new(RecordType::Bo, name).desc(desc).field("DTYP", "Twin").field("ZNAM", "Idle").field("ONAM", one)
}

fn multiplexer(m: &Machine) -> Vec<Record> {
    let Some(x) = &m.profile.multiplexer else { return Vec::new() };
    let mut records = outputs(m, |s| matches!(s, Setpoint::MuxSelect(_) | Setpoint::MuxOff | Setpoint::AuxCurrent));
    records.push(stringin(&x.name, &format!("Selected quad or {}", x.off_name)));
    records.push(ai(format!("{}:rdbk", x.supply), "Auxiliary supply readback", "A", 4));
    records.push(longin(format!("{}:stat1", x.supply), "Aux supply status 1 (1 = on)"));
    records.push(longin(format!("{}:stat2", x.supply), "Aux supply status 2 (0 = no fault)"));
    records
}

fn bba_service(m: &Machine) -> Vec<Record> {
    let quads: Vec<_> = m.schema.multiplexer_quads().collect();
    if quads.is_empty() {
        return Vec::new();
    }
    let mut records = Vec::new();
    for q in &quads {
        records.push(bo_command(names::bba_quad(&q.name, "run"), &format!("Run BBA on {}", q.name), "Run"));
        let result = |what: &str, desc: &str, egu: &str, prec: u8| {
            ai(names::bba_quad(&q.name, what), &format!("{} {desc}", q.name), egu, prec)
        };
        records.push(result("offsetX", "centre x (BPM frame)", "m", 9));
        records.push(result("offsetY", "centre y (BPM frame)", "m", 9));
        records.push(result("sigmaX", "centre x uncertainty", "m", 9));
        records.push(result("sigmaY", "centre y uncertainty", "m", 9));
        records.push(result("chi2", "fit residual (x+y)", "um2", 3));
    }
    records.push(bo_command(names::bba("runAll"), "Run BBA on all multiplexer quads", "Run"));
    records.push(bo_command(names::bba("abort"), "Abort the BBA run", "Abort"));
    records.push(bo_command(names::bba("clear"), "Forget the BBA results found so far", "Clear"));
    records.push(
        Record::new(RecordType::Mbbi, names::bba("status"))
            .desc("BBA service state")
            .field("ZRST", "IDLE")
            .field("ONST", "RUNNING")
            .field("TWST", "DONE")
            .field("THST", "ABORTED")
            .field("FRST", "ERROR")
            .field("FRSV", "MAJOR")
            .posted(),
    );
    records.push(stringin(names::bba("message"), "BBA service message"));
    records.push(stringin(names::bba("current"), "Quad being measured"));
    records.push(ai(names::bba("progress"), "BBA run progress", "%", 1));
    records.push(ai(names::bba("eta"), "Time left in the BBA run", "s", 1));
    let n = quads.len();
    records.push(waveform(names::bba("NAMES"), "Multiplexer quads", "STRING", n).posted());
    let wave = |what: &str, desc: &str| waveform(names::bba(what), desc, "DOUBLE", n).field("EGU", "m").posted();
    records.push(wave("S", "s of the quads"));
    records.push(wave("OFFSETX", "Fitted centres x (NaN: not measured)"));
    records.push(wave("OFFSETY", "Fitted centres y (NaN: not measured)"));
    records.push(wave("SIGMAX", "Uncertainty of the centres x"));
    records.push(wave("SIGMAY", "Uncertainty of the centres y"));
    records
}

fn quadrupoles(m: &Machine) -> Vec<Section> {
    vec![
        Section::new("hidden offsets of every quad (twin only)", outputs(m, |s| matches!(s, Setpoint::QuadOffset(..)))),
        Section::new("BBA multiplexer and its auxiliary supply (the machine's names)", multiplexer(m)),
        Section::new("BBA service (twin only)", bba_service(m)),
    ]
}

fn model_status() -> Vec<Record> {
    vec![
        Record::new(RecordType::Mbbi, names::model("STATUS"))
            .desc("Model state")
            .field("ZRST", "VALID")
            .field("ONST", "UNSTABLE")
            .field("TWST", "NO ORBIT")
            .field("ZRSV", "NO_ALARM")
            .field("ONSV", "MAJOR")
            .field("TWSV", "MAJOR")
            .posted(),
        stringin(names::model("MESSAGE"), "Why the model is not valid"),
        longin(names::model("RECOMPUTES"), "Model recomputations since start"),
        longin(names::model("WRITES"), "Setpoint writes applied since start"),
        longin(names::model("MERGED"), "Writes merged into the last recompute"),
        ai(names::model("DURATION"), "Duration of the last recompute", "ms", 3),
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

fn optics(group: &str, at: &str, n: usize) -> Vec<Record> {
    let mut records = vec![waveform(names::optics(group, "NAMES"), &format!("Names ({at})"), "STRING", n).posted()];
    for c in OpticsColumn::ALL {
        let (desc, egu, prec) = c.meta();
        records.push(
            waveform(names::optics(group, c.suffix()), &format!("{desc} at {at}"), "DOUBLE", n)
                .field("EGU", egu)
                .field("PREC", prec)
                .posted(),
        );
    }
    records
}

fn model(m: &Machine) -> Vec<Section> {
    let scalars = MODEL_SCALARS.iter().map(|(n, d, e, p)| ai(names::model(n), d, e, *p)).collect();
    vec![
        Section::new("status and counters", model_status()),
        Section::new("scalars of the last valid computation", scalars),
        Section::new(
            "optics at every element entrance and the ring end",
            optics("OPTICS", "element entrances", m.lattice.len() + 1),
        ),
        Section::new("optics at the lattice BPMs", optics("BPM", "BPMs", m.lattice.bpms().len())),
        Section::new("BPM read-out settings", outputs(m, |s| matches!(s, Setpoint::BpmNoise | Setpoint::BpmNoiseRms))),
    ]
}

fn store() -> Section {
    let records = vec![
        Record::new(RecordType::Mbbi, names::store("STATUS"))
            .desc("Store connection")
            .field("ZRST", "CONNECTED")
            .field("ONST", "OUTAGE")
            .field("ONSV", "MAJOR")
            .posted(),
        stringin(names::store("MESSAGE"), "Last store error"),
        stringin(names::store("BACKEND"), "mongodb or files"),
        longin(names::store("PENDING"), "Setpoint writes not yet durable"),
        longin(names::store("FLUSHED"), "Setpoint writes made durable"),
        ai(names::store("LAG"), "Age of the oldest pending write", "s", 2),
    ];
    Section::new("status of the store", records)
}
