// The live view: PV values over the PV Web Socket (/pvws/pv), converter
// writes through the REST API (/twin/setpoints).
"use strict";

const $ = (id) => document.getElementById(id);
const TUNE_HISTORY_S = 600;
const TUNE_SAMPLE_MS = 5000;
const MAX_CONVERTER_ROWS = 15;

const FIXED = [
  "ORBITCC:rdPos", "ORBITCC:rdBpmNames", "ORBITCC:rdSPos",
  "TWIN:MODEL:QX", "TWIN:MODEL:QY", "TWIN:MODEL:QS",
  "CUMZR:rdCur", "TOPUPCC:rdLT",
  "TWIN:MODEL:STATUS", "TWIN:MODEL:MESSAGE", "TWIN:STORE:STATUS", "TWIN:STORE:MESSAGE",
  "TWIN:BBA:status", "TWIN:BBA:NAMES", "TWIN:BBA:S",
  "TWIN:BBA:OFFSETX", "TWIN:BBA:OFFSETY", "TWIN:BBA:SIGMAX", "TWIN:BBA:SIGMAY",
];

// What the page shows, for people and for tests (window.twinView).
const view = {
  prefix: "",
  values: new Map(), // name (without prefix) -> merged PVWS state
  orbit: null, // the last ORBITCC:rdPos [nm], slot order x0, y0, x1, ...
  plottedBpms: 0,
  orbitUpdates: 0,
  tunes: [], // { t [s], qx, qy }
  converters: [], // { name, unit }
  shownConverters: [],
};
window.twinView = view;

let ws = null;

function decode(b64) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return Array.from(new Float64Array(bytes.buffer));
}

function fmt(v, prec) {
  if (typeof v !== "number" || !Number.isFinite(v)) return "–";
  return v.toFixed(Math.max(0, Math.min(prec ?? 3, 12)));
}

function setBadge(el, text, severity) {
  el.textContent = text;
  el.className = `badge sev-${severity || "NONE"}`;
}

function send(msg) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
}

function connect() {
  ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/pvws/pv`);
  ws.onopen = () => {
    setBadge($("conn"), "live", "NONE");
    send({ type: "subscribe", pvs: FIXED.map((n) => view.prefix + n) });
    subscribeConverters(view.shownConverters);
  };
  ws.onmessage = (ev) => receive(JSON.parse(ev.data));
  ws.onclose = () => {
    setBadge($("conn"), "disconnected", "INVALID");
    setTimeout(connect, 2000);
  };
}

function receive(m) {
  if (m.type !== "update") {
    if (m.type === "error") $("converter-message").textContent = m.message;
    return;
  }
  const name = m.pv.startsWith(view.prefix) ? m.pv.slice(view.prefix.length) : m.pv;
  const state = Object.assign(view.values.get(name) || {}, m);
  if (m.b64dbl !== undefined) state.value = decode(m.b64dbl);
  view.values.set(name, state);
  (HANDLERS[name] || converterUpdate)(name, state);
}

const val = (name) => view.values.get(name)?.value;

function showOrbit() {
  const pos = val("ORBITCC:rdPos"), names = val("ORBITCC:rdBpmNames"), s = val("ORBITCC:rdSPos");
  if (!Array.isArray(pos) || !Array.isArray(names) || !Array.isArray(s)) return;
  view.orbit = pos;
  const slots = [];
  for (let i = 0; i < names.length && 2 * i + 1 < pos.length; i++) {
    if (names[i] && Number.isFinite(s[i])) slots.push(i);
  }
  const sOf = slots.map((i) => s[i]);
  const labels = slots.map((i) => names[i]);
  const tip = (i) => `${labels[i]}  s = ${sOf[i].toFixed(3)} m\nx = ${(pos[2 * slots[i]] / 1e3).toFixed(3)} µm\ny = ${(pos[2 * slots[i] + 1] / 1e3).toFixed(3)} µm`;
  const range = [0, Math.max(...sOf) * 1.005];
  for (const [plane, k] of [["x", 0], ["y", 1]]) {
    const svg = $(`orbit-${plane}`);
    Plot.draw(svg, {
      series: [{ name: plane, colour: k, x: sOf, y: slots.map((i) => pos[2 * i + k] / 1e3), labels, markers: true, tooltip: tip }],
      xLabel: "s [m]", yLabel: `${plane} [µm]`, xRange: range,
    });
    svg.setAttribute("data-bpms", slots.length);
  }
  view.plottedBpms = slots.length;
  view.orbitUpdates += 1;
  $("orbit-count").textContent = `${slots.length} BPMs with a position in the lattice, of ${names.length} orbit slots`;
}

function showTune(name, state) {
  const id = { "TWIN:MODEL:QX": "qx", "TWIN:MODEL:QY": "qy", "TWIN:MODEL:QS": "qs" }[name];
  $(id).textContent = fmt(state.value, state.precision ?? 5);
  if (name !== "TWIN:MODEL:QS") recordTunes(Date.now() / 1e3);
}

// The tune history: every change, and the steady value every few seconds.
function recordTunes(t) {
  const qx = val("TWIN:MODEL:QX"), qy = val("TWIN:MODEL:QY");
  if (typeof qx !== "number" || typeof qy !== "number") return;
  view.tunes.push({ t, qx: qx - Math.floor(qx), qy: qy - Math.floor(qy) });
  while (view.tunes.length && view.tunes[0].t < t - TUNE_HISTORY_S) view.tunes.shift();
  const ago = view.tunes.map((p) => p.t - t);
  const when = (i) => `${new Date(view.tunes[i].t * 1e3).toLocaleTimeString()}\nQx ${view.tunes[i].qx.toFixed(5)}  Qy ${view.tunes[i].qy.toFixed(5)}`;
  for (const [plane, k] of [["x", 0], ["y", 1]]) {
    Plot.draw($(`tune-history-${plane}`), {
      series: [{ name: `Q${plane}`, colour: k, x: ago, y: view.tunes.map((p) => p[`q${plane}`]), markers: view.tunes.length < 60, tooltip: when }],
      xLabel: "t − now [s]", yLabel: `Q${plane} (fractional)`, xRange: [-TUNE_HISTORY_S, 0],
    });
  }
}

function showBeam(name, state) {
  const el = name === "CUMZR:rdCur" ? $("current") : $("lifetime");
  el.textContent = fmt(state.value, name === "CUMZR:rdCur" ? 1 : 2);
  el.parentElement.className = `value sev-${state.severity || "NONE"}`;
}

function showStatus() {
  const model = view.values.get("TWIN:MODEL:STATUS"), store = view.values.get("TWIN:STORE:STATUS");
  if (model) setBadge($("model-status"), `model ${model.text ?? model.value}`, model.severity);
  if (store) setBadge($("store-status"), `store ${store.text ?? store.value}`, store.severity);
  $("model-message").textContent = ["TWIN:MODEL:MESSAGE", "TWIN:STORE:MESSAGE"]
    .map((n) => view.values.get(n)?.text).filter((t) => t).join(" · ");
}

function showBba() {
  const status = view.values.get("TWIN:BBA:status");
  if (status) $("bba-status").textContent = status.text ?? "";
  const names = val("TWIN:BBA:NAMES"), s = val("TWIN:BBA:S");
  const ox = val("TWIN:BBA:OFFSETX"), oy = val("TWIN:BBA:OFFSETY"), sx = val("TWIN:BBA:SIGMAX"), sy = val("TWIN:BBA:SIGMAY");
  if (![names, s, ox, oy, sx, sy].every(Array.isArray)) return;
  const measured = [];
  for (let i = 0; i < names.length; i++) if (Number.isFinite(ox[i]) || Number.isFinite(oy[i])) measured.push(i);
  const um = (a) => measured.map((i) => a[i] * 1e6);
  const at = measured.map((i) => s[i]);
  const tip = (k) => { const i = measured[k]; return `${names[i]}  s = ${s[i].toFixed(3)} m\nx ${(ox[i] * 1e6).toFixed(2)} ± ${(sx[i] * 1e6).toFixed(2)} µm\ny ${(oy[i] * 1e6).toFixed(2)} ± ${(sy[i] * 1e6).toFixed(2)} µm`; };
  const ring = Math.max(...s.filter(Number.isFinite)) * 1.005;
  Plot.draw($("bba-plot"), {
    series: [
      { name: "x", x: at, y: um(ox), err: um(sx), markers: true, line: false, tooltip: tip },
      { name: "y", x: at, y: um(oy), err: um(sy), markers: true, line: false, tooltip: tip },
    ],
    xLabel: "s [m]", yLabel: "magnetic centre [µm] (blue x, red y)", xRange: [0, ring], empty: "no quadrupole measured yet",
  });
  $("bba-rows").replaceChildren(...measured.map((i) => {
    const tr = document.createElement("tr");
    for (const c of [names[i], s[i].toFixed(3), ...[ox[i], sx[i], oy[i], sy[i]].map((v) => fmt(v * 1e6, 2))]) {
      const td = document.createElement("td");
      td.textContent = c;
      tr.append(td);
    }
    return tr;
  }));
}

const HANDLERS = {
  "ORBITCC:rdPos": showOrbit, "ORBITCC:rdBpmNames": showOrbit, "ORBITCC:rdSPos": showOrbit,
  "TWIN:MODEL:QX": showTune, "TWIN:MODEL:QY": showTune, "TWIN:MODEL:QS": showTune,
  "CUMZR:rdCur": showBeam, "TOPUPCC:rdLT": showBeam,
  "TWIN:MODEL:STATUS": showStatus, "TWIN:MODEL:MESSAGE": showStatus, "TWIN:STORE:STATUS": showStatus, "TWIN:STORE:MESSAGE": showStatus,
  "TWIN:BBA:status": showBba, "TWIN:BBA:NAMES": showBba, "TWIN:BBA:S": showBba,
  "TWIN:BBA:OFFSETX": showBba, "TWIN:BBA:OFFSETY": showBba, "TWIN:BBA:SIGMAX": showBba, "TWIN:BBA:SIGMAY": showBba,
};

// --- converter search: set/readback over the socket, writes over REST ---

const readback = (setpoint) => setpoint.replace(/:set$/, ":rdbk");
const converterPvs = (names) => names.flatMap((n) => [view.prefix + n, view.prefix + readback(n)]);

function subscribeConverters(names) {
  if (names.length) send({ type: "subscribe", pvs: converterPvs(names) });
}

function converterUpdate(name, state) {
  const cell = document.querySelector(`[data-pv="${CSS.escape(name)}"]`);
  if (!cell) return;
  cell.textContent = fmt(state.value, state.precision ?? 4);
  cell.className = `sev-${state.severity || "NONE"}`;
}

function showConverters(query) {
  const q = query.trim().toUpperCase();
  const matches = q ? view.converters.filter((c) => c.name.toUpperCase().includes(q)).slice(0, MAX_CONVERTER_ROWS) : [];
  const names = matches.map((c) => c.name);
  const gone = view.shownConverters.filter((n) => !names.includes(n));
  if (gone.length) send({ type: "clear", pvs: converterPvs(gone) });
  const fresh = names.filter((n) => !view.shownConverters.includes(n));
  gone.concat(fresh).forEach((n) => { view.values.delete(n); view.values.delete(readback(n)); });
  view.shownConverters = names;
  $("converter-rows").replaceChildren(...matches.map((c) => {
    const tr = document.createElement("tr");
    tr.innerHTML = `<td></td><td data-pv=""></td><td data-pv=""></td><td><input type="number" step="any"> ${c.unit}</td><td><button>Set</button></td>`;
    const [nameCell, setCell, rdbkCell, inputCell, buttonCell] = tr.children;
    nameCell.textContent = c.name.replace(/:set$/, "");
    setCell.dataset.pv = c.name;
    rdbkCell.dataset.pv = readback(c.name);
    setCell.textContent = rdbkCell.textContent = "…";
    const input = inputCell.querySelector("input"), button = buttonCell.querySelector("button");
    const write = () => writeSetpoint(c.name, input.value);
    button.addEventListener("click", write);
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") write(); });
    return tr;
  }));
  if (fresh.length) send({ type: "subscribe", pvs: converterPvs(fresh) });
}

async function writeSetpoint(name, text) {
  const msg = $("converter-message");
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) {
    msg.textContent = `${name}: not a number`;
    return;
  }
  const res = await fetch("/twin/setpoints", {
    method: "PUT", headers: { "content-type": "application/json" },
    body: JSON.stringify({ setpoints: { [name]: value } }),
  });
  const body = await res.json().catch(() => ({}));
  msg.textContent = res.ok ? "" : body.error || `${name}: ${res.statusText}`;
}

async function main() {
  const info = await (await fetch("/twin/info")).json();
  view.prefix = info.prefix;
  $("machine").textContent = `${info.machine} digital twin`;
  document.title = `${info.machine} twin`;
  $("version").textContent = info.version;
  const tooltip = $("tooltip");
  for (const id of ["orbit-x", "orbit-y", "tune-history-x", "tune-history-y", "bba-plot"]) Plot.hover($(id), tooltip);
  connect();
  const setpoints = await (await fetch("/twin/setpoints")).json();
  view.converters = setpoints.filter((s) => /^[^:]+:set$/.test(s.name)).map((s) => ({ name: s.name, unit: s.unit }));
  setInterval(() => recordTunes(Date.now() / 1e3), TUNE_SAMPLE_MS);
  let pending = null;
  $("converter-search").addEventListener("input", (e) => {
    clearTimeout(pending);
    pending = setTimeout(() => showConverters(e.target.value), 150);
  });
}

main().catch((e) => { $("model-message").textContent = `the view could not start: ${e}`; });
