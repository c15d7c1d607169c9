//! Records of the twin's slow orbit feedback: its settings (setpoints)
//! and what it shows.
use super::generate::{Section, ai, longin, outputs, stringin, waveform};
use super::{Record, RecordType};
use crate::machine::{Machine, Setpoint};
use crate::names;

pub(super) fn sofb(m: &Machine) -> Section {
    let settings = |s: Setpoint| {
        matches!(
            s,
            Setpoint::SofbOn
                | Setpoint::SofbGain
                | Setpoint::SofbRate
                | Setpoint::SofbCut
                | Setpoint::SofbPlanes
                | Setpoint::SofbPauseForBba
                | Setpoint::SofbTakeReference
                | Setpoint::SofbDesignReference
        )
    };
    let mut records = outputs(m, settings);
    records.push(
        Record::new(RecordType::Mbbi, names::sofb("STATUS"))
            .desc("SOFB state")
            .field("ZRST", "OFF")
            .field("ONST", "RUNNING")
            .field("TWST", "PAUSED")
            .field("THST", "ERROR")
            .field("THSV", "MINOR")
            .posted(),
    );
    records.push(stringin(names::sofb("MESSAGE"), "Why the SOFB pauses or failed"));
    records.push(ai(names::sofb("RESIDUAL:X"), "SOFB rms of reading - reference x", "m", 9));
    records.push(ai(names::sofb("RESIDUAL:Y"), "SOFB rms of reading - reference y", "m", 9));
    records.push(longin(names::sofb("ITERATIONS"), "SOFB corrections applied"));
    let n = m.schema.bpms.len();
    for (what, desc) in
        [("REF:X", "SOFB reference x at the lattice BPMs"), ("REF:Y", "SOFB reference y at the lattice BPMs")]
    {
        records.push(waveform(names::sofb(what), desc, "DOUBLE", n).field("EGU", "m").field("PREC", 9).posted());
    }
    Section::new("slow orbit feedback (twin, operators; off at start; REF:* in TWIN:BPM:NAMES order)", records)
}
