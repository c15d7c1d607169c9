//! Names of the twin's own PVs (without the prefix). They live under
//! `TWIN:` so they never collide with a machine's names; machine names
//! come from the profile. One place builds each name: the record
//! generator, the publishers and the router all call these.

/// The twin's own namespace.
pub const NAMESPACE: &str = "TWIN:";

/// `TWIN:<rest>`.
pub fn twin(rest: &str) -> String {
    format!("{NAMESPACE}{rest}")
}

/// Hidden transverse offset of a quadrupole [m]: `TWIN:<QUAD>:x:set`.
pub fn quad_offset(quad: &str, axis: char) -> String {
    twin(&format!("{quad}:{axis}:set"))
}

/// BPM read-out noise switch (bo).
pub fn bpm_noise() -> String {
    twin("BPM:NOISE")
}

/// BPM read-out noise rms [µm].
pub fn bpm_noise_rms() -> String {
    twin("BPM:NOISE_RMS")
}

/// The model's status and counters: `TWIN:MODEL:<what>`.
pub fn model(what: &str) -> String {
    twin(&format!("MODEL:{what}"))
}

/// An optics waveform along `group` (`OPTICS`: every element, `BPM`: the
/// lattice BPMs): `TWIN:<group>:<column>`.
pub fn optics(group: &str, column: &str) -> String {
    twin(&format!("{group}:{column}"))
}

/// The BBA service: `TWIN:BBA:<what>`.
pub fn bba(what: &str) -> String {
    twin(&format!("BBA:{what}"))
}

/// The BBA service for one quad: `TWIN:BBA:<QUAD>:<what>`.
pub fn bba_quad(quad: &str, what: &str) -> String {
    twin(&format!("BBA:{quad}:{what}"))
}

/// The store's status: `TWIN:STORE:<what>`.
pub fn store(what: &str) -> String {
    twin(&format!("STORE:{what}"))
}
