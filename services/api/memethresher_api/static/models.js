"use strict";
// The models page: versions with metrics, make current, retrain, sweep, rescore.
const $ = (id) => document.getElementById(id);

async function load() {
  const table = $("model-list");
  table.textContent = "";
  const head = table.insertRow();
  for (const h of ["version", "encoder", "ratings", "trained", "metrics", "current", ""]) cell(head, h);
  for (const m of await api("GET", "/api/models")) {
    const row = table.insertRow();
    cell(row, `v${m.id}`);
    cell(row, m.encoder);
    cell(row, m.n_ratings);
    cell(row, new Date(m.created_at).toLocaleString());
    cell(row, Object.entries(m.metrics).map(([k, v]) => `${k}=${typeof v === "number" ? v.toPrecision(3) : JSON.stringify(v)}`).join(" "));
    cell(row, m.is_current ? "current" : "");
    const actions = cell(row, "");
    if (!m.is_current) {
      actions.appendChild(button("Make current", async () => {
        toast((await api("POST", `/api/models/${m.id}/current`)).detail);
        setTimeout(load, 2000);  // the trainer makes the switch; show it once it has
      }));
    }
  }
}

for (const b of document.querySelectorAll("button[data-action]")) {
  b.addEventListener("click", async () => {
    try { toast((await api("POST", b.dataset.action)).detail); } catch (error) { toast(error.message); }
  });
}
load().catch((error) => toast(error.message));
