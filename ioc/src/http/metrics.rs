//! Health and Prometheus metrics: recompute duration histogram, write and
//! merge counters, model status, beam, store status and lag, PVA clients.
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use epics_pvxs_sys::PvaClients;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use serde::Serialize;
use tokio::sync::watch;
use utoipa::ToSchema;

use super::{HttpState, TAG_OPS};
use crate::core::snapshot::Snapshot;
use crate::store::persister::{StatusSink, StoreStatus};

/// The metrics the twin keeps.
pub struct Metrics {
    registry: Mutex<Registry>,
    recompute_seconds: Histogram,
    recomputes: Counter,
    writes: Counter,
    merged: Counter,
    model_valid: Gauge,
    beam_current_ua: Gauge,
    store_available: Gauge,
    store_pending: Gauge,
    store_lag_seconds: Gauge<f64, AtomicU64>,
    pva_clients: Gauge,
    pva_channels: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("twin");
        let recompute_seconds = Histogram::new(exponential_buckets(2.5e-4, 2.0, 12));
        let (recomputes, writes, merged) = (Counter::default(), Counter::default(), Counter::default());
        let (model_valid, beam_current_ua) = (Gauge::default(), Gauge::default());
        let (store_available, store_pending, store_lag_seconds) =
            (Gauge::default(), Gauge::default(), Gauge::<f64, AtomicU64>::default());
        let (pva_clients, pva_channels) = (Gauge::default(), Gauge::default());
        registry.register("recompute_seconds", "Duration of a model recompute", recompute_seconds.clone());
        registry.register("recomputes", "Model recomputes", recomputes.clone());
        registry.register("setpoint_writes", "Setpoint writes applied", writes.clone());
        registry.register("merged_writes", "Writes that shared a recompute with an earlier write", merged.clone());
        registry.register("model_valid", "1 when the model is valid", model_valid.clone());
        registry.register("beam_current_microamperes", "Stored beam current", beam_current_ua.clone());
        registry.register("store_available", "1 while the store takes writes", store_available.clone());
        registry.register("store_pending_writes", "Accepted writes not yet durable", store_pending.clone());
        registry.register("store_lag_seconds", "Age of the oldest pending write", store_lag_seconds.clone());
        registry.register("pva_clients", "PV Access client connections (QSRV2)", pva_clients.clone());
        registry.register("pva_channels", "PV Access channels (QSRV2)", pva_channels.clone());
        Self {
            registry: Mutex::new(registry),
            recompute_seconds,
            recomputes,
            writes,
            merged,
            model_valid,
            beam_current_ua,
            store_available,
            store_pending,
            store_lag_seconds,
            pva_clients,
            pva_channels,
        }
    }
}

impl Metrics {
    /// Follows the snapshots: each new computation is observed once.
    pub async fn follow(self: Arc<Self>, mut snapshots: watch::Receiver<Arc<Snapshot>>) -> anyhow::Result<()> {
        let (mut computation, mut recomputes, mut writes) = (u64::MAX, 0i32, 0i32);
        loop {
            let snap = snapshots.borrow_and_update().clone();
            if snap.computation != computation {
                computation = snap.computation;
                self.recompute_seconds.observe(snap.stats.duration.as_secs_f64());
                // the first write of a recompute is not merged
                self.merged.inc_by(u64::try_from(snap.stats.merged - 1).unwrap_or(0));
            }
            self.recomputes.inc_by(u64::try_from(snap.stats.recomputes.wrapping_sub(recomputes)).unwrap_or(0));
            self.writes.inc_by(u64::try_from(snap.stats.writes.wrapping_sub(writes)).unwrap_or(0));
            (recomputes, writes) = (snap.stats.recomputes, snap.stats.writes);
            self.model_valid.set(i64::from(snap.model.is_ok()));
            self.beam_current_ua.set((snap.beam.current_ma * 1e3).round() as i64);
            snapshots.changed().await.map_err(|_| anyhow::anyhow!("the model core stopped"))?;
        }
    }

    /// The PV Access server's connections and channels (None: no QSRV2).
    pub fn observe_pva(&self, clients: Option<PvaClients>) {
        if let Some(c) = clients {
            self.pva_clients.set(i64::from(c.connections));
            self.pva_channels.set(i64::from(c.channels));
        }
    }

    fn text(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        encode(&mut out, &registry)?;
        Ok(out)
    }
}

impl StatusSink for Arc<Metrics> {
    fn show(&mut self, s: &StoreStatus) -> anyhow::Result<()> {
        self.store_available.set(i64::from(s.outage.is_none()));
        self.store_pending.set(i64::from(s.pending));
        self.store_lag_seconds.set(s.lag_s);
        Ok(())
    }
}

/// Whether the twin serves and its model is valid.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// "ok" while the IOC serves.
    pub status: String,
    /// VALID, UNSTABLE or NO ORBIT.
    pub model: String,
    pub computation: u64,
}

/// Health of the twin.
#[utoipa::path(get, path = "/health", tag = TAG_OPS, responses((status = 200, description = "Success", body = Health)))]
pub async fn health(State(state): State<Arc<HttpState>>) -> Json<Health> {
    let snap = state.snapshots.borrow().clone();
    Json(Health { status: "ok".into(), model: snap.status().0.name().into(), computation: snap.computation })
}

/// Metrics in the Prometheus (OpenMetrics) text format.
#[utoipa::path(get, path = "/metrics", tag = TAG_OPS, responses((status = 200, description = "Success", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<Arc<HttpState>>) -> impl IntoResponse {
    match state.metrics.text() {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response(),
        Err(_) => super::error::ApiError::unavailable("metrics could not be encoded").into_response(),
    }
}
