//! The Archiver Appliance request: every record tagged
//! `info(archive, "<METHOD> <period s>")`, as the body of a bulk
//! `POST /mgmt/bpl/archivePV` (Content-Type `application/json`) and as a
//! plain list of names.
use super::{Artefact, health_records, visible};
use crate::records::{ARCHIVE_INFO, DbFile};

/// One archived PV: name (without the prefix), method, period [s] as
/// the tag writes it.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Archived {
    pub name: String,
    pub method: String,
    pub period: String,
}

fn parse(name: &str, tag: &str) -> Archived {
    let (method, period) = tag.split_once(' ').unwrap_or((tag, "1"));
    Archived { name: name.into(), method: method.into(), period: period.trim().into() }
}

/// The archived PVs of the generated files and of the health records.
pub(super) fn archived(files: &[DbFile]) -> Vec<Archived> {
    let generated = visible(files)
        .filter_map(|(_, r)| r.info.iter().find(|(n, _)| *n == ARCHIVE_INFO).map(|(_, tag)| parse(&r.name, tag)));
    let health = health_records().into_iter().filter_map(|r| r.archive.as_deref().map(|tag| parse(&r.name, tag)));
    generated.chain(health).collect()
}

fn json(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// The request body (one PV a line) and the list of names.
pub(super) fn artefacts(files: &[DbFile]) -> Vec<Artefact> {
    let pvs = archived(files);
    let rows: Vec<String> = pvs
        .iter()
        .map(|a| {
            format!(
                "  {{\"pv\": {}, \"samplingperiod\": {}, \"samplingmethod\": {}}}",
                json(&format!("$(P){}", a.name)),
                json(&a.period),
                json(&a.method)
            )
        })
        .collect();
    let body = format!("[\n{}\n]\n", rows.join(",\n"));
    let list: String = pvs.iter().map(|a| format!("$(P){}\n", a.name)).collect();
    vec![Artefact::new("archiver/archive_request.json", body), Artefact::new("archiver/archive_pvs.txt", list)]
}
