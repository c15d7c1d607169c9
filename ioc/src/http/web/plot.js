// SVG plots without a library: axes with round ticks, lines, markers with
// a label each (shown on hover), error bars.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";
const MARGIN = { left: 58, right: 12, top: 18, bottom: 30 };

function svgEl(tag, attrs, text) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

// Round tick values covering [lo, hi], about n of them.
function niceTicks(lo, hi, n) {
  if (!(hi > lo)) { hi = lo + 1; lo -= 1; }
  const raw = (hi - lo) / n;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return ticks;
}

function extent(values, pad) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) if (Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (lo === Infinity) return [-1, 1];
  if (lo === hi) { const p = lo === 0 ? 1 : Math.abs(lo) * 0.01; return [lo - p, hi + p]; }
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}

const Plot = {
  // series: [{ name, x: [...], y: [...], err: [...]?, labels: [...]? , markers: bool, line: bool }]
  draw(svg, { series, xLabel, yLabel, xRange, empty }) {
    const [w, h] = svg.getAttribute("viewBox").split(" ").slice(2).map(Number);
    const pw = w - MARGIN.left - MARGIN.right, ph = h - MARGIN.top - MARGIN.bottom;
    svg.replaceChildren();
    const points = [];
    const allX = series.flatMap((s) => s.x), allY = series.flatMap((s) => s.y.map((v, i) => [v - (s.err?.[i] || 0), v + (s.err?.[i] || 0)]).flat());
    if (!allX.some(Number.isFinite)) {
      svg.append(svgEl("text", { x: w / 2, y: h / 2, "text-anchor": "middle", class: "empty" }, empty || "no data"));
      svg.__points = points;
      return;
    }
    const [x0, x1] = xRange || extent(allX, 0.01);
    const [y0, y1] = extent(allY, 0.08);
    const sx = (v) => MARGIN.left + ((v - x0) / (x1 - x0)) * pw;
    const sy = (v) => MARGIN.top + (1 - (v - y0) / (y1 - y0)) * ph;
    const axes = svgEl("g");
    for (const t of niceTicks(y0, y1, 5)) {
      axes.append(svgEl("line", { x1: MARGIN.left, x2: w - MARGIN.right, y1: sy(t), y2: sy(t), class: t === 0 ? "axis" : "grid" }));
      axes.append(svgEl("text", { x: MARGIN.left - 6, y: sy(t) + 4, "text-anchor": "end" }, +t.toPrecision(6)));
    }
    for (const t of niceTicks(x0, x1, 8)) {
      axes.append(svgEl("line", { x1: sx(t), x2: sx(t), y1: h - MARGIN.bottom, y2: h - MARGIN.bottom + 4, class: "axis" }));
      axes.append(svgEl("text", { x: sx(t), y: h - MARGIN.bottom + 16, "text-anchor": "middle" }, +t.toPrecision(6)));
    }
    axes.append(svgEl("line", { x1: MARGIN.left, x2: w - MARGIN.right, y1: h - MARGIN.bottom, y2: h - MARGIN.bottom, class: "axis" }));
    axes.append(svgEl("text", { x: w - MARGIN.right, y: h - 2, "text-anchor": "end" }, xLabel));
    axes.append(svgEl("text", { x: 4, y: 12, class: "title" }, yLabel));
    svg.append(axes);
    series.forEach((s, n) => {
      const k = s.colour ?? n;
      const g = svgEl("g", { class: `series s${k}`, "data-name": s.name });
      let d = "";
      s.x.forEach((x, i) => {
        const y = s.y[i];
        if (!Number.isFinite(x) || !Number.isFinite(y)) return;
        const px = sx(x), py = sy(y);
        d += `${d ? "L" : "M"}${px.toFixed(2)},${py.toFixed(2)}`;
        if (s.err && Number.isFinite(s.err[i])) {
          g.append(svgEl("line", { x1: px, x2: px, y1: sy(y - s.err[i]), y2: sy(y + s.err[i]), class: `errorbar s${k}` }));
        }
        if (s.markers) {
          const c = svgEl("circle", { cx: px.toFixed(2), cy: py.toFixed(2), r: 2.2, class: `marker s${k}` });
          if (s.labels) c.setAttribute("data-label", s.labels[i]);
          g.append(c);
        }
        points.push({ px, py, text: s.tooltip ? s.tooltip(i) : `${s.name}: ${y}` });
      });
      if (s.line !== false) g.prepend(svgEl("path", { d, class: `line s${k}` }));
      svg.append(g);
    });
    svg.__points = points;
  },

  // A tooltip following the pointer: the nearest point's text.
  hover(svg, tooltip) {
    svg.addEventListener("mousemove", (ev) => {
      const pts = svg.__points || [];
      if (!pts.length) return;
      const m = svg.getScreenCTM().inverse();
      const p = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(m);
      let best = null, bd = Infinity;
      for (const q of pts) {
        const dd = (q.px - p.x) ** 2 + ((q.py - p.y) ** 2) / 16;
        if (dd < bd) { bd = dd; best = q; }
      }
      tooltip.textContent = best.text;
      tooltip.style.left = `${ev.clientX + 12}px`;
      tooltip.style.top = `${ev.clientY + 12}px`;
      tooltip.hidden = false;
    });
    svg.addEventListener("mouseleave", () => { tooltip.hidden = true; });
  },
};
window.Plot = Plot;
