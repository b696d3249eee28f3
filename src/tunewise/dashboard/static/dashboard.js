// tunewise dashboard: fills the page shells from the JSON API and keeps them live by polling.
// Every page exposes its state on window.tunewise (version, polls, updates) for the browser tests.
"use strict";

const POLL_MS = 1000 * Number(document.body.dataset.poll || 2);
const TABLE_ROWS = 300;
const state = { epoch: null, version: 0, polls: 0, updates: 0, errors: 0, timings: {} };
window.tunewise = state;

const body = document.body;
const page = body.dataset.page;
const studyName = body.dataset.study;
const enc = encodeURIComponent;

async function getJSON(url) {
  const response = await fetch(url, { headers: { accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

function fmt(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) >= 1e5 || Math.abs(value) < 1e-3 ? value.toExponential(4) : value.toPrecision(5);
  }
  return String(value);
}

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "";
}

function setLive(ok) {
  const live = document.getElementById("live");
  if (!live) return;
  live.textContent = ok ? `live · v${state.version}` : "store unreachable, retrying";
  live.className = ok ? "live" : "live down";
}

const layoutBase = {
  margin: { t: 30, r: 10, b: 45, l: 60 }, height: 340, hovermode: "closest",
  legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
};
const config = { responsive: true, displaylogo: false };

// A figure is drawn when it first scrolls into view (Plotly needs ~0.5 s for 10,000 markers on a
// CPU), then redrawn on every update; until then only its latest data is kept.
const pending = new Map();
const shown = new Set();
const observer = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    const id = entry.target.id;
    shown.add(id);
    observer.unobserve(entry.target);
    const waiting = pending.get(id);
    pending.delete(id);
    if (waiting) waiting();
  }
}, { rootMargin: "0px" });

function inView(div) {
  const box = div.getBoundingClientRect();
  return box.bottom >= 0 && box.top <= window.innerHeight;
}

function whenShown(id, paint) {
  const div = document.getElementById(id);
  if (!div) return;
  if (!shown.has(id) && inView(div)) {
    shown.add(id);
    observer.unobserve(div);
    pending.delete(id);
  }
  if (shown.has(id)) return paint(div);
  if (!pending.has(id)) observer.observe(div);
  pending.set(id, () => paint(div));
}

function draw(id, traces, layout) {
  whenShown(id, (div) => {
    const start = performance.now();
    Plotly.react(div, traces, { ...layoutBase, ...layout }, config);
    state.timings[id] = performance.now() - start; // milliseconds, for the load benchmark
  });
}

function note(id, text) {
  whenShown(id, (div) => {
    Plotly.purge(div);
    div.replaceChildren(el("p", { class: "note", text }));
  });
}

// -- polling ----------------------------------------------------------------------------------

function poll(step) {
  const tick = async () => {
    try {
      await step();
      state.polls += 1;
      setLive(true);
    } catch (error) {
      state.errors += 1;
      setLive(false);
      console.warn(error);
    }
    setTimeout(tick, POLL_MS);
  };
  setTimeout(tick, POLL_MS);
}

// -- studies ----------------------------------------------------------------------------------

function budgetText(budget) {
  return budget
    .map((b) =>
      b.name === "deadline"
        ? `until ${when(b.total)}`
        : `${b.name}: ${fmt(b.used)}${b.total === null ? "" : " / " + fmt(b.total)}`,
    )
    .join("; ");
}

function optimizerText(summary) {
  const spec = summary.optimizer_spec || {};
  const params = Object.entries(spec).filter(([k]) => k !== "name").map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`);
  return params.length ? `${summary.optimizer} (${params.join(", ")})` : String(summary.optimizer ?? "");
}

function countsText(counts) {
  return Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${n} ${s}`)
    .join(", ");
}

function bestText(best, fidelityName) {
  if (!best) return "—";
  const at = best.fidelity === null ? "" : ` at ${fidelityName || "fidelity"} ${fmt(best.fidelity)}`;
  return `${fmt(best.objective)} (trial ${best.number}${at})`;
}

async function studiesPage() {
  const render = (data) => {
    state.epoch = data.epoch;
    const rows = data.studies.map((s) => {
      const link = el("a", { href: `/study/${enc(s.name)}`, text: s.name });
      const box = el("input", { type: "checkbox", name: "study", value: s.name });
      return el("tr", { "data-study": s.name }, [
        el("td", {}, [box]),
        el("td", {}, [link]),
        el("td", { text: s.optimizer || "", title: optimizerText(s) }),
        el("td", { text: countsText(s.counts) }),
        el("td", { text: budgetText(s.budget) }),
        el("td", { text: bestText(s.best, s.fidelity_name) }),
        el("td", { text: when(s.started) }),
      ]);
    });
    const tbody = document.querySelector("#studies tbody");
    const checked = new Set([...tbody.querySelectorAll("input:checked")].map((i) => i.value));
    rows.forEach((r) => {
      const box = r.querySelector("input");
      box.checked = checked.has(box.value);
    });
    tbody.replaceChildren(...rows);
    state.version += 1;
  };
  render(await getJSON("/api/studies"));
  setLive(true);
  poll(async () => render(await getJSON("/api/studies")));
}

// -- one study --------------------------------------------------------------------------------

const study = { summary: null, columns: [], rows: new Map(), curves: {}, sort: { key: "number", dir: 1 } };

function renderSummary(summary) {
  study.summary = summary;
  const items = [
    ["optimizer", optimizerText(summary)],
    ...(summary.transfer ? [["transfer", summary.transfer.join("; ")]] : []),
    ["seed", summary.seed],
    ["trials", countsText(summary.counts) || "none yet"],
    ["budget", budgetText(summary.budget)],
    ["best", bestText(summary.best, summary.fidelity_name)],
    ["started", when(summary.started)],
  ];
  const div = document.getElementById("summary");
  div.replaceChildren(
    ...items.map(([k, v]) => el("span", { class: "item" }, [el("b", { text: k + ": " }), String(v ?? "")])),
  );
}

function fidelityColour(values) {
  return { color: values, colorscale: "Viridis", showscale: true, colorbar: { title: { text: study.summary?.fidelity_name || "fidelity" } } };
}

function renderFigures(figures) {
  const t = figures.trace;
  const fidelityName = study.summary?.fidelity_name;
  if (t.number.length === 0) {
    for (const id of ["trace-budget", "trace-time", "points"]) note(id, "no finished trial yet");
  } else {
    const incumbent = (x) => ({ x, y: t.best, mode: "lines", line: { shape: "hv" }, name: "incumbent" });
    const hover = t.number.map((n, i) => `trial ${n}<br>objective ${fmt(t.objective[i])}<br>fidelity ${fmt(t.fidelity[i])}`);
    const points = (x) => ({
      x, y: t.objective, mode: "markers", type: "scattergl", name: "trials", text: hover, hoverinfo: "text",
      marker: fidelityName ? { size: 6, ...fidelityColour(t.fidelity) } : { size: 6 },
    });
    draw("trace-budget", [incumbent(t.budget), points(t.budget)], { xaxis: { title: { text: "budget (full-fidelity evaluations)" } }, yaxis: { title: { text: "objective" } } });
    // over time: the incumbent alone, marked where it changed (the cloud of trials is above)
    const changed = t.best_number.map((b, i) => (b !== null && b !== t.best_number[i - 1] ? i : -1)).filter((i) => i >= 0);
    const improvements = {
      x: changed.map((i) => t.elapsed[i]), y: changed.map((i) => t.best[i]), mode: "markers", name: "new incumbent",
      text: changed.map((i) => `trial ${t.best_number[i]}: ${fmt(t.best[i])} at fidelity ${fmt(t.best_fidelity[i])}`), hoverinfo: "text",
    };
    draw("trace-time", [incumbent(t.elapsed), improvements], { xaxis: { title: { text: "wall time (s)" } }, yaxis: { title: { text: "objective" } } });
    const byNumber = { ...points(t.number), name: "finished trials" };
    draw("points", [byNumber], { xaxis: { title: { text: "trial number" } }, yaxis: { title: { text: "objective" } } });
  }
  renderRungs(figures);
  renderParallel(figures);
}

function renderRungs(figures) {
  const s = figures.rung_summary;
  const container = document.getElementById("rung-table");
  const head = el("tr", {}, ["fidelity", "trials", "succeeded", "running", "failed", "promoted"].map((c) => el("th", { text: c })));
  const rows = s.fidelity.map((f, i) =>
    el("tr", {}, [f, s.trials[i], s.succeeded[i], s.running[i], s.failed[i], s.promoted[i]].map((v) => el("td", { text: fmt(v) }))),
  );
  const table = el("table", { id: "rung-summary", class: "grid small" }, [el("thead", {}, [head]), el("tbody", {}, rows)]);
  container.replaceChildren(el("h2", { text: "Trials per fidelity" }), table);
  const r = figures.rungs;
  if (r.number.length === 0) return note("rungs", "no trial yet");
  const origin = r.sampled_from.map((v) => v ?? "unknown");
  const traces = [...new Set(origin)].map((source) => {
    const idx = origin.map((o, i) => (o === source ? i : -1)).filter((i) => i >= 0);
    return {
      x: idx.map((i) => r.fidelity[i]), y: idx.map((i) => r.objective[i]), mode: "markers", type: "scattergl", name: `sampled from ${source}`,
      text: idx.map((i) => `trial ${r.number[i]} (${r.status[i]})<br>rung ${fmt(r.rung[i])} bracket ${fmt(r.bracket[i])}<br>promoted to ${fmt(r.promoted_to[i]) || "—"}`),
      hoverinfo: "text", marker: { size: 8, opacity: 0.8 },
    };
  });
  const index = new Map(r.number.map((n, i) => [n, i]));
  const lx = [], ly = [];
  r.number.forEach((n, i) => {
    const j = index.get(r.promoted_to[i]);
    if (r.promoted_to[i] !== null && j !== undefined) lx.push(r.fidelity[i], r.fidelity[j], null), ly.push(r.objective[i], r.objective[j], null);
  });
  traces.unshift({ x: lx, y: ly, mode: "lines", name: "promotion", line: { color: "#bbb", width: 1 }, hoverinfo: "skip" });
  const levels = [...new Set(r.fidelity.filter((f) => f !== null))].sort((a, b) => a - b);
  const positive = levels.length > 0 && levels[0] > 0;
  draw("rungs", traces, {
    xaxis: { title: { text: study.summary?.fidelity_name || "fidelity" }, type: positive ? "log" : "linear", tickvals: levels.length <= 12 ? levels : undefined },
    yaxis: { title: { text: "objective" } },
  });
}

function renderParallel(figures) {
  const p = figures.parallel;
  if (p.number.length === 0) return note("parallel", "no succeeded trial yet");
  const caption = document.getElementById("parallel-caption");
  if (caption) caption.textContent = p.number.length < figures.parallel_total ? `the best ${p.number.length} of ${figures.parallel_total} succeeded trials (highest fidelity first)` : "";
  const dims = figures.parameters.map((name) => {
    const values = p[name];
    if (figures.categorical.includes(name)) {
      const levels = [...new Set(values.map((v) => v ?? "—"))].sort();
      return { label: name, values: values.map((v) => levels.indexOf(v ?? "—")), tickvals: levels.map((_, i) => i), ticktext: levels };
    }
    return { label: name, values: values.map((v) => (v === null ? NaN : v)) };
  });
  if (study.summary?.fidelity_name) dims.push({ label: study.summary.fidelity_name, values: p.fidelity });
  dims.push({ label: "objective", values: p.objective });
  draw("parallel", [{ type: "parcoords", dimensions: dims, line: { color: p.objective, colorscale: "Viridis", showscale: true, reversescale: true } }], { margin: { t: 40, r: 60, b: 20, l: 60 } });
}

function renderImportance(data) {
  if (!data.importance) return note("importance", data.note);
  const names = Object.keys(data.importance);
  draw("importance", [{ type: "bar", orientation: "h", x: names.map((n) => data.importance[n]), y: names }], { xaxis: { title: { text: "importance" } }, yaxis: { autorange: "reversed" }, margin: { t: 10, r: 10, b: 45, l: 140 } });
}

function renderCurves() {
  const entries = Object.entries(study.curves).sort((a, b) => Number(a[0]) - Number(b[0]));
  if (entries.length === 0) return note("curves", "no trial has reported a learning curve (trial.report) yet");
  const traces = entries.map(([number, c]) => ({
    x: c.steps, y: c.values, mode: "lines", name: `trial ${number}`,
    line: { dash: c.status === "running" ? "dot" : "solid", width: c.status === "running" ? 2.5 : 1 },
    meta: { number: Number(number), status: c.status },
  }));
  draw("curves", traces, { xaxis: { title: { text: "step" } }, yaxis: { title: { text: "reported value" } }, showlegend: entries.length <= 20 });
}

// The trial table: client-side sort and filter over every row, showing the first TABLE_ROWS.
function parseFilter(text) {
  const m = text.match(/^\s*([\w.]+)\s*(<=|>=|!=|=|<|>)\s*(.+?)\s*$/);
  if (!m) return (row) => row.some((v) => v !== null && String(v).toLowerCase().includes(text.toLowerCase()));
  const column = study.columns.indexOf(m[1]) >= 0 ? study.columns.indexOf(m[1]) : study.columns.indexOf("config." + m[1]);
  if (column < 0) return () => false;
  const want = m[3], num = Number(want);
  return (row) => {
    const v = row[column];
    if (v === null) return false;
    const a = typeof v === "number" && !Number.isNaN(num) ? v : String(v), b = typeof v === "number" && !Number.isNaN(num) ? num : want;
    return { "=": a == b, "!=": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b }[m[2]];
  };
}

function renderTable() {
  const thead = document.querySelector("#trials thead");
  if (!thead.children.length) {
    thead.append(el("tr", {}, study.columns.map((c) => {
      const th = el("th", { text: c.replace(/^config\./, ""), "data-column": c });
      th.addEventListener("click", () => {
        study.sort = { key: c, dir: study.sort.key === c ? -study.sort.dir : 1 };
        renderTable();
      });
      return th;
    })));
  }
  const filterText = document.getElementById("filter").value.trim();
  const status = document.getElementById("status-filter").value;
  const statusColumn = study.columns.indexOf("status");
  const keep = filterText ? parseFilter(filterText) : () => true;
  const k = study.columns.indexOf(study.sort.key), dir = study.sort.dir;
  const rows = [...study.rows.values()].filter((r) => (!status || r[statusColumn] === status) && keep(r));
  rows.sort((a, b) => {
    const x = a[k], y = b[k];
    if (x === y) return a[0] - b[0];
    if (x === null) return 1;
    if (y === null) return -1;
    return (x < y ? -1 : 1) * dir;
  });
  const shown = rows.slice(0, TABLE_ROWS).map((r) =>
    el("tr", { "data-number": r[0] }, r.map((v, i) =>
      i === 0 ? el("td", {}, [el("a", { href: `/study/${enc(studyName)}/trial/${v}`, text: String(v) })]) : el("td", { text: fmt(v) }),
    )),
  );
  document.querySelector("#trials tbody").replaceChildren(...shown);
  document.getElementById("table-count").textContent = `${rows.length} of ${study.rows.size} trials` + (rows.length > TABLE_ROWS ? ` (first ${TABLE_ROWS} shown)` : "");
}

function fetchFigures() {
  return Promise.all([
    getJSON(`/api/study/${enc(studyName)}/figures`),
    getJSON(`/api/study/${enc(studyName)}/importance`),
  ]);
}

async function refreshFigures(fetched) {
  const [figures, importance] = await (fetched || fetchFigures());
  renderFigures(figures);
  renderImportance(importance);
}

async function studyPage() {
  const base = `/api/study/${enc(studyName)}`;
  state.timings.script = performance.now(); // since navigation started
  const figures = fetchFigures(); // asked for at once, drawn after the table
  const [summary, table, curves] = await Promise.all([getJSON(`${base}/summary`), getJSON(`${base}/trials`), getJSON(`${base}/curves`)]);
  state.timings.fetched = performance.now();
  state.epoch = summary.epoch;
  state.version = Math.min(summary.version, table.version, curves.version);
  renderSummary(summary);
  study.columns = table.columns;
  for (const row of table.rows) study.rows.set(row[0], row);
  study.curves = curves.curves;
  renderTable();
  state.timings.table = performance.now();
  renderCurves();
  await refreshFigures(figures);
  state.timings.drawn = performance.now();
  document.getElementById("filter").addEventListener("input", renderTable);
  document.getElementById("status-filter").addEventListener("change", renderTable);
  setLive(true);
  state.ready = true;
  poll(async () => {
    const changes = await getJSON(`${base}/changes?since=${state.version}`);
    if (changes.epoch !== state.epoch) return location.reload();
    if (changes.version === state.version) return;
    state.version = changes.version;
    renderSummary(changes.summary);
    for (const row of changes.rows) study.rows.set(row[0], row);
    Object.assign(study.curves, changes.curves);
    renderTable();
    renderCurves();
    await refreshFigures();
    state.updates += 1;
  });
}

// -- one trial --------------------------------------------------------------------------------

function renderTrialCurve(trial) {
  const c = trial.learning_curve;
  const whole = trial.chain_curve;
  // the steps earlier trials of the chain reported (a configuration continued step by step)
  const earlier = { x: [], y: [], text: [] };
  whole.steps.forEach((s, i) => {
    if (whole.numbers[i] === trial.number) return;
    earlier.x.push(s); earlier.y.push(whole.values[i]); earlier.text.push(`trial ${whole.numbers[i]}`);
  });
  if (c.steps.length === 0 && earlier.x.length === 0) return note("trial-curve", "this trial reported no learning curve");
  const traces = [];
  if (earlier.x.length > 0) traces.push({ ...earlier, mode: "lines+markers", name: "earlier trials of this configuration", line: { color: "#9aa5b1" }, marker: { size: 4 } });
  traces.push({ x: c.steps, y: c.values, mode: "lines+markers", name: `trial ${trial.number}` });
  draw("trial-curve", traces, { xaxis: { title: { text: "step" } }, yaxis: { title: { text: "reported value" } } });
}

async function trialPage() {
  const url = `/api/study/${enc(studyName)}/trial/${body.dataset.trial}`;
  const first = await getJSON(url);
  state.epoch = first.epoch;
  state.version = first.version;
  renderTrialCurve(first);
  setLive(true);
  state.ready = true;
  let status = first.status;
  poll(async () => {
    if (status !== "running" && status !== "pending") return;
    const trial = await getJSON(url);
    if (trial.version === state.version) return;
    state.version = trial.version;
    if (trial.status !== status) return location.reload(); // finished: show the result and error
    renderTrialCurve(trial);
    state.updates += 1;
    status = trial.status;
  });
}

// -- compare ----------------------------------------------------------------------------------

async function comparePage() {
  const names = JSON.parse(body.dataset.studies);
  const url = "/api/compare?" + names.map((n) => "study=" + enc(n)).join("&");
  const render = (data) => {
    state.epoch = data.epoch;
    const traces = (axis) => data.studies.map((s) => ({ x: s[axis], y: s.best, mode: "lines", line: { shape: "hv" }, name: `${s.name} (${s.optimizer})` }));
    draw("compare-budget", traces("budget"), { xaxis: { title: { text: "budget (full-fidelity evaluations)" } }, yaxis: { title: { text: "incumbent objective" } } });
    draw("compare-time", traces("elapsed"), { xaxis: { title: { text: "wall time (s)" } }, yaxis: { title: { text: "incumbent objective" } } });
    state.version += 1;
  };
  render(await getJSON(url));
  setLive(true);
  state.ready = true;
  poll(async () => render(await getJSON(url)));
}

const pagesByName = { studies: studiesPage, study: studyPage, trial: trialPage, compare: comparePage };
if (pagesByName[page]) {
  pagesByName[page]().then(
    () => { state.ready = true; },
    (error) => { state.failed = String(error); setLive(false); console.error(error); },
  );
}
