//! The fit of one quad against the analyst's model: the machine as set
//! (converters, steerers, RF, multiplexer off) with the centres BBA has
//! found so far, this quad's included, steered onto the orbit measured at
//! zero auxiliary current (the model then follows the real orbit through
//! the sextupoles; the fit finds what is left).
use std::sync::Arc;

use twin_engine::bba::{BbaError, BbaFit, Step, fit, step_currents, zero_current_orbit};
use twin_engine::bba_model::{bba_model, beam_step, bpms_around};
use twin_engine::lattice::{ElementId, Lattice, Misalignment, Plane};
use twin_engine::orbit_match::{ANALYST_SINGULAR_CUT, Steering, match_orbit_6d};
use twin_engine::recompute::orbit_6d;

use super::run::{AnalystCache, PlaneFit, Unsteered};
use crate::machine::{QuadId, Schema};

/// The analyst's knowledge and the machine it measures.
pub struct Analyst<'a> {
    pub schema: &'a Schema,
    /// The lattice as set now.
    pub as_set: &'a Lattice,
    /// Centres found so far, by `QuadId` [m].
    pub estimates: &'a [Option<[f64; 2]>],
    /// Effective main-coil current per ampere of the auxiliary supply.
    pub turns_ratio: f64,
    /// The published σ is the fit's standard uncertainty times this.
    pub sigma_coverage: f64,
}

impl Analyst<'_> {
    /// Fits both planes of one quad's measurement.
    /// `kicks`: what a bump added to the steerers during the measurement
    /// (the machine as set no longer has it) [rad].
    pub fn fit_quad(
        &self,
        cache: &mut AnalystCache,
        quad: QuadId,
        x: &[Step],
        y: &[Step],
        kicks: &[(ElementId, Plane, f64)],
    ) -> [PlaneFit; 2] {
        // BPMs that fail (no number: dead, or a status that flags them)
        // are left out, as the machine's procedure does
        let all = self.as_set.bpms();
        let live: Vec<usize> = (0..all.len()).filter(|&b| reads(x, b) && reads(y, b)).collect();
        let (x, y) = (only(x, &live), only(y, &live));
        let bpms: Vec<ElementId> = live.iter().map(|&b| all[b]).collect();
        let fits = self.steering(&mut cache.steering, &bpms).and_then(|steering| {
            self.with_estimates(kicks, |model| self.fit_with(&steering, &bpms, quad, &x, &y, model))
        });
        let fits = fits.and_then(|mut planes| {
            self.to_the_axis(&mut cache.unsteered, quad, &all, &bpms, &mut planes)?;
            for f in &mut planes {
                f.sigma_m *= self.sigma_coverage;
                f.bpm_sigma_m *= self.sigma_coverage;
            }
            Ok(planes)
        });
        match fits {
            Ok(planes) => planes.map(Ok),
            Err(e) => [Err(e.to_string()), Err(e.to_string())],
        }
    }

    /// Takes the fits' BPM readings to the quad's axis: less the beam's
    /// change of position from the quad centre to the BPM on the orbit of
    /// the machine as set without steering and errors (the orbit the
    /// lattice itself makes: with radiation it is not flat). What the real
    /// beam does beyond that between the two (its slope there times the
    /// distance) is not measured by BBA and stays in the result, as on the
    /// machine. The BPM sought is the quad's nearest of `all`: when it
    /// failed, the nearest of the `live` ones is another (no result).
    fn to_the_axis(
        &self,
        unsteered: &mut Option<Arc<Unsteered>>,
        quad: QuadId,
        all: &[ElementId],
        live: &[ElementId],
        planes: &mut [BbaFit; 2],
    ) -> Result<(), BbaError> {
        let element = self.schema.quad_element(quad);
        let nearest = |bpms: &[ElementId]| bpms.get(bpms_around(self.as_set, element, bpms).nearest).copied();
        let Some(bpm) = nearest(all).filter(|b| nearest(live) == Some(*b)) else {
            planes.iter_mut().for_each(|f| (f.bpm_offset_m, f.bpm_sigma_m) = (f64::NAN, f64::NAN));
            return Ok(());
        };
        let machine = match unsteered {
            Some(machine) => Arc::clone(machine),
            None => {
                let mut lattice = self.lattice(false, &[])?;
                for plane in [Plane::Horizontal, Plane::Vertical] {
                    for steerer in lattice.steerers(plane) {
                        lattice.set_kick_rad(steerer, plane, 0.0)?;
                    }
                }
                let orbit = orbit_6d(&lattice, None)?.orbit;
                let machine = Arc::new(Unsteered { lattice, orbit });
                *unsteered = Some(Arc::clone(&machine));
                machine
            }
        };
        let step = beam_step(&machine.lattice, &machine.orbit, element, bpm);
        planes.iter_mut().zip(step).for_each(|(f, s)| f.bpm_offset_m -= s);
        Ok(())
    }

    /// The machine as the beam sees it now: the machine as set with the
    /// centres found so far, steered onto one orbit reading `[x, y]` of
    /// every lattice BPM (those without a number left out). Its optics are
    /// those of the real, distorted orbit through the sextupoles: a bump
    /// planned on the machine without errors moves a beam millimetres
    /// off-axis by a different amount.
    pub fn as_seen(&self, cache: &mut AnalystCache, reading: [&[f64]; 2]) -> Result<Lattice, BbaError> {
        let all = self.as_set.bpms();
        let live: Vec<usize> = (0..all.len()).filter(|&b| reading.iter().all(|r| r[b].is_finite())).collect();
        let bpms: Vec<ElementId> = live.iter().map(|&b| all[b]).collect();
        let [x, y] = reading.map(|r| live.iter().map(|&b| r[b]).collect::<Vec<f64>>());
        let steering = self.steering(&mut cache.steering, &bpms)?;
        self.with_estimates(&[], |mut seen| {
            match_orbit_6d(&mut seen, &bpms, [&x, &y], &steering)?;
            Ok(seen)
        })
    }

    /// `f` of the machine as set with the centres found so far and the
    /// steerer `kicks` added; where the estimates make a model without a
    /// closed orbit (`f` fails), of the same without them.
    fn with_estimates<T>(
        &self,
        kicks: &[(ElementId, Plane, f64)],
        f: impl Fn(Lattice) -> Result<T, BbaError>,
    ) -> Result<T, BbaError> {
        match self.lattice(true, kicks).and_then(&f) {
            Err(_) => f(self.lattice(false, kicks)?),
            done => done,
        }
    }

    /// The machine as set with the centres found so far (or none) in place
    /// of the hidden offsets, and the steerer `kicks` added [rad].
    pub(super) fn lattice(&self, use_estimates: bool, kicks: &[(ElementId, Plane, f64)]) -> Result<Lattice, BbaError> {
        let mut analyst = self.as_set.clone();
        for &(element, plane, kick) in kicks {
            analyst.set_kick_rad(element, plane, analyst.kick_rad(element, plane) + kick)?;
        }
        for q in &self.schema.quads {
            let [dx_m, dy_m] = self.estimates[q.id.0].filter(|_| use_estimates).unwrap_or([0.0; 2]);
            analyst.set_misalignment(self.schema.quad_element(q.id), Misalignment { dx_m, dy_m, roll_rad: 0.0 })?;
        }
        Ok(analyst)
    }

    /// How the analyst's models of a run are steered onto the orbit
    /// measured at `bpms`: computed once per run (again when BPMs fail),
    /// from the machine as set.
    fn steering(&self, cache: &mut Option<Arc<Steering>>, bpms: &[ElementId]) -> Result<Arc<Steering>, BbaError> {
        if let Some(s) = cache.as_ref().filter(|s| s.bpms() == bpms) {
            return Ok(Arc::clone(s));
        }
        let analyst = self.lattice(false, &[])?;
        let s = Arc::new(Steering::new(&analyst, bpms, ANALYST_SINGULAR_CUT)?);
        *cache = Some(Arc::clone(&s));
        Ok(s)
    }

    fn fit_with(
        &self,
        steering: &Steering,
        bpms: &[ElementId],
        quad: QuadId,
        x: &[Step],
        y: &[Step],
        mut analyst: Lattice,
    ) -> Result<[BbaFit; 2], BbaError> {
        let (Some(mx), Some(my)) = (zero_current_orbit(x), zero_current_orbit(y)) else {
            return Err(BbaError::Inconsistent("no readings at zero current".into()));
        };
        let as_set = analyst.clone();
        let reference = match_orbit_6d(&mut analyst, bpms, [&mx, &my], steering)?;
        let schema = self.schema;
        let dk1_per_a = self.turns_ratio * schema.quad_drive(quad).magnetic_strength_per_a / schema.rigidity_tm;
        let element = schema.quad_element(quad);
        let model = bba_model(&analyst, &as_set, &reference, element, dk1_per_a, &step_currents(x), bpms)?;
        fit(&model, x, y)
    }
}

/// Whether BPM `b` reads a number in every reading of `steps`.
fn reads(steps: &[Step], b: usize) -> bool {
    steps.iter().all(|s| s.readings.iter().all(|r| r.get(b).is_some_and(|v| v.is_finite())))
}

/// `steps` with the readings of the BPMs `live` only.
fn only(steps: &[Step], live: &[usize]) -> Vec<Step> {
    steps
        .iter()
        .map(|s| Step {
            current_a: s.current_a,
            readings: s.readings.iter().map(|r| live.iter().map(|&b| r[b]).collect()).collect(),
        })
        .collect()
}
