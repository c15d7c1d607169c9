//! `twin-ioc import` and `twin-ioc export`: machine data between the
//! profile's files and the configured store.
use std::path::Path;

use anyhow::Context;

use super::{Backend, Store};
use crate::config::Config;
use crate::machine::machine_docs_from_files;
use crate::profile::Profile;

async fn open(config: &Config, machine: &str) -> anyhow::Result<(Store, Backend)> {
    let backend = Backend::from_config(&config.store);
    let store = Store::open(&backend, machine, &config.store).await?;
    Ok((store, backend))
}

/// Loads the machine files (optionally another lattice file) into the store.
pub async fn import(config: &Config, lattice: Option<&Path>) -> anyhow::Result<()> {
    let profile = Profile::load(&config.machine.profile)?;
    let docs = machine_docs_from_files(&profile, lattice)?;
    // refuse to store a lattice the twin could not load
    let file = lattice.unwrap_or(&profile.files.lattice);
    twin_engine::lattice::from_lat2db_value(&profile.name, docs.lattice.clone())
        .with_context(|| format!("checking {}", file.display()))?;
    let (store, backend) = open(config, &profile.name).await?;
    store.save_machine(&docs).await.context("writing the machine to the store")?;
    println!(
        "imported {} into {}: {} lattice elements, {} magnets, {} BPM slots",
        profile.name,
        backend.describe(),
        docs.lattice.get("sequences").and_then(|s| s.as_array()).map_or(0, Vec::len),
        docs.magnets.len(),
        docs.bpm_slots.len()
    );
    store.close().await;
    Ok(())
}

fn write_json(dir: &Path, name: &str, value: &serde_json::Value) -> anyhow::Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value)?).with_context(|| format!("writing {}", path.display()))
}

/// Writes the store's machine and state back to files in `out`.
pub async fn export(config: &Config, out: &Path) -> anyhow::Result<()> {
    let profile = Profile::load(&config.machine.profile)?;
    let (store, backend) = open(config, &profile.name).await?;
    let docs = store.load_machine().await?.with_context(|| format!("{} holds no machine", backend.describe()))?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    write_json(out, "lattice.json", &docs.lattice)?;
    write_json(out, "accelerator_setup.json", &serde_json::Value::Array(docs.magnets))?;
    write_json(out, "bpm_config.json", &serde_json::Value::Array(docs.bpm_config))?;
    write_json(out, "bpm_cfg_as_in_machine.json", &serde_json::json!({ "col": docs.bpm_slots }))?;
    write_json(out, "setpoints.json", &serde_json::to_value(store.load_setpoints().await?)?)?;
    write_json(out, "setpoint_log.json", &serde_json::to_value(store.setpoint_log().await?)?)?;
    println!("exported {} from {} to {}", profile.name, backend.describe(), out.display());
    store.close().await;
    Ok(())
}
