//! Reading the store's history while the persister writes it: a second
//! handle that only reads (MongoDB: the same client; files: the log files
//! read as they are, a torn last line skipped, nothing repaired).
use std::path::PathBuf;

use super::files::{LogLimits, WriteLog};
use super::model::{BBA_RESULTS, BbaResultDoc, PUT_LOG, PutLogDoc, SETPOINT_LOG, SetpointLogDoc};
use super::mongo::MongoStore;
use super::{Store, StoreError};

/// A read-only handle on the store's logs.
#[derive(Clone, Debug)]
pub enum StoreReader {
    Mongo(MongoStore),
    Files { dir: PathBuf, limits: LogLimits },
}

impl Store {
    /// A handle that reads the logs (history routes).
    pub fn reader(&self) -> StoreReader {
        match self {
            Store::Mongo { db, .. } => StoreReader::Mongo(db.clone()),
            Store::Files(f) => StoreReader::Files { dir: f.dir().to_path_buf(), limits: f.limits() },
        }
    }
}

impl StoreReader {
    /// Every accepted setpoint write kept, oldest first.
    pub async fn setpoint_log(&self) -> Result<Vec<SetpointLogDoc>, StoreError> {
        match self {
            StoreReader::Mongo(m) => m.setpoint_log().await,
            StoreReader::Files { dir, limits } => WriteLog::reader(dir, SETPOINT_LOG, *limits).read_all(),
        }
    }

    /// Every client put kept, oldest first.
    pub async fn put_log(&self) -> Result<Vec<PutLogDoc>, StoreError> {
        match self {
            StoreReader::Mongo(m) => m.put_log().await,
            StoreReader::Files { dir, limits } => WriteLog::reader(dir, PUT_LOG, *limits).read_all(),
        }
    }

    /// Every BBA measurement of `quad`, oldest first.
    pub async fn bba_history(&self, quad: &str) -> Result<Vec<BbaResultDoc>, StoreError> {
        let all = match self {
            StoreReader::Mongo(m) => m.bba_results().await?,
            StoreReader::Files { dir, .. } => super::files::read_jsonl(&dir.join(format!("{BBA_RESULTS}.jsonl")))?,
        };
        let mut mine: Vec<BbaResultDoc> = all.into_iter().filter(|d| d.quad == quad).collect();
        mine.sort_by_key(|d| d.at_ms);
        Ok(mine)
    }
}
