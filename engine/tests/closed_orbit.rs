//! The closed-orbit search's options (issue "restructure"): the default is
//! the plain function, and the iteration limit and tolerance are the
//! caller's.
mod common;

use common::bessy2;
use twin_engine::integrators::Dynamics;
use twin_engine::lattice::{Lattice, Plane};
use twin_engine::newton::NewtonOptions;
use twin_engine::orbit::{OrbitError, closed_orbit_4d, closed_orbit_4d_with, closed_orbit_6d, closed_orbit_6d_with};

/// BESSY II with one steerer kicked: the orbit is not the design's zero.
fn kicked() -> Lattice {
    let mut lattice = bessy2();
    let s = lattice.find("S4M2D1R").unwrap();
    lattice.set_kick_rad(s, Plane::Horizontal, 3e-5).unwrap();
    lattice
}

#[test]
fn default_options_give_the_plain_functions_results() {
    let lattice = kicked();
    let options = NewtonOptions::default();
    assert_eq!(closed_orbit_4d_with(&lattice, 1e-3, None, &options), closed_orbit_4d(&lattice, 1e-3, None));
    let six = closed_orbit_6d_with(&lattice, Dynamics::SixDRadiation, None, &options);
    assert_eq!(six, closed_orbit_6d(&lattice, Dynamics::SixDRadiation, None));
    // F at Newton's last evaluation, a step below 1e-12 m before the orbit:
    // |F| ≤ ‖∂F/∂x‖·1e-12 (3e-12 here)
    assert!(six.unwrap().residual < 1e-11);
}

#[test]
fn one_iteration_is_not_enough_for_a_kicked_orbit() {
    let lattice = kicked();
    let one = NewtonOptions { max_iterations: 1, ..NewtonOptions::default() };
    for result in
        [closed_orbit_4d_with(&lattice, 0.0, None, &one), closed_orbit_6d_with(&lattice, Dynamics::SixD, None, &one)]
    {
        match result {
            Err(OrbitError::NotConverged { iterations: 1, step }) => assert!(step > 1e-12, "step {step:e}"),
            other => panic!("expected no convergence in one iteration, got {other:?}"),
        }
    }
}

#[test]
fn a_loose_tolerance_stops_earlier() {
    let lattice = kicked();
    let loose = NewtonOptions { tolerance: 1e-6, ..NewtonOptions::default() };
    let coarse = closed_orbit_6d_with(&lattice, Dynamics::SixDRadiation, None, &loose).unwrap();
    let fine = closed_orbit_6d(&lattice, Dynamics::SixDRadiation, None).unwrap();
    assert!(coarse.iterations < fine.iterations, "{} vs {}", coarse.iterations, fine.iterations);
    // the last step was below 1e-6 m: the orbits agree to about that
    let worst = coarse.coords.iter().zip(&fine.coords).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(worst < 1e-6, "{worst:e}");
}
