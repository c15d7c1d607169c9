//! EPICS publishers: each subscribes to the core's snapshot channel and
//! posts its PVs; the model and diagnostics publishers take part in the
//! barrier, so a write completes only once its effect is on their PVs.
mod bba;
mod diagnostics;
mod model;
mod optics;
pub mod readout;

use anyhow::Context;
use epics_pvxs_sys::{Alarm, AlarmStatus, Ioc, Severity};
use tokio::task::JoinSet;

pub use bba::BbaPublisher;
pub use diagnostics::Diagnostics;
pub use model::ModelPublisher;

use crate::config::Config;
use crate::core::CoreHandle;
use crate::core::physics::Invalid;
use crate::machine::Machine;
use crate::prefix::Prefix;

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
    tasks: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let model =
        ModelPublisher::attach(ioc, prefix, machine, config.power_converters.readback_settle_s).context("model PVs")?;
    let diagnostics = Diagnostics::attach(ioc, prefix, machine, config.diagnostics.seed).context("diagnostics PVs")?;
    tasks.spawn(model.run(core.snapshots.clone(), core.barrier.join()));
    tasks.spawn(diagnostics.run(core.snapshots.clone(), core.barrier.join(), config.diagnostics.rate_hz));
    if let Some(bba) = BbaPublisher::attach(ioc, prefix, machine).context("BBA PVs")? {
        tasks.spawn(bba.run(core.snapshots.clone()));
    }
    Ok(())
}
