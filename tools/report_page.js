// The interactive part of `murmur report --html`: builds dygraphs charts
// from the JSON in <script id="murmur-data"> (report_html.h describes it).
// Inlined into the page by report_html.cc at build time; no network.
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("murmur-data").textContent);
  const AXES = {round: "round", time: "virtual time (s)", mb: "MB sent (all peers)"};
  const BANDS = {
    none: "no band",
    seeds: "min-max over seeds",
    ci: "95% interval over seeds",
    peers: "per-peer min-max (accuracy)",
  };
  // Runs of one group share its colour and differ in the line's pattern
  // (solid, dashed, dotted, dot-dash); CSS border styles for the legend.
  const PATTERNS = [null, [7, 3], [2, 2], [7, 2, 2, 2]];
  const BORDERS = ["solid", "dashed", "dotted", "dashed"];
  let failed = false;
  function fail(message) {
    failed = true;
    const box = document.getElementById("murmur-errors");
    box.style.display = "block";
    box.textContent += message + "\n";
    document.title = DATA.title + " (error)";
  }
  window.addEventListener("error", (e) => fail(e.message + " at " + e.filename + ":" + e.lineno));

  function element(tag, attrs, text) {
    const e = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => e.setAttribute(k, v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // [{label, color, points: [[x, lo, mid, hi]]}] for a view.
  function seriesOf(view) {
    const out = [];
    const peerBand = view.band === "peers" && view.metric.startsWith("acc_");
    if (view.each) {
      const seen = new Set();
      const nth = new Map();  // runs so far per group: the k-th gets pattern k
      DATA.runs.forEach((run) => {
        const k = nth.get(run.group) || 0;
        nth.set(run.group, k + 1);
        const ys = run.metrics[view.metric];
        const points = run[view.x].map((x, i) => {
          if (peerBand) return [x, run.metrics.acc_min[i], ys[i], run.metrics.acc_max[i]];
          return [x, ys[i], ys[i], ys[i]];
        });
        let label = run.name;
        while (seen.has(label)) label += "'";
        seen.add(label);
        out.push({label: label, color: DATA.groups[run.group].color, points: points,
                  pattern: k % PATTERNS.length});
      });
      return out;
    }
    DATA.groups.forEach((g) => {
      const m = g.metrics[view.metric];
      const points = g[view.x].map((x, i) => {
        const mid = m.mean[i];
        if (view.band === "seeds") return [x, m.min[i], mid, m.max[i]];
        if (view.band === "ci") return [x, mid - m.ci[i], mid, mid + m.ci[i]];
        if (peerBand) return [x, g.metrics.acc_min.mean[i], mid, g.metrics.acc_max.mean[i]];
        return [x, mid, mid, mid];
      });
      const label = g.label + (g.seeds > 1 ? " (" + g.seeds + " seeds)" : "");
      out.push({label: label, color: g.color, points: points, pattern: 0});
    });
    return out;
  }

  // dygraphs wants one x column: the union of every series' x values.
  function rowsOf(series, view, bars) {
    const byX = new Map();
    series.forEach((s, k) => {
      s.points.forEach(([x, lo, mid, hi]) => {
        if (x === null || mid === null) return;
        if (view.log_x && !(x > 0)) return;
        if (view.log_y && !(mid > 0)) return;
        let row = byX.get(x);
        if (!row) {
          row = new Array(series.length + 1).fill(null);
          row[0] = x;
          byX.set(x, row);
        }
        const low = lo === null || (view.log_y && !(lo > 0)) ? mid : lo;
        row[k + 1] = bars ? [low, mid, hi === null ? mid : hi] : mid;
      });
    });
    return Array.from(byX.values()).sort((a, b) => a[0] - b[0]);
  }

  function select(options, value, onChange) {
    const s = element("select");
    Object.entries(options).forEach(([k, text]) => {
      const o = element("option", {value: k}, text);
      if (k === value) o.selected = true;
      s.appendChild(o);
    });
    s.addEventListener("change", () => onChange(s.value));
    return s;
  }

  function checkbox(text, checked, onChange) {
    const label = element("label", {}, " " + text);
    const box = element("input", {type: "checkbox"});
    box.checked = checked;
    box.addEventListener("change", () => onChange(box.checked));
    label.prepend(box);
    return label;
  }

  let pending = 0;
  function drawn() {
    pending -= 1;
    if (pending === 0 && !failed) {
      document.title = DATA.title + " (ready)";
      document.getElementById("murmur-status").textContent =
          "ready: " + document.querySelectorAll(".chart").length + " charts";
    }
  }

  function addPanel(view) {
    const panel = element("section", {class: "panel"});
    const controls = element("div", {class: "controls"});
    const chart = element("div", {class: "chart"});
    const hover = element("div", {class: "hover"});
    const legend = element("div", {class: "legend"});
    panel.append(controls, chart, hover, legend);
    document.getElementById("panels").appendChild(panel);
    let graph = null;
    function draw() {
      if (graph) graph.destroy();
      graph = null;
      chart.textContent = "";
      legend.textContent = "";
      const series = seriesOf(view);
      const bars = view.band !== "none";
      const rows = rowsOf(series, view, bars);
      series.forEach((s) => {
        const item = element("span", {class: "item"});
        const line = "border-top: 3px " + BORDERS[s.pattern] + " " + s.color;
        item.append(element("span", {class: "swatch", style: line}),
                    document.createTextNode(s.label));
        legend.appendChild(item);
      });
      if (rows.length === 0) {
        chart.textContent = "no points to draw (a log axis drops values <= 0)";
        drawn();
        return;
      }
      graph = new Dygraph(chart, rows, {
        labels: ["x"].concat(series.map((s) => s.label)),
        colors: series.map((s) => s.color),
        customBars: bars,
        connectSeparatedPoints: true,
        drawPoints: true,
        pointSize: 2,
        strokeWidth: 2,
        fillAlpha: 0.18,
        logscale: view.log_y,
        axes: {x: {logscale: view.log_x}},
        xlabel: AXES[view.x],
        ylabel: view.metric,
        labelsDiv: hover,
        legend: "onmouseover",
        labelsSeparateLines: false,
        series: Object.fromEntries(series.map((s) => [s.label, {strokePattern: PATTERNS[s.pattern]}])),
        drawCallback: (g, initial) => { if (initial) drawn(); },
      });
    }
    function redraw(key) {
      return (value) => { view[key] = value; pending += 1; draw(); };
    }
    const metrics = {};
    DATA.metrics.forEach((m) => { metrics[m] = m; });
    controls.append(
        "metric ", select(metrics, view.metric, redraw("metric")),
        " against ", select(AXES, view.x, redraw("x")),
        checkbox("log x", view.log_x, redraw("log_x")),
        checkbox("log y", view.log_y, redraw("log_y")),
        " band ", select(BANDS, view.band, redraw("band")),
        checkbox("every run (no seed grouping)", view.each, redraw("each")));
    pending += 1;
    draw();
  }

  try {
    const first = Object.assign({each: false}, DATA.view);
    const second = {metric: "acc_mean", x: "mb", log_x: true, log_y: false,
                    band: first.band, each: false};
    addPanel(first);
    addPanel(second);
    document.getElementById("add").addEventListener(
        "click", () => addPanel(Object.assign({}, first)));
  } catch (e) {
    fail(String(e && e.stack ? e.stack : e));
  }
})();
