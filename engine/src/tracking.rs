//! Tracking through the ring: one particle (any scalar type) with loss
//! detection, and many particles over many turns in parallel.
use std::ops::Range;

use rayon::prelude::*;

use crate::constants::SPEED_OF_LIGHT_M_PER_S;
use crate::coords::{Coords, is_lost};
use crate::integrators::{Dynamics, PassContext, TurnClock, pass};
use crate::lanes::Lanes;
use crate::lattice::{ElementId, Lattice};
use crate::real::Real;

/// Where a particle was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("particle lost at element {element:?} on turn {turn}")]
pub struct Lost {
    pub element: ElementId,
    pub turn: u64,
}

/// Pass context for `turn` of `lattice`.
pub fn context(lattice: &Lattice, dynamics: Dynamics, turn: u64) -> PassContext {
    PassContext::new(
        dynamics,
        lattice.energy_ev(),
        TurnClock { turn, t0_s: lattice.circumference_m() / SPEED_OF_LIGHT_M_PER_S },
    )
}

/// Tracks one turn, calling `observe(id, r)` after every element.
pub fn track_turn_observed<R: Real>(
    lattice: &Lattice,
    r: &mut Coords<R>,
    ctx: &PassContext,
    observe: impl FnMut(ElementId, &Coords<R>),
) -> Result<(), Lost> {
    track_elements_observed(lattice, 0..lattice.len(), r, ctx, observe)
}

/// Tracks through the elements `range` of one turn (a segment of the
/// ring), calling `observe(id, r)` after every element.
pub fn track_elements_observed<R: Real>(
    lattice: &Lattice,
    range: Range<usize>,
    r: &mut Coords<R>,
    ctx: &PassContext,
    mut observe: impl FnMut(ElementId, &Coords<R>),
) -> Result<(), Lost> {
    let first = range.start;
    for (k, el) in lattice.elements()[range].iter().enumerate() {
        let i = first + k;
        pass(el, r, ctx);
        if is_lost(&r.map(Real::value)) {
            return Err(Lost { element: ElementId(i), turn: ctx.clock.turn });
        }
        observe(ElementId(i), r);
    }
    Ok(())
}

/// Coordinates after every element of one turn from `start` (a closed
/// orbit start gives the closed orbit along the ring).
pub fn orbit_along(lattice: &Lattice, start: &Coords<f64>, dynamics: Dynamics) -> Result<Vec<Coords<f64>>, Lost> {
    let mut r = *start;
    let mut out = Vec::with_capacity(lattice.len());
    track_turn_observed(lattice, &mut r, &context(lattice, dynamics, 0), |_, p| out.push(*p))?;
    Ok(out)
}

/// Tracks one turn.
pub fn track_turn<R: Real>(lattice: &Lattice, r: &mut Coords<R>, ctx: &PassContext) -> Result<(), Lost> {
    track_turn_observed(lattice, r, ctx, |_, _| {})
}

/// Particles tracked together by one thread (`Lanes`): enough independent
/// chains to fill the pipelines, few enough to stay in registers.
pub const BATCH: usize = 4;

/// Tracks `particles` for `turns` turns: batches of `BATCH` particles in
/// parallel (rayon), each batch's particles together (`Lanes`). Each result
/// is the final coordinates or where the particle was lost. Results do not
/// depend on the number of threads or on the batching: every lane performs
/// exactly the operations of a scalar pass of its particle.
pub fn track_particles(
    lattice: &Lattice,
    particles: &[Coords<f64>],
    turns: u64,
    dynamics: Dynamics,
) -> Vec<Result<Coords<f64>, Lost>> {
    particles.par_chunks(BATCH).flat_map_iter(|batch| track_batch(lattice, batch, turns, dynamics)).collect()
}

/// Tracks up to `BATCH` particles as lanes of one number; a lost lane
/// keeps being computed (lanes are independent) but its loss is kept.
fn track_batch(
    lattice: &Lattice,
    batch: &[Coords<f64>],
    turns: u64,
    dynamics: Dynamics,
) -> Vec<Result<Coords<f64>, Lost>> {
    // unused lanes repeat the first particle
    let mut r: Coords<Lanes<BATCH>> =
        std::array::from_fn(|k| Lanes(std::array::from_fn(|lane| batch.get(lane).unwrap_or(&batch[0])[k])));
    let mut lost: [Option<Lost>; BATCH] = [None; BATCH];
    let mut live = batch.len();
    'turns: for turn in 0..turns {
        let ctx = context(lattice, dynamics, turn);
        for (i, el) in lattice.elements().iter().enumerate() {
            pass(el, &mut r, &ctx);
            for (lane, l) in lost.iter_mut().enumerate().take(batch.len()) {
                if l.is_none() && is_lost(&r.map(|c| c.0[lane])) {
                    *l = Some(Lost { element: ElementId(i), turn });
                    live -= 1;
                }
            }
            if live == 0 {
                break 'turns;
            }
        }
    }
    (0..batch.len()).map(|lane| lost[lane].map_or_else(|| Ok(r.map(|c| c.0[lane])), Err)).collect()
}
