//! Where the twin keeps its lattice and state: MongoDB (official driver)
//! when a URI is configured, else the embedded file store.
pub mod files;
pub mod model;
pub mod mongo;
pub mod persister;
pub mod status;
pub mod transfer;

use std::path::PathBuf;

use files::FileStore;
use model::{MachineDocs, SetpointDoc, SetpointLogDoc};
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
#[derive(Clone, Debug)]
pub enum Store {
    Mongo(MongoStore),
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
    pub async fn open(backend: &Backend, machine: &str) -> Result<Self, StoreError> {
        Ok(match backend {
            Backend::Mongo { uri, database } => Store::Mongo(MongoStore::connect(uri, database, machine).await?),
            Backend::Files { dir } => Store::Files(FileStore::open(dir)?),
        })
    }

    pub async fn load_machine(&self) -> Result<Option<MachineDocs>, StoreError> {
        match self {
            Store::Mongo(m) => m.load_machine().await,
            Store::Files(f) => f.load_machine(),
        }
    }

    pub async fn save_machine(&self, docs: &MachineDocs) -> Result<(), StoreError> {
        match self {
            Store::Mongo(m) => m.save_machine(docs).await,
            Store::Files(f) => f.save_machine(docs),
        }
    }

    pub async fn load_setpoints(&self) -> Result<Vec<SetpointDoc>, StoreError> {
        match self {
            Store::Mongo(m) => m.load_setpoints().await,
            Store::Files(f) => f.load_setpoints(),
        }
    }

    pub async fn persist(&self, log: &[SetpointLogDoc], latest: &[SetpointDoc]) -> Result<(), StoreError> {
        match self {
            Store::Mongo(m) => m.persist(log, latest).await,
            Store::Files(f) => f.persist(log, latest),
        }
    }

    /// Appends BBA results (history: a retried insert replaces the same id).
    pub async fn insert_bba(&self, docs: &[model::BbaResultDoc]) -> Result<(), StoreError> {
        match self {
            Store::Mongo(m) => m.insert_bba(docs).await,
            Store::Files(f) => f.insert_bba(docs),
        }
    }

    pub async fn setpoint_log(&self) -> Result<Vec<SetpointLogDoc>, StoreError> {
        match self {
            Store::Mongo(m) => m.setpoint_log().await,
            Store::Files(f) => f.setpoint_log(),
        }
    }

    pub async fn close(self) {
        if let Store::Mongo(m) = self {
            m.shutdown().await;
        }
    }
}
