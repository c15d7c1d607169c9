//! The BBA service's state machine: commands, one step per tick, results.
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use rayon::prelude::*;
use twin_engine::bba::Step;
use twin_engine::lattice::{ElementId, Lattice, Plane};

use super::analysis::Analyst;
use super::bump;
use super::run::{BbaRun, MAX_REFIT_PASSES, Measured, Phase, PlaneFit, RETRY_STEP_SCALE, SETTLED_M};
use super::{BbaCommand, Hardware};
use crate::core::journal::BbaRecord;
use crate::core::snapshot::{BbaStatus, BbaView, QuadResult};
use crate::machine::{MagnetKind, QuadId, Schema, Setpoint};

/// The machine's BBA procedure (from the profile).
#[derive(Clone, Debug, PartialEq)]
pub struct Procedure {
    /// Auxiliary supply currents of the steps [A].
    pub steps_a: Vec<f64>,
    /// Readings per step; the first after a step is discarded.
    pub readings_per_step: usize,
    /// Effective main-coil current per ampere of the supply.
    pub turns_ratio: f64,
    /// The published σ is the fit's standard uncertainty times this.
    pub sigma_coverage: f64,
}

/// Largest quad centre kept as an estimate for the analyst's model [m].
const MAX_ESTIMATE_M: f64 = 1e-3;

/// readings[r][bpm] of one plane [m].
type Readings = Vec<Vec<f64>>;

pub struct BbaService {
    schema: Arc<Schema>,
    procedure: Procedure,
    run: Option<BbaRun>,
    abort: bool,
    /// Quad centres found so far (the analyst's knowledge), by `QuadId`.
    estimates: Vec<Option<[f64; 2]>>,
    /// The measurements of the runs so far: every run refits them with its
    /// own (the analyst's model knows more quads with every run).
    history: Vec<Measured>,
    view: BbaView,
}

impl BbaService {
    pub fn new(schema: Arc<Schema>, procedure: Procedure) -> Self {
        let n = schema.quads.len();
        Self {
            schema,
            procedure,
            run: None,
            abort: false,
            estimates: vec![None; n],
            history: Vec::new(),
            view: BbaView::idle(n),
        }
    }

    pub fn view(&self) -> &BbaView {
        &self.view
    }

    pub fn running(&self) -> bool {
        self.run.is_some()
    }

    /// Handles a command; the error is the refusal the client sees.
    pub fn command(&mut self, cmd: BbaCommand, hw: &mut impl Hardware) -> Result<(), String> {
        match cmd {
            BbaCommand::Abort => {
                self.abort = self.run.is_some();
                Ok(())
            }
            _ if self.run.is_some() => Err("a BBA run is already in progress".into()),
            BbaCommand::Run(q) if self.schema.quad(q).on_multiplexer => self.start(vec![q], hw),
            BbaCommand::Run(q) => Err(format!("{} is not on the multiplexer", self.schema.quad(q).name)),
            BbaCommand::RunAll => self.start(self.schema.multiplexer_quads().map(|q| q.id).collect(), hw),
            BbaCommand::Clear => {
                self.estimates.iter_mut().for_each(|e| *e = None);
                self.history.clear();
                self.view = BbaView { message: "results cleared".into(), ..BbaView::idle(self.estimates.len()) };
                hw.report(&self.view);
                Ok(())
            }
        }
    }

    fn start(&mut self, quads: Vec<QuadId>, hw: &mut impl Hardware) -> Result<(), String> {
        let run = BbaRun::new(quads, &self.history).ok_or("no quad to measure")?;
        self.abort = false;
        let current = self.current_name(&run);
        self.run = Some(run);
        self.status(BbaStatus::Running, "", &current, 0.0, 0.0, hw);
        Ok(())
    }

    fn status(
        &mut self,
        status: BbaStatus,
        message: &str,
        current: &str,
        progress: f64,
        eta_s: f64,
        hw: &mut impl Hardware,
    ) {
        let v = &mut self.view;
        (v.status, v.message, v.current, v.progress, v.eta_s) =
            (status, message.to_string(), current.to_string(), progress, eta_s);
        hw.report(&self.view);
    }

    fn current_name(&self, run: &BbaRun) -> String {
        let q = match &run.phase {
            Phase::Select(q) | Phase::Step { quad: q, .. } | Phase::Finish { quad: q, .. } => *q,
            Phase::Refit { index, .. } => run.measured.get(*index).map_or(QuadId(0), |m| m.quad),
        };
        self.schema.quad(q).name.clone()
    }

    /// Supply to 0 and multiplexer off (also after abort or error).
    fn release(hw: &mut impl Hardware) -> Result<(), String> {
        hw.set(Setpoint::AuxCurrent, 0.0)?;
        hw.set(Setpoint::MuxOff, 1.0)
    }

    /// Advances a run by one step. Errors are faults of the twin itself; a
    /// failed measurement ends the run with status ERROR.
    pub fn tick(&mut self, hw: &mut impl Hardware) -> anyhow::Result<()> {
        let Some(mut run) = self.run.take() else { return Ok(()) };
        if std::mem::take(&mut self.abort) {
            let (p, _) = run.progress();
            let msg = match Self::release(hw).and_then(|()| Self::unbump(&mut run, hw).map(drop)) {
                Ok(()) => "aborted; supply 0, multiplexer off".to_string(),
                Err(e) => format!("aborted; releasing the hardware failed: {e}"),
            };
            self.status(BbaStatus::Aborted, &msg, "", p, 0.0, hw);
            return Ok(());
        }
        match self.step(&mut run, hw) {
            Ok(true) => {
                let (p, eta) = run.progress();
                let name = self.current_name(&run);
                self.status(BbaStatus::Running, "", &name, p, eta, hw);
                self.run = Some(run);
            }
            Ok(false) => {
                let msg = format!("{} quads measured, {} failed", run.done - run.failed, run.failed);
                self.status(BbaStatus::Done, &msg, "", 100.0, 0.0, hw);
            }
            Err(StepError::Hardware(e)) => {
                let (p, _) = run.progress();
                let msg = match Self::release(hw).and_then(|()| Self::unbump(&mut run, hw).map(drop)) {
                    Ok(()) => e,
                    Err(r) => format!("{e}; releasing the hardware failed: {r}"),
                };
                self.status(BbaStatus::Error, &msg, "", p, 0.0, hw);
            }
            Err(StepError::Fatal(e)) => return Err(e),
        }
        Ok(())
    }

    /// Advances the run by one step; false when it is complete.
    fn step(&mut self, run: &mut BbaRun, hw: &mut impl Hardware) -> Result<bool, StepError> {
        let phase = std::mem::replace(&mut run.phase, Phase::Select(QuadId(0)));
        run.phase = match phase {
            Phase::Select(quad) => {
                // from off, never from another quad: no relay switch under way
                hw.set(Setpoint::AuxCurrent, 0.0)?;
                hw.set(Setpoint::MuxOff, 1.0)?;
                if hw.value(Setpoint::BbaBump) != 0.0 && !run.bump.centred {
                    self.centre_on_bpm(run, quad, hw)?;
                }
                hw.set(Setpoint::MuxSelect(quad), 1.0)?;
                Phase::Step { quad, index: 0, x: Vec::new(), y: Vec::new() }
            }
            Phase::Step { quad, index, mut x, mut y } => {
                let current = self.procedure.steps_a[index] * run.step_scale;
                hw.set(Setpoint::AuxCurrent, current)?;
                let (rx, ry) = match self.readings(hw) {
                    Ok(r) => r,
                    Err(reason) => return self.lost(run, quad, current, &reason, hw).map(|()| true),
                };
                x.push(Step { current_a: current, readings: rx });
                y.push(Step { current_a: current, readings: ry });
                match index + 1 < self.procedure.steps_a.len() {
                    true => Phase::Step { quad, index: index + 1, x, y },
                    false => Phase::Finish { quad, x, y },
                }
            }
            Phase::Finish { quad, x, y } => {
                Self::release(hw)?;
                // with a bump in place, the machine as set has it
                let fits = self.analyst(hw).fit_quad(&mut run.cache, quad, &x, &y, &[]);
                // the bump variant (`TWIN:BBA:bump`): bump the beam onto the
                // quad and measure again, up to `bump::MAX_BUMPS` times, each
                // bump corrected by what the last showed of the planned
                // response (the measurement nearest the centre is the result)
                if hw.value(Setpoint::BbaBump) != 0.0 {
                    let d = match &fits {
                        [Ok(fx), Ok(fy)] => Some([fx.displacement_m, fy.displacement_m]),
                        _ => None,
                    };
                    let distance_m = d.map_or(f64::INFINITY, |d| d[0].abs().max(d[1].abs()));
                    let kicks = run.bump.kicks.clone();
                    run.bump.keep(bump::Best { distance_m, x, y, fits, kicks });
                    if let Some(d) = d.filter(|d| bump::due(*d, run.bump.count)) {
                        let ask = run.bump.ask(d);
                        match self.bump(run, quad, ask, hw) {
                            Ok(planned) => {
                                run.bump.last = Some((d, planned));
                                run.bump.count += 1;
                                run.phase = Phase::Select(quad);
                                return Ok(true);
                            }
                            // the best measurement as it is
                            Err(reason) => {
                                tracing::warn!(quad = %self.schema.quad(quad).name, "no BBA bump: {reason}");
                            }
                        }
                    }
                    let Some(best) = run.bump.best.take() else {
                        return Err(StepError::Fatal(anyhow::anyhow!("the bump sequence kept no measurement")));
                    };
                    let measured = (best.x, best.y, best.fits);
                    self.conclude(run, quad, measured, Some(best.kicks), true, hw)?;
                } else {
                    self.conclude(run, quad, (x, y, fits), None, false, hw)?;
                }
                return Ok(true);
            }
            Phase::Refit { pass, index } => match self.refit(run, pass, index, hw)? {
                Some(next) => next,
                None => return Ok(false),
            },
        };
        Ok(true)
    }

    /// Refits the quads from `index` on, as many at once as there are
    /// cores, each against the centres found before this step (they are
    /// independent given those); the next phase, or None when done.
    fn refit(
        &mut self,
        run: &mut BbaRun,
        pass: usize,
        index: usize,
        hw: &mut impl Hardware,
    ) -> Result<Option<Phase>, StepError> {
        let end = (index + rayon::current_num_threads().max(1)).min(run.measured.len());
        let fits: Vec<[PlaneFit; 2]> = {
            let analyst = self.analyst(hw);
            let cache = &run.cache;
            run.measured[index..end]
                .par_iter()
                .map(|m| match m.x.is_empty() {
                    // lost its orbit: nothing to refit
                    true => m.fits.clone(),
                    false => analyst.fit_quad(&mut cache.clone(), m.quad, &m.x, &m.y, &m.kicks),
                })
                .collect()
        };
        if index == 0 {
            run.pass_started = Instant::now();
            run.pass_change_m = 0.0;
        }
        let moved = |new: &PlaneFit, old: &PlaneFit| match (new, old) {
            (Ok(n), Ok(o)) => (n.offset_m - o.offset_m).abs(),
            (Err(_), Err(_)) => 0.0,
            _ => f64::INFINITY,
        };
        for (k, mut fits) in (index..end).zip(fits) {
            let old = &run.measured[k].fits;
            let change = moved(&fits[0], &old[0]).max(moved(&fits[1], &old[1]));
            run.pass_change_m = run.pass_change_m.max(change);
            // what the analyst's model still changes: the centre's move in
            // this pass (the other centres moved under it) adds to σ
            for (new, old) in fits.iter_mut().zip(old) {
                if let (Ok(n), Ok(o)) = (new.as_mut(), old) {
                    n.sigma_m = n.sigma_m.hypot(n.offset_m - o.offset_m);
                    n.bpm_sigma_m = n.bpm_sigma_m.hypot(n.bpm_offset_m - o.bpm_offset_m);
                }
            }
            if run.measured[k].bumped {
                bump::uncentred(&mut fits);
            }
            self.publish(run.measured[k].quad, &fits, hw);
            run.measured[k].fits = fits;
        }
        if end < run.measured.len() {
            return Ok(Some(Phase::Refit { pass, index: end }));
        }
        if run.pass_change_m >= SETTLED_M && pass < MAX_REFIT_PASSES {
            return Ok(Some(Phase::Refit { pass: pass + 1, index: 0 }));
        }
        tracing::info!(passes = pass, last_change_m = run.pass_change_m, "BBA refits done");
        for m in &run.measured {
            for (fit, plane) in m.fits.iter().zip(["x", "y"]) {
                if let Err(reason) = fit {
                    tracing::warn!(quad = %self.schema.quad(m.quad).name, plane, "BBA fit failed: {reason}");
                }
            }
        }
        for m in run.measured.iter().filter(|m| !m.earlier) {
            let record = BbaRecord {
                quad: self.schema.quad(m.quad).name.clone(),
                at: SystemTime::now(),
                x: m.x.clone(),
                y: m.y.clone(),
                fits: m.fits.clone(),
            };
            hw.record(record).map_err(StepError::Fatal)?;
            run.failed += usize::from(m.fits.iter().any(Result::is_err));
        }
        // the next run marks them as earlier (`BbaRun::new`)
        self.history = std::mem::take(&mut run.measured);
        Ok(None)
    }

    /// The analyst's knowledge now: the machine as set, the centres found.
    fn analyst<'a>(&'a self, hw: &'a impl Hardware) -> Analyst<'a> {
        Analyst {
            schema: &self.schema,
            as_set: hw.lattice(),
            estimates: &self.estimates,
            turns_ratio: self.procedure.turns_ratio,
            sigma_coverage: self.procedure.sigma_coverage,
        }
    }

    /// Bumps the beam at `quad` by `shift_m` (x, y) with the nearest
    /// steerers (the bump variant); returns the move the plan predicts
    /// (less where the steerers' limits bind). On a refusal the steerers
    /// already written stay in the run's bump, which `unbump` restores.
    fn bump(
        &self,
        run: &mut BbaRun,
        quad: QuadId,
        shift_m: [f64; 2],
        hw: &mut impl Hardware,
    ) -> Result<[f64; 2], String> {
        let plan = self.plan_bump(run, quad, shift_m, hw)?;
        let magnets: Vec<(ElementId, Plane)> = (plan.delta_a.iter().flat_map(|(pc, _)| &self.schema.pc(*pc).magnets))
            .filter_map(|m| match m.kind {
                MagnetKind::Steerer(plane) => Some((m.element, plane)),
                _ => None,
            })
            .collect();
        let before: Vec<f64> = magnets.iter().map(|&(e, p)| hw.lattice().kick_rad(e, p)).collect();
        let applied = bump::apply(&mut run.bump, &plan, shift_m, hw);
        // what the lattice gained, also from the part a refusal left written
        let added = magnets.iter().zip(before).map(|(&(e, p), k)| (e, p, hw.lattice().kick_rad(e, p) - k));
        bump::accumulate(&mut run.bump.kicks, added.collect());
        applied.map(|()| plan.shift_m)
    }

    /// The bump variant's first move: the beam onto the quad's nearest
    /// BPM's zero (the best guess of the centre before a measurement), so
    /// that the quad's steps do not kick a beam that passes millimetres
    /// off-centre.
    fn centre_on_bpm(&self, run: &mut BbaRun, quad: QuadId, hw: &mut impl Hardware) -> Result<(), StepError> {
        run.bump.centred = true;
        let bpms = hw.lattice().bpms();
        let nearest = twin_engine::bba_model::bpms_around(hw.lattice(), self.schema.quad_element(quad), &bpms).nearest;
        let [x, y] = hw.read_orbit()?;
        let seen = [x[nearest], y[nearest]];
        if seen.iter().any(|v| !v.is_finite()) || seen.iter().all(|v| v.abs() <= bump::SETTLED_M) {
            return Ok(());
        }
        if let Err(reason) = self.bump(run, quad, [-seen[0], -seen[1]], hw) {
            tracing::warn!(quad = %self.schema.quad(quad).name, "no BBA bump onto the BPM: {reason}");
        }
        Ok(())
    }

    /// Ends the measurement of `quad` with its readings and fits (the
    /// best of a bump sequence, taken with `kicks` in place; None: the
    /// kicks in place now): steerers restored, result published and kept,
    /// the next quad or the refits.
    fn conclude(
        &mut self,
        run: &mut BbaRun,
        quad: QuadId,
        (x, y, mut fits): (Vec<Step>, Vec<Step>, [PlaneFit; 2]),
        kicks: Option<Vec<(ElementId, Plane, f64)>>,
        bumped: bool,
        hw: &mut impl Hardware,
    ) -> Result<(), StepError> {
        let in_place = Self::unbump(run, hw)?;
        run.step_scale = 1.0;
        let kicks = kicks.unwrap_or(in_place);
        if bumped {
            bump::uncentred(&mut fits);
        }
        self.publish(quad, &fits, hw);
        run.done += 1;
        run.measured.push(Measured { quad, x, y, fits, kicks, bumped, earlier: false });
        run.phase = match run.queue.pop_front() {
            Some(next) => Phase::Select(next),
            // a single quad too: its own centre in the model, the
            // model's response carries the nonlinear terms
            None => Phase::Refit { pass: 1, index: 0 },
        };
        Ok(())
    }

    /// The machine lost its orbit in a step of `quad` (the beam would be
    /// lost): supply to 0, multiplexer off; the quad is measured again with
    /// steps scaled by `RETRY_STEP_SCALE` (once, and only before a bump
    /// sequence has a measurement). Otherwise steerers restored, the quad
    /// fails with the reason (or, in a bump sequence, keeps the best
    /// measurement so far). Either way the run goes on, unless the orbit
    /// does not come back.
    fn lost(
        &mut self,
        run: &mut BbaRun,
        quad: QuadId,
        current_a: f64,
        reason: &str,
        hw: &mut impl Hardware,
    ) -> Result<(), StepError> {
        Self::release(hw)?;
        let why = format!("no orbit at {current_a:+} A: {reason}");
        match run.bump.best.take() {
            None if run.step_scale == 1.0 => {
                // measured again with smaller steps (a bump in place stays)
                run.step_scale = RETRY_STEP_SCALE;
                run.phase = Phase::Select(quad);
                tracing::info!(quad = %self.schema.quad(quad).name, "{why}: measuring again with smaller steps");
            }
            Some(best) => self.conclude(run, quad, (best.x, best.y, best.fits), Some(best.kicks), true, hw)?,
            None => {
                let bumped = run.bump.centred;
                self.conclude(run, quad, (Vec::new(), Vec::new(), [Err(why.clone()), Err(why)]), None, bumped, hw)?
            }
        }
        hw.read_orbit()
            .map_err(|e| format!("the orbit did not come back after {}: {e}", self.schema.quad(quad).name))?;
        Ok(())
    }

    /// The bump's currents, planned on the machine as the beam sees it
    /// when the beam is to move more than `bump::FAR_M` (the analyst's
    /// model steered onto the orbit read now), else, or when that model
    /// has no orbit, on the machine as set without errors, and failing
    /// that without the bump in place.
    fn plan_bump(
        &self,
        run: &mut BbaRun,
        quad: QuadId,
        shift_m: [f64; 2],
        hw: &mut impl Hardware,
    ) -> Result<bump::Plan, String> {
        let seen = match shift_m.iter().any(|s| s.abs() > bump::FAR_M) {
            true => {
                let [x, y] = hw.read_orbit()?;
                self.analyst(hw).as_seen(&mut run.cache, [&x, &y]).ok()
            }
            false => None,
        };
        let now = |pc| hw.value(Setpoint::PcCurrent(pc));
        let plan = |lattice: Lattice| bump::plan(&lattice, &self.schema, quad, shift_m, now);
        if let Some(Ok(p)) = seen.map(plan) {
            return Ok(p);
        }
        let analyst = self.analyst(hw);
        let undone: Vec<_> = run.bump.kicks.iter().map(|&(e, p, k)| (e, p, -k)).collect();
        analyst
            .lattice(false, &[])
            .and_then(plan)
            .or_else(|_| analyst.lattice(false, &undone).and_then(plan))
            .map_err(|e| e.to_string())
    }

    /// Restores the steerers a bump changed; the kicks it had added.
    fn unbump(run: &mut BbaRun, hw: &mut impl Hardware) -> Result<Vec<(ElementId, Plane, f64)>, String> {
        let bump = std::mem::take(&mut run.bump);
        let writes: Vec<_> = bump.before_a.iter().map(|(pc, a)| (Setpoint::PcCurrent(*pc), *a)).collect();
        if !writes.is_empty() {
            hw.set_all(&writes)?;
        }
        Ok(bump.kicks)
    }

    /// Orbit readings at this step: the first is discarded.
    fn readings(&self, hw: &mut impl Hardware) -> Result<(Readings, Readings), String> {
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for r in 0..self.procedure.readings_per_step {
            let [x, y] = hw.read_orbit()?;
            if r > 0 {
                xs.push(x);
                ys.push(y);
            }
        }
        Ok((xs, ys))
    }

    /// Publishes a quad's result and keeps it as the estimate of its centre.
    fn publish(&mut self, quad: QuadId, fits: &[PlaneFit; 2], hw: &mut impl Hardware) {
        let value = |f: &PlaneFit, g: fn(&twin_engine::bba::BbaFit) -> f64| f.as_ref().map_or(f64::NAN, g);
        self.view.results[quad.0] = Some(QuadResult {
            offset_m: [value(&fits[0], |f| f.offset_m), value(&fits[1], |f| f.offset_m)],
            sigma_m: [value(&fits[0], |f| f.sigma_m), value(&fits[1], |f| f.sigma_m)],
            bpm_offset_m: [value(&fits[0], |f| f.bpm_offset_m), value(&fits[1], |f| f.bpm_offset_m)],
            bpm_sigma_m: [value(&fits[0], |f| f.bpm_sigma_m), value(&fits[1], |f| f.bpm_sigma_m)],
            chi2_m2: value(&fits[0], |f| f.chi2) + value(&fits[1], |f| f.chi2),
        });
        hw.report(&self.view);
        self.estimates[quad.0] = match fits {
            // a centre beyond 1 mm is not a believable estimate: it would
            // spoil the analyst's model for every other quad
            [Ok(x), Ok(y)] if x.offset_m.abs() < MAX_ESTIMATE_M && y.offset_m.abs() < MAX_ESTIMATE_M => {
                Some([x.offset_m, y.offset_m])
            }
            _ => None,
        };
    }
}

/// Why a step could not be taken.
enum StepError {
    /// The machine refused (run ends with ERROR).
    Hardware(String),
    /// The twin itself failed.
    Fatal(anyhow::Error),
}

impl From<String> for StepError {
    fn from(e: String) -> Self {
        StepError::Hardware(e)
    }
}
