//! Access security: the groups a record belongs to (its ASG, set by the
//! record generator) and the access security file the twin loads, rendered
//! from the configuration (`[access]`, `TWIN_READONLY`). EPICS' own asLib
//! enforces it for Channel Access and (through QSRV2) PV Access; the write
//! trap and the put log hang off its TRAPWRITE rules.
use std::fmt::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::config::AccessConfig;

/// The access security group of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessGroup {
    /// Read by everyone, written by no client (readbacks, computed values).
    ReadOnly,
    /// The machine's controls: converters, RF, multiplexer, top-up, BBA
    /// runs, read-out settings — written by operators.
    Operate,
    /// The hidden truth (offsets) and clearing BBA results: read and
    /// written by instructors only.
    Instruct,
}

impl AccessGroup {
    /// The ASG name in the access security file and the records.
    pub fn asg(self) -> &'static str {
        match self {
            AccessGroup::ReadOnly => "DEFAULT",
            AccessGroup::Operate => "OPERATE",
            AccessGroup::Instruct => "INSTRUCT",
        }
    }
}

fn uag(out: &mut String, name: &str, users: &[String]) {
    let quoted: Vec<String> = users.iter().map(|u| format!("\"{u}\"")).collect();
    let _ = writeln!(out, "UAG({name}) {{ {} }}", quoted.join(", "));
}

/// The access security file for a configuration. Level 0 is the value
/// field, level 1 every other field (limits, links, DISA, SCAN, ...):
/// no client writes level 1. Every write rule traps (TRAPWRITE) so the
/// write checks and the put log see it. In read-only mode no rule writes.
pub fn render_acf(cfg: &AccessConfig) -> String {
    let write = if cfg.read_only { "READ" } else { "WRITE" };
    let mut out = String::from(
        "# Access security of the twin, rendered by twin-ioc from its configuration\n\
         # ([access] instructors/operators/read_only, TWIN_READONLY). Level 0: the value\n\
         # field; level 1: every other field (no client writes those).\n",
    );
    if cfg.read_only {
        out.push_str("# READ-ONLY MODE: no client may write anything.\n");
    }
    if !cfg.instructors.is_empty() {
        uag(&mut out, "INSTRUCTORS", &cfg.instructors);
    }
    if !cfg.operators.is_empty() {
        uag(&mut out, "OPERATORS", &cfg.operators);
    }
    out.push_str("\n# readbacks and computed values: read only\nASG(DEFAULT) {\n    RULE(1, READ)\n}\n");
    out.push_str("\n# the machine's controls: operators (everyone when no operators are configured)\nASG(OPERATE) {\n");
    match cfg.operators.is_empty() {
        true => {
            let _ = writeln!(out, "    RULE(0, {write}, TRAPWRITE)\n    RULE(1, READ)");
        }
        false => {
            let instructors = if cfg.instructors.is_empty() { "" } else { " UAG(INSTRUCTORS)" };
            let _ = writeln!(out, "    RULE(0, {write}, TRAPWRITE) {{ UAG(OPERATORS){instructors} }}");
            out.push_str("    RULE(1, READ)\n");
        }
    }
    out.push_str("}\n\n# the hidden truth: instructors only, for reading as well\nASG(INSTRUCT) {\n");
    if !cfg.instructors.is_empty() {
        let _ = writeln!(out, "    RULE(0, {write}, TRAPWRITE) {{ UAG(INSTRUCTORS) }}");
        out.push_str("    RULE(1, READ) { UAG(INSTRUCTORS) }\n");
    }
    out.push_str("}\n");
    out
}

/// The access security file st.cmd loads (`TWIN_ACF`): the configured
/// one (relative to `top`), else the one rendered from `cfg` into the
/// temporary directory.
pub fn acf_file(cfg: &AccessConfig, top: &Path) -> anyhow::Result<PathBuf> {
    if let Some(file) = &cfg.file {
        return Ok(top.join(file));
    }
    let path = std::env::temp_dir().join(format!("twin-ioc-{}.acf", std::process::id()));
    std::fs::write(&path, render_acf(cfg))
        .with_context(|| format!("writing the access security file {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(read_only: bool, operators: &[&str]) -> AccessConfig {
        AccessConfig {
            instructors: vec!["ada".into(), "max".into()],
            operators: operators.iter().map(|s| s.to_string()).collect(),
            read_only,
            file: None,
        }
    }

    #[test]
    fn instructors_alone_reach_the_hidden_truth() {
        let acf = render_acf(&cfg(false, &[]));
        assert!(acf.contains("UAG(INSTRUCTORS) { \"ada\", \"max\" }"), "{acf}");
        let instruct = acf.split("ASG(INSTRUCT)").nth(1).expect("INSTRUCT");
        assert!(instruct.contains("RULE(0, WRITE, TRAPWRITE) { UAG(INSTRUCTORS) }"), "{acf}");
        assert!(instruct.contains("RULE(1, READ) { UAG(INSTRUCTORS) }"), "{acf}");
        assert!(!acf.contains("RULE(1, WRITE"), "{acf}");
    }

    #[test]
    fn operators_are_everyone_unless_named() {
        let open = render_acf(&cfg(false, &[]));
        let operate = open.split("ASG(OPERATE)").nth(1).expect("OPERATE");
        assert!(operate.starts_with(" {\n    RULE(0, WRITE, TRAPWRITE)\n"), "{open}");
        let named = render_acf(&cfg(false, &["op1"]));
        assert!(named.contains("UAG(OPERATORS) { \"op1\" }"), "{named}");
        assert!(named.contains("RULE(0, WRITE, TRAPWRITE) { UAG(OPERATORS) UAG(INSTRUCTORS) }"), "{named}");
    }

    #[test]
    fn read_only_mode_writes_nothing() {
        let acf = render_acf(&cfg(true, &["op1"]));
        assert!(!acf.contains("WRITE,"), "{acf}");
        assert!(acf.contains("RULE(0, READ, TRAPWRITE)"), "{acf}");
    }
}
