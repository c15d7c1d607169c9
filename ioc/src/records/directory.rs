//! The IOC describes its PVs over PV Access: the NTTable `$(P)TWIN:PVS`
//! with one row per name a client can use (records and aliases of the
//! generated files and of `twin_health.db`): name without the prefix,
//! record type, access (who may write it), units and description. Filled
//! once at start-up (`publish::directory`).
use super::generate::{DbFile, Section, nttable};
use super::{Record, StaticRecord};
use crate::access::AccessGroup;
use crate::names;

/// The table's columns: (label, FTVL, EGU).
const COLUMNS: [(&str, &str, &str); 5] = [
    ("name", "STRING", ""),
    ("type", "STRING", ""),
    ("access", "STRING", ""),
    ("units", "STRING", ""),
    ("description", "STRING", ""),
];

/// One row of the directory.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub name: String,
    pub kind: String,
    /// "read", "operators" or "instructors".
    pub access: &'static str,
    pub units: String,
    pub description: String,
}

/// The table's name: `TWIN:PVS`.
pub fn table() -> String {
    names::twin("PVS")
}

/// The label of a record's access group.
fn access(group: Option<&str>) -> &'static str {
    match group {
        Some(g) if g == AccessGroup::Operate.asg() => "operators",
        Some(g) if g == AccessGroup::Instruct.asg() => "instructors",
        _ => "read",
    }
}

fn rows_of(
    kind: &str,
    names: impl IntoIterator<Item = String>,
    access: &'static str,
    egu: &str,
    desc: &str,
) -> Vec<Entry> {
    names
        .into_iter()
        .map(|name| Entry { name, kind: kind.into(), access, units: egu.into(), description: desc.into() })
        .collect()
}

fn record_rows(r: &Record) -> Vec<Entry> {
    let names = std::iter::once(r.name.clone()).chain(r.aliases.iter().cloned());
    let egu = r.get("EGU").unwrap_or("");
    rows_of(r.kind.as_str(), names, access(r.get("ASG")), egu, r.get("DESC").unwrap_or(""))
}

fn static_rows(r: &StaticRecord) -> Vec<Entry> {
    let names = std::iter::once(r.name.clone()).chain(r.aliases.iter().cloned());
    rows_of(&r.kind, names, access(None), &r.egu, &r.desc)
}

/// Every row: the records of `files`, then `statics`, then the table's
/// own records.
pub fn entries(files: &[DbFile], statics: &[StaticRecord]) -> Vec<Entry> {
    let own = format!("{}:", table());
    let records = files.iter().flat_map(|f| f.sections.iter().flat_map(|s| s.records.iter()));
    let mut out: Vec<Entry> = records.filter(|r| !r.name.starts_with(&own)).flat_map(record_rows).collect();
    out.extend(statics.iter().flat_map(static_rows));
    out.extend(own_records(0).iter().flat_map(record_rows));
    out
}

/// The table's records for `rows` rows.
fn own_records(rows: usize) -> Vec<Record> {
    nttable(&table(), "Served PV", rows.max(1), &COLUMNS)
}

/// The directory's section, sized for the rows of `files` and `statics`.
pub(super) fn section(files: &[DbFile], statics: &[StaticRecord]) -> Section {
    Section::new(
        "the IOC's PVs described over PVA (NTTable, filled at start-up)",
        own_records(entries(files, statics).len()),
    )
}

/// The column values of the rows, in the order of `COLUMNS`.
pub fn columns(entries: &[Entry]) -> [(String, Vec<String>); 5] {
    let col = |f: &dyn Fn(&Entry) -> String| entries.iter().map(f).collect::<Vec<_>>();
    [
        (format!("{}:name", table()), col(&|e| e.name.clone())),
        (format!("{}:type", table()), col(&|e| e.kind.clone())),
        (format!("{}:access", table()), col(&|e| e.access.to_string())),
        (format!("{}:units", table()), col(&|e| e.units.clone())),
        (format!("{}:description", table()), col(&|e| e.description.clone())),
    ]
}
