"use strict";
// Data is written with textContent only: nothing from the server is parsed as HTML.
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function pct(x) { return x === null || x === undefined ? "-" : Math.round(x * 100) + "%"; }
function counts(items) {
  const ul = el("ul", null, "counts");
  for (const c of items || []) ul.appendChild(el("li", c.value + " (" + c.count + ")"));
  return ul;
}
async function getJSON(url, options) {
  const r = await fetch(url, Object.assign({ credentials: "same-origin", cache: "no-store" }, options || {}));
  if (!r.ok) throw new Error(url + ": HTTP " + r.status);
  return r.json();
}
function alertRow(a) {
  const tr = el("tr");
  tr.appendChild(el("td", a.anonymous_id, "id"));
  tr.appendChild(el("td", a.severity, "sev-" + a.severity));
  tr.appendChild(el("td", a.failures));
  tr.appendChild(el("td", a.since ? new Date(a.since).toLocaleString() : ""));
  tr.appendChild(el("td", a.summary));
  return tr;
}
async function loadStuck() {
  const data = await getJSON("/tutor/api/stuck");
  const table = document.getElementById("stuck");
  const body = table.tBodies[0];
  body.replaceChildren(...data.students.map(alertRow));
  table.hidden = data.students.length === 0;
  document.getElementById("stuck-empty").hidden = data.students.length > 0;
}
async function loadInsights() {
  const data = await getJSON("/v1/insights/exercises");
  const table = document.getElementById("insights");
  const rows = [];
  for (const ex of data.exercises) {
    const w = ex.day || ex.hour;
    if (!w) continue;
    const tr = el("tr");
    tr.appendChild(el("td", ex.exercise_id, "id"));
    tr.appendChild(el("td", w.submissions));
    tr.appendChild(el("td", w.distinct_students));
    tr.appendChild(el("td", pct(w.syntax_error_rate)));
    tr.appendChild(el("td", pct(w.grader_failure_rate)));
    const errors = el("td"); errors.appendChild(counts(w.top_errors)); tr.appendChild(errors);
    const imports = el("td"); imports.appendChild(counts(w.top_imports)); tr.appendChild(imports);
    rows.push(tr);
  }
  table.tBodies[0].replaceChildren(...rows);
  table.hidden = rows.length === 0;
  document.getElementById("insights-empty").hidden = rows.length > 0;
}
async function loadLabs() {
  const data = await getJSON("/v1/insights/labs");
  const rows = [];
  for (const d of data.device_types) {
    const w = d.day || d.hour;
    if (!w) continue;
    const tr = el("tr");
    tr.appendChild(el("td", d.device_type, "id"));
    tr.appendChild(el("td", w.commands));
    tr.appendChild(el("td", pct(w.unknown_share)));
    const top = el("td"); top.appendChild(counts(w.top_commands)); tr.appendChild(top);
    rows.push(tr);
  }
  const table = document.getElementById("labs");
  table.tBodies[0].replaceChildren(...rows);
  table.hidden = rows.length === 0;
  document.getElementById("labs-empty").hidden = rows.length > 0;
}
async function lookup(event) {
  event.preventDefault();
  const input = document.getElementById("student");
  const out = document.getElementById("lookup-result");
  out.replaceChildren(el("p", "Looking up...", "muted"));
  try {
    const data = await getJSON("/tutor/api/lookup", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ student_id: input.value }),
    });
    input.value = "";
    if (data.alerts.length === 0) {
      out.replaceChildren(el("p", "No alerts for this student (anonymous id " + data.anonymous_ids[0] + ").", "muted"));
      return;
    }
    const table = el("table");
    table.id = "lookup-alerts";
    const head = el("tr");
    for (const h of ["Anonymous id", "Severity", "Failures", "Since", "What happened"]) head.appendChild(el("th", h));
    table.appendChild(el("thead")).appendChild(head);
    const body = table.appendChild(el("tbody"));
    for (const a of data.alerts) body.appendChild(alertRow(a));
    out.replaceChildren(table);
  } catch (e) {
    out.replaceChildren(el("p", "Lookup failed: " + e.message));
  }
}
function refresh() {
  loadStuck().catch((e) => { document.getElementById("stuck-empty").textContent = "Could not load: " + e.message; });
  loadInsights().catch((e) => { document.getElementById("insights-empty").textContent = "Could not load: " + e.message; });
  loadLabs().catch((e) => { document.getElementById("labs-empty").textContent = "Could not load: " + e.message; });
}
document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("lookup").addEventListener("submit", lookup);
  refresh();
  setInterval(refresh, 15000);
});
