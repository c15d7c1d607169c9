//! One step of a BBA run, executed by the model owner (see `bba_run.rs`).
use std::sync::Arc;
use std::sync::atomic::Ordering;

use epics_pvxs_sys::WriteValue;
use twin_engine::bba::{BbaError, BbaFit, Step, fit, step_currents, zero_current_orbit};
use twin_engine::bba_model::bba_model;
use twin_engine::lattice::Lattice;
use twin_engine::orbit_match::{ANALYST_SINGULAR_CUT, Steering, match_orbit_6d};

use super::Setpoint;
use super::bba_publish::BbaStatus;
use super::bba_run::{BbaRun, MAX_REFIT_PASSES, Measured, Phase, PlaneFit, READINGS_PER_STEP, SETTLED_M, STEPS_A};
use super::owner::Owner;
use super::state::AUX_TURNS_RATIO;
use crate::machine::QuadId;
use crate::store::persister::{BbaResultDoc, PersistMsg};

/// readings[r][bpm] of one plane [m].
type Readings = Vec<Vec<f64>>;

/// Largest quad centre kept as an estimate for the analyst's model [m].
const MAX_ESTIMATE_M: f64 = 1e-3;

impl Owner {
    pub(super) fn current_name(&self, run: &BbaRun) -> String {
        let q = match &run.phase {
            Phase::Select(q) | Phase::Step { quad: q, .. } | Phase::Finish { quad: q, .. } => *q,
            Phase::Refit { index, .. } => run.measured.get(*index).map_or(QuadId(0), |m| m.quad),
        };
        self.state.schema.quad(q).name.clone()
    }

    /// Sets a hardware setpoint from the service, recomputes if it changed.
    fn set(&mut self, sp: Setpoint, value: f64) -> anyhow::Result<()> {
        let applied = self.state.apply(sp, &WriteValue::Double(value)).map_err(|e| anyhow::anyhow!(e))?;
        if applied == super::state::Applied::Changed {
            self.recompute_and_publish(1)?;
        }
        Ok(())
    }

    /// Supply to 0 and multiplexer off (also after abort or error).
    fn release(&mut self) -> anyhow::Result<()> {
        self.set(Setpoint::AuxCurrent, 0.0)?;
        self.set(Setpoint::MuxOff, 1.0)
    }

    pub(super) fn bba_tick(&mut self) -> anyhow::Result<()> {
        let Some(mut run) = self.run.take() else { return Ok(()) };
        if self.abort.swap(false, Ordering::SeqCst) {
            self.release()?;
            let (p, _) = run.progress();
            return self.out.bba.post_status(BbaStatus::Aborted, "aborted; supply 0, multiplexer off", "", p, 0.0);
        }
        match self.step(&mut run) {
            Ok(true) => self.run = Some(run),
            Ok(false) => {
                let msg = format!("{} quads measured, {} failed", run.done - run.failed, run.failed);
                self.out.bba.post_status(BbaStatus::Done, &msg, "", 100.0, 0.0)?;
            }
            Err(e) => {
                self.release()?;
                let (p, _) = run.progress();
                self.out.bba.post_status(BbaStatus::Error, &e.to_string(), "", p, 0.0)?;
            }
        }
        Ok(())
    }

    /// Advances the run by one step; false when it is complete.
    fn step(&mut self, run: &mut BbaRun) -> anyhow::Result<bool> {
        let phase = std::mem::replace(&mut run.phase, Phase::Select(QuadId(0)));
        run.phase = match phase {
            Phase::Select(quad) => {
                self.set(Setpoint::AuxCurrent, 0.0)?;
                self.set(Setpoint::MuxSelect(quad), 1.0)?;
                Phase::Step { quad, index: 0, x: Vec::new(), y: Vec::new() }
            }
            Phase::Step { quad, index, mut x, mut y } => {
                let current = STEPS_A[index];
                self.set(Setpoint::AuxCurrent, current)?;
                let (rx, ry) = self.readings()?;
                x.push(Step { current_a: current, readings: rx });
                y.push(Step { current_a: current, readings: ry });
                if index + 1 < STEPS_A.len() {
                    Phase::Step { quad, index: index + 1, x, y }
                } else {
                    Phase::Finish { quad, x, y }
                }
            }
            Phase::Finish { quad, x, y } => {
                self.release()?;
                let fits = self.fit_quad(run, quad, &x, &y);
                self.record(quad, &fits)?;
                run.done += 1;
                run.measured.push(Measured { quad, x, y, fits });
                match run.queue.pop_front() {
                    Some(next) => Phase::Select(next),
                    // a single quad too: its own centre in the model, the
                    // model's response carries the nonlinear terms
                    None => Phase::Refit { pass: 1, index: 0 },
                }
            }
            Phase::Refit { pass, index } => {
                let m = run.measured[index].clone();
                let fits = self.fit_quad(run, m.quad, &m.x, &m.y);
                let moved = |new: &PlaneFit, old: &PlaneFit| match (new, old) {
                    (Ok(n), Ok(o)) => (n.offset_m - o.offset_m).abs(),
                    _ => f64::INFINITY,
                };
                let change = moved(&fits[0], &m.fits[0]).max(moved(&fits[1], &m.fits[1]));
                run.pass_change_m = if index == 0 { change } else { run.pass_change_m.max(change) };
                if index == 0 {
                    run.pass_started = std::time::Instant::now();
                }
                self.record(m.quad, &fits)?;
                run.measured[index].fits = fits;
                if index + 1 < run.measured.len() {
                    Phase::Refit { pass, index: index + 1 }
                } else if run.pass_change_m >= SETTLED_M && pass < MAX_REFIT_PASSES {
                    Phase::Refit { pass: pass + 1, index: 0 }
                } else {
                    tracing::info!(passes = pass, last_change_m = run.pass_change_m, "BBA refits done");
                    for m in &run.measured {
                        self.store_result(m)?;
                        run.failed += usize::from(m.fits.iter().any(Result::is_err));
                    }
                    return Ok(false);
                }
            }
        };
        let (p, eta) = run.progress();
        let name = self.current_name(run);
        self.out.bba.post_status(BbaStatus::Running, "", &name, p, eta)?;
        Ok(true)
    }

    /// Orbit readings at this step: the first is discarded.
    fn readings(&mut self) -> anyhow::Result<(Readings, Readings)> {
        let physics = self.latest.clone().ok_or_else(|| anyhow::anyhow!("no valid model to read the orbit from"))?;
        let bpms = self.state.lattice.bpms();
        let mut bpm = self.out.bpm.lock().map_err(|_| anyhow::anyhow!("BPM publisher poisoned"))?;
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for r in 0..READINGS_PER_STEP {
            let (x, y) = bpm.sample(&physics, &bpms);
            if r > 0 {
                xs.push(x);
                ys.push(y);
            }
        }
        Ok((xs, ys))
    }

    /// Publishes a quad's result and keeps it as the estimate of its centre.
    fn record(&mut self, quad: QuadId, fits: &[PlaneFit; 2]) -> anyhow::Result<()> {
        self.out.bba.post_result(quad, fits[0].as_ref().ok(), fits[1].as_ref().ok())?;
        match fits {
            // a centre beyond 1 mm is not a believable estimate: it would
            // spoil the analyst's model for every other quad
            [Ok(x), Ok(y)] if x.offset_m.abs() < MAX_ESTIMATE_M && y.offset_m.abs() < MAX_ESTIMATE_M => {
                self.estimates[quad.0] = Some([x.offset_m, y.offset_m]);
            }
            _ => self.estimates[quad.0] = None,
        }
        Ok(())
    }

    /// Fits both planes against the analyst's model: the machine as set
    /// now (converters, steerers, RF, multiplexer off) with the centres BBA
    /// has found so far, this quad's included, steered onto the orbit
    /// measured at zero auxiliary current (the model then follows the real
    /// orbit through the sextupoles; the fit finds what is left).
    fn fit_quad(&self, run: &mut BbaRun, quad: QuadId, x: &[Step], y: &[Step]) -> [PlaneFit; 2] {
        let fits = self.steering(run).and_then(|steering| match self.fit_with(steering, quad, x, y, true) {
            // the estimates make a model without a closed orbit: without them
            Err(_) => self.fit_with(steering, quad, x, y, false),
            fits => fits,
        });
        match fits {
            Ok(planes) => planes.map(Ok),
            Err(e) => [Err(e.to_string()), Err(e.to_string())],
        }
    }

    /// The machine as set with the centres found so far (or none) in
    /// place of the hidden offsets.
    fn analyst_lattice(&self, use_estimates: bool) -> Result<Lattice, BbaError> {
        let mut analyst = self.state.lattice.clone();
        for q in &self.state.schema.quads {
            let [dx_m, dy_m] = self.estimates[q.id.0].filter(|_| use_estimates).unwrap_or([0.0; 2]);
            let m = twin_engine::lattice::Misalignment { dx_m, dy_m, roll_rad: 0.0 };
            analyst.set_misalignment(self.state.schema.quad_element(q.id), m)?;
        }
        Ok(analyst)
    }

    /// How the analyst's models of this run are steered onto the measured
    /// orbit: computed once per run, from the machine as set.
    fn steering<'r>(&self, run: &'r mut BbaRun) -> Result<&'r Steering, BbaError> {
        if run.steering.is_none() {
            let analyst = self.analyst_lattice(false)?;
            run.steering = Some(Arc::new(Steering::new(&analyst, &analyst.bpms(), ANALYST_SINGULAR_CUT)?));
        }
        Ok(run.steering.as_deref().expect("set above"))
    }

    fn fit_with(
        &self,
        steering: &Steering,
        quad: QuadId,
        x: &[Step],
        y: &[Step],
        use_estimates: bool,
    ) -> Result<[BbaFit; 2], BbaError> {
        let mut analyst = self.analyst_lattice(use_estimates)?;
        let bpms = analyst.bpms();
        let (Some(mx), Some(my)) = (zero_current_orbit(x), zero_current_orbit(y)) else {
            return Err(BbaError::Inconsistent("no readings at zero current".into()));
        };
        let as_set = analyst.clone();
        let reference = match_orbit_6d(&mut analyst, &bpms, [&mx, &my], steering)?;
        let schema = &self.state.schema;
        let dk1_per_a = AUX_TURNS_RATIO * schema.quad_drive(quad).magnetic_strength_per_a / schema.rigidity_tm;
        let model =
            bba_model(&analyst, &as_set, &reference, schema.quad_element(quad), dk1_per_a, &step_currents(x), &bpms)?;
        fit(&model, x, y)
    }

    fn store_result(&self, m: &Measured) -> anyhow::Result<()> {
        let Some(tx) = &self.out.persist else { return Ok(()) };
        let doc = BbaResultDoc::new(&self.state.schema.quad(m.quad).name, &m.fits, &m.x, &m.y);
        tx.send(PersistMsg::Bba(Box::new(doc))).map_err(|_| anyhow::anyhow!("the persister stopped"))
    }
}
