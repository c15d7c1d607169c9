//! `twin-ioc ops`: writes the operations artefacts generated from the
//! machine profile and its records (alarm configuration, archiver
//! request, screens) into `ops/` or OUT.
use std::path::Path;

use anyhow::Context;

use crate::config::Config;
use crate::machine::Machine;
use crate::ops::{Artefact, artefacts};
use crate::profile::Profile;

/// The directory the artefacts are written to by default (relative to
/// the working directory: the repository root).
pub const DEFAULT_OUT: &str = "ops";

/// The artefacts of a profile. Like the records, they depend on the
/// profile and its data only, not on the running configuration.
pub fn generate(profile_path: &Path) -> anyhow::Result<Vec<Artefact>> {
    let profile = Profile::load(profile_path)?;
    let machine = Machine::from_files(profile, &Config::default())?;
    Ok(artefacts(&machine))
}

/// Writes the artefacts of the configured machine; with `expand_prefix`,
/// that prefix in place of `$(P)` (screens: as the default of macro P).
pub fn run(config: &Config, out: Option<&Path>, expand_prefix: Option<&str>) -> anyhow::Result<()> {
    let dir = out.unwrap_or(Path::new(DEFAULT_OUT));
    for a in generate(&config.machine.profile)? {
        let path = dir.join(&a.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let text = match expand_prefix {
            Some(p) => a.expanded(p),
            None => a.text,
        };
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}
