//! Records of shadow mode: the what-if overlay (setpoints), the follower's
//! state and the machine − model differences.
use super::generate::{Section, ai, longin, outputs, stringin, waveform};
use super::{Record, RecordType};
use crate::machine::{Machine, Setpoint};
use crate::names;

pub(super) fn shadow(m: &Machine) -> Section {
    let mut records = outputs(m, |s| matches!(s, Setpoint::WhatIf(_) | Setpoint::WhatIfClear));
    records.push(
        Record::new(RecordType::Mbbi, names::shadow("STATUS"))
            .desc("Shadow follower state")
            .field("ZRST", "OFF")
            .field("ONST", "FOLLOWING")
            .field("TWST", "SOURCE LOST")
            .field("TWSV", "MAJOR")
            .field("THST", "STALE")
            .field("THSV", "MINOR")
            .posted(),
    );
    records.push(stringin(names::shadow("MESSAGE"), "Why the follower is not FOLLOWING"));
    records.push(stringin(names::shadow("SOURCE"), "PV prefix of the followed machine"));
    let n = m.schema.orbit_slots.len();
    for (what, desc) in
        [("ORBIT:DX", "machine - model orbit x by slot"), ("ORBIT:DY", "machine - model orbit y by slot")]
    {
        records.push(waveform(names::shadow(what), desc, "DOUBLE", n).field("EGU", "nm").field("PREC", 1).posted());
    }
    for (what, desc) in [
        ("ORBIT:RMS:X", "rms of machine - model orbit x"),
        ("ORBIT:RMS:Y", "rms of machine - model orbit y"),
        ("ORBIT:MAX:X", "max |machine - model orbit x|"),
        ("ORBIT:MAX:Y", "max |machine - model orbit y|"),
    ] {
        records.push(ai(names::shadow(what), desc, "nm", 1));
    }
    records.push(ai(names::shadow("TUNE:DX"), "machine - model tune x", "", 6));
    records.push(ai(names::shadow("TUNE:DY"), "machine - model tune y", "", 6));
    records.push(ai(names::shadow("LAG"), "source update to model published", "ms", 2));
    records.push(longin(names::shadow("UPDATES"), "source updates applied"));
    records.push(longin(names::shadow("CHANNELS"), "source channels subscribed"));
    records.push(longin(names::shadow("CONNECTED"), "source channels connected"));
    Section::new("shadow mode (TWIN:SHADOW:*; ORBIT:D* in the orbit vector's slot order)", records)
}
