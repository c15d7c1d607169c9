//! The PV prefix that stands before every PV name of the twin.

/// PV prefix, e.g. `TWIN:`; machine names follow it unchanged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prefix(String);

impl Prefix {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self(prefix.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Full PV name of a machine or twin name.
    pub fn pv(&self, name: &str) -> String {
        format!("{}{}", self.0, name)
    }
}
