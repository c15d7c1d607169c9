//! Start-up of the twin: load the machine from the store (or the profile's
//! files), restore the stored setpoints, draw the configured hidden state,
//! and give the IOC the values its records start from.
use anyhow::Context;
use epics_pvxs_sys::{EpicsError, Ioc};

use crate::config::Config;
use crate::core::alignment::generated_offsets;
use crate::core::errors::generated_errors;
use crate::machine::{BpmId, Machine, MachineDocs, OutputKind, Setpoint, machine_docs_from_files, read_json};
use crate::prefix::Prefix;
use crate::profile::Profile;
use crate::store::model::SetpointDoc;
use crate::store::{Backend, Store, StoreError};

/// The machine and its state as loaded, before the IOC starts.
pub struct Loaded {
    pub machine: Machine,
    /// The machine's lattice document (lat2db), as stored.
    pub lattice_doc: serde_json::Value,
    pub store: Store,
    /// Why the store is unavailable (the twin serves from the profile's files).
    pub outage: Option<String>,
    /// Setpoint values restored from the store.
    pub restored: Vec<(Setpoint, f64)>,
    /// Hidden state drawn at start-up (`[alignment]`) for the setpoints the
    /// store holds none for; persisted once the twin runs.
    pub generated: Vec<(Setpoint, f64)>,
    /// What the start-up repaired or reset (shown on `TWIN:STORE:NOTICE`).
    pub notices: Vec<String>,
}

/// Where to go from a store that cannot be used.
const RESET_HINT: &str = "start with --reset-store to set the stored state aside and start from design";

/// Opens the store and loads the machine from it; an empty store is seeded
/// from the profile's files, an unreachable one leaves the twin on them
/// (the persister retries). A store that cannot be used (unreadable or
/// malformed documents, out-of-range values, an invalid lattice, a machine
/// other than the records') stops the start-up with the document, field
/// and reason — unless the configuration asks to start from design.
pub async fn load(config: &Config) -> anyhow::Result<Loaded> {
    let profile = Profile::load(&config.machine.profile)?;
    let backend = Backend::from_config(&config.store);
    let store = Store::open(&backend, &profile.name, &config.store).await.context("opening the store")?;
    let mut notices: Vec<String> = store.repaired().map(str::to_string).into_iter().collect();
    for n in &notices {
        tracing::warn!(store = %backend.describe(), "store repaired at open: {n}");
    }
    if config.store.reset {
        let stamp = format!("{:x}", crate::store::model::epoch_ms(std::time::SystemTime::now()));
        let aside = store.reset(&stamp).await.context("setting the stored state aside")?;
        tracing::warn!(store = %backend.describe(), aside = %aside, "STARTING FROM DESIGN (--reset-store): the stored machine and state were set aside");
        notices.push(format!("started from design (--reset-store); stored state set aside in {aside}"));
    }
    let hint = |e: anyhow::Error| e.context(format!("the store {} cannot be used ({RESET_HINT})", backend.describe()));
    let (docs, mut outage) = machine_docs(&store, &backend, &profile).await.map_err(hint)?;
    let setpoints = match outage {
        Some(_) => Vec::new(),
        None => match store.load_setpoints().await {
            Ok(s) => s,
            Err(e @ StoreError::Unavailable(_)) => {
                outage = Some(e.to_string());
                Vec::new()
            }
            Err(e) => return Err(hint(anyhow::Error::from(e).context("loading the setpoints"))),
        },
    };
    let machine = Machine::from_docs(profile.clone(), &docs, config).map_err(hint)?;
    let generated_from = Machine::from_files(profile, config).context("the profile's machine")?;
    if let Some(difference) = machine.shape_difference(&generated_from) {
        anyhow::bail!(
            "the machine in the store {} differs from the records generated from the profile ({}): {difference} \
             — import the profile's machine (twin-ioc import) or regenerate the records from this machine (twin-ioc records)",
            backend.describe(),
            machine.profile.files.records.display()
        );
    }
    let restored = setpoints.iter().map(|d| restore(&machine, d)).collect::<anyhow::Result<Vec<_>>>().map_err(hint)?;
    tracing::info!(restored = restored.len(), "setpoints restored");
    let generated = hidden_state(&machine, config, &restored)?;
    Ok(Loaded { machine, lattice_doc: docs.lattice, store, outage, restored, generated, notices })
}

async fn machine_docs(
    store: &Store,
    backend: &Backend,
    profile: &Profile,
) -> anyhow::Result<(MachineDocs, Option<String>)> {
    match store.load_machine().await {
        Ok(Some(docs)) => {
            tracing::info!(store = %backend.describe(), "machine loaded from the store");
            Ok((docs, None))
        }
        Ok(None) => {
            let docs = machine_docs_from_files(profile, None)?;
            match store.save_machine(&docs).await {
                Ok(()) => {
                    tracing::info!(store = %backend.describe(), "empty store seeded from the profile's files");
                    Ok((docs, None))
                }
                Err(e @ StoreError::Unavailable(_)) => Ok((docs, Some(e.to_string()))),
                Err(e) => Err(e.into()),
            }
        }
        Err(e @ StoreError::Unavailable(_)) => {
            tracing::warn!("{e}: serving the machine from the profile's files and retrying the store");
            Ok((machine_docs_from_files(profile, None)?, Some(e.to_string())))
        }
        Err(e) => Err(anyhow::Error::from(e).context("loading the machine")),
    }
}

/// A stored setpoint, by its exact name in the catalogue, with a value its
/// record accepts.
fn restore(machine: &Machine, d: &SetpointDoc) -> anyhow::Result<(Setpoint, f64)> {
    let what = || format!("setpoints document {:?}", d.name);
    anyhow::ensure!(d.value.is_finite(), "{}: field `value` is not finite", what());
    let setpoint = machine
        .catalogue
        .parse(&d.name)
        .ok_or_else(|| anyhow::anyhow!("{}: no such setpoint in this machine", what()))?;
    let entry = machine.catalogue.entry(setpoint).ok_or_else(|| anyhow::anyhow!("{}: no catalogue row", what()))?;
    anyhow::ensure!(entry.persisted, "{}: this setpoint is not kept across restarts", what());
    let range = match &entry.output {
        OutputKind::Analog { limits: Some(l), .. } => Some((*l, "the drive limits")),
        OutputKind::Analog { limits: None, .. } => entry.valid.map(|v| (v, "the valid range")),
        OutputKind::Binary { .. } => Some(((0.0, 1.0), "the states")),
        OutputKind::Multi { states } => Some(((0.0, states.len() as f64 - 1.0), "the states")),
    };
    if let Some(((lo, hi), what_range)) = range {
        anyhow::ensure!(
            (lo..=hi).contains(&d.value),
            "{}: field `value` {} is outside {what_range} [{lo}, {hi}] {}",
            what(),
            d.value,
            entry.unit.egu()
        );
    }
    if matches!(entry.output, OutputKind::Binary { .. } | OutputKind::Multi { .. }) {
        anyhow::ensure!(d.value.fract() == 0.0, "{}: field `value` {} is not one of the states", what(), d.value);
    }
    anyhow::ensure!(
        d.unit == entry.unit.egu(),
        "{}: field `unit` is {:?}, expected {:?}",
        what(),
        d.unit,
        entry.unit.egu()
    );
    Ok((setpoint, d.value))
}

/// (record, value) of every setpoint for the IOC's pass 0, from the values
/// of the core's state (restored and drawn values applied; the design of
/// the loaded lattice, which may come from the store, otherwise).
pub fn initial_record_values(machine: &Machine, values: &[(Setpoint, f64)], prefix: &Prefix) -> Vec<(String, String)> {
    values
        .iter()
        .filter_map(|(sp, v)| {
            let e = machine.catalogue.entry(*sp)?;
            let text = match e.output {
                OutputKind::Analog { .. } => format!("{v:.17e}"),
                OutputKind::Binary { .. } | OutputKind::Multi { .. } => format!("{}", *v as i64),
            };
            Some((prefix.pv(&e.pv), text))
        })
        .collect()
}

/// Whether the startup script loaded the machine's records.
pub fn machine_records_loaded(ioc: &Ioc, prefix: &Prefix, machine: &Machine) -> anyhow::Result<bool> {
    match ioc.record_key(&prefix.pv(&machine.profile.rf.master_clock)) {
        Ok(_) => Ok(true),
        Err(EpicsError::NoRecord(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The hidden state drawn at start-up for what the store does not hold:
/// quad offsets and rolls (`[alignment]`), BPM and magnet errors
/// (`[errors]`, or the machine's measured BPM offsets).
fn hidden_state(
    machine: &Machine,
    config: &Config,
    restored: &[(Setpoint, f64)],
) -> anyhow::Result<Vec<(Setpoint, f64)>> {
    let mut generated = generated_offsets(&machine.schema, &config.alignment, restored);
    let a = &config.alignment;
    if !generated.is_empty() {
        let (count, rms_m, roll_rms_rad, seed) = (generated.len(), a.quad_offset_rms_m, a.quad_roll_rms_rad, a.seed);
        tracing::info!(count, rms_m, roll_rms_rad, seed, "quad offsets and rolls drawn");
    }
    let measured = match (config.errors.bpm_offsets_measured, &machine.profile.files.bpm_offsets) {
        (false, _) => Vec::new(),
        (true, Some(path)) => measured_bpm_offsets(machine, path)?,
        (true, None) => anyhow::bail!("errors.bpm_offsets_measured: the profile names no bpm_offsets file"),
    };
    let errors = generated_errors(&machine.schema, &config.errors, a.cutoff_sigma, &measured, restored);
    if !errors.is_empty() {
        tracing::info!(
            count = errors.len(),
            measured_bpm_offsets = measured.len(),
            seed = config.errors.seed,
            "hidden errors drawn"
        );
    }
    generated.extend(errors);
    Ok(generated)
}

/// The machine's measured BPM offsets `[{bpm_name, offset_x, offset_y}]`
/// (mm) of the lattice's BPMs [m]; BPMs the lattice does not have are left out.
fn measured_bpm_offsets(machine: &Machine, path: &std::path::Path) -> anyhow::Result<Vec<(BpmId, [f64; 2])>> {
    #[derive(serde::Deserialize)]
    struct Row {
        bpm_name: String,
        offset_x: f64,
        offset_y: f64,
    }
    let rows: Vec<Row> =
        serde_json::from_value(read_json(path)?).with_context(|| format!("parsing {}", path.display()))?;
    if let Some(r) = rows.iter().find(|r| {
        !(r.offset_x.is_finite() && r.offset_y.is_finite() && r.offset_x.abs() < 5.0 && r.offset_y.abs() < 5.0)
    }) {
        anyhow::bail!(
            "{}: {} has offsets ({}, {}) mm outside +-5 mm",
            path.display(),
            r.bpm_name,
            r.offset_x,
            r.offset_y
        );
    }
    let found = rows.iter().filter_map(|r| {
        let bpm = machine.schema.bpms.iter().find(|b| b.name == r.bpm_name)?;
        Some((bpm.id, [r.offset_x * 1e-3, r.offset_y * 1e-3]))
    });
    Ok(found.collect())
}

#[cfg(test)]
mod restore_props;
