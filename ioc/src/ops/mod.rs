//! Operations artefacts generated from the machine profile and the
//! records (`twin-ioc ops`, checked into `ops/`; a test keeps them equal
//! to the generator's output): the Phoebus alarm-server configuration,
//! the Archiver Appliance request, Phoebus screens, the PV Access
//! gateway's configuration and the default access security file. PV names are
//! written `$(P)<name>`. Records of the hidden truth (ASG INSTRUCT) are
//! never part of an artefact.
mod alarm;
mod archiver;
pub mod bob;
mod gateway;
mod screens;
#[cfg(test)]
mod tests;
pub mod xml;

use std::path::PathBuf;

use crate::access::AccessGroup;
use crate::config::AccessConfig;
use crate::machine::Machine;
pub(crate) use crate::records::health_records;
use crate::records::{DbFile, Record, db_files};

/// One generated file.
#[derive(Clone, Debug, PartialEq)]
pub struct Artefact {
    /// Path relative to the output directory (`ops/`).
    pub path: PathBuf,
    pub text: String,
}

impl Artefact {
    fn new(path: &str, text: String) -> Self {
        Self { path: PathBuf::from(path), text }
    }

    /// The text with `prefix` in place of `$(P)`. A screen keeps `$(P)`
    /// (Phoebus substitutes macros) and gets `prefix` as the default of
    /// its macro `P`.
    pub fn expanded(&self, prefix: &str) -> String {
        match self.path.extension().is_some_and(|e| e == "bob") {
            true => self.text.replacen(
                &format!("<P>{}</P>", bob::DEFAULT_PREFIX),
                &format!("<P>{}</P>", xml::escape(prefix)),
                1,
            ),
            false => self.text.replace("$(P)", prefix),
        }
    }
}

/// Every artefact of a machine, paths relative to the output directory.
pub fn artefacts(m: &Machine) -> Vec<Artefact> {
    let files = db_files(m);
    let mut out = vec![alarm::config(m, &files)];
    out.extend(archiver::artefacts(&files));
    out.extend(screens::screens(m));
    out.extend(gateway::artefacts(&files));
    out.push(Artefact::new("access/twin_access.acf", crate::access::render_acf(&AccessConfig::default())));
    out
}

/// Whether a record is hidden truth (instructors only).
fn hidden(r: &Record) -> bool {
    r.get("ASG") == Some(AccessGroup::Instruct.asg())
}

/// The records an operator may see, with the name of their file.
fn visible(files: &[DbFile]) -> impl Iterator<Item = (&'static str, &Record)> {
    files
        .iter()
        .flat_map(|f| f.sections.iter().flat_map(move |s| s.records.iter().map(move |r| (f.name, r))))
        .filter(|(_, r)| !hidden(r))
}
