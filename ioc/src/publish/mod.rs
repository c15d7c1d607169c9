//! EPICS publishers: each subscribes to the core's snapshot channel and
//! posts its PVs; all of them take part in the barrier, so a write
//! completes only once its effect is on the PVs.
mod bba;
mod diagnostics;
mod directory;
mod envelope;
mod magnets;
mod model;
mod mux;
mod optics;
mod outputs;
mod readbacks;
pub mod readout;
pub mod tunes;

use std::sync::Arc;

use anyhow::Context;
use epics_pvxs_sys::{Alarm, AlarmStatus, Ioc, Severity, Update};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::threads::on_own_thread;

pub use bba::BbaPublisher;
pub use diagnostics::Diagnostics;
pub use model::ModelPublisher;
pub use outputs::OutputMirror;

use crate::config::Config;
use crate::core::physics::Invalid;
use crate::core::snapshot::Snapshot;
use crate::core::{CoreHandle, Participant};
use crate::machine::{Machine, Setpoint};
use crate::prefix::Prefix;

/// Shows every snapshot with `show` and reports it published to the
/// barrier, until the core stops (a skipped snapshot is covered by the
/// next: the watch channel keeps only the latest).
async fn serve(
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    participant: Participant,
    mut show: impl FnMut(&Snapshot) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    loop {
        let snap = snapshots.borrow_and_update().clone();
        show(&snap)?;
        participant.published(snap.seq);
        snapshots.changed().await.context("the model core stopped")?;
    }
}

/// The time stamp and alarm of what a computation shows.
fn shown(snap: &Snapshot) -> Update {
    let ok = Update::at(snap.time);
    match &snap.model {
        Ok(_) => ok,
        Err(invalid) => ok.with_alarm(invalid_alarm(invalid)),
    }
}

/// INVALID/CALC with the reason: values shown from the last valid computation.
pub fn invalid_alarm(invalid: &Invalid) -> Alarm {
    Alarm::new(Severity::Invalid, AlarmStatus::Calc, invalid.message().to_string())
}

/// Resolves every publisher's PVs and spawns them; join the barrier before
/// the core runs.
pub fn spawn(
    ioc: &Ioc,
    prefix: &Prefix,
    machine: &Machine,
    config: &Config,
    core: &CoreHandle,
    initial: &[(Setpoint, f64)],
    tasks: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    directory::post(ioc, prefix, machine).context("the PV directory")?;
    let model =
        ModelPublisher::attach(ioc, prefix, machine, config.power_converters.readback_settle_s).context("model PVs")?;
    let diagnostics = Diagnostics::attach(ioc, prefix, machine, config.diagnostics.seed).context("diagnostics PVs")?;
    let mirror = OutputMirror::attach(ioc, prefix, machine, initial).context("setpoint records")?;
    let (snapshots, barrier) = (&core.snapshots, &core.barrier);
    let rate = config.diagnostics.rate_hz;
    on_own_thread("publish-model", model.run(snapshots.clone(), barrier.join(), rate), tasks)?;
    let optics = optics::OpticsPublisher::attach(ioc, prefix, machine).context("optics PVs")?;
    on_own_thread("publish-optics", optics.run(snapshots.clone(), barrier.join()), tasks)?;
    on_own_thread("publish-diag", diagnostics.run(snapshots.clone(), barrier.join(), rate), tasks)?;
    on_own_thread("publish-outputs", mirror.run(snapshots.clone(), barrier.join()), tasks)?;
    // not a barrier participant: the envelope follows the writes
    tasks.spawn(envelope::EnvelopePublisher::attach(ioc, prefix)?.run(snapshots.clone()));
    if let Some(bba) = BbaPublisher::attach(ioc, prefix, machine).context("BBA PVs")? {
        on_own_thread("publish-bba", bba.run(snapshots.clone(), barrier.join()), tasks)?;
    }
    Ok(())
}
