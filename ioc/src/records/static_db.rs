//! The hand-written `.db` files the generated ones are loaded next to
//! (`db/twin_health.db`), read for what the generated artefacts and the
//! PV directory need to know of them.

/// The twin's health records: loaded by `st.cmd` next to the generated files.
const HEALTH_DB: &str = include_str!("../../../db/twin_health.db");

/// A record of a hand-written `.db` file: type, name (without the
/// prefix), aliases, archive tag, DESC and EGU.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StaticRecord {
    pub kind: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub archive: Option<String>,
    pub desc: String,
    pub egu: String,
}

fn quoted(line: &str) -> Option<&str> {
    let start = line.find('"')? + 1;
    let end = start + line[start..].find('"')?;
    Some(&line[start..end])
}

/// The records of a hand-written `.db` file (one statement per line).
pub fn static_records(text: &str) -> Vec<StaticRecord> {
    let mut records: Vec<StaticRecord> = Vec::new();
    for line in text.lines().map(str::trim) {
        let value = quoted(line).map(|q| q.trim_start_matches("$(P)").to_string());
        let head = line.split('(').next();
        let arg = line.split_once('(').and_then(|(_, rest)| rest.split(',').next()).map(str::trim);
        match (head, value, records.last_mut()) {
            (Some("record"), Some(name), _) => records.push(StaticRecord {
                kind: arg.unwrap_or_default().to_string(),
                name,
                ..StaticRecord::default()
            }),
            (Some("alias"), Some(name), Some(r)) => r.aliases.push(name),
            (Some("info"), Some(tag), Some(r)) if arg == Some("archive") => r.archive = Some(tag),
            (Some("field"), Some(v), Some(r)) if arg == Some("DESC") => r.desc = v,
            (Some("field"), Some(v), Some(r)) if arg == Some("EGU") => r.egu = v,
            _ => {}
        }
    }
    records
}

/// The records of `db/twin_health.db`.
pub fn health_records() -> Vec<StaticRecord> {
    static_records(HEALTH_DB)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_read_with_type_aliases_tag_and_description() {
        let text = "record(ai, \"$(P)A\") {\n    field(DESC, \"Alpha\")\n    field(EGU, \"s\")\n    \
                    info(archive, \"SCAN 2\")\n    alias(\"$(P)B\")\n}\n";
        let expected = StaticRecord {
            kind: "ai".into(),
            name: "A".into(),
            aliases: vec!["B".into()],
            archive: Some("SCAN 2".into()),
            desc: "Alpha".into(),
            egu: "s".into(),
        };
        assert_eq!(static_records(text), vec![expected]);
    }

    #[test]
    fn the_health_file_holds_the_put_log() {
        assert!(health_records().iter().any(|r| r.name == "TWIN:PUTLOG:LAST" && r.kind == "waveform"));
    }
}
