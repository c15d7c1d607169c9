//! The twin's TOML configuration (config/twin.toml).
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub machine: MachineConfig,
    pub power_converters: PowerConverterConfig,
    pub rf: RfConfig,
    pub diagnostics: DiagnosticsConfig,
    pub beam: BeamConfig,
    pub store: StoreConfig,
    #[serde(default)]
    pub alignment: AlignmentConfig,
}

/// Hidden quadrupole offsets drawn at start-up (see `twin::alignment`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlignmentConfig {
    /// rms of each quad's x and y offset [m]; 0: none drawn.
    pub quad_offset_rms_m: f64,
    pub seed: u64,
    /// The Gaussian is truncated at this many rms.
    pub cutoff_sigma: f64,
}

impl Default for AlignmentConfig {
    fn default() -> Self {
        Self { quad_offset_rms_m: 0.0, seed: 1, cutoff_sigma: 3.0 }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// MongoDB connection URI; empty: the embedded file store. `TWIN_STORE_URI` overrides.
    pub uri: String,
    pub database: String,
    /// Directory of the embedded store (`TWIN_STORE_DIR` overrides).
    pub dir: PathBuf,
    /// Write-behind: setpoints reach the store at most this late [s].
    pub flush_interval_s: f64,
    /// Retry backoff after a failed flush grows up to this [s].
    pub max_backoff_s: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineConfig {
    pub name: String,
    pub lattice: PathBuf,
    pub magnets: PathBuf,
    pub bpm_slots: PathBuf,
    pub orbit_slots: PathBuf,
    pub rf_harmonic: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerConverterConfig {
    pub family_limit_factor: f64,
    pub steerer_limit_a: f64,
    pub readback_settle_s: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RfConfig {
    pub range_khz: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiagnosticsConfig {
    pub rate_hz: f64,
    pub noise: bool,
    pub noise_rms_m: f64,
    pub seed: u64,
    pub bdata_x_sign: f64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeamConfig {
    pub enabled: bool,
    pub current_ma: f64,
    pub lifetime_h: f64,
    pub topup: bool,
    pub topup_low_ma: f64,
    pub topup_high_ma: f64,
    pub update_period_s: f64,
}

impl Config {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let cfg: Config = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        cfg.validate().with_context(|| format!("checking {}", path.display()))?;
        Ok(cfg)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let d = &self.diagnostics;
        anyhow::ensure!(d.rate_hz > 0.0 && d.rate_hz <= 100.0, "diagnostics.rate_hz must be in (0, 100]");
        anyhow::ensure!(d.noise_rms_m >= 0.0, "diagnostics.noise_rms_m must be >= 0");
        anyhow::ensure!(d.bdata_x_sign == 1.0 || d.bdata_x_sign == -1.0, "diagnostics.bdata_x_sign must be 1 or -1");
        let b = &self.beam;
        anyhow::ensure!(b.lifetime_h > 0.0 && b.update_period_s > 0.0, "beam lifetime and period must be > 0");
        anyhow::ensure!(b.topup_low_ma < b.topup_high_ma, "beam.topup_low_ma must be below topup_high_ma");
        anyhow::ensure!(self.power_converters.family_limit_factor > 1.0, "family_limit_factor must be > 1");
        let a = &self.alignment;
        anyhow::ensure!(
            (0.0..=1e-3).contains(&a.quad_offset_rms_m),
            "alignment.quad_offset_rms_m must be in [0, 1e-3] m"
        );
        anyhow::ensure!(a.cutoff_sigma >= 1.0, "alignment.cutoff_sigma must be >= 1");
        let st = &self.store;
        anyhow::ensure!(
            st.flush_interval_s > 0.0 && st.flush_interval_s <= 1.0,
            "store.flush_interval_s must be in (0, 1]"
        );
        anyhow::ensure!(st.max_backoff_s >= st.flush_interval_s, "store.max_backoff_s must be >= flush_interval_s");
        Ok(())
    }
}
