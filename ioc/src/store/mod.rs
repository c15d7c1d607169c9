//! Where the twin keeps its lattice and state: MongoDB (official driver)
//! when a URI is configured, else the embedded file store.
pub mod files;
pub mod model;
pub mod mongo;
pub mod persister;
pub mod reader;
pub mod status;
pub mod transfer;

use std::path::PathBuf;

use files::{FileStore, LogLimits};
use model::{MachineDocs, PutLogDoc, SetpointDoc, SetpointLogDoc};
use mongo::MongoStore;

use crate::config::StoreConfig;

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Not reachable now (network, server down, disk): retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored document that cannot be used: never retried, never ignored.
    #[error("malformed document {document}: {problem}")]
    Malformed { document: String, problem: String },
    #[error("store configuration: {0}")]
    Config(String),
}

/// The configured store.
#[derive(Debug)]
pub enum Store {
    Mongo { db: MongoStore, keep_log: u64 },
    Files(FileStore),
}

/// Which backend, resolved from config and `TWIN_STORE_URI`.
#[derive(Clone, Debug, PartialEq)]
pub enum Backend {
    Mongo { uri: String, database: String },
    Files { dir: PathBuf },
}

impl Backend {
    pub fn from_config(cfg: &StoreConfig) -> Self {
        match cfg.uri.is_empty() {
            true => Backend::Files { dir: cfg.dir.clone() },
            false => Backend::Mongo { uri: cfg.uri.clone(), database: cfg.database.clone() },
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Backend::Mongo { database, .. } => format!("mongodb ({database})"),
            Backend::Files { dir } => format!("files ({})", dir.display()),
        }
    }
}

impl Store {
    pub async fn open(backend: &Backend, machine: &str, cfg: &StoreConfig) -> Result<Self, StoreError> {
        let limits = LogLimits { rotate_entries: cfg.log_rotate_entries, keep_files: cfg.log_keep_files };
        Ok(match backend {
            Backend::Mongo { uri, database } => Store::Mongo {
                db: MongoStore::connect(uri, database, machine).await?,
                keep_log: limits.rotate_entries * (u64::from(limits.keep_files) + 1),
            },
            Backend::Files { dir } => Store::Files(FileStore::open(dir, limits)?),
        })
    }

    /// What opening the store repaired (a torn last line of the file log).
    pub fn repaired(&self) -> Option<&str> {
        match self {
            Store::Mongo { .. } => None,
            Store::Files(f) => f.repaired(),
        }
    }

    pub async fn load_machine(&self) -> Result<Option<MachineDocs>, StoreError> {
        match self {
            Store::Mongo { db: m, .. } => m.load_machine().await,
            Store::Files(f) => f.load_machine(),
        }
    }

    pub async fn save_machine(&self, docs: &MachineDocs) -> Result<(), StoreError> {
        match self {
            Store::Mongo { db: m, .. } => m.save_machine(docs).await,
            Store::Files(f) => f.save_machine(docs),
        }
    }

    pub async fn load_setpoints(&self) -> Result<Vec<SetpointDoc>, StoreError> {
        match self {
            Store::Mongo { db: m, .. } => m.load_setpoints().await,
            Store::Files(f) => f.load_setpoints(),
        }
    }

    /// Appends accepted writes to the log (bounded: see `StoreConfig`).
    pub async fn append_log(&self, log: &[SetpointLogDoc]) -> Result<(), StoreError> {
        match self {
            Store::Mongo { db, keep_log } => db.append_log(log, *keep_log).await,
            Store::Files(f) => f.append_log(log),
        }
    }

    /// Appends accepted client puts to the put log (bounded like the setpoint log).
    pub async fn append_puts(&self, puts: &[PutLogDoc]) -> Result<(), StoreError> {
        match self {
            Store::Mongo { db, keep_log } => db.append_puts(puts, *keep_log).await,
            Store::Files(f) => f.append_puts(puts),
        }
    }

    /// Replaces the latest values of these setpoints.
    pub async fn write_latest(&self, latest: &[SetpointDoc]) -> Result<(), StoreError> {
        match self {
            Store::Mongo { db, .. } => db.write_latest(latest).await,
            Store::Files(f) => f.write_latest(latest),
        }
    }

    /// Sets everything stored aside (kept for inspection); the store
    /// starts empty. Returns where it went.
    pub async fn reset(&self, stamp: &str) -> Result<String, StoreError> {
        match self {
            Store::Mongo { db, .. } => db.reset(stamp).await,
            Store::Files(f) => f.reset(stamp).map(|p| p.display().to_string()),
        }
    }

    /// Appends BBA results (history: a retried insert replaces the same id).
    pub async fn insert_bba(&self, docs: &[model::BbaResultDoc]) -> Result<(), StoreError> {
        match self {
            Store::Mongo { db: m, .. } => m.insert_bba(docs).await,
            Store::Files(f) => f.insert_bba(docs),
        }
    }

    pub async fn setpoint_log(&self) -> Result<Vec<SetpointLogDoc>, StoreError> {
        match self {
            Store::Mongo { db: m, .. } => m.setpoint_log().await,
            Store::Files(f) => f.setpoint_log(),
        }
    }

    pub async fn close(self) {
        if let Store::Mongo { db, .. } = self {
            db.shutdown().await;
        }
    }
}
