//! Starting the twin inside a running IOC: load the machine, resolve the
//! PVs, spawn the model owner and the periodic tasks.
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use epics_pvxs_sys::{EpicsError, Ioc};
use tokio::sync::mpsc::unbounded_channel;
use tokio::task::JoinSet;
use twin_engine::lattice::{Lattice, Plane, from_lat2db_value};

use super::bba_publish::BbaPublisher;
use super::bpm::BpmPublisher;
use super::owner::{Outputs, Owner};
use super::publish::Publisher;
use super::setpoint_records::SetpointRecords;
use super::state::MachineState;
use super::{DiagnosticsSetting, Setpoint, beam};
use crate::config::Config;
use crate::machine::{Schema, load_machine_data, machine_docs_from_files};
use crate::prefix::Prefix;
use crate::router::Router;
use crate::store::model::{MachineDocs, SetpointDoc};
use crate::store::persister::{self, PersistSender, StoreFields};
use crate::store::{Backend, Store, StoreError};

/// The machine as loaded from the store (or config/), before the IOC starts.
pub struct Machine {
    pub config: Config,
    pub lattice: Lattice,
    pub schema: Arc<Schema>,
    /// Setpoint values restored from the store.
    pub restored: Vec<(Setpoint, f64)>,
    /// Hidden quad offsets drawn at start-up (`[alignment]`) for the quads
    /// the store holds none for; persisted once the twin runs.
    pub generated: Vec<(Setpoint, f64)>,
}

/// Config file: `TWIN_CONFIG`, default config/twin.toml.
pub fn config_path() -> PathBuf {
    std::env::var_os("TWIN_CONFIG").map_or_else(|| PathBuf::from("config/twin.toml"), PathBuf::from)
}

impl Machine {
    /// From the files of config/ only (offline tools, tests).
    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        let config = Config::load(path)?;
        let docs = machine_docs_from_files(&config)?;
        Self::from_docs(config, &docs, &[])
    }

    /// From machine documents and stored setpoints.
    pub fn from_docs(config: Config, docs: &MachineDocs, setpoints: &[SetpointDoc]) -> anyhow::Result<Self> {
        let lattice = from_lat2db_value(&config.machine.name, docs.lattice.clone())
            .with_context(|| format!("lattice document {:?}", config.machine.name))?;
        let data = load_machine_data(docs)?;
        let schema = Schema::build(&config, &lattice, &data).context("building the device schema")?;
        let restored = setpoints.iter().map(|d| restore_target(&schema, d)).collect::<anyhow::Result<Vec<_>>>()?;
        let generated = super::alignment::generated_offsets(&schema, &config.alignment, &restored);
        if !generated.is_empty() {
            let a = &config.alignment;
            tracing::info!(count = generated.len(), rms_m = a.quad_offset_rms_m, seed = a.seed, "quad offsets drawn");
        }
        Ok(Self { config, lattice, schema: Arc::new(schema), restored, generated })
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
            ("TWIN_NQ", self.schema.quads.iter().filter(|q| q.on_multiplexer).count().to_string()),
        ]
    }

    /// (record, value) of every setpoint for the IOC's pass 0: the restored
    /// value, else the design value of the loaded lattice (which may come
    /// from the store and differ from the one the substitutions were made
    /// from).
    pub fn initial_record_values(&self, prefix: &Prefix) -> Vec<(String, String)> {
        let design = self
            .schema
            .power_converters
            .iter()
            .map(|p| (Setpoint::PcCurrent(p.id), p.design_current_a))
            .chain(std::iter::once((Setpoint::MasterClock, self.schema.design_rf_khz)));
        let offsets = self
            .restored
            .iter()
            .chain(&self.generated)
            .filter(|(sp, _)| matches!(sp, Setpoint::QuadOffset(..)))
            .copied();
        design
            .map(|(sp, d)| (sp, self.restored.iter().find(|(r, _)| *r == sp).map_or(d, |(_, v)| *v)))
            .chain(offsets)
            .map(|(sp, v)| (prefix.pv(&setpoint_name(&self.schema, sp)), format!("{v:.17e}")))
            .collect()
    }
}

/// The stored name of a setpoint: its PV name without prefix
/// ("Q1PDR:set", "MCLKHX251C:freq", "TWIN:Q1M2D1R:x:set").
pub fn setpoint_name(schema: &Schema, sp: Setpoint) -> String {
    match sp {
        Setpoint::PcCurrent(id) => format!("{}:set", schema.pc(id).name),
        Setpoint::MasterClock => "MCLKHX251C:freq".to_string(),
        Setpoint::QuadOffset(q, p) => {
            format!("TWIN:{}:{}:set", schema.quad(q).name, if p == Plane::Horizontal { 'x' } else { 'y' })
        }
        Setpoint::MuxSelect(q) => format!("PMUXZR:{}", schema.quad(q).name),
        Setpoint::MuxOff => "PMUXZR:off".to_string(),
        Setpoint::AuxCurrent => "QSPAZR:set".to_string(),
    }
}

/// Unit of a setpoint as stored.
pub fn setpoint_unit(sp: Setpoint) -> &'static str {
    match sp {
        Setpoint::PcCurrent(_) | Setpoint::AuxCurrent => "A",
        Setpoint::MasterClock => "kHz",
        Setpoint::QuadOffset(..) => "m",
        Setpoint::MuxSelect(_) | Setpoint::MuxOff => "",
    }
}

fn restore_target(schema: &Schema, d: &SetpointDoc) -> anyhow::Result<(Setpoint, f64)> {
    anyhow::ensure!(d.value.is_finite(), "malformed setpoints document {:?}: field `value` is not finite", d.name);
    if d.name == "MCLKHX251C:freq" {
        return Ok((Setpoint::MasterClock, d.value));
    }
    let offset = d.name.strip_prefix("TWIN:").and_then(|r| r.strip_suffix(":set")).and_then(|r| r.rsplit_once(':'));
    if let Some((quad, axis)) = offset
        && let Some(q) = schema.quads.iter().find(|q| q.name == quad)
    {
        let plane = if axis == "x" { Plane::Horizontal } else { Plane::Vertical };
        return Ok((Setpoint::QuadOffset(q.id, plane), d.value));
    }
    let pc = d
        .name
        .strip_suffix(":set")
        .and_then(|pc| schema.power_converters.iter().find(|p| p.name == pc))
        .ok_or_else(|| anyhow::anyhow!("setpoints document {:?}: no such setpoint in this machine", d.name))?;
    Ok((Setpoint::PcCurrent(pc.id), d.value))
}

/// Opens the store and loads the machine from it; an empty store is seeded
/// from config/, an unreachable one leaves the twin on config/ data (the
/// persister retries). Malformed documents are an error.
pub async fn load_from_store(config: Config) -> anyhow::Result<(Machine, Store, Option<String>)> {
    let backend = Backend::from_config(&config.store);
    let store = Store::open(&backend, &config.machine.name).await.context("opening the store")?;
    let mut outage = None;
    let docs = match store.load_machine().await {
        Ok(Some(docs)) => {
            tracing::info!(store = %backend.describe(), "machine loaded from the store");
            docs
        }
        Ok(None) => {
            let docs = machine_docs_from_files(&config)?;
            match store.save_machine(&docs).await {
                Ok(()) => tracing::info!(store = %backend.describe(), "empty store seeded from config/"),
                Err(e @ StoreError::Unavailable(_)) => outage = Some(e.to_string()),
                Err(e) => return Err(e.into()),
            }
            docs
        }
        Err(e @ StoreError::Unavailable(_)) => {
            tracing::warn!("{e}: serving the machine from config/ and retrying the store");
            outage = Some(e.to_string());
            machine_docs_from_files(&config)?
        }
        Err(e) => return Err(anyhow::Error::from(e).context("loading the machine from the store")),
    };
    let setpoints = if outage.is_some() {
        Vec::new()
    } else {
        match store.load_setpoints().await {
            Ok(s) => s,
            Err(e @ StoreError::Unavailable(_)) => {
                outage = Some(e.to_string());
                Vec::new()
            }
            Err(e) => return Err(anyhow::Error::from(e).context("loading the setpoints from the store")),
        }
    };
    let machine = Machine::from_docs(config, &docs, &setpoints)?;
    tracing::info!(restored = machine.restored.len(), "setpoints restored");
    Ok((machine, store, outage))
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
    persistence: Option<(Store, Option<String>)>,
    router: &mut Router,
    tasks: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<Option<PersistSender>> {
    let Machine { config, lattice, schema, restored, generated } = machine;
    let persist_tx = match persistence {
        Some((store, outage)) => {
            let fields = StoreFields::attach(ioc, prefix).context("store status PVs")?;
            let (tx, rx) = unbounded_channel();
            let backend = Backend::from_config(&config.store).describe();
            tasks.spawn(persister::run(store, rx, config.store.clone(), fields, backend, outage));
            Some(tx)
        }
        None => None,
    };
    let settle = config.power_converters.readback_settle_s;
    let settle = (settle > 0.0).then(|| (Duration::from_secs_f64(settle), tokio::runtime::Handle::current()));
    let publisher = Publisher::attach(ioc, prefix, &schema, &lattice, config.machine.rf_harmonic, settle)?;
    let bpm = Arc::new(Mutex::new(BpmPublisher::attach(ioc, prefix, &schema, &config.diagnostics)?));
    let records = SetpointRecords::attach(ioc, prefix, &schema).context("setpoint records")?;
    let bba = BbaPublisher::attach(ioc, prefix, &schema, &lattice).context("BBA records")?;
    for (key, target) in records.routes() {
        router.add_model(key, target);
    }
    router.add_diagnostics(ioc.record_key(&prefix.pv("TWIN:BPM:NOISE"))?, DiagnosticsSetting::NoiseEnable);
    router.add_diagnostics(ioc.record_key(&prefix.pv("TWIN:BPM:NOISE_RMS"))?, DiagnosticsSetting::NoiseRms);

    let (tx, rx) = unbounded_channel();
    router.connect_model(tx, Arc::clone(&bpm));
    let outputs = Outputs { publisher, records, bba, bpm: Arc::clone(&bpm), persist: persist_tx.clone() };
    let state = MachineState::new(lattice, schema);
    let owner = Owner::new(state, outputs, Arc::new(AtomicBool::new(false)), &restored, &generated)
        .map_err(|e| anyhow::anyhow!("initial setpoint refused: {e}"))?
        .spawn(rx)
        .context("model thread")?;
    tasks.spawn(async move {
        let joined = tokio::task::spawn_blocking(move || owner.join()).await?;
        joined.map_err(|_| anyhow::anyhow!("the model thread panicked"))??;
        anyhow::bail!("the model thread stopped")
    });
    tasks.spawn(beam::run(Arc::clone(ioc), prefix.clone(), config.beam.clone(), Arc::clone(&bpm)));
    tasks.spawn(super::bpm::bpm_cadence(bpm, config.diagnostics.rate_hz));
    Ok(persist_tx)
}
