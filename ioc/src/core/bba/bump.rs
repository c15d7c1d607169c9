//! The bump variant of the measurement (a documented option, off by
//! default): when the beam passes a quad far from its centre, the measured
//! displacement d is large and any relative error of the model's response
//! (the optics a distorted orbit sees through the sextupoles) becomes an
//! absolute error of the centre. BBA as commonly done moves the beam onto
//! the quad first with a local orbit bump of the nearest steerers; the
//! twin's variant measures, bumps the beam by −d, and measures again until
//! the beam passes within `SETTLED_M` of the centre (at most `MAX_BUMPS`
//! bumps), then restores the steerers. The steerers are written through the
//! same path as a client's writes; a bump beyond their drive limits is cut
//! to the fraction they allow (the beam then passes closer to the centre,
//! not through it).
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
const EACH_SIDE: usize = 2;
/// A bump the steerers' limits cut to less than this fraction is not made.
const MIN_FRACTION: f64 = 0.1;
/// Largest move of the beam at the quad per batch of a bump [m].
const STEP_M: f64 = 0.25e-3;
/// Weight of the target row against the BPM rows outside the bump.
const TARGET_WEIGHT: f64 = 10.0;

/// A bump in place: the converters' currents before it [A] and the
/// lattice kicks it added [rad] (the refits add them to the analyst's
/// model of the machine as set afterwards).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bump {
    pub before_a: Vec<(PcId, f64)>,
    pub kicks: Vec<(ElementId, Plane, f64)>,
    /// Bumps applied so far for this quad.
    pub count: usize,
    /// The measurement of this quad whose beam passed nearest to the
    /// centre so far, with the kicks in place while it was taken.
    pub best: Option<Best>,
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

impl Bump {
    /// Keeps a measurement if its beam passed nearer the centre than the
    /// best so far; whether it did (another bump may then help).
    pub fn keep(&mut self, candidate: Best) -> bool {
        let nearer = self.best.as_ref().is_none_or(|b| candidate.distance_m < NEARER * b.distance_m);
        if nearer {
            self.best = Some(candidate);
        }
        nearer
    }
}

/// A bump that does not bring the beam at least this much nearer (as a
/// fraction of the distance before) is the last.
const NEARER: f64 = 0.5;

/// The current changes [A] of the `EACH_SIDE` steering converters of each
/// plane nearest upstream and downstream of `quad` that move the orbit at
/// the quad's centre by `shift_m` (x, y) and as little as they can at the
/// BPMs outside the bump, to first order in `lattice` (the machine as set,
/// without errors).
pub fn currents(
    lattice: &Lattice,
    schema: &Schema,
    quad: QuadId,
    shift_m: [f64; 2],
) -> Result<Vec<(PcId, f64)>, BbaError> {
    let optics = linear_optics_4d(lattice, 0.0, None)?;
    let centre = schema.quad_element(quad);
    let n = lattice.len();
    // distance downstream from the quad, in elements (around the ring)
    let after = |e: ElementId| (e.0 + n - centre.0) % n;
    let mut out = Vec::new();
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
        let mut a = DMatrix::zeros(observed.len() - 1, chosen.len());
        for (k, &(j, _, rad_per_a)) in magnets.iter().enumerate() {
            // the quad's centre: the mean of its entrance and exit
            a[(0, j)] += TARGET_WEIGHT * 0.5 * (m[(0, k)] + m[(1, k)]) * rad_per_a;
            for i in 2..observed.len() {
                a[(i - 1, j)] += m[(i, k)] * rad_per_a;
            }
        }
        let mut b = DVector::zeros(a.nrows());
        b[0] = TARGET_WEIGHT * shift_m[plane.index()];
        let solution = a.svd(true, true).solve(&b, 1e-12).map_err(|e| BbaError::Inconsistent(e.to_string()))?;
        out.extend(chosen.iter().zip(solution.iter()).map(|(pc, d)| (pc.id, *d)));
    }
    Ok(out)
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

/// Applies the current changes `delta` of a bump by `shift_m` through the
/// client write path: in batches that each move the beam by at most
/// `STEP_M` (the orbit followed from one to the next, as an operator
/// ramps a large bump). Records in `bump` the currents before its first
/// change, for the restore.
pub fn apply(
    bump: &mut Bump,
    delta: &[(PcId, f64)],
    shift_m: [f64; 2],
    schema: &Schema,
    hw: &mut impl Hardware,
) -> Result<(), String> {
    // the largest fraction of the bump the steerers' drive limits allow
    let mut end = Vec::new();
    let mut fraction: f64 = 1.0;
    for (pc, d) in delta {
        let now = hw.value(Setpoint::PcCurrent(*pc));
        if !bump.before_a.iter().any(|(p, _)| p == pc) {
            bump.before_a.push((*pc, now));
        }
        let (lo, hi) = schema.pc(*pc).limits_a;
        let room = if *d > 0.0 { hi - now } else { now - lo };
        if d.abs() > 0.0 {
            fraction = fraction.min((room / d.abs()).max(0.0));
        }
        end.push((*pc, now, *d));
    }
    if fraction < MIN_FRACTION {
        return Err(format!("the steerers' limits allow {:.0} % of the bump", 100.0 * fraction));
    }
    let batches = (fraction * shift_m[0].abs().max(shift_m[1].abs()) / STEP_M).ceil().max(1.0) as usize;
    for k in 1..=batches {
        let part = fraction * k as f64 / batches as f64;
        let writes: Vec<_> = end.iter().map(|(pc, now, d)| (Setpoint::PcCurrent(*pc), now + d * part)).collect();
        hw.set_all(&writes)?;
    }
    bump.count += 1;
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
