//! Loading the configuration in layers with figment: defaults → TOML file
//! → environment → command line. The environment is captured once into an
//! [`Environment`] (the one place the IOC reads it), so tests pass their own.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};

use super::Config;

/// The configuration file when neither `--config` nor `TWIN_CONFIG` names one.
pub const DEFAULT_CONFIG_PATH: &str = "config/twin.toml";

/// Environment variables that set a configuration key. Values are taken as
/// text (a prefix such as `1:` stays a string).
const ENV_KEYS: &[(&str, &str)] = &[
    ("TWIN_PREFIX", "prefix"),
    ("TWIN_STORE_URI", "store.uri"),
    ("TWIN_STORE_DIR", "store.dir"),
    ("RUST_LOG", "log"),
    ("TWIN_HTTP_ADDR", "http.addr"),
    ("TWIN_SHADOW_SOURCE", "shadow.source"),
];
/// The variable naming the configuration file.
const ENV_CONFIG_FILE: &str = "TWIN_CONFIG";
/// Read-only mode (`1`, `true`, `yes`): no client may write anything.
const ENV_READONLY: &str = "TWIN_READONLY";
/// Instructors' user names, comma separated.
const ENV_INSTRUCTORS: &str = "TWIN_INSTRUCTORS";
/// EPICS' own switch for QSRV2; the twin turns it on unless it is set.
const ENV_QSRV: &str = "PVXS_QSRV_ENABLE";

/// The process environment as the configuration sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl Environment {
    /// Reads the variables the twin knows from the process environment.
    pub fn capture() -> Self {
        let names = ENV_KEYS.iter().map(|(v, _)| *v).chain([ENV_CONFIG_FILE, ENV_QSRV, ENV_READONLY, ENV_INSTRUCTORS]);
        Self { vars: names.filter_map(|n| std::env::var(n).ok().map(|v| (n.to_string(), v))).collect() }
    }

    /// An environment of the given variables only (tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self { vars: pairs.into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}

/// What the command line sets (it wins over everything else).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CliOverrides {
    pub config_file: Option<PathBuf>,
    pub prefix: Option<String>,
    /// `--reset-store`: start from design.
    pub reset_store: bool,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} not found")]
    Missing(PathBuf),
    #[error("configuration: {0}")]
    Layers(#[from] Box<figment::Error>),
    #[error("configuration {file}: {problem}")]
    Invalid { file: String, problem: String },
}

/// A loaded configuration and where its file came from.
pub(super) struct Layered {
    pub config: Config,
    pub file: String,
}

/// The file to read: the command line, else `TWIN_CONFIG`, else the default.
pub fn config_file(env: &Environment, cli: &CliOverrides) -> PathBuf {
    cli.config_file
        .clone()
        .or_else(|| env.get(ENV_CONFIG_FILE).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH))
}

pub(super) fn layered(env: &Environment, cli: &CliOverrides) -> Result<Layered, ConfigError> {
    let file = config_file(env, cli);
    if !Path::new(&file).is_file() {
        return Err(ConfigError::Missing(file));
    }
    let mut figment = Figment::from(Serialized::defaults(Config::default())).merge(Toml::file_exact(&file));
    for (var, key) in ENV_KEYS {
        if let Some(value) = env.get(var) {
            figment = figment.merge(Serialized::default(key, value));
        }
    }
    if let Some(value) = env.get(ENV_READONLY) {
        let on = matches!(value.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on");
        figment = figment.merge(Serialized::default("access.read_only", on));
    }
    if let Some(value) = env.get(ENV_INSTRUCTORS) {
        let users: Vec<&str> = value.split(',').map(str::trim).filter(|u| !u.is_empty()).collect();
        figment = figment.merge(Serialized::default("access.instructors", users));
    }
    if let Some(prefix) = &cli.prefix {
        figment = figment.merge(Serialized::default("prefix", prefix));
    }
    if cli.reset_store {
        figment = figment.merge(Serialized::default("store.reset", true));
    }
    let mut config: Config = figment.extract().map_err(Box::new)?;
    config.qsrv_enable_preset = env.get(ENV_QSRV).is_some();
    Ok(Layered { config, file: file.display().to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("twin.toml");
        std::fs::write(&path, text).expect("write config");
        path
    }

    fn tmp() -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("twin-config-{}-{:?}", std::process::id(), std::thread::current().id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        dir
    }

    #[test]
    fn layers_win_in_order_defaults_file_environment_command_line() {
        let dir = tmp();
        let file = write(&dir, "prefix = \"FILE:\"\n[store]\ndir = \"from-file\"\nflush_interval_s = 0.25\n");
        let cli = CliOverrides { config_file: Some(file.clone()), ..CliOverrides::default() };
        let c = Config::load(&Environment::default(), &cli).expect("loads");
        assert_eq!((c.prefix.as_str(), c.store.flush_interval_s), ("FILE:", 0.25));
        assert_eq!(c.store.max_backoff_s, 10.0, "default kept");
        let env = Environment::from_pairs([("TWIN_PREFIX", "1:"), ("TWIN_STORE_DIR", "from-env")]);
        let c = Config::load(&env, &cli).expect("loads");
        assert_eq!((c.prefix.as_str(), c.store.dir.as_path()), ("1:", Path::new("from-env")));
        let cli = CliOverrides { prefix: Some("CLI:".into()), ..cli };
        assert_eq!(Config::load(&env, &cli).expect("loads").prefix, "CLI:");
    }

    #[test]
    fn the_file_comes_from_the_command_line_or_twin_config() {
        let dir = tmp();
        let file = write(&dir, "prefix = \"X:\"\n");
        let env = Environment::from_pairs([("TWIN_CONFIG", file.to_str().expect("utf-8"))]);
        assert_eq!(Config::load(&env, &CliOverrides::default()).expect("loads").prefix, "X:");
        let missing = CliOverrides { config_file: Some(dir.join("nope.toml")), ..CliOverrides::default() };
        assert!(matches!(Config::load(&env, &missing), Err(ConfigError::Missing(_))));
    }

    #[test]
    fn errors_name_the_key_and_the_file() {
        let dir = tmp();
        let file = write(&dir, "[store]\nflush_interval_s = \"soon\"\n");
        let cli = CliOverrides { config_file: Some(file), ..CliOverrides::default() };
        let e = Config::load(&Environment::default(), &cli).expect_err("wrong type").to_string();
        assert!(e.contains("flush_interval_s") && e.contains("twin.toml"), "{e}");
        let file = write(&dir, "[store]\nflush_interval_s = 5.0\n");
        let cli = CliOverrides { config_file: Some(file), ..CliOverrides::default() };
        let e = Config::load(&Environment::default(), &cli).expect_err("out of range").to_string();
        assert!(e.contains("store.flush_interval_s"), "{e}");
        let file = write(&dir, "[stroe]\n");
        let cli = CliOverrides { config_file: Some(file), ..CliOverrides::default() };
        assert!(Config::load(&Environment::default(), &cli).is_err(), "unknown section refused");
    }

    #[test]
    fn isolated_reads_no_file_and_no_environment() {
        let c = Config::isolated("p.toml", "/tmp/s", [5064, 5075, 5076]);
        assert_eq!(c.machine.profile, PathBuf::from("p.toml"));
        assert!(c.epics.server_env().iter().any(|(k, v)| *k == "EPICS_CAS_INTF_ADDR_LIST" && v == "127.0.0.1"));
        assert!(c.validate().is_ok());
        assert!(!c.qsrv_enable_preset);
    }
}
