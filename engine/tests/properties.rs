//! Invariants of the integrators and solvers (property tests) and an
//! independent, deliberately plain oracle tracker.
mod common;

use common::bessy2;
use nalgebra::{Complex, Matrix6};
use proptest::prelude::*;
use twin_engine::coords::{CONJUGATE_PAIRS, Coords};
use twin_engine::integrators::{Dynamics, PassContext, TurnClock, pass};
use twin_engine::jacobian::transverse;
use twin_engine::lattice::{Bend, Cavity, Element, ElementKind, MagnetBody, Misalignment, Multipole, Windings};
use twin_engine::optics::{OpticsError, linear_optics_4d};
use twin_engine::real::Dual;
use twin_engine::tracking::track_particles;

fn ctx(dynamics: Dynamics) -> PassContext {
    PassContext::new(dynamics, 1.7185e9, TurnClock { turn: 0, t0_s: 240.0 / 299_792_458.0 })
}

fn body(b: Vec<f64>, kick: [f64; 2], n_steps: usize) -> MagnetBody {
    let max_order = b.len() - 1;
    MagnetBody::new(vec![0.0; b.len()], b, max_order, n_steps, kick, true)
}

fn element(kind: ElementKind, m: Misalignment) -> Element {
    Element { name: "E".into(), group: None, kind, misalignment: m, windings: Windings::default() }
}

fn jacobian(el: &Element, r0: &Coords<f64>, dynamics: Dynamics) -> Matrix6<f64> {
    let mut r: Coords<Dual<6>> = std::array::from_fn(|i| Dual::seed(r0[i], i));
    pass(el, &mut r, &ctx(dynamics));
    Matrix6::from_fn(|i, j| r[i].d[j])
}

fn symplectic_form() -> Matrix6<f64> {
    let mut j = Matrix6::zeros();
    for (q, p) in CONJUGATE_PAIRS {
        j[(q, p)] = 1.0;
        j[(p, q)] = -1.0;
    }
    j
}

fn assert_symplectic(el: &Element, r0: &Coords<f64>, dynamics: Dynamics) {
    let m = jacobian(el, r0, dynamics);
    let j = symplectic_form();
    let err = (m.transpose() * j * m - j).amax();
    assert!(err < 1e-12, "{:?}: |MᵀJM − J| = {err:.2e}", el.kind);
}

/// Symplecticity of the transverse 4×4 block at fixed δ. AT's linear
/// dipole fringe (FringeBend method 1) makes the vertical edge focusing
/// depend on δ without the matching cτ term, so with a finite gap the map
/// is symplectic only in the transverse plane; the twin keeps AT's model
/// for parity with pyAT.
fn assert_transverse_symplectic(el: &Element, r0: &Coords<f64>) {
    let m = transverse(&jacobian(el, r0, Dynamics::FourD));
    let j = transverse(&symplectic_form());
    let err = (m.transpose() * j * m - j).amax();
    assert!(err < 1e-12, "{:?}: transverse |MᵀJM − J| = {err:.2e}", el.kind);
}

fn coords() -> impl Strategy<Value = Coords<f64>> {
    (-2e-3..2e-3f64, -2e-4..2e-4f64, -2e-3..2e-3f64, -2e-4..2e-4f64, -3e-3..3e-3f64, -1e-3..1e-3f64)
        .prop_map(|(a, b, c, d, e, f)| [a, b, c, d, e, f])
}

fn misalignment() -> impl Strategy<Value = Misalignment> {
    (-5e-4..5e-4f64, -5e-4..5e-4f64, -0.01..0.01f64).prop_map(|(dx_m, dy_m, roll_rad)| Misalignment {
        dx_m,
        dy_m,
        roll_rad,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_element_map_is_symplectic(
        r0 in coords(), m in misalignment(), k1 in -4.0..4.0f64, h in -50.0..50.0f64,
        kick in -1e-4..1e-4f64, angle in 0.01..0.3f64, e1 in -0.1..0.15f64,
    ) {
        let bend = |gap: f64| element(ElementKind::Dipole(Bend {
            length_m: 0.855, angle_rad: angle, entrance_angle_rad: e1, exit_angle_rad: angle / 2.0,
            full_gap_m: gap, fint_entrance: 0.5, fint_exit: 0.5, body: body(vec![0.0, k1 / 4.0], [0.0, 0.0], 10),
        }), m);
        let elements = vec![
            element(ElementKind::Drift { length_m: 0.7 }, Misalignment::default()),
            element(ElementKind::Quadrupole(Multipole { length_m: 0.3, body: body(vec![0.0, k1], [kick, 0.0], 10) }), m),
            element(ElementKind::Sextupole(Multipole { length_m: 0.16, body: body(vec![0.0, 0.0, h], [0.0, kick], 10) }), m),
            bend(0.0),
        ];
        assert_transverse_symplectic(&bend(0.05), &r0);
        for el in &elements {
            assert_symplectic(el, &r0, Dynamics::FourD);
        }
        let cavity = element(ElementKind::Cavity(Cavity {
            length_m: 0.3, voltage_v: 350e3, frequency_hz: 499.6e6, harmonic_number: 400.0, time_lag_m: 0.0125,
        }), Misalignment::default());
        assert_symplectic(&cavity, &r0, Dynamics::SixD);
    }

    #[test]
    fn zero_strength_magnet_equals_drift(r0 in coords()) {
        let drift = element(ElementKind::Drift { length_m: 0.5 }, Misalignment::default());
        for b in [vec![0.0, 0.0], vec![0.0, 0.0, 0.0]] {
            let quad = element(ElementKind::Quadrupole(Multipole { length_m: 0.5, body: body(b, [0.0, 0.0], 10) }), Misalignment::default());
            let (mut a, mut d) = (r0, r0);
            pass(&quad, &mut a, &ctx(Dynamics::FourD));
            pass(&drift, &mut d, &ctx(Dynamics::FourD));
            for i in 0..6 {
                prop_assert!((a[i] - d[i]).abs() < 1e-15, "coordinate {i}: {} vs {}", a[i], d[i]);
            }
        }
    }

    #[test]
    fn drift_then_negative_drift_is_identity(r0 in coords(), l in 0.01..5.0f64) {
        let mut r = r0;
        twin_engine::integrators::drift(&mut r, l);
        twin_engine::integrators::drift(&mut r, -l);
        for i in 0..6 {
            prop_assert!((r[i] - r0[i]).abs() < 1e-15);
        }
    }
}

/// A deliberately plain tracker for the 4D case: the field as an explicit
/// complex power sum, the splitting written out, no shared code with the
/// engine's kernels.
mod oracle {
    use super::*;

    const C1: f64 = 0.675_603_595_979_828_7;
    const C2: f64 = -0.175_603_595_979_828_7;
    const D1: f64 = 1.351_207_191_959_657_4;
    const D2: f64 = -1.702_414_383_919_315_3;

    fn drift(r: &mut [f64; 6], l: f64) {
        let p = 1.0 + r[4];
        r[0] += l * r[1] / p;
        r[2] += l * r[3] / p;
        r[5] += l * (r[1] * r[1] + r[3] * r[3]) / (2.0 * p * p);
    }

    fn field(b: &MagnetBody, length: f64, x: f64, y: f64) -> Complex<f64> {
        let z = Complex::new(x, y);
        let mut sum = Complex::new(0.0, 0.0);
        for n in 0..=b.max_order {
            let mut bn = b.polynom_b[n];
            let mut an = b.polynom_a[n];
            if n == 0 {
                bn -= b.kick_angle_rad()[0].sin() / length;
                an += b.kick_angle_rad()[1].sin() / length;
            }
            sum += Complex::new(bn, an) * z.powu(n as u32);
        }
        sum
    }

    fn body_pass(r: &mut [f64; 6], b: &MagnetBody, length: f64, irho: f64) {
        let h = length / b.n_steps as f64;
        let kick = |r: &mut [f64; 6], w: f64| {
            let f = field(b, length, r[0], r[2]);
            r[1] -= w * h * (f.re - (r[4] - r[0] * irho) * irho);
            r[3] += w * h * f.im;
            r[5] += w * h * irho * r[0];
        };
        for _ in 0..b.n_steps {
            drift(r, C1 * h);
            kick(r, D1);
            drift(r, C2 * h);
            kick(r, D2);
            drift(r, C2 * h);
            kick(r, D1);
            drift(r, C1 * h);
        }
    }

    fn edge(r: &mut [f64; 6], irho: f64, e: f64, fint: f64, gap: f64) {
        let corr = if fint * gap == 0.0 { 0.0 } else { irho * gap * fint * (1.0 + e.sin().powi(2)) / e.cos() };
        r[1] += r[0] * irho * e.tan();
        r[3] -= r[2] * irho * (e - corr / (1.0 + r[4])).tan();
    }

    pub fn track(el: &Element, r: &mut [f64; 6]) {
        let m = el.misalignment;
        r[0] -= m.dx_m;
        r[2] -= m.dy_m;
        match &el.kind {
            ElementKind::Drift { length_m } => drift(r, *length_m),
            ElementKind::Cavity(c) => drift(r, c.length_m),
            ElementKind::Quadrupole(q) | ElementKind::Sextupole(q) => body_pass(r, &q.body, q.length_m, 0.0),
            ElementKind::Dipole(d) => {
                let irho = d.angle_rad / d.length_m;
                edge(r, irho, d.entrance_angle_rad, d.fint_entrance, d.full_gap_m);
                body_pass(r, &d.body, d.length_m, irho);
                edge(r, irho, d.exit_angle_rad, d.fint_exit, d.full_gap_m);
            }
            ElementKind::Marker | ElementKind::Monitor => {}
        }
        r[0] += m.dx_m;
        r[2] += m.dy_m;
    }
}

#[test]
fn production_kernels_agree_with_the_plain_oracle() {
    let mut lattice = bessy2();
    let q = lattice.find("Q3M1D2R").unwrap();
    lattice.set_misalignment(q, Misalignment { dx_m: 1e-4, dy_m: -2e-4, roll_rad: 0.0 }).unwrap();
    let s = lattice.find("S4M2D1R").unwrap();
    lattice.set_kick_rad(s, twin_engine::lattice::Plane::Horizontal, 3e-5).unwrap();
    let starts = [[1e-3, 1e-5, -5e-4, 2e-5, 1e-3, 0.0], [-2e-3, 0.0, 1e-3, 0.0, -2e-3, 0.0]];
    let fast = track_particles(&lattice, &starts, 3, Dynamics::FourD);
    for (k, start) in starts.iter().enumerate() {
        let mut r = *start;
        for _ in 0..3 {
            lattice.elements().iter().for_each(|el| oracle::track(el, &mut r));
        }
        let got = fast[k].as_ref().unwrap();
        for i in 0..6 {
            assert!((got[i] - r[i]).abs() < 1e-12, "particle {k} coordinate {i}: {} vs oracle {}", got[i], r[i]);
        }
    }
}

#[test]
fn tracking_is_identical_for_one_and_two_threads() {
    let lattice = bessy2();
    let starts: Vec<Coords<f64>> = (0..16).map(|k| [1e-4 * k as f64, 0.0, -5e-5 * k as f64, 1e-6, 1e-4, 0.0]).collect();
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| track_particles(&lattice, &starts, 20, Dynamics::SixDRadiation))
    };
    let (one, two) = (run(1), run(2));
    for (a, b) in one.iter().zip(&two) {
        let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
        assert!(a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}

#[test]
fn particles_beyond_the_aperture_are_reported_lost() {
    let lattice = bessy2();
    let out = track_particles(
        &lattice,
        &[[0.05, 0.0, 0.0, 0.0, 0.0, 0.0], [1e-4, 0.0, 0.0, 0.0, 0.0, 0.0]],
        200,
        Dynamics::FourD,
    );
    let lost = out[0].as_ref().expect_err("5 cm amplitude is lost");
    assert!(lost.turn < 200);
    assert!(out[1].is_ok());
}

#[test]
fn unstable_setting_is_an_error_and_the_lattice_recovers() {
    let mut lattice = bessy2();
    let good = linear_optics_4d(&lattice, 0.0, None).unwrap();
    let q1: Vec<_> = (0..lattice.len())
        .map(twin_engine::lattice::ElementId)
        .filter(|&id| lattice.element(id).name.starts_with("Q1M"))
        .collect();
    let design: Vec<f64> = q1.iter().map(|&id| lattice.element(id).body().unwrap().polynom_b[1]).collect();
    for (&id, k1) in q1.iter().zip(&design) {
        lattice.set_polynom_b(id, 1, 3.0 * k1).unwrap();
    }
    match linear_optics_4d(&lattice, 0.0, None) {
        Err(OpticsError::Unstable { .. }) | Err(OpticsError::Orbit(_)) => {}
        other => panic!("expected an unstable lattice, got {other:?}"),
    }
    assert!(lattice.set_polynom_b(q1[0], 1, f64::NAN).is_err(), "non-finite strengths are refused");
    for (&id, k1) in q1.iter().zip(&design) {
        lattice.set_polynom_b(id, 1, *k1).unwrap();
    }
    let again = linear_optics_4d(&lattice, 0.0, None).unwrap();
    assert_eq!(again.tunes, good.tunes);
}

#[test]
fn batched_tracking_equals_the_scalar_pass_to_the_bit_and_keeps_each_loss() {
    let lattice = bessy2();
    // 7 particles: one batch and a partial one; two of them are lost
    let starts: Vec<Coords<f64>> = (0..7)
        .map(|k| match k {
            2 => [2e-2, 0.0, 0.0, 0.0, 0.0, 0.0],
            5 => [0.0, 0.0, 1.5e-2, 0.0, 0.0, 0.0],
            _ => [1e-4 * k as f64, 1e-6, -5e-5 * k as f64, 0.0, 1e-4 * k as f64, 0.0],
        })
        .collect();
    let turns = 10;
    let batched = track_particles(&lattice, &starts, turns, Dynamics::SixDRadiation);
    let mut lost = 0;
    for (start, got) in starts.iter().zip(&batched) {
        let mut r = *start;
        let scalar = (0..turns)
            .try_for_each(|turn| {
                twin_engine::tracking::track_turn(
                    &lattice,
                    &mut r,
                    &twin_engine::tracking::context(&lattice, Dynamics::SixDRadiation, turn),
                )
            })
            .map(|()| r);
        match (got, scalar) {
            (Ok(a), Ok(b)) => assert!(a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()), "{a:?} vs {b:?}"),
            (Err(a), Err(b)) => {
                assert_eq!(*a, b);
                lost += 1;
            }
            (a, b) => panic!("batched {a:?} vs scalar {b:?}"),
        }
    }
    assert_eq!(lost, 2, "the two large amplitudes are lost");
}
