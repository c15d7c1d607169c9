//! Validation against pyAT (accelerator-toolbox 0.9.0) on the BESSY II
//! lattice: tests/reference/pyat_bessy2.json, made by
//! tests/reference/make_pyat_reference.py. Tolerances are those of issue 3.
mod common;

use common::{assert_close, bessy2, floats, reference};
use twin_engine::coords::{CT, DELTA, X, Y};
use twin_engine::integrators::Dynamics;
use twin_engine::lattice::{Lattice, Misalignment, Plane};
use twin_engine::optics::{chromaticity_4d, linear_optics_4d, radiation_integrals, tunes_6d};
use twin_engine::orbit::closed_orbit_4d;
use twin_engine::orm::{Corrector, orbit_response};
use twin_engine::recompute::{Memory, recompute};

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

/// Steerer device name -> corrector (HS4M2D1R acts on S4M2D1R).
fn corrector(lattice: &Lattice, name: &str) -> Corrector {
    let plane = if name.starts_with('H') { Plane::Horizontal } else { Plane::Vertical };
    Corrector { element: lattice.find(&name[1..]).expect("steerer magnet"), plane }
}

#[test]
fn tunes_chromaticity_and_momentum_compaction() {
    let lattice = bessy2();
    let r = &reference()["linear_4d"];
    let optics = linear_optics_4d(&lattice, 0.0, None).unwrap();
    assert_close("fractional tunes", &optics.tunes, &floats(&r["tunes"]), 1e-6);
    assert_close("total tunes", &optics.tunes_total(), &floats(&r["tunes_total"]), 1e-6);
    // the reference numbers
    assert!((optics.tunes[0] - 0.848006).abs() < 1e-6 && (optics.tunes[1] - 0.726750).abs() < 1e-6);
    let chrom = chromaticity_4d(&lattice, 0.0, None).unwrap();
    assert_close("chromaticity", &chrom, &floats(&r["chromaticity"]), 2e-3);
    // the twin's model: the same tunes, the chromaticity without a step
    let (model, _) = recompute(&lattice, &Memory::default()).unwrap();
    assert_close("model tunes", &model.optics.tunes, &floats(&r["tunes"]), 1e-6);
    assert_close("model chromaticity", &model.chromaticity, &floats(&r["chromaticity"]), 2e-3);
    assert_close("model vs central difference", &model.chromaticity, &chrom, 1e-6);
    assert!(rel(optics.momentum_compaction, r["momentum_compaction"].as_f64().unwrap()) < 1e-5);
}

#[test]
fn optics_at_bpms() {
    let lattice = bessy2();
    let r = &reference()["linear_4d"];
    let optics = linear_optics_4d(&lattice, 0.0, None).unwrap();
    let bpms = lattice.bpms();
    assert_eq!(bpms.len(), 123);
    let at = |f: &dyn Fn(&twin_engine::optics::OpticsPoint) -> f64| -> Vec<f64> {
        bpms.iter().map(|&b| f(optics.at(b))).collect()
    };
    assert_close("s", &at(&|p| p.s_m), &floats(&r["s"]), 1e-9);
    for (key, plane) in [("beta_x", 0), ("beta_y", 1)] {
        let ours = at(&|p| p.twiss[plane].beta_m);
        let want = floats(&r[key]);
        let worst = ours.iter().zip(&want).map(|(a, b)| rel(*a, *b)).fold(0.0, f64::max);
        assert!(worst < 1e-5, "{key}: worst relative error {worst:.2e}");
    }
    assert_close("alpha_x", &at(&|p| p.twiss[0].alpha), &floats(&r["alpha_x"]), 1e-4);
    assert_close("alpha_y", &at(&|p| p.twiss[1].alpha), &floats(&r["alpha_y"]), 1e-4);
    assert_close("mu_x", &at(&|p| p.mu_rad[0]), &floats(&r["mu_x"]), 1e-5);
    assert_close("mu_y", &at(&|p| p.mu_rad[1]), &floats(&r["mu_y"]), 1e-5);
    assert_close("eta_x", &at(&|p| p.dispersion[0]), &floats(&r["eta_x"]), 1e-5);
}

/// Orbit agreement: 1e-3 relative to the largest excursion, and 1e-9 m.
fn assert_orbit(what: &str, ours: &[f64], want: &[f64]) {
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(scale > 1e-6, "{what}: reference orbit too small to test ({scale:.1e} m)");
    assert_close(what, ours, want, (1e-3 * scale).max(1e-9));
    assert_close(&format!("{what} (absolute)"), ours, want, 1e-9);
}

/// The 4D closed orbit at the BPMs against the reference's "x" and "y".
fn assert_bpm_orbit(what: &str, lattice: &Lattice, r: &serde_json::Value) {
    let optics = linear_optics_4d(lattice, 0.0, None).unwrap();
    let bpms = lattice.bpms();
    for (k, key) in [(X, "x"), (Y, "y")] {
        let ours: Vec<f64> = bpms.iter().map(|&b| optics.at(b).orbit[k]).collect();
        assert_orbit(&format!("{key} with {what}"), &ours, &floats(&r[key]));
    }
}

#[test]
fn closed_orbit_with_steerer_kicks() {
    let mut lattice = bessy2();
    let r = &reference()["orbit_kicks"];
    for (name, kick) in r["kicks_rad"].as_object().unwrap() {
        let c = corrector(&lattice, name);
        lattice.set_kick_rad(c.element, c.plane, kick.as_f64().unwrap()).unwrap();
    }
    assert_bpm_orbit("kicks", &lattice, r);
}

#[test]
fn closed_orbit_with_quadrupole_offset() {
    let mut lattice = bessy2();
    let r = &reference()["orbit_quad_offset"];
    let q = lattice.find(r["quad"].as_str().unwrap()).unwrap();
    let m = Misalignment { dx_m: r["dx_m"].as_f64().unwrap(), dy_m: r["dy_m"].as_f64().unwrap(), roll_rad: 0.0 };
    lattice.set_misalignment(q, m).unwrap();
    assert_bpm_orbit("quad offset", &lattice, r);
}

#[test]
fn orbit_response_matrix() {
    let lattice = bessy2();
    let r = &reference()["orm"];
    let names: Vec<&str> = r["correctors"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(names.len(), 112);
    let correctors: Vec<Corrector> = names.iter().map(|n| corrector(&lattice, n)).collect();
    let optics = linear_optics_4d(&lattice, 0.0, None).unwrap();
    let orm = orbit_response(&lattice, &optics, &correctors, &lattice.bpms()).unwrap();
    let largest = orm.x.amax().max(orm.y.amax());
    for (j, name) in names.iter().enumerate() {
        let wx = floats(&r["x_by_corrector"][j]);
        let wy = floats(&r["y_by_corrector"][j]);
        let ox: Vec<f64> = orm.x.column(j).iter().copied().collect();
        let oy: Vec<f64> = orm.y.column(j).iter().copied().collect();
        assert_close(&format!("ORM x column {name}"), &ox, &wx, 1e-4 * largest);
        assert_close(&format!("ORM y column {name}"), &oy, &wy, 1e-4 * largest);
    }
}

#[test]
fn radiation_integrals_energy_loss_and_emittance() {
    let lattice = bessy2();
    let r = &reference()["radiation"];
    let optics = linear_optics_4d(&lattice, 0.0, None).unwrap();
    let rad = radiation_integrals(&lattice, &optics);
    for (n, key) in ["i1", "i2", "i3", "i4", "i5"].iter().enumerate() {
        let want = r[key].as_f64().unwrap();
        assert!(rel(rad.integrals.i[n], want) < 1e-4, "{key}: {} vs {want}", rad.integrals.i[n]);
    }
    assert!(rel(rad.energy_loss_ev, r["energy_loss_ev"].as_f64().unwrap()) < 1e-3);
    assert!(rel(rad.emittance_m, r["emittance_m"].as_f64().unwrap()) < 1e-3);
    assert!(rel(rad.energy_spread, r["energy_spread"].as_f64().unwrap()) < 1e-3);
    // the reference numbers: 7.64 nm rad, 182.7 keV
    assert!((rad.emittance_m - 7.64e-9).abs() < 0.01e-9);
    assert!((rad.energy_loss_ev - 182.7e3).abs() < 0.1e3);
}

#[test]
fn six_d_tunes_and_orbit() {
    let lattice = bessy2();
    let root = reference();
    for (key, dynamics) in [("six_d", Dynamics::SixD), ("six_d_radiation", Dynamics::SixDRadiation)] {
        let r = &root[key];
        let six = tunes_6d(&lattice, dynamics, None).unwrap();
        let want = floats(&r["tunes"]);
        for (p, (got, want)) in six.tunes.iter().zip(&want).enumerate() {
            assert!(rel(*got, *want) < 1e-3, "{key} tune {p}: {got} vs {want}");
        }
        let o = floats(&r["orbit0"]);
        assert_close(&format!("{key} orbit (x, px, y, py, δ)"), &six.orbit.coords[..CT], &o[..CT], 1e-9);
    }
    // Energy loss from tracking: δ lost in one turn at the 6D orbit, through
    // the cavity's energy gain, matches U0 of pyAT.
    let u0 = root["six_d_radiation"]["energy_loss_ev"].as_f64().unwrap();
    assert!((u0 - 182.7e3).abs() < 0.1e3);
}

#[test]
fn rf_frequency_shift_moves_the_6d_orbit_by_dispersion() {
    let mut lattice = bessy2();
    let r = &reference()["six_d"];
    let f0 = lattice.rf_frequency_hz().unwrap();
    let base = twin_engine::orbit::closed_orbit_6d(&lattice, Dynamics::SixD, None).unwrap();
    lattice.set_rf_frequency_hz(f0 + r["rf_shift_hz"].as_f64().unwrap()).unwrap();
    let shifted = twin_engine::orbit::closed_orbit_6d(&lattice, Dynamics::SixD, None).unwrap();
    let want = r["delta_after_shift"].as_f64().unwrap();
    assert!(rel(shifted.coords[DELTA], want) < 1e-6, "δ {} vs {want}", shifted.coords[DELTA]);
    assert!(base.coords[DELTA].abs() < 1e-9);
    let _ = closed_orbit_4d(&lattice, 0.0, None).unwrap();
}
