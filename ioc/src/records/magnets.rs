//! Records of the magnets (offsets, strengths, trims) and of BBA (the
//! multiplexer hardware and the twin's service).
use super::generate::{Section, ai, bi, bo_command, longin, output, outputs, stringin, waveform};
use super::{Record, RecordType};
use crate::access::AccessGroup;
use crate::machine::{Machine, Setpoint, strength_unit};
use crate::names;

fn strengths(m: &Machine) -> Vec<Record> {
    let mut records = Vec::new();
    for r in &m.schema.magnets {
        let drive = m.schema.magnet(r.id);
        let (unit, precision, what) = strength_unit(drive.kind);
        if let Some(e) = m.catalogue.entry(Setpoint::MagnetStrength(r.id)) {
            records.push(output(e));
        }
        records.push(ai(
            names::magnet_strength_rdbk(&drive.name),
            &format!("{} {what} in effect", drive.name),
            unit.egu(),
            precision,
        ));
        records.push(ai(names::magnet_current(&drive.name), &format!("{} coil current", drive.name), "A", 4));
        for s in [Setpoint::MagnetTrim(r.id), Setpoint::Calibration(r.id)] {
            if let Some(e) = m.catalogue.entry(s) {
                records.push(output(e));
            }
        }
    }
    records
}

pub(super) fn magnets(m: &Machine) -> Vec<Section> {
    vec![
        Section::new(
            "offsets and rolls of every element carrying magnets (twin only; <magnet>:x:set are aliases); dipole field errors",
            outputs(m, |s| matches!(s, Setpoint::Offset(..) | Setpoint::Roll(_) | Setpoint::DipoleField(_))),
        ),
        Section::new("strength (<M>:Cm:set/rdbk), coil current (<M>:im:I) and trim of every magnet", strengths(m)),
    ]
}

fn multiplexer(m: &Machine) -> Vec<Record> {
    let Some(x) = &m.profile.multiplexer else { return Vec::new() };
    let mut records =
        outputs(m, |s| matches!(s, Setpoint::MuxSelect(_) | Setpoint::MuxOff | Setpoint::AuxCurrent | Setpoint::AuxOn));
    records.push(stringin(&x.name, &format!("Selected quad or {}", x.off_name)));
    records.push(bi(&x.disable, "Multiplexer relays disabled", "Enabled", "Disabled"));
    records.push(bi(&x.relay_ps, "Multiplexer relay power supply", "Off", "On"));
    records.push(ai(format!("{}:rdbk", x.supply), "Auxiliary supply readback", "A", 4));
    records.push(longin(format!("{}:stat1", x.supply), "Aux supply status 1 (1 = on)"));
    records.push(longin(format!("{}:stat2", x.supply), "Aux supply status 2 (1 = no error)"));
    records
}

fn bba_service(m: &Machine) -> Vec<Record> {
    let quads: Vec<_> = m.schema.multiplexer_quads().collect();
    if quads.is_empty() {
        return Vec::new();
    }
    let mut records = Vec::new();
    for q in &quads {
        records.push(bo_command(
            names::bba_quad(&q.name, "run"),
            &format!("Run BBA on {}", q.name),
            "Run",
            AccessGroup::Operate,
        ));
        let result = |what: &str, desc: &str, egu: &str, prec: u8| {
            ai(names::bba_quad(&q.name, what), &format!("{} {desc}", q.name), egu, prec)
        };
        records.push(result("offsetX", "centre x (BPM frame)", "m", 9));
        records.push(result("offsetY", "centre y (BPM frame)", "m", 9));
        records.push(result("sigmaX", "centre x uncertainty", "m", 9));
        records.push(result("sigmaY", "centre y uncertainty", "m", 9));
        if let Some(bpm) = m.bba_bpm(q.id) {
            let desc = format!("{}: BPM nearest to the centre", q.name);
            records.push(
                Record::new(RecordType::Stringin, names::bba_quad(&q.name, "bpm")).desc(&desc).field("VAL", &bpm.name),
            );
        }
        records.push(result("bpmOffsetX", "BPM reading x at the centre", "m", 9));
        records.push(result("bpmOffsetY", "BPM reading y at the centre", "m", 9));
        records.push(result("bpmSigmaX", "BPM reading x uncertainty", "m", 9));
        records.push(result("bpmSigmaY", "BPM reading y uncertainty", "m", 9));
        records.push(result("chi2", "fit residual (x+y)", "um2", 3));
    }
    records.push(bo_command(names::bba("runAll"), "Run BBA on all multiplexer quads", "Run", AccessGroup::Operate));
    records.extend(outputs(m, |s| s == Setpoint::BbaBump));
    records.push(bo_command(names::bba("abort"), "Abort the BBA run", "Abort", AccessGroup::Operate));
    records.push(bo_command(
        names::bba("clear"),
        "Forget the BBA results found so far",
        "Clear",
        AccessGroup::Instruct,
    ));
    records.push(
        Record::new(RecordType::Mbbi, names::bba("status"))
            .desc("BBA service state")
            .field("ZRST", "IDLE")
            .field("ONST", "RUNNING")
            .field("TWST", "DONE")
            .field("THST", "ABORTED")
            .field("FRST", "ERROR")
            .field("FRSV", m.profile.operations.alarms.bba_error.as_str())
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
    records.push(wave("BPMOFFSETX", "Nearest BPMs' readings x at the centres"));
    records.push(wave("BPMOFFSETY", "Nearest BPMs' readings y at the centres"));
    records.push(wave("BPMSIGMAX", "Uncertainty of the BPM readings x"));
    records.push(wave("BPMSIGMAY", "Uncertainty of the BPM readings y"));
    records
}

pub(super) fn bba(m: &Machine) -> Vec<Section> {
    vec![
        Section::new("BBA multiplexer and its auxiliary supply (the machine's names)", multiplexer(m)),
        Section::new("BBA service (twin only)", bba_service(m)),
    ]
}
