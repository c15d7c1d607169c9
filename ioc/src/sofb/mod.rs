//! The twin's slow orbit feedback (`$(P)TWIN:SOFB:*`, off by default): at
//! its rate it reads the lattice BPMs as the machine's feedback does (each
//! BPM's errors and the read-out noise; dead and flagged BPMs left out),
//! computes the steerer currents that bring the readings toward the
//! reference with the twin's own response matrix (`matrix`), and writes
//! them as one batch through the core like any client (validated, one
//! recompute, answered after publication). It pauses while BBA measures
//! if so set, and shows its state, residual and iterations.
mod fields;
mod matrix;

use std::time::Duration;

use anyhow::Context;
use epics_pvxs_sys::Ioc;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::oneshot;

use crate::core::bpm::read_all;
use crate::core::snapshot::{BbaStatus, Snapshot};
use crate::core::{Ack, Command, CoreHandle};
use crate::machine::{Machine, Setpoint};
use crate::prefix::Prefix;
use crate::threads::in_background;
use fields::{SofbFields, SofbState};
use matrix::Response;

/// How long a correction waits for the core and the publishers.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Seed offset of the feedback's read-out noise stream.
const NOISE_STREAM: u64 = 0x736f_6662;

pub struct Sofb {
    machine: Machine,
    fields: SofbFields,
    rng: StdRng,
    iterations: i32,
}

impl Sofb {
    pub fn attach(ioc: &Ioc, prefix: &Prefix, machine: &Machine, seed: u64) -> anyhow::Result<Self> {
        let fields = SofbFields::attach(ioc, prefix)?;
        Ok(Self { machine: machine.clone(), fields, rng: StdRng::seed_from_u64(seed ^ NOISE_STREAM), iterations: 0 })
    }

    /// Computes its response matrix and the design orbit (in the
    /// background: start-up and client writes do not wait for them), then
    /// corrects at its rate until the core stops.
    pub async fn run(mut self, core: CoreHandle) -> anyhow::Result<()> {
        let machine = self.machine.clone();
        let response = in_background("sofb-response", move || Response::of(&machine.lattice, &machine.schema))
            .await?
            .context("the SOFB's response matrix")?;
        let mut snapshots = core.snapshots.clone();
        let mut shown_reference = None;
        loop {
            let snap = snapshots.borrow_and_update().clone();
            let reference = snap.settings.sofb.reference_m.clone();
            if shown_reference.as_ref() != Some(&reference) {
                self.fields.reference(reference.as_deref().unwrap_or(&response.design_m))?;
                shown_reference = Some(reference);
            }
            let period = Duration::from_secs_f64(1.0 / snap.settings.sofb.rate_hz.max(0.05));
            let state = self.iteration(&snap, &core, &response).await;
            self.fields.state(&state, self.iterations)?;
            // sleeps its period; a change of the settings (on, rate) wakes
            // it, and so does BBA starting or ending a measurement it pauses
            // for: the pause is shown (and ends) at once, not up to a period
            // later, when a quad's measurement may be over already
            let on = snap.settings.sofb.on;
            let paused = pauses_for_bba(&snap);
            let _ = tokio::time::timeout(period, async {
                while snapshots.changed().await.is_ok() {
                    let latest = snapshots.borrow();
                    let s = &latest.settings.sofb;
                    if s.on != on || s.rate_hz != snap.settings.sofb.rate_hz || pauses_for_bba(&latest) != paused {
                        return;
                    }
                }
            })
            .await;
            if snapshots.has_changed().is_err() {
                anyhow::bail!("the model core stopped");
            }
        }
    }

    /// One iteration: the state to show.
    async fn iteration(&mut self, snap: &Snapshot, core: &CoreHandle, response: &Response) -> SofbState {
        let s = &snap.settings.sofb;
        if !s.on {
            return SofbState::Off;
        }
        if pauses_for_bba(snap) {
            return SofbState::Paused("BBA is measuring".into());
        }
        let Some(physics) = snap.last_valid.as_ref().filter(|_| snap.model.is_ok()) else {
            return SofbState::Error("no valid model: no orbit to correct".into());
        };
        let rms = snap.settings.noise.effective_rms_m();
        let reference = s.reference_m.as_deref().unwrap_or(&response.design_m);
        let readings = read_all(&self.machine.schema, &snap.settings.bpms, physics, rms, &mut self.rng);
        let mut error = [Vec::new(), Vec::new()];
        let mut used = Vec::new();
        for (k, r) in readings.iter().enumerate() {
            let number = r.number();
            if number.is_some() {
                used.push(k);
            }
            let [x, y] = number.unwrap_or([f64::NAN; 2]);
            error[0].push(x - reference[0][k]);
            error[1].push(y - reference[1][k]);
        }
        let residual = error.clone().map(|e| rms_of(&e, &used));
        let mut writes = Vec::new();
        for (p, plane) in response.planes.iter().enumerate() {
            if !s.planes.includes(p) || used.is_empty() {
                continue;
            }
            let Some(delta) = plane.correction(&error[p], &used, s.singular_cut) else {
                return SofbState::Error("the response matrix has no singular value".into());
            };
            for (pc, d) in plane.converters.iter().zip(delta.iter()) {
                let limits = self.machine.schema.pc(*pc).limits_a;
                let now = snap.settings.currents_a[pc.0];
                writes.push((Setpoint::PcCurrent(*pc), (now + s.gain * d).clamp(limits.0, limits.1)));
            }
        }
        if writes.is_empty() {
            return SofbState::Running { residual_m: residual };
        }
        // switched off, or the currents moved, while it computed: no stale correction
        let latest = core.snapshots.borrow().clone();
        if !latest.settings.sofb.on || latest.settings.currents_a != snap.settings.currents_a {
            return SofbState::Running { residual_m: residual };
        }
        match submit(core, writes).await {
            Ok(()) => {
                self.iterations = self.iterations.wrapping_add(1);
                SofbState::Running { residual_m: residual }
            }
            Err(reason) => SofbState::Error(reason),
        }
    }
}

/// BBA is measuring and the feedback is set to pause for it.
fn pauses_for_bba(snap: &Snapshot) -> bool {
    snap.settings.sofb.pause_for_bba && snap.bba.status == BbaStatus::Running
}

/// rms of `values` at `used` [m].
fn rms_of(values: &[f64], used: &[usize]) -> f64 {
    if used.is_empty() {
        return f64::NAN;
    }
    (used.iter().map(|&i| values[i] * values[i]).sum::<f64>() / used.len() as f64).sqrt()
}

/// Writes one correction as a batch; the refusal's reason.
async fn submit(core: &CoreHandle, writes: Vec<(Setpoint, f64)>) -> Result<(), String> {
    let (tx, rx) = oneshot::channel();
    let ack = Ack::new(move |r| {
        let _ = tx.send(r);
    });
    core.commands.send(Command::Batch { writes, ack }).map_err(|_| "the model core is not running".to_string())?;
    match tokio::time::timeout(WRITE_TIMEOUT, rx).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(refusal))) => Err(format!("correction refused: {}", refusal.reason)),
        Ok(Err(_)) => Err("the model core dropped the correction".into()),
        Err(_) => Err("the correction was not acknowledged in time".into()),
    }
}
