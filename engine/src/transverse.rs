//! One turn of 4D dynamics at δ = 0 through the lattice's spans
//! (`lattice::Spans`): each run of affine elements is one affine map,
//! computed from its elements' passes (a dual-number pass) the first time
//! it is needed after a setting changed; sextupoles and higher orders are
//! integrated as always. The transverse coordinates equal those of
//! `tracking::track_turn` up to rounding (about 1e-15 relative); cτ is
//! not tracked. The closed-orbit searches at δ = 0 use it: the affine
//! runs (quadrupoles, dipoles, drifts) hold 60 % of the ring's kicks.
use crate::coords::{Coords, DELTA, TRANSVERSE, is_lost};
use crate::integrators::{Dynamics, PassContext, pass};
use crate::lattice::{Affine4, ElementId, Lattice, Span};
use crate::real::{Dual, Real};
use crate::tracking::{Lost, track_turn};

/// The affine map of the passes through `elements` at δ = 0 (4D).
fn affine_map(lattice: &Lattice, elements: std::ops::Range<usize>, ctx: &PassContext) -> Affine4 {
    let mut r: Coords<Dual<TRANSVERSE>> =
        std::array::from_fn(|i| if i < TRANSVERSE { Dual::seed(0.0, i) } else { Dual::cst(0.0) });
    for el in &lattice.elements()[elements] {
        pass(el, &mut r, ctx);
    }
    Affine4 { m: std::array::from_fn(|i| r[i].d), c: std::array::from_fn(|i| r[i].v) }
}

/// Applies `map` to the transverse coordinates of `r`.
#[inline]
fn apply<R: Real>(map: &Affine4, r: &mut Coords<R>) {
    let z: [R; TRANSVERSE] = std::array::from_fn(|i| r[i]);
    for (i, row) in map.m.iter().enumerate() {
        r[i] = z[0] * row[0] + z[1] * row[1] + (z[2] * row[2] + z[3] * row[3]) + map.c[i];
    }
}

/// Tracks one turn of 4D dynamics (`ctx`) through the spans when `r` is at
/// δ = 0, otherwise element by element (`track_turn`). A particle lost
/// inside an affine run is reported at the run's last element.
pub fn track_turn_4d<R: Real>(lattice: &Lattice, r: &mut Coords<R>, ctx: &PassContext) -> Result<(), Lost> {
    if ctx.dynamics != Dynamics::FourD || r[DELTA].value() != 0.0 {
        return track_turn(lattice, r, ctx);
    }
    for span in lattice.spans().iter() {
        let last = match span {
            Span::Affine { elements, map } => {
                apply(map.get_or_init(|| affine_map(lattice, elements.clone(), ctx)), r);
                elements.end - 1
            }
            Span::Element(i) => {
                pass(&lattice.elements()[*i], r, ctx);
                *i
            }
        };
        if is_lost(&r.map(Real::value)) {
            return Err(Lost { element: ElementId(last), turn: ctx.clock.turn });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lattice::{Misalignment, Plane, bessy2};
    use crate::tracking::context;

    fn both(lattice: &Lattice, start: Coords<f64>) -> (Coords<f64>, Coords<f64>) {
        let ctx = context(lattice, Dynamics::FourD, 0);
        let (mut a, mut b) = (start, start);
        track_turn(lattice, &mut a, &ctx).expect("element by element");
        track_turn_4d(lattice, &mut b, &ctx).expect("by spans");
        (a, b)
    }

    fn transverse_difference(a: &Coords<f64>, b: &Coords<f64>) -> f64 {
        (0..TRANSVERSE).map(|i| (a[i] - b[i]).abs()).fold(0.0, f64::max)
    }

    #[test]
    fn spans_give_the_element_passes_and_follow_settings() {
        let mut lattice = bessy2();
        let start = [1e-3, -2e-4, 5e-4, 1e-4, 0.0, 0.0];
        let (a, b) = both(&lattice, start);
        assert!(transverse_difference(&a, &b) < 1e-15, "{a:?} vs {b:?}");
        // a quadrupole's strength, a misalignment and a dipole error, each
        // after the maps were made: the spans follow
        let quad = lattice.find("Q4M2D1R").unwrap();
        lattice.set_polynom_b(quad, 1, 1.3).unwrap();
        let (a, b) = both(&lattice, start);
        assert!(transverse_difference(&a, &b) < 1e-15, "after the quad: {a:?} vs {b:?}");
        lattice.set_misalignment(quad, Misalignment { dx_m: 1e-4, dy_m: -5e-5, roll_rad: 1e-3 }).unwrap();
        let dipole = lattice.dipoles()[3];
        lattice.set_dipole_field_error(dipole, 1e-3).unwrap();
        lattice.set_kick_rad(lattice.find("S4M2D1R").unwrap(), Plane::Vertical, 2e-5).unwrap();
        let (a, b) = both(&lattice, start);
        assert!(transverse_difference(&a, &b) < 1e-15, "after the errors: {a:?} vs {b:?}");
        // off momentum: element by element
        let (a, b) = both(&lattice, [1e-3, 0.0, 0.0, 0.0, 1e-3, 0.0]);
        assert_eq!(a, b);
    }

    #[test]
    fn a_particle_lost_in_a_run_is_lost_at_its_end() {
        let lattice = bessy2();
        let ctx = context(&lattice, Dynamics::FourD, 0);
        let mut r = [0.0, 2.0, 0.0, 0.0, 0.0, 0.0];
        let lost = track_turn_4d(&lattice, &mut r, &ctx).unwrap_err();
        let first = lattice.spans().iter().next().unwrap();
        match first {
            Span::Affine { elements, .. } => assert_eq!(lost.element, ElementId(elements.end - 1)),
            Span::Element(i) => assert_eq!(lost.element, ElementId(*i)),
        }
    }
}
