//! The twin's configuration: one `Config`, layered defaults → TOML file →
//! environment → command line (`layers.rs`), and an isolated variant for
//! tests. Nothing else in the IOC reads the environment (EPICS reads its
//! own `EPICS_*` variables).
mod epics;
mod layers;
mod shadow;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use epics::EpicsNetwork;
pub use layers::{CliOverrides, ConfigError, DEFAULT_CONFIG_PATH, Environment};
pub use shadow::{FollowValue, ShadowConfig, ShadowFamily};

/// Everything the twin is configured with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// PV prefix before every PV name (`TWIN_PREFIX`, `--prefix`).
    pub prefix: String,
    /// `tracing` filter of the IOC's log (`RUST_LOG`).
    pub log: String,
    pub machine: MachineConfig,
    pub power_converters: PowerConverterConfig,
    pub diagnostics: DiagnosticsConfig,
    pub beam: BeamConfig,
    pub store: StoreConfig,
    pub alignment: AlignmentConfig,
    pub errors: ErrorsConfig,
    pub access: AccessConfig,
    pub http: HttpConfig,
    pub shadow: ShadowConfig,
    /// Where the IOC's servers listen (unset: EPICS' own variables).
    pub epics: EpicsNetwork,
    /// Set by EPICS' own variable `PVXS_QSRV_ENABLE` when present; the
    /// twin enables QSRV2 (PV Access for its records) otherwise.
    #[serde(skip)]
    pub qsrv_enable_preset: bool,
}

/// Which machine the twin serves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MachineConfig {
    /// The machine profile (`config/<machine>/profile.toml`): names,
    /// formats and constants of the real machine; its data files are
    /// relative to it.
    pub profile: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PowerConverterConfig {
    /// Readbacks follow the setpoint after this delay (0: with the model) [s].
    pub readback_settle_s: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiagnosticsConfig {
    /// BPM vectors and counters are re-posted at this rate [Hz].
    pub rate_hz: f64,
    /// Gaussian BPM noise on at start-up.
    pub noise: bool,
    /// rms of the noise [m].
    pub noise_rms_m: f64,
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BeamConfig {
    pub enabled: bool,
    /// Stored current at start-up [mA].
    pub current_ma: f64,
    pub lifetime_h: f64,
    pub topup: bool,
    /// Top-up injects when the current falls below this [mA] ...
    pub topup_low_ma: f64,
    /// ... up to this [mA].
    pub topup_high_ma: f64,
    /// The beam is advanced and posted at this period [s].
    pub update_period_s: f64,
    /// Each top-up injection shot adds this current [mA].
    pub topup_shot_ma: f64,
    /// Share of the current in the single (camshaft) bunch.
    pub single_bunch_fraction: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// MongoDB connection URI; empty: the embedded file store (`TWIN_STORE_URI`).
    pub uri: String,
    pub database: String,
    /// Directory of the embedded store (`TWIN_STORE_DIR`).
    pub dir: PathBuf,
    /// Write-behind: setpoints reach the store at most this late [s].
    pub flush_interval_s: f64,
    /// Retry backoff after a failed flush grows up to this [s].
    pub max_backoff_s: f64,
    /// The write log is bounded: the file store rotates its log after this
    /// many entries and keeps `log_keep_files` rotated files; MongoDB keeps
    /// the newest `log_rotate_entries × (log_keep_files + 1)` entries.
    pub log_rotate_entries: u64,
    pub log_keep_files: u32,
    /// Start from design: set the stored state aside (kept for inspection)
    /// instead of refusing to start on a store that cannot be used
    /// (`--reset-store`).
    pub reset: bool,
}

/// Hidden quadrupole offsets drawn at start-up (see `core::alignment`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlignmentConfig {
    /// rms of each quad's x and y offset [m]; 0: none drawn.
    pub quad_offset_rms_m: f64,
    /// rms of each quad's roll about s [rad]; 0: none drawn.
    pub quad_roll_rms_rad: f64,
    pub seed: u64,
    /// The Gaussian is truncated at this many rms.
    pub cutoff_sigma: f64,
}

/// Hidden errors of BPMs and magnets drawn at start-up (see
/// `core::errors`): every rms 0 by default, so the machine is ideal.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ErrorsConfig {
    pub seed: u64,
    /// BPM electrical offsets (x, y) [m] ...
    pub bpm_offset_rms_m: f64,
    /// ... or the machine's measured ones (the profile's `bpm_offsets`).
    pub bpm_offsets_measured: bool,
    /// BPM gain errors (x, y): gain = 1 + error.
    pub bpm_gain_rms: f64,
    /// BPM rolls [rad].
    pub bpm_roll_rms_rad: f64,
    /// Each BPM's own noise rms: drawn uniformly in [0, this] [m].
    pub bpm_noise_max_m: f64,
    /// Relative calibration error of every magnet.
    pub calibration_rms: f64,
    /// Offsets (x, y) [m] and rolls [rad] of the elements carrying magnets
    /// that are not quads (sextupoles: their offsets feed down into the
    /// optics).
    pub sextupole_offset_rms_m: f64,
    pub sextupole_roll_rms_rad: f64,
    /// Relative field error of every dipole.
    pub dipole_field_rms: f64,
}

/// The HTTP API and web view in the IOC process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub enabled: bool,
    /// Listen address (`TWIN_HTTP_ADDR`), default loopback.
    pub addr: String,
    /// Largest request body accepted [bytes].
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self { enabled: true, addr: "127.0.0.1:8080".into(), max_body_bytes: 64 * 1024 }
    }
}

/// Who may write what (see `access`): rendered into the access security
/// file the IOC loads, unless `file` names one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessConfig {
    /// User names that may read and write the hidden truth and clear BBA
    /// results (`TWIN_INSTRUCTORS`, comma separated).
    pub instructors: Vec<String>,
    /// User names that may write the machine's controls; empty: everyone.
    pub operators: Vec<String>,
    /// No client may write anything (`TWIN_READONLY=1`).
    pub read_only: bool,
    /// An access security file of your own instead of the rendered one
    /// (checked at start-up: no client writes configuration fields, every
    /// write rule has TRAPWRITE).
    pub file: Option<PathBuf>,
}

impl Default for AccessConfig {
    fn default() -> Self {
        Self { instructors: vec!["instructor".into()], operators: Vec::new(), read_only: false, file: None }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            prefix: "TWIN:".into(),
            log: "info".into(),
            machine: MachineConfig::default(),
            power_converters: PowerConverterConfig::default(),
            diagnostics: DiagnosticsConfig::default(),
            beam: BeamConfig::default(),
            store: StoreConfig::default(),
            alignment: AlignmentConfig::default(),
            errors: ErrorsConfig::default(),
            access: AccessConfig::default(),
            http: HttpConfig::default(),
            shadow: ShadowConfig::default(),
            epics: EpicsNetwork::default(),
            qsrv_enable_preset: false,
        }
    }
}

impl Default for MachineConfig {
    fn default() -> Self {
        Self { profile: PathBuf::from("config/bessy2/profile.toml") }
    }
}

impl Default for PowerConverterConfig {
    fn default() -> Self {
        Self { readback_settle_s: 0.0 }
    }
}

impl Default for DiagnosticsConfig {
    fn default() -> Self {
        Self { rate_hz: 2.0, noise: false, noise_rms_m: 1.0e-6, seed: 20261124 }
    }
}

impl Default for BeamConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            current_ma: 300.0,
            lifetime_h: 8.0,
            topup: true,
            topup_low_ma: 299.5,
            topup_high_ma: 300.5,
            update_period_s: 1.0,
            topup_shot_ma: 1.0,
            single_bunch_fraction: 4.0 / 300.0,
        }
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            uri: String::new(),
            database: "twin".into(),
            dir: PathBuf::from("var/twin-store"),
            flush_interval_s: 0.5,
            max_backoff_s: 10.0,
            log_rotate_entries: 100_000,
            log_keep_files: 10,
            reset: false,
        }
    }
}

impl Default for AlignmentConfig {
    fn default() -> Self {
        Self { quad_offset_rms_m: 0.0, quad_roll_rms_rad: 0.0, seed: 1, cutoff_sigma: 3.0 }
    }
}

impl Config {
    /// Defaults, then the TOML file (`--config`, `TWIN_CONFIG`, or
    /// `config/twin.toml`), then the environment, then the command line;
    /// checked.
    pub fn load(env: &Environment, cli: &CliOverrides) -> Result<Self, ConfigError> {
        let layered = layers::layered(env, cli)?;
        layered.config.validate().map_err(|problem| ConfigError::Invalid { file: layered.file.clone(), problem })?;
        Ok(layered.config)
    }

    /// A configuration for tests (like PVXS's `Config::isolated()`):
    /// defaults, no file, no environment, the given profile, the embedded
    /// store in `store_dir`, servers on loopback only at the given ports
    /// (CA, PVA, PVA broadcast).
    pub fn isolated(profile: impl Into<PathBuf>, store_dir: impl Into<PathBuf>, ports: [u16; 3]) -> Self {
        Self {
            prefix: "ISOLATED:".into(),
            machine: MachineConfig { profile: profile.into() },
            store: StoreConfig { dir: store_dir.into(), ..StoreConfig::default() },
            epics: EpicsNetwork::loopback(ports[0], ports[1], ports[2]),
            http: HttpConfig { enabled: false, ..HttpConfig::default() },
            ..Self::default()
        }
    }

    /// The EPICS variables the IOC sets before its servers start: where they
    /// listen (if configured), and QSRV2 on unless `PVXS_QSRV_ENABLE` is set.
    pub fn ioc_env(&self) -> Vec<(&'static str, String)> {
        let mut env = self.epics.server_env();
        if !self.qsrv_enable_preset {
            env.push(("PVXS_QSRV_ENABLE", "YES".into()));
        }
        env
    }

    /// Whether the configuration can run the twin; the error says which key.
    pub fn validate(&self) -> Result<(), String> {
        let d = &self.diagnostics;
        check(d.rate_hz > 0.0 && d.rate_hz <= 100.0, "diagnostics.rate_hz must be in (0, 100]")?;
        check(d.noise_rms_m >= 0.0 && d.noise_rms_m.is_finite(), "diagnostics.noise_rms_m must be >= 0")?;
        let b = &self.beam;
        check(b.lifetime_h > 0.0 && b.update_period_s > 0.0, "beam.lifetime_h and beam.update_period_s must be > 0")?;
        check(b.topup_low_ma < b.topup_high_ma, "beam.topup_low_ma must be below beam.topup_high_ma")?;
        check(b.topup_shot_ma > 0.0, "beam.topup_shot_ma must be > 0")?;
        check((0.0..1.0).contains(&b.single_bunch_fraction), "beam.single_bunch_fraction must be in [0, 1)")?;
        check(self.power_converters.readback_settle_s >= 0.0, "power_converters.readback_settle_s must be >= 0")?;
        let a = &self.alignment;
        check((0.0..=1e-3).contains(&a.quad_offset_rms_m), "alignment.quad_offset_rms_m must be in [0, 1e-3] m")?;
        check((0.0..=2e-3).contains(&a.quad_roll_rms_rad), "alignment.quad_roll_rms_rad must be in [0, 2e-3] rad")?;
        check(a.cutoff_sigma >= 1.0, "alignment.cutoff_sigma must be >= 1")?;
        let e = &self.errors;
        let within = |v: f64, hi: f64| (0.0..=hi).contains(&v);
        check(within(e.bpm_offset_rms_m, 1e-3), "errors.bpm_offset_rms_m must be in [0, 1e-3] m")?;
        check(within(e.bpm_gain_rms, 0.1), "errors.bpm_gain_rms must be in [0, 0.1]")?;
        check(within(e.bpm_roll_rms_rad, 0.02), "errors.bpm_roll_rms_rad must be in [0, 0.02] rad")?;
        check(within(e.bpm_noise_max_m, 1e-4), "errors.bpm_noise_max_m must be in [0, 1e-4] m")?;
        check(within(e.calibration_rms, 0.05), "errors.calibration_rms must be in [0, 0.05]")?;
        check(within(e.dipole_field_rms, 2e-3), "errors.dipole_field_rms must be in [0, 2e-3]")?;
        check(within(e.sextupole_offset_rms_m, 1e-3), "errors.sextupole_offset_rms_m must be in [0, 1e-3] m")?;
        check(within(e.sextupole_roll_rms_rad, 2e-3), "errors.sextupole_roll_rms_rad must be in [0, 2e-3] rad")?;
        check(
            !(e.bpm_offsets_measured && e.bpm_offset_rms_m > 0.0),
            "errors: bpm_offsets_measured or bpm_offset_rms_m, not both",
        )?;
        let st = &self.store;
        check(st.flush_interval_s > 0.0 && st.flush_interval_s <= 1.0, "store.flush_interval_s must be in (0, 1]")?;
        check(st.max_backoff_s >= st.flush_interval_s, "store.max_backoff_s must be >= store.flush_interval_s")?;
        check(st.log_rotate_entries >= 100, "store.log_rotate_entries must be >= 100")?;
        let names_ok = |users: &[String]| {
            users.iter().all(|u| !u.is_empty() && u.chars().all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c)))
        };
        check(
            names_ok(&self.access.instructors) && names_ok(&self.access.operators),
            "access: user names may hold letters, digits and . _ - @ only",
        )?;
        check(
            !self.http.enabled || self.http.addr.parse::<std::net::SocketAddr>().is_ok(),
            "http.addr must be an address and port, e.g. 127.0.0.1:8080",
        )?;
        check(self.http.max_body_bytes >= 1024, "http.max_body_bytes must be >= 1024")?;
        check(!self.prefix.contains(char::is_whitespace), "prefix must not contain white space")?;
        self.shadow.validate()?;
        check(self.shadow.source != self.prefix, "shadow.source must not be the twin's own prefix")?;
        Ok(())
    }
}

fn check(ok: bool, problem: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(problem.to_string()) }
}
