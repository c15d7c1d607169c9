//! Live data over WebSocket in the PV Web Socket protocol (PVWS, as
//! Phoebus's `pvws://` PVs and web clients speak it) at `/pvws/pv`:
//! `{"type":"subscribe","pvs":[...]}`, `{"type":"clear","pvs":[...]}`,
//! `{"type":"list"}`, `{"type":"echo",...}`; the server sends
//! `{"type":"update","pv":...}` with the metadata (units, precision,
//! description, severity) in the first update of a PV and then only what
//! changed; arrays as base64 little-endian doubles (`b64dbl`). PV names
//! are the full EPICS names (with the prefix); reads obey the IOC's
//! access security (user `pvws`, the client's address).
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use super::HttpState;
use super::pvws_queue::UpdateQueue;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::response::IntoResponse;
use base64::Engine;
use epics_pvxs_sys::{Monitor, MonitorUpdate, can_read, metadata};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Updates a session holds for a client that does not read (a few MB of
/// orbit arrays at most); beyond, intermediate updates are dropped.
const QUEUE_CAPACITY: usize = 1024;

type Queue = Arc<UpdateQueue<MonitorUpdate>>;

/// A client's message.
#[derive(Debug, Deserialize)]
struct Request {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    pvs: Vec<String>,
}

/// One subscribed PV of a socket.
struct Subscription {
    _monitor: Monitor,
    sent_meta: bool,
    severity: Option<u16>,
}

const SEVERITIES: [&str; 4] = ["NONE", "MINOR", "MAJOR", "INVALID"];

/// Upgrades to a PVWS session.
pub async fn pvws(
    ws: WebSocketUpgrade,
    State(_state): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> impl IntoResponse {
    ws.on_upgrade(move |socket| session(socket, peer))
}

fn subscribe(pv: &str, peer: &SocketAddr, queue: &Queue) -> Result<Monitor, String> {
    if !can_read(pv, "pvws", &peer.ip().to_string()) {
        return Err(format!("{pv}: no read access"));
    }
    let (queue, name): (Queue, Arc<str>) = (Arc::clone(queue), Arc::from(pv));
    Monitor::start(pv, move |u| queue.push(&name, u)).map_err(|e| e.to_string())
}

fn update_message(pv: &str, u: &MonitorUpdate, sub: &mut Subscription) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!("update"));
    m.insert("pv".into(), json!(pv));
    if !sub.sent_meta {
        sub.sent_meta = true;
        if let Ok(meta) = metadata(pv) {
            m.insert("units".into(), json!(meta.units));
            m.insert("description".into(), json!(meta.description));
            if let Some(p) = meta.precision {
                m.insert("precision".into(), json!(p));
            }
        }
    }
    if sub.severity != Some(u.severity) {
        sub.severity = Some(u.severity);
        m.insert("severity".into(), json!(SEVERITIES.get(usize::from(u.severity)).copied().unwrap_or("UNDEFINED")));
    }
    match (u.values.as_slice(), &u.text) {
        _ if !u.strings.is_empty() => {
            m.insert("value".into(), json!(u.strings));
        }
        ([], Some(text)) => {
            m.insert("text".into(), json!(text));
        }
        ([v], text) => {
            m.insert("value".into(), if v.is_finite() { json!(v) } else { json!("NaN") });
            if let Some(t) = text {
                m.insert("text".into(), json!(t));
            }
        }
        (values, _) => {
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            m.insert("b64dbl".into(), json!(base64::engine::general_purpose::STANDARD.encode(bytes)));
        }
    }
    let since = u.time.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    m.insert("seconds".into(), json!(since.as_secs()));
    m.insert("nanos".into(), json!(since.subsec_nanos()));
    Value::Object(m)
}

async fn session(mut socket: WebSocket, peer: SocketAddr) {
    let queue: Queue = Arc::new(UpdateQueue::new(QUEUE_CAPACITY));
    let mut subs: HashMap<String, Subscription> = HashMap::new();
    loop {
        let reply = tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(text))) => handle(&text, &mut subs, &peer, &queue),
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => Vec::new(),
            },
            batch = queue.next_batch() => batch
                .into_iter()
                // a PV cleared meanwhile has no subscription
                .filter_map(|(pv, update)| subs.get_mut(&*pv).map(|sub| update_message(&pv, &update, sub)))
                .collect(),
        };
        for message in reply {
            if socket.send(Message::Text(message.to_string().into())).await.is_err() {
                return;
            }
        }
    }
}

/// The replies to one client message.
fn handle(text: &str, subs: &mut HashMap<String, Subscription>, peer: &SocketAddr, queue: &Queue) -> Vec<Value> {
    let request: Request = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => return vec![json!({"type": "error", "message": format!("not a PVWS message: {e}")})],
    };
    match request.kind.as_str() {
        "subscribe" | "monitor" => {
            let mut errors = Vec::new();
            for pv in request.pvs {
                if subs.contains_key(&pv) {
                    continue;
                }
                match subscribe(&pv, peer, queue) {
                    Ok(monitor) => {
                        subs.insert(pv, Subscription { _monitor: monitor, sent_meta: false, severity: None });
                    }
                    Err(e) => errors.push(json!({"type": "error", "message": e})),
                }
            }
            errors
        }
        "clear" => {
            for pv in &request.pvs {
                subs.remove(pv);
            }
            Vec::new()
        }
        "list" => {
            let mut pvs: Vec<&String> = subs.keys().collect();
            pvs.sort();
            vec![json!({"type": "list", "pvs": pvs})]
        }
        "echo" => serde_json::from_str(text).map(|v| vec![v]).unwrap_or_default(),
        other => vec![json!({"type": "error", "message": format!("unknown message type {other:?}")})],
    }
}
