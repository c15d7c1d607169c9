//! A machine ready to serve: profile, lattice, schema and catalogue.
use std::sync::Arc;

use anyhow::Context;
use twin_engine::bba_model::bpms_around;
use twin_engine::lattice::{ElementId, Lattice, from_lat2db_value};

use super::{Bpm, Catalogue, MachineDocs, QuadId, Schema, load_machine_data, machine_docs_from_files};
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

    /// What of the records this machine needs differs from those `other`
    /// needs (names of setpoints, sizes of waveforms): None when the same
    /// records serve both.
    pub fn shape_difference(&self, other: &Machine) -> Option<String> {
        let pvs = |m: &Machine| m.catalogue.entries().iter().map(|e| e.pv.clone()).collect::<Vec<_>>();
        let (mine, theirs) = (pvs(self), pvs(other));
        if let Some(pv) = mine.iter().find(|p| !theirs.contains(p)) {
            return Some(format!("setpoint {pv} is not in the records"));
        }
        if let Some(pv) = theirs.iter().find(|p| !mine.contains(p)) {
            return Some(format!("the records' setpoint {pv} is not in this machine"));
        }
        let names = |m: &Machine| m.lattice.elements().iter().map(|e| e.name.clone()).collect::<Vec<_>>();
        if names(self) != names(other) {
            return Some(format!("{} lattice elements, the records have {}", self.lattice.len(), other.lattice.len()));
        }
        let slots = |s: &[super::BpmSlot]| s.iter().map(|b| b.name.clone()).collect::<Vec<_>>();
        if slots(&self.schema.orbit_slots) != slots(&other.schema.orbit_slots)
            || slots(&self.schema.packed_slots) != slots(&other.schema.packed_slots)
        {
            return Some("the BPM slots differ".into());
        }
        None
    }

    /// The BPM whose offset BBA on `quad` finds: the lattice BPM nearest
    /// to the quad's centre (None: the lattice has no BPM).
    pub fn bba_bpm(&self, quad: QuadId) -> Option<&Bpm> {
        let elements: Vec<ElementId> = self.schema.bpms.iter().map(|b| b.element).collect();
        if elements.is_empty() {
            return None;
        }
        let around = bpms_around(&self.lattice, self.schema.quad_element(quad), &elements);
        self.schema.bpms.get(around.nearest)
    }

    /// The second ring of the tests (`tests/fodo`), with the default
    /// configuration: for unit tests.
    #[cfg(test)]
    pub fn fodo() -> Self {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fodo/profile.toml");
        Self::from_files(Profile::load(&path).expect("fodo profile"), &Config::default()).expect("fodo")
    }

    /// From the profile's data files only (offline tools, record generation).
    pub fn from_files(profile: Profile, config: &Config) -> anyhow::Result<Self> {
        let docs = machine_docs_from_files(&profile, None)?;
        Self::from_docs(profile, &docs, config)
    }
}
