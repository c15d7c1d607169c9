//! Coupled optics and the equilibrium envelope against pyAT 0.9.0
//! (`linopt6`, `ohmi_envelope`, `envelope_parameters`) on the BESSY II
//! lattice: tests/reference/pyat_bessy2_coupled.json, made by
//! tests/reference/make_pyat_coupled_reference.py (every quadrupole rolled,
//! skew components on every eighth sextupole, seed 16). Tolerances of
//! issue 16: tunes 1e-6, β 1e-4 relative, emittances 1e-3 relative.
mod common;

use common::{assert_close, bessy2, floats, repo_root};
use twin_engine::integrators::Dynamics;
use twin_engine::jacobian::{along_ring_4d, transverse};
use twin_engine::lattice::{ElementId, Lattice, Misalignment};
use twin_engine::optics::{Envelope, NormalModes, envelope};
use twin_engine::orbit::{closed_orbit_4d, closed_orbit_6d};
use twin_engine::tracking::context;

fn reference() -> serde_json::Value {
    let path = repo_root().join("tests/reference/pyat_bessy2_coupled.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("reference file")).expect("reference JSON")
}

/// The lattice with the reference's rolls and skew components.
fn with_errors(r: &serde_json::Value) -> Lattice {
    let mut lattice = bessy2();
    for e in r["rolls"].as_array().expect("rolls") {
        let id = ElementId(e["index"].as_u64().expect("index") as usize);
        assert_eq!(lattice.element(id).name, e["name"].as_str().expect("name"));
        let roll = Misalignment { dx_m: 0.0, dy_m: 0.0, roll_rad: e["roll_rad"].as_f64().expect("roll") };
        lattice.set_misalignment(id, roll).expect("finite");
    }
    for e in r["skews"].as_array().expect("skews") {
        let id = ElementId(e["index"].as_u64().expect("index") as usize);
        assert_eq!(lattice.element(id).name, e["name"].as_str().expect("name"));
        lattice.set_polynom_a(id, 1, e["polynom_a1"].as_f64().expect("a1")).expect("order 1");
    }
    lattice
}

fn rel_worst(ours: &[f64], want: &[f64]) -> f64 {
    assert_eq!(ours.len(), want.len());
    ours.iter().zip(want).map(|(a, b)| (a - b).abs() / b.abs()).fold(0.0, f64::max)
}

/// Mode tunes and the β of both modes at the BPMs (4D, δ = 0).
fn modes_at_bpms(lattice: &Lattice) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let orbit = closed_orbit_4d(lattice, 0.0, None).expect("4D orbit");
    let maps = along_ring_4d(lattice, &orbit.coords, &context(lattice, Dynamics::FourD, 0)).expect("maps");
    let one_turn = transverse(&maps.last().expect("elements").jacobian);
    let modes = NormalModes::<4>::of(&one_turn).expect("stable");
    // a BPM has no length: the map to its exit is the map to it
    let betas: Vec<[f64; 2]> = lattice.bpms().iter().map(|b| modes.betas(&transverse(&maps[b.0].jacobian))).collect();
    (modes.tunes.clone(), betas.iter().map(|b| b[0]).collect(), betas.iter().map(|b| b[1]).collect())
}

fn check_modes(what: &str, lattice: &Lattice, r: &serde_json::Value) {
    let (tunes, beta_1, beta_2) = modes_at_bpms(lattice);
    assert_close(&format!("{what}: mode tunes"), &tunes, &floats(&r["tunes"]), 1e-6);
    let want_tunes = floats(&r["tunes"]);
    eprintln!("{what}: mode tunes {tunes:?}, |diff| {:.1e} {:.1e}", tunes[0] - want_tunes[0], tunes[1] - want_tunes[1]);
    for (key, ours) in [("beta_1", &beta_1), ("beta_2", &beta_2)] {
        let worst = rel_worst(ours, &floats(&r[key]));
        eprintln!("{what}: {key} at {} BPMs, worst relative error {worst:.1e}", ours.len());
        assert!(worst < 1e-4, "{what}: {key} worst relative error {worst:.2e}");
    }
}

fn envelope_of(lattice: &Lattice) -> Envelope {
    let orbit = closed_orbit_6d(lattice, Dynamics::SixDRadiation, None).expect("6D orbit");
    envelope(lattice, &orbit.coords).expect("envelope")
}

fn check_envelope(what: &str, env: &Envelope, r: &serde_json::Value) {
    for (key, ours) in
        [("mode_emittances_m", env.mode_emittances_m), ("projected_emittances_m", env.projected_emittances_m)]
    {
        let want = floats(&r[key]);
        for (k, (a, b)) in ours.iter().zip(&want).enumerate() {
            eprintln!("{what}: {key}[{k}] {a:.6e} (pyAT {b:.6e})");
            if *b > 1e-20 {
                assert!((a - b).abs() / b < 1e-3, "{what}: {key}[{k}] {a:.6e} vs pyAT {b:.6e}");
            } else {
                assert!(*a < 1e-20, "{what}: {key}[{k}] {a:.3e} where pyAT has none");
            }
        }
    }
}

#[test]
fn the_ideal_ring_has_pyats_normal_modes_and_emittance() {
    let r = reference();
    let lattice = bessy2();
    check_modes("ideal", &lattice, &r["ideal"]["linopt6_4d"]);
    let env = envelope_of(&lattice);
    check_envelope("ideal", &env, &r["ideal"]["envelope"]);
    assert!((env.mode_emittances_m[0] / 7.72e-9 - 1.0).abs() < 1e-3, "{:.5e}", env.mode_emittances_m[0]);
    let six_d = NormalModes::<6>::of(&env.one_turn).expect("stable");
    assert_close("ideal: 6D tunes", &six_d.tunes, &floats(&r["ideal"]["envelope"]["tunes_6d"]), 1e-6);
}

#[test]
fn rolls_and_skew_components_couple_the_optics_as_in_pyat() {
    let r = reference();
    let lattice = with_errors(&r);
    check_modes("errors", &lattice, &r["errors"]["linopt6_4d"]);
}

#[test]
fn rolled_quadrupoles_give_pyats_vertical_emittance() {
    let r = reference();
    let lattice = with_errors(&r);
    let env = envelope_of(&lattice);
    check_envelope("errors", &env, &r["errors"]["envelope"]);
    assert!(env.mode_emittances_m[1] > 1e-11, "a vertical emittance: {:.3e}", env.mode_emittances_m[1]);
    let six_d = NormalModes::<6>::of(&env.one_turn).expect("stable");
    assert_close("errors: 6D tunes", &six_d.tunes, &floats(&r["errors"]["envelope"]["tunes_6d"]), 1e-6);
}
