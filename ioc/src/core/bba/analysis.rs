//! The fit of one quad against the analyst's model: the machine as set
//! (converters, steerers, RF, multiplexer off) with the centres BBA has
//! found so far, this quad's included, steered onto the orbit measured at
//! zero auxiliary current (the model then follows the real orbit through
//! the sextupoles; the fit finds what is left).
use std::sync::Arc;

use twin_engine::bba::{BbaError, BbaFit, Step, fit, step_currents, zero_current_orbit};
use twin_engine::bba_model::bba_model;
use twin_engine::lattice::{Lattice, Misalignment};
use twin_engine::orbit_match::{ANALYST_SINGULAR_CUT, Steering, match_orbit_6d};

use super::run::PlaneFit;
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
}

impl Analyst<'_> {
    /// Fits both planes of one quad's measurement.
    pub fn fit_quad(
        &self,
        steering: &mut Option<Arc<Steering>>,
        quad: QuadId,
        x: &[Step],
        y: &[Step],
    ) -> [PlaneFit; 2] {
        let fits = self.steering(steering).and_then(|steering| match self.fit_with(&steering, quad, x, y, true) {
            // the estimates make a model without a closed orbit: without them
            Err(_) => self.fit_with(&steering, quad, x, y, false),
            fits => fits,
        });
        match fits {
            Ok(planes) => planes.map(Ok),
            Err(e) => [Err(e.to_string()), Err(e.to_string())],
        }
    }

    /// The machine as set with the centres found so far (or none) in place
    /// of the hidden offsets.
    fn lattice(&self, use_estimates: bool) -> Result<Lattice, BbaError> {
        let mut analyst = self.as_set.clone();
        for q in &self.schema.quads {
            let [dx_m, dy_m] = self.estimates[q.id.0].filter(|_| use_estimates).unwrap_or([0.0; 2]);
            analyst.set_misalignment(self.schema.quad_element(q.id), Misalignment { dx_m, dy_m, roll_rad: 0.0 })?;
        }
        Ok(analyst)
    }

    /// How the analyst's models of a run are steered onto the measured
    /// orbit: computed once per run, from the machine as set.
    fn steering(&self, cache: &mut Option<Arc<Steering>>) -> Result<Arc<Steering>, BbaError> {
        if let Some(s) = cache {
            return Ok(Arc::clone(s));
        }
        let analyst = self.lattice(false)?;
        let s = Arc::new(Steering::new(&analyst, &analyst.bpms(), ANALYST_SINGULAR_CUT)?);
        *cache = Some(Arc::clone(&s));
        Ok(s)
    }

    fn fit_with(
        &self,
        steering: &Steering,
        quad: QuadId,
        x: &[Step],
        y: &[Step],
        use_estimates: bool,
    ) -> Result<[BbaFit; 2], BbaError> {
        let mut analyst = self.lattice(use_estimates)?;
        let bpms = analyst.bpms();
        let (Some(mx), Some(my)) = (zero_current_orbit(x), zero_current_orbit(y)) else {
            return Err(BbaError::Inconsistent("no readings at zero current".into()));
        };
        let as_set = analyst.clone();
        let reference = match_orbit_6d(&mut analyst, &bpms, [&mx, &my], steering)?;
        let schema = self.schema;
        let dk1_per_a = self.turns_ratio * schema.quad_drive(quad).magnetic_strength_per_a / schema.rigidity_tm;
        let element = schema.quad_element(quad);
        let model = bba_model(&analyst, &as_set, &reference, element, dk1_per_a, &step_currents(x), &bpms)?;
        fit(&model, x, y)
    }
}
