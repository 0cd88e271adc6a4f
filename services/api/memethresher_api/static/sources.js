"use strict";
// The sources page: add, enable/disable, crawl now, last crawl result.
const $ = (id) => document.getElementById(id);

async function load() {
  const table = $("source-list");
  table.textContent = "";
  const head = table.insertRow();
  for (const h of ["id", "kind", "target", "options", "enabled", "last crawl", "result", ""]) cell(head, h);
  for (const s of await api("GET", "/api/sources")) {
    const row = table.insertRow();
    cell(row, s.id);
    cell(row, s.kind);
    cell(row, s.target);
    cell(row, JSON.stringify(s.options));
    cell(row, s.enabled ? "yes" : "no");
    cell(row, s.last_crawl_at ? new Date(s.last_crawl_at).toLocaleString() : "never");
    cell(row, s.last_result ? JSON.stringify(s.last_result) : "");
    const actions = cell(row, "");
    actions.appendChild(button(s.enabled ? "Disable" : "Enable", async () => {
      await api("PATCH", `/api/sources/${s.id}`, { enabled: !s.enabled });
      load();
    }));
    actions.appendChild(button("Crawl now", async () => toast((await api("POST", `/api/sources/${s.id}/crawl`)).detail)));
  }
}

$("add-source").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const options = form.get("sort") && form.get("kind") === "reddit" ? { sort: form.get("sort") } : {};
  try {
    await api("POST", "/api/sources", { kind: form.get("kind"), target: form.get("target"), options });
    $("source-error").textContent = "";
    event.target.reset();
    load();
  } catch (error) {
    $("source-error").textContent = error.message;
  }
});
load().catch((error) => toast(error.message));
