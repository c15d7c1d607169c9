//! MongoDB backend (official `mongodb` driver, tokio).
use std::time::Duration;

use futures_util::TryStreamExt;
use mongodb::bson::{self, Bson, Document, doc};
use mongodb::error::{Error as MongoError, ErrorKind};
use mongodb::options::ClientOptions;
use mongodb::{Client, Collection, Database};

use serde::Serialize;

use super::StoreError;
use super::model::{
    BPM_CONFIG, BPM_SLOTS, LATTICES, MAGNETS, MachineDocs, PUT_LOG, PutLogDoc, SETPOINT_LOG, SETPOINTS, SetpointDoc,
    SetpointLogDoc,
};

/// How long an operation waits for a reachable server before it reports
/// the store unavailable (the twin keeps serving and retries).
const SERVER_TIMEOUT: Duration = Duration::from_secs(2);
/// MongoDB's duplicate-key error: a retried insert of a logged write.
const DUPLICATE_KEY: i32 = 11000;

#[derive(Clone, Debug)]
pub struct MongoStore {
    client: Client,
    db: Database,
    machine: String,
}

fn unavailable(e: MongoError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn to_document(v: &serde_json::Value, what: &str) -> Result<Document, StoreError> {
    bson::to_document(v).map_err(|e| StoreError::Malformed { document: what.into(), problem: e.to_string() })
}

fn to_json(d: Document, what: &str) -> Result<serde_json::Value, StoreError> {
    let mut v: serde_json::Value =
        bson::from_document(d).map_err(|e| StoreError::Malformed { document: what.into(), problem: e.to_string() })?;
    if let Some(o) = v.as_object_mut() {
        o.remove("_id");
    }
    Ok(v)
}

/// Puts `key` of a JSON object as the document's `_id`.
fn with_id(v: &serde_json::Value, id: Bson, what: &str) -> Result<Document, StoreError> {
    let mut d = to_document(v, what)?;
    d.insert("_id", id);
    Ok(d)
}

fn string_field(v: &serde_json::Value, key: &str, what: &str) -> Result<String, StoreError> {
    v.get(key).and_then(|s| s.as_str()).map(str::to_string).ok_or_else(|| StoreError::Malformed {
        document: what.into(),
        problem: format!("field `{key}` missing or not a string"),
    })
}

impl MongoStore {
    pub async fn connect(uri: &str, database: &str, machine: &str) -> Result<Self, StoreError> {
        let mut opts = ClientOptions::parse(uri).await.map_err(|e| StoreError::Config(e.to_string()))?;
        opts.server_selection_timeout = Some(SERVER_TIMEOUT);
        opts.connect_timeout = Some(SERVER_TIMEOUT);
        opts.app_name = Some("twin-ioc".into());
        let client = Client::with_options(opts).map_err(|e| StoreError::Config(e.to_string()))?;
        let db = client.database(database);
        Ok(Self { client, db, machine: machine.to_string() })
    }

    fn coll(&self, name: &str) -> Collection<Document> {
        self.db.collection(name)
    }

    async fn all(&self, name: &str) -> Result<Vec<serde_json::Value>, StoreError> {
        let cursor = self.coll(name).find(doc! {}).sort(doc! {"_id": 1}).await.map_err(unavailable)?;
        let docs: Vec<Document> = cursor.try_collect().await.map_err(unavailable)?;
        docs.into_iter()
            .map(|d| {
                let what = format!("{name} {}", d.get("_id").map(|i| i.to_string()).unwrap_or_default());
                to_json(d, &what)
            })
            .collect()
    }

    pub async fn load_machine(&self) -> Result<Option<MachineDocs>, StoreError> {
        let found = self.coll(LATTICES).find_one(doc! {"_id": &self.machine}).await.map_err(unavailable)?;
        let Some(lattice) = found else { return Ok(None) };
        let what = format!("{LATTICES} {}", self.machine);
        let bpm_slots = self.all(BPM_SLOTS).await?;
        Ok(Some(MachineDocs {
            lattice: to_json(lattice, &what)?,
            magnets: self.all(MAGNETS).await?,
            bpm_config: self.all(BPM_CONFIG).await?,
            bpm_slots,
        }))
    }

    async fn replace_all(&self, name: &str, docs: Vec<Document>) -> Result<(), StoreError> {
        let coll = self.coll(name);
        coll.delete_many(doc! {}).await.map_err(unavailable)?;
        if !docs.is_empty() {
            coll.insert_many(docs).await.map_err(unavailable)?;
        }
        Ok(())
    }

    pub async fn save_machine(&self, docs: &MachineDocs) -> Result<(), StoreError> {
        let magnets = docs
            .magnets
            .iter()
            .map(|m| with_id(m, Bson::String(string_field(m, "name", MAGNETS)?), MAGNETS))
            .collect::<Result<Vec<_>, _>>()?;
        let bpms = docs
            .bpm_config
            .iter()
            .map(|b| with_id(b, Bson::String(string_field(b, "bpm_name", BPM_CONFIG)?), BPM_CONFIG))
            .collect::<Result<Vec<_>, _>>()?;
        let slots = docs
            .bpm_slots
            .iter()
            .enumerate()
            .map(|(i, s)| with_id(s, Bson::Int32(i as i32), BPM_SLOTS))
            .collect::<Result<Vec<_>, _>>()?;
        self.replace_all(MAGNETS, magnets).await?;
        self.replace_all(BPM_CONFIG, bpms).await?;
        self.replace_all(BPM_SLOTS, slots).await?;
        let lattice = with_id(&docs.lattice, Bson::String(self.machine.clone()), LATTICES)?;
        self.coll(LATTICES)
            .replace_one(doc! {"_id": &self.machine}, lattice)
            .upsert(true)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Every document of `name`, typed; a malformed one names itself and the field.
    async fn typed<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Vec<T>, StoreError> {
        let cursor = self.coll(name).find(doc! {}).await.map_err(unavailable)?;
        let docs: Vec<Document> = cursor.try_collect().await.map_err(unavailable)?;
        docs.into_iter()
            .map(|d| {
                let document = format!("{name} {}", d.get("_id").map(|i| i.to_string()).unwrap_or_default());
                serde_path_to_error::deserialize(bson::Deserializer::new(Bson::Document(d))).map_err(|e| {
                    StoreError::Malformed { document, problem: format!("field `{}`: {}", e.path(), e.inner()) }
                })
            })
            .collect()
    }

    pub async fn load_setpoints(&self) -> Result<Vec<SetpointDoc>, StoreError> {
        self.typed(SETPOINTS).await
    }

    /// Appends accepted writes (ids are unique: a retried append inserts
    /// nothing twice); keeps the newest `keep` entries.
    pub async fn append_log(&self, log: &[SetpointLogDoc], keep: u64) -> Result<(), StoreError> {
        self.append(SETPOINT_LOG, log, keep).await
    }

    /// Appends accepted client puts, like `append_log`.
    pub async fn append_puts(&self, puts: &[PutLogDoc], keep: u64) -> Result<(), StoreError> {
        self.append(PUT_LOG, puts, keep).await
    }

    async fn append<T: Serialize>(&self, name: &str, log: &[T], keep: u64) -> Result<(), StoreError> {
        if log.is_empty() {
            return Ok(());
        }
        let docs = log
            .iter()
            .map(|d| bson::to_document(d).map_err(|e| StoreError::Unavailable(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        match self.coll(name).insert_many(docs).ordered(false).await {
            Ok(_) => {}
            Err(e) if only_duplicates(&e) => {}
            Err(e) => return Err(unavailable(e)),
        }
        self.trim_log(name, keep).await
    }

    /// Deletes log entries older than the newest `keep`.
    async fn trim_log(&self, name: &str, keep: u64) -> Result<(), StoreError> {
        let coll = self.coll(name);
        if coll.estimated_document_count().await.map_err(unavailable)? <= keep {
            return Ok(());
        }
        let cutoff = coll.find_one(doc! {}).sort(doc! {"at_ms": -1}).skip(keep).await.map_err(unavailable)?;
        if let Some(at) = cutoff.and_then(|d| d.get("at_ms").cloned()) {
            coll.delete_many(doc! {"at_ms": {"$lte": at}}).await.map_err(unavailable)?;
        }
        Ok(())
    }

    /// Replaces the latest values of `latest`.
    pub async fn write_latest(&self, latest: &[SetpointDoc]) -> Result<(), StoreError> {
        for d in latest {
            let doc = bson::to_document(d).map_err(|e| StoreError::Unavailable(e.to_string()))?;
            self.coll(SETPOINTS).replace_one(doc! {"_id": &d.name}, doc).upsert(true).await.map_err(unavailable)?;
        }
        Ok(())
    }

    pub async fn insert_bba(&self, docs: &[super::model::BbaResultDoc]) -> Result<(), StoreError> {
        for d in docs {
            let mut doc = bson::to_document(d).map_err(|e| StoreError::Unavailable(e.to_string()))?;
            let id = format!("{}-{}", d.quad, d.at_ms);
            doc.insert("_id", &id);
            self.coll(super::model::BBA_RESULTS)
                .replace_one(doc! {"_id": &id}, doc)
                .upsert(true)
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    pub async fn setpoint_log(&self) -> Result<Vec<SetpointLogDoc>, StoreError> {
        let mut log: Vec<SetpointLogDoc> = self.typed(SETPOINT_LOG).await?;
        log.sort_by(|a, b| (a.at_ms, &a.id).cmp(&(b.at_ms, &b.id)));
        Ok(log)
    }

    pub async fn bba_results(&self) -> Result<Vec<super::model::BbaResultDoc>, StoreError> {
        self.typed(super::model::BBA_RESULTS).await
    }

    pub async fn put_log(&self) -> Result<Vec<PutLogDoc>, StoreError> {
        let mut log: Vec<PutLogDoc> = self.typed(PUT_LOG).await?;
        log.sort_by(|a, b| (a.at_ms, &a.id).cmp(&(b.at_ms, &b.id)));
        Ok(log)
    }

    /// Copies every stored collection to `<name>_reset_<stamp>` (kept for
    /// inspection) and empties it: the store starts empty.
    pub async fn reset(&self, stamp: &str) -> Result<String, StoreError> {
        for name in
            [LATTICES, MAGNETS, BPM_CONFIG, BPM_SLOTS, SETPOINTS, SETPOINT_LOG, PUT_LOG, super::model::BBA_RESULTS]
        {
            let cursor = self.coll(name).find(doc! {}).await.map_err(unavailable)?;
            let docs: Vec<Document> = cursor.try_collect().await.map_err(unavailable)?;
            if !docs.is_empty() {
                self.coll(&format!("{name}_reset_{stamp}")).insert_many(docs).await.map_err(unavailable)?;
            }
            self.coll(name).delete_many(doc! {}).await.map_err(unavailable)?;
        }
        Ok(format!("collections *_reset_{stamp}"))
    }

    pub async fn shutdown(self) {
        self.client.shutdown().await;
    }
}

/// True if an insert failed only because some documents already existed.
fn only_duplicates(e: &MongoError) -> bool {
    match e.kind.as_ref() {
        ErrorKind::InsertMany(m) => {
            m.write_concern_error.is_none()
                && m.write_errors.as_ref().is_some_and(|w| w.iter().all(|x| x.code == DUPLICATE_KEY))
        }
        _ => false,
    }
}
