//! Starting the twin inside a running IOC: load the machine, resolve the
//! PVs, spawn the model owner and the periodic tasks.
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use epics_pvxs_sys::{EpicsError, Ioc};
use tokio::sync::mpsc::unbounded_channel;
use tokio::task::JoinSet;
use twin_engine::lattice::Lattice;

use super::bpm::BpmPublisher;
use super::owner::Owner;
use super::publish::Publisher;
use super::{DiagnosticsSetting, Setpoint, beam};
use crate::config::Config;
use crate::machine::{Schema, load_machine_data};
use crate::model_cli::load_lattice;
use crate::prefix::Prefix;
use crate::router::Router;

/// The machine as loaded from config/, before the IOC starts.
pub struct Machine {
    pub config: Config,
    pub lattice: Lattice,
    pub schema: Arc<Schema>,
}

/// Config file: `TWIN_CONFIG`, default config/twin.toml.
pub fn config_path() -> PathBuf {
    std::env::var_os("TWIN_CONFIG").map_or_else(|| PathBuf::from("config/twin.toml"), PathBuf::from)
}

impl Machine {
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let config = Config::load(path)?;
        let lattice = load_lattice(&config.machine.lattice)?;
        let data = load_machine_data(&config)?;
        let schema = Schema::build(&config, &lattice, &data).context("building the device schema")?;
        Ok(Self { config, lattice, schema: Arc::new(schema) })
    }

    /// Values the startup script takes as macros (environment variables).
    pub fn script_env(&self) -> Vec<(&'static str, String)> {
        let rf = self.schema.design_rf_khz;
        let range = self.config.rf.range_khz;
        vec![
            ("TWIN_RF_KHZ", format!("{rf:.10}")),
            ("TWIN_RF_LOW", format!("{:.4}", rf - range)),
            ("TWIN_RF_HIGH", format!("{:.4}", rf + range)),
            ("TWIN_NPOINTS", (self.lattice.len() + 1).to_string()),
            ("TWIN_NBPM", self.lattice.bpms().len().to_string()),
        ]
    }
}

/// Whether the startup script loaded the machine records.
pub fn machine_records_loaded(ioc: &Ioc, prefix: &Prefix) -> anyhow::Result<bool> {
    match ioc.record_key(&prefix.pv("MCLKHX251C:freq")) {
        Ok(_) => Ok(true),
        Err(EpicsError::NoRecord(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Resolves every machine PV, routes the setpoints and spawns the tasks.
pub fn start(
    ioc: &Arc<Ioc>,
    prefix: &Prefix,
    machine: Machine,
    router: &mut Router,
    tasks: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let Machine { config, lattice, schema } = machine;
    let settle = config.power_converters.readback_settle_s;
    let settle = (settle > 0.0).then(|| (Duration::from_secs_f64(settle), tokio::runtime::Handle::current()));
    let publisher = Publisher::attach(ioc, prefix, &schema, &lattice, config.machine.rf_harmonic, settle)?;
    let bpm = Arc::new(Mutex::new(BpmPublisher::attach(ioc, prefix, &schema, &config.diagnostics)?));

    for pc in &schema.power_converters {
        router.add_model(ioc.record_key(&prefix.pv(&format!("{}:set", pc.name)))?, Setpoint::PcCurrent(pc.id));
    }
    router.add_model(ioc.record_key(&prefix.pv("MCLKHX251C:freq"))?, Setpoint::MasterClock);
    router.add_diagnostics(ioc.record_key(&prefix.pv("TWIN:BPM:NOISE"))?, DiagnosticsSetting::NoiseEnable);
    router.add_diagnostics(ioc.record_key(&prefix.pv("TWIN:BPM:NOISE_RMS"))?, DiagnosticsSetting::NoiseRms);

    let (tx, rx) = unbounded_channel();
    router.connect_model(tx, Arc::clone(&bpm));
    let owner = Owner::new(lattice, schema, publisher, Arc::clone(&bpm)).spawn(rx).context("model thread")?;
    tasks.spawn(async move {
        let joined = tokio::task::spawn_blocking(move || owner.join()).await?;
        joined.map_err(|_| anyhow::anyhow!("the model thread panicked"))??;
        anyhow::bail!("the model thread stopped")
    });
    tasks.spawn(beam::run(Arc::clone(ioc), prefix.clone(), config.beam.clone(), Arc::clone(&bpm)));
    tasks.spawn(beam::bpm_cadence(bpm, config.diagnostics.rate_hz));
    Ok(())
}
