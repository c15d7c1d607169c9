//! A machine ready to serve: profile, lattice, schema and catalogue.
use std::sync::Arc;

use anyhow::Context;
use twin_engine::lattice::{Lattice, from_lat2db_value};

use super::{Catalogue, MachineDocs, Schema, load_machine_data, machine_docs_from_files};
use crate::config::Config;
use crate::profile::Profile;

/// The machine as loaded (from the store or the profile's files).
#[derive(Clone, Debug)]
pub struct Machine {
    pub profile: Arc<Profile>,
    /// The lattice at its design settings.
    pub lattice: Lattice,
    pub schema: Arc<Schema>,
    pub catalogue: Arc<Catalogue>,
}

impl Machine {
    /// From machine documents (the store's, or the files').
    pub fn from_docs(profile: Profile, docs: &MachineDocs, config: &Config) -> anyhow::Result<Self> {
        let lattice = from_lat2db_value(&profile.name, docs.lattice.clone())
            .with_context(|| format!("lattice document {:?}", profile.name))?;
        let data = load_machine_data(docs)?;
        let schema = Schema::build(&profile, &lattice, &data).context("building the device schema")?;
        let catalogue = Catalogue::build(&schema, &profile, config);
        Ok(Self { profile: Arc::new(profile), lattice, schema: Arc::new(schema), catalogue: Arc::new(catalogue) })
    }

    /// From the profile's data files only (offline tools, record generation).
    pub fn from_files(profile: Profile, config: &Config) -> anyhow::Result<Self> {
        let docs = machine_docs_from_files(&profile, None)?;
        Self::from_docs(profile, &docs, config)
    }
}
