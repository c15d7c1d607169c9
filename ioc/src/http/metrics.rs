//! Health and Prometheus metrics: recompute duration histogram, write and
//! merge counters, model status, beam, PVA clients, HTTP writes.
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
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

/// The metrics the twin keeps.
pub struct Metrics {
    registry: Mutex<Registry>,
    recompute_seconds: Histogram,
    recomputes: Counter,
    writes: Counter,
    model_valid: Gauge,
    beam_current_ua: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("twin");
        let recompute_seconds = Histogram::new(exponential_buckets(2.5e-4, 2.0, 12));
        let (recomputes, writes) = (Counter::default(), Counter::default());
        let (model_valid, beam_current_ua) = (Gauge::default(), Gauge::default());
        registry.register("recompute_seconds", "Duration of a model recompute", recompute_seconds.clone());
        registry.register("recomputes", "Model recomputes", recomputes.clone());
        registry.register("setpoint_writes", "Setpoint writes applied", writes.clone());
        registry.register("model_valid", "1 when the model is valid", model_valid.clone());
        registry.register("beam_current_microamperes", "Stored beam current", beam_current_ua.clone());
        Self { registry: Mutex::new(registry), recompute_seconds, recomputes, writes, model_valid, beam_current_ua }
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
            }
            self.recomputes.inc_by(u64::try_from(snap.stats.recomputes.wrapping_sub(recomputes)).unwrap_or(0));
            self.writes.inc_by(u64::try_from(snap.stats.writes.wrapping_sub(writes)).unwrap_or(0));
            (recomputes, writes) = (snap.stats.recomputes, snap.stats.writes);
            self.model_valid.set(i64::from(snap.model.is_ok()));
            self.beam_current_ua.set((snap.beam.current_ma * 1e3).round() as i64);
            snapshots.changed().await.map_err(|_| anyhow::anyhow!("the model core stopped"))?;
        }
    }

    fn text(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        encode(&mut out, &registry)?;
        Ok(out)
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
