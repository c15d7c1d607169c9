//! The committed operations artefacts (`ops/`) against the generator's
//! output for the BESSY II profile.
use std::path::PathBuf;

use twin_ioc::ops_cli::{DEFAULT_OUT, generate};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn committed_ops_artefacts_are_generated_from_the_profile() {
    let artefacts = generate(&root().join("config/bessy2/profile.toml")).expect("artefacts generate");
    assert!(!artefacts.is_empty());
    let stale: Vec<String> = artefacts
        .iter()
        .filter(|a| std::fs::read_to_string(root().join(DEFAULT_OUT).join(&a.path)).ok().as_deref() != Some(&a.text))
        .map(|a| a.path.display().to_string())
        .collect();
    assert!(
        stale.is_empty(),
        "{DEFAULT_OUT}/{{{}}} missing or stale: run `target/release/twin-ioc ops` in the repository root",
        stale.join(", ")
    );
}
