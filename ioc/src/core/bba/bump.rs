//! The bump variant of the measurement (a documented option, off by
//! default): when the beam passes a quad far from its centre, the measured
//! displacement d is large and any relative error of the model's response
//! (the optics a distorted orbit sees through the sextupoles) becomes an
//! absolute error of the centre; on an orbit of millimetres, the quad's
//! steps themselves can leave the machine without a closed orbit. BBA as
//! commonly done moves the beam onto the quad first with a local orbit
//! bump of the nearest steerers. The twin's variant first moves the beam
//! onto the zero of the quad's nearest BPM, measures, bumps the beam by −d
//! (after the first bump, over the response the last one showed:
//! `Bump::ask`), and measures again until the beam passes within
//! `SETTLED_M` of the centre (at most `MAX_BUMPS` bumps after the first
//! move), then restores the steerers. The steerers are written through
//! the same path as a client's writes, each within its drive limits (where
//! they bind, the beam passes closer to the centre, not through it).
use nalgebra::{DMatrix, DVector};
use twin_engine::bba::BbaError;
use twin_engine::lattice::{ElementId, Lattice, Plane};
use twin_engine::optics::linear_optics_4d;
use twin_engine::orm::{Corrector, orbit_response};

use super::Hardware;
use crate::machine::{PcId, PowerConverter, QuadId, Schema, Setpoint};

/// The beam passes this close to the quad's centre: no (further) bump [m].
pub const SETTLED_M: f64 = 5e-6;
/// Bumps per quad at most (each one more measurement).
pub const MAX_BUMPS: usize = 3;
/// Steering converters each side of the quad, per plane.
const EACH_SIDE: usize = 3;
/// A bump the steerers' limits cut to less than this fraction is not made.
const MIN_FRACTION: f64 = 0.1;
/// A bump moving the beam further than this is planned on the machine as
/// the beam sees it (the analyst's model steered onto the orbit read),
/// whose optics a distorted orbit changes through the sextupoles [m].
pub const FAR_M: f64 = 0.5e-3;
/// Largest move of the beam at the quad per batch of a bump [m].
const STEP_M: f64 = 0.25e-3;
/// Weight of the target row against the BPM rows outside the bump: where
/// the limits bind, the bump stays closed rather than reach the target.
const TARGET_WEIGHT: f64 = 0.1;

/// A bump in place: the converters' currents before it [A] and the
/// lattice kicks it added [rad] (the refits add them to the analyst's
/// model of the machine as set afterwards).
#[derive(Clone, Debug, PartialEq)]
pub struct Bump {
    pub before_a: Vec<(PcId, f64)>,
    pub kicks: Vec<(ElementId, Plane, f64)>,
    /// Bumps applied so far for this quad (after the move onto its BPM).
    pub count: usize,
    /// The beam was moved onto the quad's nearest BPM before the first
    /// measurement.
    pub centred: bool,
    /// The measurement of this quad whose beam passed nearest to the
    /// centre so far, with the kicks in place while it was taken.
    pub best: Option<Best>,
    /// The last bump: the displacement (x, y) measured before it and the
    /// move its plan predicted [m].
    pub last: Option<([f64; 2], [f64; 2])>,
    /// How much of a planned move the beam made, per plane (1 until a bump
    /// has shown otherwise): far off-axis the planned response is off.
    pub gain: [f64; 2],
}

/// A measurement of the bump sequence: its readings, fits and kicks, and
/// how far the beam passed from the centre (the larger plane's |d|) [m].
#[derive(Clone, Debug, PartialEq)]
pub struct Best {
    pub distance_m: f64,
    pub x: Vec<twin_engine::bba::Step>,
    pub y: Vec<twin_engine::bba::Step>,
    pub fits: [super::PlaneFit; 2],
    pub kicks: Vec<(ElementId, Plane, f64)>,
}

impl Default for Bump {
    /// No bump: nothing applied or learnt.
    fn default() -> Self {
        Self {
            before_a: Vec::new(),
            kicks: Vec::new(),
            count: 0,
            centred: false,
            best: None,
            last: None,
            gain: [1.0; 2],
        }
    }
}

impl Bump {
    /// Keeps a measurement if its beam passed nearer the centre than the
    /// best so far.
    pub fn keep(&mut self, candidate: Best) {
        if self.best.as_ref().is_none_or(|b| candidate.distance_m < b.distance_m) {
            self.best = Some(candidate);
        }
    }

    /// The move that should bring the beam from displacement `d_m` onto
    /// the centre, in planned metres: −d over what the bumps so far showed
    /// of the planned response (learnt here from the last bump, `last`).
    pub fn ask(&mut self, d_m: [f64; 2]) -> [f64; 2] {
        if let Some((before, planned)) = self.last.take() {
            for p in 0..2 {
                // a plane the bump hardly moved tells nothing
                let gain = (d_m[p] - before[p]) / planned[p];
                if planned[p].abs() > LEARN_M && (MIN_GAIN..=1.0 / MIN_GAIN).contains(&gain) {
                    self.gain[p] = gain;
                }
            }
        }
        [0, 1].map(|p| -d_m[p] / self.gain[p])
    }
}

/// A planned move shorter than this teaches nothing of the response [m].
const LEARN_M: f64 = 20e-6;

/// The learnt response stays within [MIN_GAIN, 1/MIN_GAIN] of the plan's.
const MIN_GAIN: f64 = 0.2;

/// A bump's current changes [A] and how far it moves the beam at the
/// quad's centre (x, y) [m], to first order.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub delta_a: Vec<(PcId, f64)>,
    pub shift_m: [f64; 2],
}

/// The bump that moves the orbit at the centre of `quad` by `shift_m`
/// (x, y) with the `EACH_SIDE` steering converters of each plane nearest
/// upstream and downstream, and as little as it can at the BPMs outside
/// it, to first order in `lattice` (the machine as the bump is planned on);
/// `now_a` gives each converter's present current. Among the bumps that
/// do that, the one with the smallest currents, each converter within
/// its limits (where they bind, the beam moves less than asked and the
/// bump leaks a little outside, not through the quad).
pub fn plan(
    lattice: &Lattice,
    schema: &Schema,
    quad: QuadId,
    shift_m: [f64; 2],
    now_a: impl Fn(PcId) -> f64,
) -> Result<Plan, BbaError> {
    let optics = linear_optics_4d(lattice, 0.0, None)?;
    let centre = schema.quad_element(quad);
    let n = lattice.len();
    // distance downstream from the quad, in elements (around the ring)
    let after = |e: ElementId| (e.0 + n - centre.0) % n;
    let mut out = Plan { delta_a: Vec::new(), shift_m: [0.0; 2] };
    for plane in [Plane::Horizontal, Plane::Vertical] {
        // converters are built from their magnets: each has one
        let first = |pc: &PowerConverter| after(pc.magnets[0].element);
        let mut all: Vec<&PowerConverter> = schema.steering_converters(plane).collect();
        all.sort_by_key(|pc| first(pc));
        if all.len() < 2 * EACH_SIDE {
            return Err(BbaError::Inconsistent(format!("{} steerers for a bump in {plane:?}", all.len())));
        }
        let mut chosen: Vec<&PowerConverter> = all.drain(..EACH_SIDE).collect();
        chosen.extend(all.drain(all.len() - EACH_SIDE..));
        // BPMs outside the bump: beyond the downstream steerers (the first
        // EACH_SIDE) and before the upstream ones (the last)
        let (end, start) = (first(chosen[EACH_SIDE - 1]), first(chosen[EACH_SIDE]));
        let outside: Vec<ElementId> =
            lattice.bpms().into_iter().filter(|b| after(*b) > end && after(*b) < start).collect();
        let mut observed = vec![centre, ElementId((centre.0 + 1) % n)];
        observed.extend(&outside);
        // every magnet of the chosen converters: its converter's column and rad/A
        let magnets: Vec<(usize, ElementId, f64)> = chosen
            .iter()
            .enumerate()
            .flat_map(|(j, pc)| pc.magnets.iter().map(move |m| (j, m.element, m.strength(1.0, schema.rigidity_tm))))
            .collect();
        let correctors: Vec<Corrector> = magnets.iter().map(|&(_, element, _)| Corrector { element, plane }).collect();
        let response = orbit_response(lattice, &optics, &correctors, &observed)?;
        let m = if plane == Plane::Horizontal { response.x } else { response.y };
        // rows: the quad's centre (the mean of its entrance and exit), the
        // BPMs outside, then one per converter for the smallest currents
        let rows = observed.len() - 1;
        let mut a = DMatrix::zeros(rows + chosen.len(), chosen.len());
        for (k, &(j, _, rad_per_a)) in magnets.iter().enumerate() {
            a[(0, j)] += TARGET_WEIGHT * 0.5 * (m[(0, k)] + m[(1, k)]) * rad_per_a;
            for i in 2..observed.len() {
                a[(i - 1, j)] += m[(i, k)] * rad_per_a;
            }
        }
        for j in 0..chosen.len() {
            a[(rows + j, j)] = CURRENT_WEIGHT_M_PER_A;
        }
        let mut b = DVector::zeros(a.nrows());
        b[0] = TARGET_WEIGHT * shift_m[plane.index()];
        let room: Vec<(f64, f64)> = chosen
            .iter()
            .map(|pc| {
                let (lo, hi) = pc.limits_a;
                let now = now_a(pc.id);
                ((lo - now).min(0.0), (hi - now).max(0.0))
            })
            .collect();
        let delta = within_limits(&a, &b, &room)?;
        out.shift_m[plane.index()] = (a.row(0) * &delta)[0] / TARGET_WEIGHT;
        out.delta_a.extend(chosen.iter().zip(delta.iter()).map(|(pc, d)| (pc.id, *d)));
    }
    Ok(out)
}

/// Weight of a converter's current against the orbit rows [m/A]: among
/// the bumps that close, the one with the smallest currents (two
/// neighbouring steerers must not fight each other with amperes).
const CURRENT_WEIGHT_M_PER_A: f64 = 1e-6;

/// The least-squares solution of a x = b with each x_j within `room`
/// (lowest, highest change). Its minimum lies on one face of the box:
/// some x_j at a limit, the others free and within theirs, the free ones
/// the least-squares solution given the held ones. With a few steerers
/// every face can be tried (3ⁿ); the best feasible one is the solution.
fn within_limits(a: &DMatrix<f64>, b: &DVector<f64>, room: &[(f64, f64)]) -> Result<DVector<f64>, BbaError> {
    let n = a.ncols();
    let faces = 3usize.pow(n as u32);
    let mut best: Option<(f64, DVector<f64>)> = None;
    for face in 0..faces {
        let held = |j: usize| match (face / 3usize.pow(j as u32)) % 3 {
            0 => None,
            1 => Some(room[j].0),
            _ => Some(room[j].1),
        };
        let free: Vec<usize> = (0..n).filter(|&j| held(j).is_none()).collect();
        let mut x = DVector::zeros(n);
        let mut rhs = b.clone();
        for j in 0..n {
            if let Some(v) = held(j) {
                x[j] = v;
                rhs -= a.column(j) * v;
            }
        }
        if !free.is_empty() {
            let Ok(solved) = a.select_columns(&free).svd(true, true).solve(&rhs, 1e-15) else { continue };
            for (k, &j) in free.iter().enumerate() {
                x[j] = solved[k];
            }
        }
        if free.iter().any(|&j| x[j] < room[j].0 || x[j] > room[j].1) {
            continue;
        }
        let cost = (a * &x - b).norm_squared();
        if best.as_ref().is_none_or(|(c, _)| cost < *c) {
            best = Some((cost, x));
        }
    }
    best.map(|(_, x)| x).ok_or_else(|| BbaError::Inconsistent("no bump within the steerers' limits".into()))
}

/// The model's response error on a distorted orbit, relative to the
/// beam's distance from the centre (in-process, 144 quads uncorrected
/// without the bump: the centres' errors were 2–5 % of d).
const RESPONSE_ERROR: f64 = 0.05;

/// What a beam the bumps left away from the centre adds to σ (both
/// planes, in quadrature): `RESPONSE_ERROR` of the larger plane's |d|,
/// once it is beyond `SETTLED_M`.
pub fn uncentred(fits: &mut [super::PlaneFit; 2]) {
    let d = fits.iter().map(|f| f.as_ref().map_or(0.0, |f| f.displacement_m.abs())).fold(0.0, f64::max);
    if d <= SETTLED_M {
        return;
    }
    for f in fits.iter_mut().flatten() {
        f.sigma_m = f.sigma_m.hypot(RESPONSE_ERROR * d);
        f.bpm_sigma_m = f.bpm_sigma_m.hypot(RESPONSE_ERROR * d);
    }
}

/// Whether another bump is due after a fit that found the displacements
/// `d_m` (x, y) with `bumps` bumps applied.
pub fn due(d_m: [f64; 2], bumps: usize) -> bool {
    bumps < MAX_BUMPS && d_m.iter().any(|d| d.abs() > SETTLED_M)
}

/// Applies a bump through the client write path: in batches that each
/// move the beam by at most `STEP_M` (the orbit followed from one to the
/// next, as an operator ramps a large bump). Records in `bump` the
/// currents before its first change, for the restore. A bump the limits
/// cut to less than `MIN_FRACTION` of what was asked is not made.
pub fn apply(bump: &mut Bump, plan: &Plan, asked_m: [f64; 2], hw: &mut impl Hardware) -> Result<(), String> {
    let largest = |v: [f64; 2]| v[0].abs().max(v[1].abs());
    let (moves, asked) = (largest(plan.shift_m), largest(asked_m));
    if moves < MIN_FRACTION * asked {
        return Err(format!("the steerers' limits allow {:.0} % of the bump", 100.0 * moves / asked));
    }
    let mut end = Vec::new();
    for (pc, d) in &plan.delta_a {
        let now = hw.value(Setpoint::PcCurrent(*pc));
        if !bump.before_a.iter().any(|(p, _)| p == pc) {
            bump.before_a.push((*pc, now));
        }
        end.push((*pc, now, *d));
    }
    let batches = (moves / STEP_M).ceil().max(1.0) as usize;
    for k in 1..=batches {
        let part = k as f64 / batches as f64;
        let writes: Vec<_> = end.iter().map(|(pc, now, d)| (Setpoint::PcCurrent(*pc), now + d * part)).collect();
        hw.set_all(&writes)?;
    }
    Ok(())
}

/// Adds kicks to a list of kicks (same element and plane summed).
pub fn accumulate(into: &mut Vec<(ElementId, Plane, f64)>, kicks: Vec<(ElementId, Plane, f64)>) {
    for (e, p, k) in kicks {
        match into.iter_mut().find(|(e2, p2, _)| *e2 == e && *p2 == p) {
            Some(slot) => slot.2 += k,
            None => into.push((e, p, k)),
        }
    }
}
