//! A warm start nearer than the last fixed point. The last computation's
//! pass along the ring (the orbit and the maps from the start to every
//! element's exit) and the lattice's record of which elements changed
//! since (`Lattice::changed_since`) give, to first order, F at the last
//! fixed point and ∂F/∂x there for the new settings: each changed element
//! is passed as it was and as it is from its entrance on the last orbit;
//! the differences of its exit point and its map, carried round the rest
//! of the ring by the recorded maps, are those of the one-turn map. One
//! Newton step with them starts the chord: the scalar pass that would only
//! have found F at the last fixed point is saved, and the corrected
//! Jacobian contracts faster (a quadrupole step changes ∂F/∂x itself).
use nalgebra::{Matrix6, Vector6};

use super::Fixed;
use crate::coords::Coords;
use crate::integrators::Dynamics;
use crate::jacobian::{Linearised, through_element};
use crate::lattice::Lattice;
use crate::tracking::context;

/// The last computation's 6D pass, at the lattice revision it was made at.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    pub revision: u64,
    /// From the fixed point: the map to the exit of every element.
    pub along: Vec<Linearised>,
}

/// The start and chord Jacobian for the settings of `lattice`, predicted
/// from the fixed point `fixed` of an earlier revision and its `trace`;
/// None when the changes are not on record (or there are none).
pub fn predicted(lattice: &Lattice, fixed: &Fixed<6>, trace: &Trace) -> Option<Fixed<6>> {
    let changes = lattice.changed_since(trace.revision)?;
    if changes.is_empty() || trace.along.len() != lattice.len() {
        return None;
    }
    let ctx = context(lattice, Dynamics::SixDRadiation, 0);
    let turn = trace.along.last()?.jacobian;
    let (mut df, mut dj) = (Vector6::zeros(), Matrix6::zeros());
    for (id, was) in changes {
        let k = id.0;
        let (entrance, to_entrance): (Coords<f64>, Matrix6<f64>) = match k.checked_sub(1) {
            None => (fixed.x.into(), Matrix6::identity()),
            Some(i) => (trace.along[i].coords.into(), trace.along[i].jacobian),
        };
        let (then, now) = (through_element(was, &ctx, entrance), through_element(lattice.element(id), &ctx, entrance));
        // from the element's exit to the end of the ring
        let rest = turn * trace.along[k].jacobian.try_inverse()?;
        df += rest * (now.coords - then.coords);
        dj += rest * (now.jacobian - then.jacobian) * to_entrance;
    }
    let jacobian = fixed.jacobian + dj;
    let step = jacobian.lu().solve(&(-df))?;
    step.iter().all(|v| v.is_finite()).then(|| Fixed { x: fixed.x + step, jacobian })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lattice::{Plane, bessy2};
    use crate::orbit::closed_orbit_6d;
    use crate::recompute::{Memory, recompute};

    #[test]
    fn the_prediction_lands_near_the_new_fixed_point() {
        let mut lattice = bessy2();
        let mut memory = recompute(&lattice, &Memory::default()).expect("model").1;
        let steerer = lattice.find("S4M2D1R").unwrap();
        let quad = lattice.find("Q1M1D1R").unwrap();
        let k1 = lattice.element(quad).body().unwrap().polynom_b[1];
        let writes: [&dyn Fn(&mut Lattice); 3] = [
            &|l| l.set_kick_rad(steerer, Plane::Horizontal, 2e-5).unwrap(),
            &|l| l.set_polynom_b(quad, 1, k1 * 1.002).unwrap(),
            // two elements in one computation
            &|l| {
                l.set_kick_rad(steerer, Plane::Vertical, -1e-5).unwrap();
                l.set_polynom_b(quad, 1, k1).unwrap();
            },
        ];
        for write in writes {
            write(&mut lattice);
            let (fixed, trace) = (memory.six_d.unwrap(), memory.trace.clone().unwrap());
            let guess = predicted(&lattice, &fixed, &trace).expect("the changes are on record");
            let root = Vector6::from(closed_orbit_6d(&lattice, Dynamics::SixDRadiation, None).unwrap().coords);
            let (before, after) = ((root - fixed.x).norm(), (root - guess.x).norm());
            assert!(after < 1e-2 * before, "{after:.2e} from the new fixed point, {before:.2e} before");
            memory = recompute(&lattice, &memory).expect("model").1;
        }
        // nothing changed: nothing to predict
        let (fixed, trace) = (memory.six_d.unwrap(), memory.trace.clone().unwrap());
        assert!(predicted(&lattice, &fixed, &trace).is_none());
    }
}
