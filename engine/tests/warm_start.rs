//! The warm-started recompute equals a cold solve after any sequence of
//! writes: steerer kicks, quadrupole trims, RF frequency steps, a
//! quadrupole set far enough to lose the orbit and its repair.
mod common;

use common::bessy2;
use proptest::prelude::*;
use twin_engine::integrators::Dynamics;
use twin_engine::lattice::{ElementId, ElementKind, Lattice, Plane};
use twin_engine::optics::{chromaticity_4d, linear_optics_4d, tunes_6d};
use twin_engine::recompute::{Memory, RingModel, recompute};
use twin_engine::tracking::orbit_along;

#[derive(Clone, Debug)]
enum Write {
    /// Steerer (index into the plane's steerers) to a kick [rad].
    Kick { plane: Plane, steerer: usize, rad: f64 },
    /// Quadrupole (index) to its design gradient × (1 + trim).
    Trim { quad: usize, trim: f64 },
    /// RF frequency step [Hz].
    Rf { step_hz: f64 },
    /// Quadrupole (index) at 10× its design gradient: no valid model.
    Break { quad: usize },
    /// Every quadrupole back to its design gradient.
    Repair,
}

fn write() -> impl Strategy<Value = Write> {
    prop_oneof![
        4 => (prop_oneof![Just(Plane::Horizontal), Just(Plane::Vertical)], 0..1000usize, -3e-4..3e-4f64)
            .prop_map(|(plane, steerer, rad)| Write::Kick { plane, steerer, rad }),
        2 => (0..1000usize, -0.01..0.01f64).prop_map(|(quad, trim)| Write::Trim { quad, trim }),
        1 => (-300.0..300.0f64).prop_map(|step_hz| Write::Rf { step_hz }),
    ]
}

/// Writes with an orbit-breaking setting and its repair somewhere inside.
fn sequence() -> impl Strategy<Value = Vec<Write>> {
    (
        prop::collection::vec(write(), 1..5),
        0..1000usize,
        prop::collection::vec(write(), 0..3),
        prop::collection::vec(write(), 1..4),
    )
        .prop_map(|(before, quad, during, after)| {
            let mut all = before;
            all.push(Write::Break { quad });
            all.extend(during);
            all.push(Write::Repair);
            all.extend(after);
            all
        })
}

fn quads(lattice: &Lattice) -> Vec<(ElementId, f64)> {
    lattice
        .elements()
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match &e.kind {
            ElementKind::Quadrupole(m) => Some((ElementId(i), m.body.polynom_b[1])),
            _ => None,
        })
        .collect()
}

fn apply(lattice: &mut Lattice, design: &[(ElementId, f64)], write: &Write) {
    match *write {
        Write::Kick { plane, steerer, rad } => {
            let all = lattice.steerers(plane);
            lattice.set_kick_rad(all[steerer % all.len()], plane, rad).unwrap();
        }
        Write::Trim { quad, trim } => {
            let (id, k) = design[quad % design.len()];
            lattice.set_polynom_b(id, 1, k * (1.0 + trim)).unwrap();
        }
        Write::Rf { step_hz } => {
            let f = lattice.rf_frequency_hz().unwrap();
            lattice.set_rf_frequency_hz(f + step_hz).unwrap();
        }
        Write::Break { quad } => {
            let (id, k) = design[quad % design.len()];
            lattice.set_polynom_b(id, 1, 10.0 * k).unwrap();
        }
        Write::Repair => {
            for &(id, k) in design {
                lattice.set_polynom_b(id, 1, k).unwrap();
            }
        }
    }
}

fn max_diff(a: impl IntoIterator<Item = f64>, b: impl IntoIterator<Item = f64>) -> f64 {
    a.into_iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// The warm model against the step-by-step solvers from zero.
fn assert_equals_cold(lattice: &Lattice, warm: &RingModel) -> Result<(), TestCaseError> {
    let six = tunes_6d(lattice, Dynamics::SixDRadiation, None).expect("cold 6D orbit");
    let along = orbit_along(lattice, &six.orbit.coords, Dynamics::SixDRadiation).expect("cold orbit along");
    let cold_orbit = std::iter::once(six.orbit.coords).chain(along);
    let d_orbit = max_diff(warm.orbit.iter().flatten().copied(), cold_orbit.flatten());
    prop_assert!(d_orbit <= 1e-12, "6D orbit differs by {d_orbit:.2e}");
    prop_assert!(max_diff(warm.tunes, six.tunes) <= 1e-11, "tunes {:?} vs {:?}", warm.tunes, six.tunes);
    let optics = linear_optics_4d(lattice, 0.0, None).expect("cold 4D optics");
    let d_four = max_diff(warm.optics.orbit.coords, optics.orbit.coords);
    prop_assert!(d_four <= 1e-12, "4D orbit differs by {d_four:.2e}");
    // relative: the sextupoles turn an orbit difference of 1e-13 m into a
    // β-beat of about 1e-10
    let d_beta = warm
        .optics
        .points
        .iter()
        .zip(&optics.points)
        .flat_map(|(w, c)| (0..2).map(move |p| (w.twiss[p].beta_m - c.twiss[p].beta_m).abs() / c.twiss[p].beta_m))
        .fold(0.0, f64::max);
    prop_assert!(d_beta <= 1e-9, "β differs by {d_beta:.2e} (relative)");
    let chromaticity = chromaticity_4d(lattice, 0.0, Some(&optics.orbit.coords)).expect("cold chromaticity");
    let d_chrom = max_diff(warm.chromaticity, chromaticity);
    prop_assert!(d_chrom <= 1e-6, "chromaticity {:?} vs {:?}", warm.chromaticity, chromaticity);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn warm_started_model_equals_a_cold_solve(writes in sequence()) {
        let mut lattice = bessy2();
        let design = quads(&lattice);
        let (_, mut memory) = recompute(&lattice, &Memory::default()).expect("design model");
        let mut broken_seen = false;
        for w in &writes {
            apply(&mut lattice, &design, w);
            let warm = recompute(&lattice, &memory);
            let cold = recompute(&lattice, &Memory::default());
            match (warm, cold) {
                (Ok((model, next)), Ok(_)) => {
                    assert_equals_cold(&lattice, &model)?;
                    memory = next;
                }
                (Err(warm), Err(cold)) => {
                    prop_assert_eq!(warm, cold);
                    broken_seen = true;
                }
                (warm, cold) => {
                    prop_assert!(false, "after {:?}: warm {:?} but cold {:?}", w, warm.map(|_| ()), cold.map(|_| ()))
                }
            }
        }
        prop_assert!(broken_seen, "the breaking setting left a valid model: {writes:?}");
    }
}
