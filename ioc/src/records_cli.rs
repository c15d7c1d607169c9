//! `twin-ioc records`: writes the EPICS records generated from the machine
//! profile (the files `st.cmd` loads from `$(TWIN_DB)`).
use std::path::Path;

use anyhow::Context;

use crate::config::Config;
use crate::machine::Machine;
use crate::profile::Profile;
use crate::records::{db_files, render};

/// The generated files of the configured machine: (file name, text). The
/// records' initial values come from the default configuration, so the
/// files depend on the profile and its data only; the IOC sets the
/// values of its state before the records initialise.
pub fn generate(profile_path: &Path) -> anyhow::Result<Vec<(&'static str, String)>> {
    let profile = Profile::load(profile_path)?;
    let machine = Machine::from_files(profile, &Config::default())?;
    Ok(db_files(&machine).iter().map(|f| (f.name, render(f, &machine.profile.name))).collect())
}

pub fn run(config: &Config, out: Option<&Path>) -> anyhow::Result<()> {
    let profile = Profile::load(&config.machine.profile)?;
    let dir = out.unwrap_or(&profile.files.records);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (name, text) in generate(&config.machine.profile)? {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}
