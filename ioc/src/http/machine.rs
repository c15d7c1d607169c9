//! lat2db-compatible lattice routes, as the seed's service has them: the
//! machine document and its quadrupoles (`sequences` elements of type
//! Quadrupole), a tag filter (any of the given tags), and the update of a
//! quadrupole's strength, which the twin applies like a write.
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::twin::WriteOutcome;
use super::{HttpState, TAG_MACHINE};
use crate::names;

/// The machine document with `id` and `name` (the machine's name).
fn document(state: &HttpState) -> Value {
    let mut doc = state.lattice_doc.clone();
    if let Some(o) = doc.as_object_mut() {
        o.insert("id".into(), Value::String(state.machine.profile.name.clone()));
        o.insert("name".into(), Value::String(state.machine.profile.name.clone()));
    }
    doc
}

fn check_id(state: &HttpState, id: &str) -> Result<(), ApiError> {
    match id == state.machine.profile.name {
        true => Ok(()),
        false => Err(ApiError::not_found(format!("Machine with ID {id} not found"))),
    }
}

fn quadrupoles(state: &HttpState) -> Vec<Value> {
    let elements = state.lattice_doc.get("sequences").and_then(Value::as_array);
    elements
        .into_iter()
        .flatten()
        .filter(|e| e.get("type").and_then(Value::as_str) == Some("Quadrupole"))
        .cloned()
        .collect()
}

/// Every machine the twin serves (one).
#[utoipa::path(get, path = "/machine", tag = TAG_MACHINE, responses((status = 200, description = "Success", body = Vec<Object>)))]
pub async fn machines(State(state): State<Arc<HttpState>>) -> Json<Vec<Value>> {
    Json(vec![document(&state)])
}

/// The machine document (lat2db).
#[utoipa::path(get, path = "/machine/{id}", tag = TAG_MACHINE, params(("id" = String, Path)),
    responses((status = 200, description = "Success", body = Object), (status = 404, description = "No such machine, quadrupole or setpoint", body = ErrorBody)))]
pub async fn machine(State(state): State<Arc<HttpState>>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    check_id(&state, &id)?;
    Ok(Json(document(&state)))
}

/// The machine's quadrupoles, in lattice order.
#[utoipa::path(get, path = "/machine/{id}/quad", tag = TAG_MACHINE, params(("id" = String, Path)),
    responses((status = 200, description = "Success", body = Vec<Object>), (status = 404, description = "No such machine, quadrupole or setpoint", body = ErrorBody)))]
pub async fn quads(State(state): State<Arc<HttpState>>, Path(id): Path<String>) -> Result<Json<Vec<Value>>, ApiError> {
    check_id(&state, &id)?;
    Ok(Json(quadrupoles(&state)))
}

/// Quadrupoles carrying any of the tags.
#[derive(Debug, Serialize, ToSchema)]
pub struct Filtered {
    pub quadrupole: Vec<Object>,
}

/// An element document (lat2db).
pub type Object = Value;

/// The quadrupoles carrying any of the given tags (`?tags=a&tags=b`).
#[utoipa::path(get, path = "/machine/{id}/quad/filter", tag = TAG_MACHINE,
    params(("id" = String, Path), ("tags" = Vec<String>, Query, description = "repeated: any matches")),
    responses((status = 200, description = "Success", body = Filtered), (status = 400, description = "Malformed request", body = ErrorBody), (status = 404, description = "No such machine, quadrupole or setpoint", body = ErrorBody)))]
pub async fn filter(
    State(state): State<Arc<HttpState>>,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Json<Filtered>, ApiError> {
    check_id(&state, &id)?;
    let tags: Vec<&str> = pairs.iter().filter(|(k, _)| k == "tags").map(|(_, v)| v.as_str()).collect();
    if tags.is_empty() {
        return Err(ApiError::bad_request("give at least one tag: ?tags=A&tags=B"));
    }
    let carries = |q: &Value| {
        let own = q.get("tags").and_then(Value::as_array);
        own.into_iter().flatten().filter_map(Value::as_str).any(|t| tags.contains(&t))
    };
    Ok(Json(Filtered { quadrupole: quadrupoles(&state).into_iter().filter(|q| carries(q)).collect() }))
}

/// An updated quadrupole (lat2db's PUT body).
#[derive(Debug, Deserialize, ToSchema)]
pub struct QuadUpdate {
    /// lat2db's drift to resize with a length change; the running twin
    /// changes strengths only: "-1".
    #[serde(default)]
    pub affected_drift: Option<String>,
    pub updated_data: Object,
}

/// Applies a quadrupole document's strength (`element_configuration.
/// magnetic_element.main_multipole_strength`, K1 [1/m²]) like a write of
/// `<QUAD>:Cm:set`; other changes (length, type) are refused.
#[utoipa::path(put, path = "/machine/{id}/quad/{name}", tag = TAG_MACHINE,
    params(("id" = String, Path), ("name" = String, Path)), request_body = QuadUpdate,
    responses((status = 200, description = "Success", body = WriteOutcome), (status = 400, description = "Malformed request", body = ErrorBody), (status = 403, description = "Not allowed (read-only mode, the hidden truth)", body = ErrorBody),
              (status = 404, description = "No such machine, quadrupole or setpoint", body = ErrorBody), (status = 422, description = "Refused by the model", body = ErrorBody)))]
pub async fn update_quad(
    State(state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((id, name)): Path<(String, String)>,
    body: Result<Json<QuadUpdate>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<WriteOutcome>, ApiError> {
    check_id(&state, &id)?;
    let Json(update) = body.map_err(|e| ApiError::new(e.status(), e.body_text()))?;
    let current = quadrupoles(&state)
        .into_iter()
        .find(|q| q.get("name").and_then(Value::as_str) == Some(name.as_str()))
        .ok_or_else(|| ApiError::not_found(format!("no quadrupole {name}")))?;
    if update.affected_drift.as_deref().is_some_and(|d| d != "-1") {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "the running twin changes strengths only: no drift is resized (affected_drift \"-1\")",
        ));
    }
    let new = &update.updated_data;
    if new.get("name").and_then(Value::as_str).is_some_and(|n| n != name) {
        return Err(ApiError::bad_request(format!("the document is of another quadrupole than {name}")));
    }
    for key in ["length", "type"] {
        if new.get(key).is_some_and(|v| Some(v) != current.get(key)) {
            return Err(ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                format!("the running twin changes a quadrupole's strength only, not its {key}"),
            ));
        }
    }
    let k1 = new
        .pointer("/element_configuration/magnetic_element/main_multipole_strength")
        .and_then(Value::as_f64)
        .ok_or_else(|| {
            ApiError::bad_request("element_configuration.magnetic_element.main_multipole_strength missing")
        })?;
    let pv = names::magnet_strength(&name);
    let setpoint = state.setpoint(&pv).ok_or_else(|| ApiError::not_found(format!("no strength setpoint {pv}")))?;
    super::write::apply(&state, vec![(setpoint, pv, k1)], peer).await.map(Json)
}
