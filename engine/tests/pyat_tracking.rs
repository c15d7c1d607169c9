//! Tracker parity with pyAT: the same particles through the same lattice.
mod common;

use common::{assert_close, bessy2, floats, reference};
use twin_engine::integrators::Dynamics;
use twin_engine::tracking::track_particles;

fn check(label: &str, dynamics: Dynamics) {
    let lattice = bessy2();
    let r = &reference()["tracking"][label];
    let starts: Vec<[f64; 6]> = r["start"].as_array().unwrap().iter().map(|p| floats(p).try_into().unwrap()).collect();
    for (turns, key) in [(1, "one_turn"), (100, "hundred_turns")] {
        let ours = track_particles(&lattice, &starts, turns, dynamics);
        for (k, res) in ours.iter().enumerate() {
            let got = res.as_ref().expect("particle survives");
            let want = floats(&r[key][k]);
            // Coordinates are O(1e-3); agreement to 1e-12 m means the same
            // integrator, step for step.
            assert_close(&format!("{label} {key} particle {k}"), got, &want, 1e-12);
        }
    }
}

#[test]
fn four_d_tracking_matches_pyat() {
    check("four_d", Dynamics::FourD);
}

#[test]
fn six_d_radiation_tracking_matches_pyat() {
    check("six_d_radiation", Dynamics::SixDRadiation);
}
