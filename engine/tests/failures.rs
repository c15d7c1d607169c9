//! Bad input gives typed errors, not panics or silent stand-ins (issue
//! "restructure").
mod common;

use common::bessy2;
use twin_engine::bba::BbaError;
use twin_engine::bba_model::reference_6d;
use twin_engine::lattice::{ElementId, Lattice, Plane};
use twin_engine::optics::{OpticsError, linear_optics_4d};
use twin_engine::orbit::OrbitError;
use twin_engine::orbit_match::{ANALYST_SINGULAR_CUT, Steering, match_orbit_6d};
use twin_engine::orm::{Corrector, orbit_response};

#[test]
fn an_empty_lattice_has_no_optics() {
    let empty = Lattice::new("empty", 1.7e9, Vec::new());
    assert_eq!(linear_optics_4d(&empty, 0.0, None), Err(OpticsError::Orbit(OrbitError::Singular)));
    assert!(matches!(reference_6d(&empty, None), Err(OpticsError::Orbit(OrbitError::NoCavity))));
}

#[test]
fn a_drift_is_no_corrector() {
    let lattice = bessy2();
    let optics = linear_optics_4d(&lattice, 0.0, None).unwrap();
    let drift = (0..lattice.len()).map(ElementId).find(|&id| lattice.element(id).body().is_none()).unwrap();
    let name = lattice.element(drift).name.clone();
    let result = orbit_response(&lattice, &optics, &[Corrector { element: drift, plane: Plane::Horizontal }], &[]);
    assert_eq!(result, Err(OpticsError::NotACorrector(name)));
}

#[test]
fn orbit_matching_checks_its_inputs() {
    let design = bessy2();
    let bpms = design.bpms();
    assert!(matches!(Steering::new(&design, &[], ANALYST_SINGULAR_CUT), Err(BbaError::NoBpms)));
    let steering = Steering::new(&design, &bpms, ANALYST_SINGULAR_CUT).unwrap();
    let zeros = vec![0.0; bpms.len()];
    let short = &zeros[1..];
    let mut lattice = design.clone();
    let inconsistent = |r: Result<_, BbaError>| matches!(r, Err(BbaError::Inconsistent(_)));
    assert!(inconsistent(match_orbit_6d(&mut lattice, &bpms, [&zeros, short], &steering)));
    assert!(inconsistent(match_orbit_6d(&mut lattice, &bpms[1..], [short, short], &steering)));
    assert!(match_orbit_6d(&mut lattice, &bpms, [&zeros, &zeros], &steering).is_ok());
}
