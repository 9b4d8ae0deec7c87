// Draws the report's figures as SVG from the JSON embedded in the page (no network, no library).
// Hover a point or bar for its figures; click a legend entry to hide or show a series; switch the
// y axis between linear and log. body[data-figures-drawn] counts the figures drawn (tests read it).
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const W = 780, H = 400, M = { l: 72, r: 18, t: 12, b: 48 };

  function el(name, attrs, parent, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function fmt(v) {
    if (v === 0) return "0";
    const a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toPrecision(3).replace(/\.?0+$/, "") + "M";
    if (a >= 1e4) return (v / 1e3).toPrecision(3).replace(/\.?0+$/, "") + "k";
    if (a >= 1) return String(Number(v.toPrecision(4)));
    return String(Number(v.toPrecision(3)));
  }

  function niceTicks(lo, hi, count) {
    if (!(hi > lo)) return [lo];
    const raw = (hi - lo) / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
    const out = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
    return out;
  }

  function logTicks(lo, hi, base) {
    const out = [];
    if (base === 2) {
      for (let e = Math.floor(Math.log2(lo)); e <= Math.ceil(Math.log2(hi)); e++) {
        const t = Math.pow(2, e);
        if (t >= lo * 0.999 && t <= hi * 1.001) out.push(t);
      }
      return out;
    }
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of [1, 2, 5]) {
        const t = m * Math.pow(10, e);
        if (t >= lo * 0.999 && t <= hi * 1.001) out.push(t);
      }
    }
    return out.length > 12 ? out.filter((t) => Math.abs(Math.log10(t) % 1) < 1e-9) : out;
  }

  // A numeric axis: value -> pixel, with its ticks.
  function axis(kind, values, r0, r1, fromZero) {
    let lo = Math.min(...values), hi = Math.max(...values);
    if (kind === "linear") {
      if (fromZero) lo = Math.min(0, lo);
      if (hi === lo) { hi = lo + (Math.abs(lo) || 1); }
      const pad = (hi - lo) * 0.05;
      if (!fromZero || lo < 0) lo -= pad;
      hi += pad;
      const f = (v) => r0 + ((v - lo) / (hi - lo)) * (r1 - r0);
      return { f, ticks: niceTicks(lo, hi, 6).filter((t) => t >= lo && t <= hi) };
    }
    const pos = values.filter((v) => v > 0);
    lo = Math.min(...pos); hi = Math.max(...pos);
    const base = kind === "log2" ? 2 : 10;
    const lg = (v) => Math.log(v) / Math.log(base);
    let a = lg(lo), b = lg(hi);
    if (b - a < 1e-9) { a -= 0.5; b += 0.5; }
    const pad = (b - a) * 0.05;
    a -= pad; b += pad;
    const f = (v) => r0 + ((lg(v) - a) / (b - a)) * (r1 - r0);
    return { f, ticks: logTicks(Math.pow(base, a), Math.pow(base, b), base) };
  }

  function draw(fig, holder, state) {
    holder.querySelectorAll("svg, .legend, .tip, .controls").forEach((n) => n.remove());
    const visible = fig.series.filter((s) => !state.hidden.has(s.name));
    const controls = document.createElement("div");
    controls.className = "controls";
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.textContent = state.ylog ? "y axis: log (switch to linear)" : "y axis: linear (switch to log)";
    toggle.addEventListener("click", () => { state.ylog = !state.ylog; draw(fig, holder, state); });
    controls.appendChild(toggle);
    holder.appendChild(controls);

    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": fig.title, class: "chart-svg" }, holder);
    const x0 = M.l, x1 = W - M.r, y0 = H - M.b, y1 = M.t;
    const pts = visible.flatMap((s) => s.points);
    const ys = pts.flatMap((p) => [p.y, p.lo, p.hi]).filter((v) => v !== null && isFinite(v));
    const ylog = state.ylog && ys.some((v) => v > 0);
    const yAxis = axis(ylog ? "log10" : "linear", ys.length ? ys : [0, 1], y0, y1, fig.kind === "bar" || !ylog);
    const hits = [];
    const gridLayer = el("g", { class: "grid-layer" }, svg);  // first, so the data is drawn over it

    let xf, xticks;
    if (fig.kind === "bar") {
      const n = fig.categories.length || 1, band = (x1 - x0) / n;
      xf = (c) => x0 + band * (fig.categories.indexOf(String(c)) + 0.5);
      xticks = fig.categories.map((c) => ({ v: c, px: xf(c), label: c }));
      const width = (band * 0.8) / Math.max(visible.length, 1);
      const base = ylog ? y0 : yAxis.f(0);
      visible.forEach((s, k) => {
        for (const p of s.points) {
          if (ylog && !(p.y > 0)) continue;
          const cx = xf(p.x) - band * 0.4 + width * (k + 0.5), top = yAxis.f(p.y);
          el("rect", { x: cx - width / 2, y: Math.min(top, base), width: Math.max(width - 1, 1), height: Math.abs(base - top),
                       fill: s.color, class: "bar" }, svg);
          if (p.lo !== null && p.hi !== null && (!ylog || p.lo > 0)) {  // the bar's range over repeats
            const a = yAxis.f(p.lo), b = yAxis.f(p.hi), w = Math.min(4, width / 3);
            el("path", { d: `M${cx},${a} V${b} M${cx - w},${a} H${cx + w} M${cx - w},${b} H${cx + w}`, stroke: "#333", fill: "none" }, svg);
          }
          hits.push({ px: cx, py: top, s, p });
        }
      });
    } else {
      const xs = pts.map((p) => Number(p.x));
      const xa = axis(fig.x_scale === "category" ? "linear" : fig.x_scale, xs.length ? xs : [0, 1], x0, x1, false);
      xf = (v) => xa.f(Number(v));
      const distinct = [...new Set(xs)].sort((a, b) => a - b);
      const tickValues = fig.x_scale === "linear" && distinct.length <= 12 ? distinct : (fig.x_scale === "log2" ? distinct : xa.ticks);
      xticks = tickValues.map((v) => ({ v, px: xf(v), label: fmt(v) }));
      for (const s of visible) {
        const usable = s.points.filter((p) => !(ylog && !(p.y > 0)) && !(fig.x_scale !== "linear" && !(Number(p.x) > 0)));
        if (!usable.length) continue;
        let d = "";
        usable.forEach((p, i) => {
          const px = xf(p.x), py = yAxis.f(p.y);
          if (i === 0) d = `M${px},${py}`;
          else d += s.markers ? ` L${px},${py}` : ` H${px} V${py}`;
          hits.push({ px, py, s, p });
        });
        if (s.line !== false) el("path", { d, fill: "none", stroke: s.color, "stroke-width": 2, "stroke-dasharray": s.dashed ? "6 4" : "none", class: "line" }, svg);
        for (const p of usable) {
          const px = xf(p.x);
          if (p.lo !== null && p.hi !== null && (!ylog || p.lo > 0)) {
            const a = yAxis.f(p.lo), b = yAxis.f(p.hi);
            el("path", { d: `M${px},${a} V${b} M${px - 4},${a} H${px + 4} M${px - 4},${b} H${px + 4}`, stroke: s.color, fill: "none" }, svg);
          }
          if (s.markers) el("circle", { cx: px, cy: yAxis.f(p.y), r: 3.5, fill: s.color, class: "marker" }, svg);
        }
      }
    }

    // Grid lines under the data, axes and labels over it.
    for (const t of yAxis.ticks) {
      const py = yAxis.f(t);
      el("line", { x1: x0, x2: x1, y1: py, y2: py, class: "grid" }, gridLayer);
      el("text", { x: x0 - 6, y: py + 4, "text-anchor": "end", class: "tick" }, svg, fmt(t));
    }
    for (const t of xticks) {
      el("line", { x1: t.px, x2: t.px, y1: y0, y2: y0 + 5, class: "axis" }, svg);
      el("text", { x: t.px, y: y0 + 18, "text-anchor": "middle", class: "tick" }, svg, t.label);
    }
    el("line", { x1: x0, x2: x1, y1: y0, y2: y0, class: "axis" }, svg);
    el("line", { x1: x0, x2: x0, y1: y0, y2: y1, class: "axis" }, svg);
    el("text", { x: (x0 + x1) / 2, y: H - 8, "text-anchor": "middle", class: "label" }, svg, fig.x_label);
    el("text", { x: 14, y: (y0 + y1) / 2, "text-anchor": "middle", class: "label", transform: `rotate(-90 14 ${(y0 + y1) / 2})` }, svg, fig.y_label);
    if (!visible.length) el("text", { x: (x0 + x1) / 2, y: (y0 + y1) / 2, "text-anchor": "middle", class: "label" }, svg, "every series hidden");

    const legend = document.createElement("div");
    legend.className = "legend";
    for (const s of fig.series) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "legend-item" + (state.hidden.has(s.name) ? " off" : "");
      b.innerHTML = `<span class="swatch${s.dashed ? " dashed" : ""}"></span>`;
      b.querySelector(".swatch").style.borderColor = s.color;
      b.querySelector(".swatch").style.background = s.dashed ? "transparent" : s.color;
      b.appendChild(document.createTextNode(s.name));
      b.title = "click to hide or show";
      b.addEventListener("click", () => {
        if (state.hidden.has(s.name)) state.hidden.delete(s.name); else state.hidden.add(s.name);
        draw(fig, holder, state);
      });
      legend.appendChild(b);
    }
    holder.appendChild(legend);

    const tip = document.createElement("div");
    tip.className = "tip";
    holder.appendChild(tip);
    const ring = el("circle", { r: 6, class: "ring", visibility: "hidden" }, svg);
    svg.addEventListener("mousemove", (ev) => {
      const box = svg.getBoundingClientRect();
      const mx = ((ev.clientX - box.left) / box.width) * W, my = ((ev.clientY - box.top) / box.height) * H;
      let best = null, bestD = 30 * 30;
      for (const h of hits) {
        const d = (h.px - mx) ** 2 + (h.py - my) ** 2;
        if (d < bestD) { best = h; bestD = d; }
      }
      if (!best) { tip.style.display = "none"; ring.setAttribute("visibility", "hidden"); return; }
      ring.setAttribute("cx", best.px); ring.setAttribute("cy", best.py); ring.setAttribute("stroke", best.s.color);
      ring.setAttribute("visibility", "visible");
      const xText = fig.kind === "bar" ? best.p.x : `${fig.x_label}: ${fmt(Number(best.p.x))}`;
      const ci = best.p.lo !== null && best.p.hi !== null ? ` (95%: ${fmt(best.p.lo)} to ${fmt(best.p.hi)})` : "";
      tip.textContent = "";
      const head = document.createElement("strong");
      head.textContent = best.s.name;
      tip.append(head, document.createElement("br"), `${xText}`, document.createElement("br"),
                 `${fig.y_label}: ${fmt(best.p.y)}${ci}`);
      if (best.p.note) tip.append(document.createElement("br"), best.p.note);
      tip.style.display = "block";
      tip.style.left = `${(best.px / W) * box.width + 12}px`;
      tip.style.top = `${(best.py / H) * box.height + 12}px`;
    });
    svg.addEventListener("mouseleave", () => { tip.style.display = "none"; ring.setAttribute("visibility", "hidden"); });
  }

  const figures = JSON.parse(document.getElementById("figure-data").textContent);
  let drawn = 0;
  for (const fig of figures) {
    const holder = document.querySelector(`[data-figure="${fig.id}"] .chart`);
    if (!holder) { console.error(`no place for figure ${fig.id}`); continue; }
    try {
      draw(fig, holder, { hidden: new Set(), ylog: fig.y_scale === "log10" });
      drawn++;
    } catch (err) {
      holder.textContent = `this figure could not be drawn: ${err}`;
      console.error(err);
    }
  }
  document.body.dataset.figuresDrawn = String(drawn);
})();
