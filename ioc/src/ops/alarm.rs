//! The Phoebus alarm-server configuration (`alarm-server -config Twin
//! -import twin_alarms.xml`): one component per family, one PV per record
//! with alarm limits or state severities, elements in the order Phoebus'
//! XmlModelWriter writes them.
use std::collections::HashMap;

use twin_engine::lattice::Plane;

use super::screens::{BBA, CONVERTERS, MODEL, OVERVIEW, Screen};
use super::xml::{El, document};
use super::{Artefact, visible};
use crate::machine::{Machine, MagnetKind};
use crate::names;
use crate::profile::Annunciation;
use crate::records::{DbFile, Record};

/// Limit fields of an analog record.
const LIMITS: [&str; 5] = ["HIHI", "HIGH", "LOW", "LOLO", "HYST"];

/// Severity fields of the states of an mbbi.
const STATE_SEVERITIES: [&str; 16] = [
    "ZRSV", "ONSV", "TWSV", "THSV", "FRSV", "FVSV", "SXSV", "SVSV", "EISV", "NISV", "TESV", "ELSV", "TVSV", "TTSV",
    "FTSV", "FFSV",
];

/// The alarm fields of a record in its order, as FIELD=value: limits and
/// hysteresis, and the states' severities other than NO_ALARM.
pub(super) fn alarm_fields(r: &Record) -> Vec<(&'static str, &str)> {
    r.fields
        .iter()
        .filter(|(f, v)| LIMITS.contains(f) || (STATE_SEVERITIES.contains(f) && v != "NO_ALARM"))
        .map(|(f, v)| (*f, v.as_str()))
        .collect()
}

/// A top-level component: name, annunciation, the screen its PVs link to.
struct Family<'a> {
    name: &'static str,
    annunciation: &'a Annunciation,
    screen: Screen,
}

/// Sub-components of the converters, by the kind of magnet they drive.
fn converter_groups(m: &Machine) -> HashMap<String, &'static str> {
    let group = |k: MagnetKind| match k {
        MagnetKind::Quadrupole => "Quadrupoles",
        MagnetKind::Sextupole => "Sextupoles",
        MagnetKind::Steerer(Plane::Horizontal) => "Horizontal steerers",
        MagnetKind::Steerer(Plane::Vertical) => "Vertical steerers",
    };
    let pcs = m.schema.power_converters.iter();
    pcs.map(|pc| (names::converter_deviation(&pc.name), group(pc.magnets[0].kind))).collect()
}

fn pv(r: &Record, a: &Annunciation, screen: Screen) -> El {
    let mut el = El::new("pv").attr("name", format!("$(P){}", r.name));
    if let Some(desc) = r.get("DESC").filter(|d| !d.is_empty()) {
        el = el.leaf("description", desc);
    }
    el = el.leaf("enabled", true).leaf("latching", a.latching).leaf("annunciating", false);
    if a.delay_s != 0 {
        el = el.leaf("delay", a.delay_s);
    }
    let limits: Vec<String> = alarm_fields(r).iter().map(|(f, v)| format!("{f}={v}")).collect();
    el.child(El::new("guidance").leaf("title", "Limits").leaf("details", limits.join(" ")))
        .child(El::new("display").leaf("title", screen.title).leaf("details", format!("../screens/{}", screen.file)))
}

/// The configuration `Twin`.
pub(super) fn config(m: &Machine, files: &[DbFile]) -> Artefact {
    let alarms = &m.profile.operations.alarms;
    let families = [
        Family { name: "Beam", annunciation: &alarms.beam, screen: OVERVIEW },
        Family { name: "Model", annunciation: &alarms.model, screen: MODEL },
        Family { name: "Store", annunciation: &alarms.model, screen: OVERVIEW },
        Family { name: "BBA", annunciation: &alarms.model, screen: BBA },
        Family { name: "Power converters", annunciation: &alarms.converters, screen: CONVERTERS },
        Family { name: "Twin", annunciation: &alarms.model, screen: OVERVIEW },
    ];
    let family_of = |file: &str, r: &Record| -> usize {
        let under = |prefix: String| r.name.starts_with(&prefix);
        match file {
            _ if under(names::model("")) => 1,
            _ if under(names::store("")) => 2,
            _ if under(names::bba("")) => 3,
            "power_converters.db" => 4,
            "diagnostics.db" => 0,
            _ => 5,
        }
    };
    let groups = converter_groups(m);
    // (family, sub-component) -> PVs, in the records' order
    let mut members: Vec<Vec<(&str, Vec<El>)>> = families.iter().map(|_| Vec::new()).collect();
    for (file, r) in visible(files).filter(|(_, r)| !alarm_fields(r).is_empty()) {
        let k = family_of(file, r);
        let f = &families[k];
        let sub = if k == 4 { groups.get(&r.name).copied().unwrap_or("Other converters") } else { "" };
        let el = pv(r, f.annunciation, f.screen);
        match members[k].iter_mut().find(|(s, _)| *s == sub) {
            Some((_, pvs)) => pvs.push(el),
            None => members[k].push((sub, vec![el])),
        }
    }
    let mut root = El::new("config").attr("name", "Twin");
    for (f, subs) in families.iter().zip(members) {
        if subs.is_empty() {
            continue;
        }
        let mut component = El::new("component").attr("name", f.name);
        for (sub, pvs) in subs {
            component = match sub.is_empty() {
                true => component.children(pvs),
                false => component.child(El::new("component").attr("name", sub).children(pvs)),
            };
        }
        root = root.child(component);
    }
    Artefact::new("alarm/twin_alarms.xml", document(&root))
}
