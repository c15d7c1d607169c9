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

/// Hidden transverse offset of an element carrying magnets [m]:
/// `TWIN:<ELEMENT>:x:set` (for a quad, the quad's name).
pub fn offset(element: &str, axis: char) -> String {
    twin(&format!("{element}:{axis}:set"))
}

/// A fault the instructor switches: `TWIN:FAULT:<what>`.
pub fn fault(what: &str) -> String {
    twin(&format!("FAULT:{what}"))
}

/// The instructor's trip switch of a converter: `TWIN:FAULT:<PC>:trip`.
pub fn fault_trip(pc: &str) -> String {
    fault(&format!("{pc}:trip"))
}

/// The instructor's switch that sticks a converter: `TWIN:FAULT:<PC>:stuck`.
pub fn fault_stuck(pc: &str) -> String {
    fault(&format!("{pc}:stuck"))
}

/// A BPM's hidden error (`offset:x`, `gain:y`, `roll`, `noise`):
/// `TWIN:<BPM>:<what>:set`.
pub fn bpm_error(bpm: &str, what: &str) -> String {
    twin(&format!("{bpm}:{what}:set"))
}

/// The instructor's fault mode of a BPM: `TWIN:FAULT:<BPM>:mode`.
pub fn fault_bpm(bpm: &str) -> String {
    fault(&format!("{bpm}:mode"))
}

/// A dipole's hidden relative field error: `TWIN:<DIPOLE>:field:set`.
pub fn dipole_field(dipole: &str) -> String {
    twin(&format!("{dipole}:field:set"))
}

/// The twin's name of an element's roll about s [rad]: `TWIN:<element>:roll:set`.
pub fn roll(element: &str) -> String {
    twin(&format!("{element}:roll:set"))
}

/// The earlier twin's (dt4acc) name of a magnet's offset [m]: `<M>:x:set`.
pub fn magnet_offset(magnet: &str, axis: char) -> String {
    format!("{magnet}:{axis}:set")
}

/// A magnet's main strength (dt4acc): `<M>:Cm:set` ...
pub fn magnet_strength(magnet: &str) -> String {
    format!("{magnet}:Cm:set")
}

/// ... and the strength in effect: `<M>:Cm:rdbk`.
pub fn magnet_strength_rdbk(magnet: &str) -> String {
    format!("{magnet}:Cm:rdbk")
}

/// The current in a magnet's coils (converter + multiplexer) [A]: `<M>:im:I`.
pub fn magnet_current(magnet: &str) -> String {
    format!("{magnet}:im:I")
}

/// The put log's PVs: `TWIN:PUTLOG:<what>` (LAST, COUNT).
pub fn putlog(what: &str) -> String {
    twin(&format!("PUTLOG:{what}"))
}

/// |readback − setpoint| of a power converter [A]: `TWIN:<PC>:dev`.
pub fn converter_deviation(pc: &str) -> String {
    twin(&format!("{pc}:dev"))
}

/// A magnet's strength added to what its converter gives: `TWIN:<M>:Cm:trim`.
pub fn magnet_trim(magnet: &str) -> String {
    twin(&format!("{magnet}:Cm:trim"))
}

/// A magnet's hidden relative calibration error: `TWIN:<M>:calib:set`.
pub fn magnet_calibration(magnet: &str) -> String {
    twin(&format!("{magnet}:calib:set"))
}

/// The earlier twin's (dt4acc 0.9.1) names of model quantities, kept so that
/// scripts written against it run unchanged (meanings and units: README).
pub mod dt4acc {
    /// `beam:orbit:<what>`: x, y (closed orbit at every element entrance
    /// and the ring end [m]), names, found.
    pub fn orbit(what: &str) -> String {
        format!("beam:orbit:{what}")
    }

    /// `beam:twiss:<plane>:<what>`: alpha, beta [m], nu (phase advance [2π])
    /// at every element; tune (fractional).
    pub fn twiss(plane: char, what: &str) -> String {
        format!("beam:twiss:{plane}:{what}")
    }

    /// `beam:twiss:names`.
    pub fn twiss_names() -> String {
        "beam:twiss:names".into()
    }

    /// Revolution frequency [kHz].
    pub fn rev_freq() -> String {
        "beam:rev_freq".into()
    }

    /// Harmonic number.
    pub fn rf_buckets() -> String {
        "beam:machine:info:n_rf_buckets".into()
    }

    /// `survey:<what>`: s [m], names of every element.
    pub fn survey(what: &str) -> String {
        format!("survey:{what}")
    }

    /// `lattice_info:<what>`: ref_freq [kHz], ref_freq:khz:up, ref_freq:khz:frac.
    pub fn lattice_info(what: &str) -> String {
        format!("lattice_info:{what}")
    }
}

/// The twin's slow orbit feedback: `TWIN:SOFB:<what>`.
pub fn sofb(what: &str) -> String {
    twin(&format!("SOFB:{what}"))
}

/// Shadow mode: `TWIN:SHADOW:<what>`.
pub fn shadow(what: &str) -> String {
    twin(&format!("SHADOW:{what}"))
}

/// A followed converter's what-if delta: `TWIN:SHADOW:<PC>:whatif`.
pub fn whatif(pc: &str) -> String {
    shadow(&format!("{pc}:whatif"))
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
