//! One step of a BBA run, executed by the model owner (see `bba_run.rs`).
use std::sync::atomic::Ordering;

use epics_pvxs_sys::WriteValue;
use twin_engine::bba::{BbaFit, Step, fit};
use twin_engine::bba_model::{OrbitKind, bba_model, reference_6d};
use twin_engine::lattice::Plane;
use twin_engine::optics::linear_optics_4d;

use super::Setpoint;
use super::bba_publish::BbaStatus;
use super::bba_run::{BbaRun, Phase, READINGS_PER_STEP, STEPS_A};
use super::owner::Owner;
use super::state::AUX_TURNS_RATIO;
use crate::machine::QuadId;
use crate::store::persister::{BbaResultDoc, PersistMsg};

/// readings[r][bpm] of one plane [m].
type Readings = Vec<Vec<f64>>;

impl Owner {
    pub(super) fn current_name(&self, run: &BbaRun) -> String {
        let q = match &run.phase {
            Phase::Select(q) | Phase::Step { quad: q, .. } | Phase::Finish { quad: q, .. } => *q,
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
                let (fx, fy) = self.fit_quad(quad, &x, &y);
                self.out.bba.post_result(quad, fx.as_ref().ok(), fy.as_ref().ok())?;
                self.store_result(quad, &fx, &fy, &x, &y)?;
                run.done += 1;
                if fx.is_err() || fy.is_err() {
                    run.failed += 1;
                }
                match run.queue.pop_front() {
                    Some(next) => Phase::Select(next),
                    None => return Ok(false),
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

    /// Fits both planes against the analyst's model: the machine as set
    /// now (converters, steerers, RF, multiplexer off) without the hidden
    /// offsets, which are what BBA is looking for.
    fn fit_quad(&self, quad: QuadId, x: &[Step], y: &[Step]) -> (anyhow::Result<BbaFit>, anyhow::Result<BbaFit>) {
        let mut analyst = self.state.lattice.clone();
        for q in &self.state.schema.quads {
            let _ = analyst.set_misalignment(self.state.schema.quad_element(q.id), Default::default());
        }
        let prepared = linear_optics_4d(&analyst, 0.0, None)
            .map_err(anyhow::Error::from)
            .and_then(|o| Ok((reference_6d(&analyst)?, o)));
        let (reference, optics) = match prepared {
            Ok(p) => p,
            Err(e) => return (Err(anyhow::anyhow!("{e}")), Err(e)),
        };
        let schema = &self.state.schema;
        let dk1_per_a = AUX_TURNS_RATIO * schema.quad_drive(quad).magnetic_strength_per_a / schema.rigidity_tm;
        let bpms = analyst.bpms();
        let fit_plane = |plane: Plane, steps: &[Step]| -> anyhow::Result<BbaFit> {
            let element = schema.quad_element(quad);
            let model = bba_model(&analyst, &optics, &reference, element, plane, dk1_per_a, &bpms, OrbitKind::FixedRf)?;
            Ok(fit(&model, steps)?)
        };
        (fit_plane(Plane::Horizontal, x), fit_plane(Plane::Vertical, y))
    }

    fn store_result(
        &self,
        quad: QuadId,
        fx: &anyhow::Result<BbaFit>,
        fy: &anyhow::Result<BbaFit>,
        x: &[Step],
        y: &[Step],
    ) -> anyhow::Result<()> {
        let Some(tx) = &self.out.persist else { return Ok(()) };
        let doc = BbaResultDoc::new(&self.state.schema.quad(quad).name, fx, fy, x, y);
        tx.send(PersistMsg::Bba(Box::new(doc))).map_err(|_| anyhow::anyhow!("the persister stopped"))
    }
}
