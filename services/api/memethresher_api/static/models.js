"use strict";
// The models page: versions with metrics, make current, pin and unpin, delete, compare two,
// retrain, sweep, rescore.
const $ = (id) => document.getElementById(id);

function state(m) {
  if (m.pinned && m.is_current) return "current, pinned";
  if (m.pinned) return "pinned (being made current)";
  return m.is_current ? "current" : "";
}

function act(label, method, url, message, question) {
  return button(label, async () => {
    if (question && !window.confirm(question)) return;
    try {
      const answer = await api(method, url);
      toast(message ? message(answer) : answer.detail);
    } catch (error) {
      toast(error.message);
    }
    await load();
    setTimeout(load, 2000);  // the trainer makes a switch; show it once it has
  });
}

// What a version learnt from: rated pairs and keeps/discards (versions from before decisions: rating events).
function learntFrom(m) {
  const { pairs, decisions = 0, library_keeps: library = 0 } = m.metrics;
  if (typeof pairs !== "number") return `${m.n_ratings} ratings`;
  return `${pairs} pairs + ${decisions + library} decisions` + (library ? ` (${library} from the library folder)` : "");
}

async function load() {
  const table = $("model-list");
  const models = await api("GET", "/api/models");
  table.textContent = "";
  const head = table.insertRow();
  for (const h of ["version", "encoder", "learnt from", "trained", "metrics", "state", ""]) cell(head, h);
  for (const m of models) {
    const row = table.insertRow();
    row.dataset.version = String(m.id);
    cell(row, `v${m.id}`);
    cell(row, m.encoder);
    cell(row, learntFrom(m)).className = "learnt";
    cell(row, new Date(m.created_at).toLocaleString());
    cell(row, Object.entries(m.metrics).map(([k, v]) => `${k}=${typeof v === "number" ? v.toPrecision(3) : JSON.stringify(v)}`).join(" "));
    cell(row, state(m)).className = "state";
    const actions = cell(row, "");
    if (!m.is_current) actions.appendChild(act("Make current", "POST", `/api/models/${m.id}/current`));
    if (m.pinned) {
      actions.appendChild(act("Unpin", "DELETE", `/api/models/${m.id}/pin`,
        () => `v${m.id} unpinned: the next retrain may replace it`));
    } else {
      actions.appendChild(act("Pin", "POST", `/api/models/${m.id}/pin`,
        (v) => `v${m.id} pinned: retrains will not replace it` + (v.is_current ? "" : " (being made current)")));
    }
    if (!m.is_current && !m.pinned) {
      actions.appendChild(act("Delete", "DELETE", `/api/models/${m.id}`, () => `v${m.id} deleted`,
        `Delete v${m.id}, its scores and its weights?`));
    }
  }
  fillChoices(models);
}

function fillChoices(models) {
  for (const [id, pick] of [["compare-a", 1], ["compare-b", 0]]) {
    const select = $(id);
    const chosen = select.value;
    select.textContent = "";
    for (const m of models) select.appendChild(new Option(`v${m.id}${m.is_current ? " (current)" : ""}`, String(m.id)));
    if (models.some((m) => String(m.id) === chosen)) select.value = chosen;
    else if (models.length > pick) select.value = String(models[pick].id);
  }
}

const fmt = (v) => (typeof v === "number" ? v.toFixed(3) : v);

async function compare() {
  const a = $("compare-a").value, b = $("compare-b").value;
  const report = await api("GET", `/api/models/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
  const sides = $("compare-sides");
  sides.textContent = "";
  const fractions = Object.keys(report.a.precision_at_top);
  cell(sides.insertRow(), `${report.labels} labels (${report.good} good), ${report.scored_by_both} memes scored by both`);
  const head = sides.insertRow();
  for (const h of ["version", "AUROC", ...fractions.map((f) => `precision, top ${Number(f) * 100}%`)]) cell(head, h);
  for (const side of [report.a, report.b]) {
    const row = sides.insertRow();
    row.dataset.version = String(side.id);
    cell(row, `v${side.id}`);
    cell(row, fmt(side.auroc)).className = "auroc";
    for (const f of fractions) cell(row, fmt(side.precision_at_top[f]));
  }
  const memes = $("compare-memes");
  memes.textContent = "";
  const top = memes.insertRow();
  for (const h of ["meme", `percentile under v${report.a.id}`, `percentile under v${report.b.id}`, "label"]) cell(top, h);
  for (const d of report.disagreements) {
    const row = memes.insertRow();
    row.dataset.meme = String(d.meme.id);
    const img = document.createElement("img");
    img.src = d.meme.thumb_url;
    img.alt = d.meme.title;
    img.height = 64;
    cell(row, "").appendChild(img);
    cell(row, d.percentile_a);
    cell(row, d.percentile_b);
    cell(row, d.good === null ? "" : d.good ? "good" : "bad");
  }
}

$("compare-go").addEventListener("click", () => compare().catch((error) => toast(error.message)));

for (const b of document.querySelectorAll("button[data-action]")) {
  b.addEventListener("click", async () => {
    try { toast((await api("POST", b.dataset.action)).detail); } catch (error) { toast(error.message); }
  });
}
load().catch((error) => toast(error.message));
