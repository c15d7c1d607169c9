//! EPICS records generated from the machine profile, the schema and the
//! setpoint catalogue: one Rust description per record, rendered into the
//! `.db` files `st.cmd` loads (`twin-ioc records`; a test keeps the
//! committed files equal to the generator's output). The publishers and
//! the router resolve their handles by the same names.
pub mod columns;
mod diagnostics;
pub mod directory;
mod generate;
mod magnets;
mod model;
mod ops;
mod render;
mod shadow;
mod sofb;
mod static_db;

pub use diagnostics::SPECTRUM_POINTS;
pub use generate::{DbFile, Section, db_files, output, setpoint_access};
pub use model::{ENVELOPE_SCALARS, MODEL_SCALARS};
pub use ops::ARCHIVE_INFO;
pub use render::render;
pub use static_db::{StaticRecord, health_records, static_records};

/// EPICS record types the twin uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordType {
    Ai,
    Ao,
    Bi,
    Bo,
    Calc,
    Longin,
    Mbbi,
    Mbbo,
    Stringin,
    Waveform,
}

impl RecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Ai => "ai",
            RecordType::Ao => "ao",
            RecordType::Bi => "bi",
            RecordType::Bo => "bo",
            RecordType::Calc => "calc",
            RecordType::Longin => "longin",
            RecordType::Mbbi => "mbbi",
            RecordType::Mbbo => "mbbo",
            RecordType::Stringin => "stringin",
            RecordType::Waveform => "waveform",
        }
    }
}

/// One record: type, name without the prefix, fields and info tags in
/// the order they are written.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub kind: RecordType,
    pub name: String,
    pub fields: Vec<(&'static str, String)>,
    /// `info(name, value)`; a value starting with `{` is JSON, written raw.
    pub info: Vec<(&'static str, String)>,
    /// Further names of this record (without the prefix).
    pub aliases: Vec<String>,
}

impl Record {
    pub fn new(kind: RecordType, name: impl Into<String>) -> Self {
        Self { kind, name: name.into(), fields: Vec::new(), info: Vec::new(), aliases: Vec::new() }
    }

    pub fn field(mut self, name: &'static str, value: impl std::fmt::Display) -> Self {
        self.fields.push((name, value.to_string()));
        self
    }

    /// DESC, clipped to the 40 characters EPICS keeps.
    pub fn desc(self, text: &str) -> Self {
        let clipped: String = text.chars().take(40).collect();
        self.field("DESC", clipped)
    }

    /// An input posted by the twin: all values of one computation carry the
    /// time stamp Rust gives them (TSE = −2).
    pub fn posted(self) -> Self {
        self.field("TSE", "-2")
    }

    pub fn info(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.info.push((name, value.into()));
        self
    }

    /// The value of a field, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(f, _)| *f == name).map(|(_, v)| v.as_str())
    }

    /// Another name of this record.
    pub fn alias(mut self, name: impl Into<String>) -> Self {
        self.aliases.push(name.into());
        self
    }

    /// Other names of this record.
    pub fn aliases(mut self, names: impl IntoIterator<Item = String>) -> Self {
        self.aliases.extend(names);
        self
    }
}
