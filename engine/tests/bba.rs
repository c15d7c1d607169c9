//! Beam-based alignment on the BESSY II lattice: the fit recovers hidden
//! quadrupole offsets from simulated orbit readings (issue 6): fixed-RF
//! orbits with radiation (what the twin's BPMs show), no noise, offsets of
//! 10–30 µm, the analyst's model steered onto the measured orbit.
mod common;

use common::bessy2;
use twin_engine::bba::{Step, fit};
use twin_engine::bba_model::bba_model;
use twin_engine::constants::electron_rigidity_tm;
use twin_engine::integrators::Dynamics;
use twin_engine::lattice::{ElementId, Lattice, Misalignment, Plane};
use twin_engine::orbit::closed_orbit_xy;
use twin_engine::orbit_match::{ANALYST_SINGULAR_CUT, Steering, match_orbit_6d};

/// Auxiliary winding: effective main-coil current per ampere of QSPAZR.
const AUX_TURNS_RATIO: f64 = -2.67857;
/// One measurement, the other quad's offset unknown to the analyst and the
/// orbit not corrected: the matched model leaves 0.07–0.28 µm (the issue
/// asks for 1 µm).
const TOLERANCE_M: f64 = 0.4e-6;

fn orbit_at_bpms(lattice: &Lattice, bpms: &[ElementId]) -> (Vec<f64>, Vec<f64>) {
    let [x, y] = closed_orbit_xy(lattice, Dynamics::SixDRadiation, None, bpms).unwrap();
    (x, y)
}

#[test]
fn bba_recovers_small_hidden_offsets_without_noise() {
    let design = bessy2();
    let bpms = design.bpms();
    let steering = Steering::new(&design, &bpms, ANALYST_SINGULAR_CUT).unwrap();
    let mut truth = design.clone();
    // (quad, dx, dy, magnetic strength of its calibration)
    let hidden = [("Q1M2D1R", 20e-6, -16e-6, 0.06393), ("Q4M2D5R", 10e-6, 24e-6, 0.060633)];
    for (name, dx, dy, _) in hidden {
        let q = truth.find(name).unwrap();
        truth.set_misalignment(q, Misalignment { dx_m: dx, dy_m: dy, roll_rad: 0.0 }).unwrap();
    }
    for (name, dx, dy, strength) in hidden {
        let dk1_per_a = AUX_TURNS_RATIO * strength / electron_rigidity_tm(design.energy_ev());
        let q = design.find(name).unwrap();
        let k0 = truth.element(q).body().unwrap().polynom_b[1];
        let (mut steps_x, mut steps_y) = (Vec::new(), Vec::new());
        for current in [0.0, -2.0, 0.0, 2.0, 0.0] {
            truth.set_polynom_b(q, 1, k0 + current * dk1_per_a).unwrap();
            let (x, y) = orbit_at_bpms(&truth, &bpms);
            steps_x.push(Step { current_a: current, readings: vec![x.clone(), x] });
            steps_y.push(Step { current_a: current, readings: vec![y.clone(), y] });
        }
        truth.set_polynom_b(q, 1, k0).unwrap();
        let mut analyst = design.clone();
        let as_set = design.clone();
        let measured = (&steps_x[0].readings[0], &steps_y[0].readings[0]);
        let reference = match_orbit_6d(&mut analyst, &bpms, [measured.0, measured.1], &steering).unwrap();
        let model = bba_model(&analyst, &as_set, &reference, q, dk1_per_a, &[0.0, -2.0, 2.0], &bpms).unwrap();
        let fits = fit(&model, &steps_x, &steps_y).unwrap();
        for (f, plane, want) in [(fits[0], Plane::Horizontal, dx), (fits[1], Plane::Vertical, dy)] {
            assert!(
                (f.offset_m - want).abs() < TOLERANCE_M,
                "{name} {plane:?}: fitted {:.3e} vs hidden {want:.3e} (d = {:.3e})",
                f.offset_m,
                f.displacement_m
            );
        }
    }
}
