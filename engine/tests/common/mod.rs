//! Shared helpers of the engine's integration tests.
#![allow(dead_code)]
use std::path::PathBuf;

use twin_engine::lattice::{Lattice, from_lat2db_json};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The BESSY II lattice from config/ (the data the twin serves).
pub fn bessy2() -> Lattice {
    let path = repo_root().join("config/bessy2/bessy2_storage_ring_reflat.json");
    let text = std::fs::read_to_string(&path).expect("lattice file");
    from_lat2db_json("BESSY II", &text).expect("valid lattice")
}

/// The committed pyAT reference (tests/reference/make_pyat_reference.py).
pub fn reference() -> serde_json::Value {
    let path = repo_root().join("tests/reference/pyat_bessy2.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("reference file")).expect("reference JSON")
}

pub fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number")).collect()
}

/// Asserts |a − b| <= tol for every element, naming the worst index.
pub fn assert_close(what: &str, a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    let (i, err) = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .enumerate()
        .fold((0, 0.0), |acc, (i, e)| if e > acc.1 { (i, e) } else { acc });
    assert!(err <= tol, "{what}: worst |diff| {err:.3e} at [{i}] ({} vs {}) > tol {tol:.1e}", a[i], b[i]);
}
