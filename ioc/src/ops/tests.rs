//! The artefacts against the records they name.
use std::collections::HashSet;
use std::path::Path;

use super::bob::WIDGET_VERSIONS;
use super::*;
use crate::config::Config;
use crate::profile::Profile;

fn machine(profile: &str) -> Machine {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(profile);
    Machine::from_files(Profile::load(&path).expect("profile"), &Config::default()).expect("machine")
}

/// Names a client can connect to: records, aliases, the QSRV2 groups and
/// the health records.
fn served(m: &Machine) -> HashSet<String> {
    let files = db_files(m);
    let mut names = HashSet::new();
    for r in files.iter().flat_map(|f| f.sections.iter().flat_map(|s| s.records.iter())) {
        names.insert(r.name.clone());
        names.extend(r.aliases.iter().cloned());
        for (_, v) in r.info.iter().filter(|(n, _)| *n == "Q:group") {
            let json: serde_json::Value = serde_json::from_str(v).expect("Q:group is JSON");
            let groups = json.as_object().expect("object").keys();
            names.extend(groups.map(|g| g.trim_start_matches("$(P)").to_string()));
        }
    }
    for r in health_records() {
        names.insert(r.name);
        names.extend(r.aliases);
    }
    names
}

/// Every `$(P)<name>` of a text, without a `.FIELD` suffix.
fn pv_names(text: &str) -> Vec<String> {
    let end = |c: char| matches!(c, '<' | '"' | '\n' | ' ' | ',');
    text.split("$(P)")
        .skip(1)
        .map(|rest| {
            let name = &rest[..rest.find(end).unwrap_or(rest.len())];
            match name.rsplit_once('.') {
                Some((base, field)) if field.chars().all(|c| c.is_ascii_uppercase()) => base.to_string(),
                _ => name.to_string(),
            }
        })
        .collect()
}

/// The artefacts naming PVs one by one: the gateway's name list is
/// patterns (and names the hidden truth on purpose, for instructors), the
/// access security file names groups; gateway.rs tests those.
fn pv_artefacts(m: &Machine) -> Vec<Artefact> {
    let patterns = |a: &Artefact| a.path.starts_with("gateway") || a.path.starts_with("access");
    artefacts(m).into_iter().filter(|a| !patterns(a)).collect()
}

fn assert_every_pv_is_served(profile: &str) {
    let m = machine(profile);
    let served = served(&m);
    for a in pv_artefacts(&m) {
        let names = pv_names(&a.text);
        assert!(!names.is_empty(), "{} names no PV", a.path.display());
        let missing: Vec<&String> = names.iter().filter(|n| !served.contains(*n)).collect();
        assert!(missing.is_empty(), "{} names PVs the twin does not serve: {missing:?}", a.path.display());
    }
}

#[test]
fn every_pv_of_every_artefact_is_a_record_alias_or_group() {
    assert_every_pv_is_served("config/bessy2/profile.toml");
    assert_every_pv_is_served("tests/fodo/profile.toml");
}

#[test]
fn no_artefact_names_the_hidden_truth() {
    let m = machine("config/bessy2/profile.toml");
    let files = db_files(&m);
    let all = files.iter().flat_map(|f| f.sections.iter().flat_map(|s| s.records.iter()));
    let hidden: HashSet<&str> = all.filter(|r| hidden(r)).map(|r| r.name.as_str()).collect();
    assert!(hidden.contains("TWIN:BBA:clear"), "the instructors' BBA clear is hidden");
    for a in pv_artefacts(&m) {
        let leaked: Vec<String> = pv_names(&a.text).into_iter().filter(|n| hidden.contains(n.as_str())).collect();
        assert!(leaked.is_empty(), "{} names hidden records: {leaked:?}", a.path.display());
    }
}

fn artefact(m: &Machine, path: &str) -> String {
    artefacts(m).into_iter().find(|a| a.path == Path::new(path)).expect(path).text
}

#[test]
fn the_alarm_configuration_has_the_families_and_the_records_limits() {
    let m = machine("config/bessy2/profile.toml");
    let xml = artefact(&m, "alarm/twin_alarms.xml");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<config name=\"Twin\">\n"), "{xml}");
    for c in ["Beam", "Model", "Store", "BBA", "Power converters", "Quadrupoles", "Vertical steerers"] {
        assert!(xml.contains(&format!("<component name=\"{c}\">")), "{c}");
    }
    let current = "<pv name=\"$(P)CUMZR:rdCur\">\n      <description>Beam current</description>\n      \
                   <enabled>true</enabled>\n      <latching>true</latching>\n      \
                   <annunciating>false</annunciating>\n      <delay>5</delay>\n      <guidance>\n        \
                   <title>Limits</title>\n        <details>LOW=295 LOLO=250 HYST=1</details>\n      </guidance>\n      \
                   <display>\n        <title>Twin overview</title>\n        \
                   <details>../screens/twin_overview.bob</details>\n      </display>\n    </pv>";
    assert!(xml.contains(current), "{xml}");
    assert!(xml.contains("<details>ONSV=INVALID TWSV=INVALID</details>"), "model status");
    assert!(xml.contains("<details>ONSV=MAJOR</details>"), "store outage");
    assert!(xml.contains("<details>FRSV=MAJOR</details>"), "BBA error");
    assert!(xml.contains("<details>HIHI=0.1 HIGH=0.01 HYST=0.001</details>"), "converter deviation");
    assert_eq!(xml.matches(":dev\">").count(), 179, "one PV per modelled converter");
    assert!(xml.contains("<pv name=\"$(P)TWIN:SOFB:STATUS\">"), "SOFB error");
    assert!(xml.contains("<pv name=\"$(P)TWIN:SHADOW:STATUS\">"), "shadow source lost / stale");
    assert_eq!(xml.matches("<pv name=").count(), 179 + 2 + 5);
}

#[test]
fn the_archiver_request_has_every_tagged_visible_record() {
    let m = machine("config/bessy2/profile.toml");
    let files = db_files(&m);
    let tagged =
        visible(&files).filter(|(_, r)| r.info.iter().any(|(n, _)| *n == crate::records::ARCHIVE_INFO)).count();
    let list = artefact(&m, "archiver/archive_pvs.txt");
    assert_eq!(list.lines().count(), tagged + 1, "the put log is archived too");
    assert!(list.contains("$(P)TWIN:PUTLOG:LAST\n") && !list.contains("TWIN:BBA:clear"));
    let json: serde_json::Value = serde_json::from_str(&artefact(&m, "archiver/archive_request.json")).expect("JSON");
    let rows = json.as_array().expect("array");
    assert_eq!(rows.len(), tagged + 1);
    assert!(rows.iter().all(|r| r["samplingperiod"].is_string()));
    let orbit = rows.iter().find(|r| r["pv"] == "$(P)ORBITCC:rdPos").expect("orbit archived");
    assert_eq!((orbit["samplingmethod"].as_str(), orbit["samplingperiod"].as_str()), (Some("SCAN"), Some("1")));
}

#[test]
fn screens_use_phoebus_widget_versions() {
    let m = machine("config/bessy2/profile.toml");
    let screens: Vec<Artefact> = artefacts(&m).into_iter().filter(|a| a.path.starts_with("screens")).collect();
    assert_eq!(screens.len(), 5);
    for a in &screens {
        assert!(a.text.contains("<display version=\"2.0.0\">"), "{}", a.path.display());
        for w in a.text.split("<widget type=\"").skip(1) {
            let (kind, rest) = w.split_once('"').expect("type");
            let version = rest.trim_start_matches(" version=\"").split('"').next();
            assert!(WIDGET_VERSIONS.iter().any(|(k, v)| *k == kind && Some(*v) == version), "{kind} {version:?}");
        }
    }
    let pcs = &screens.iter().find(|a| a.path.ends_with("twin_power_converters.bob")).expect("converters").text;
    assert_eq!(pcs.matches("<widget type=\"textentry\"").count(), 179 + 10, "every converter");
}

#[test]
fn an_expanded_artefact_names_the_prefix_a_screen_defaults_its_macro_to_it() {
    let m = machine("config/bessy2/profile.toml");
    for a in pv_artefacts(&m) {
        let text = a.expanded("SIM:");
        match a.path.extension().and_then(|e| e.to_str()) {
            Some("bob") => assert!(text.contains("<P>SIM:</P>") && text.contains("$(P)")),
            _ => assert!(!text.contains("$(P)") && text.contains("SIM:"), "{}", a.path.display()),
        }
    }
}
