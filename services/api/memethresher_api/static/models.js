"use strict";
// The models page: versions with metrics, make current, pin and unpin, retrain, sweep, rescore.
const $ = (id) => document.getElementById(id);

function state(m) {
  if (m.pinned && m.is_current) return "current, pinned";
  if (m.pinned) return "pinned (being made current)";
  return m.is_current ? "current" : "";
}

function act(label, method, url, message) {
  return button(label, async () => {
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

async function load() {
  const table = $("model-list");
  const models = await api("GET", "/api/models");
  table.textContent = "";
  const head = table.insertRow();
  for (const h of ["version", "encoder", "ratings", "trained", "metrics", "state", ""]) cell(head, h);
  for (const m of models) {
    const row = table.insertRow();
    row.dataset.version = String(m.id);
    cell(row, `v${m.id}`);
    cell(row, m.encoder);
    cell(row, m.n_ratings);
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
  }
}

for (const b of document.querySelectorAll("button[data-action]")) {
  b.addEventListener("click", async () => {
    try { toast((await api("POST", b.dataset.action)).detail); } catch (error) { toast(error.message); }
  });
}
load().catch((error) => toast(error.message));
