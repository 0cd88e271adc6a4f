"use strict";
// The dashboard: queue depths and workers from the broker, failed memes with a retry button.
const $ = (id) => document.getElementById(id);

async function load() {
  const data = await api("GET", "/api/dashboard");
  const queues = $("queues");
  queues.textContent = "";
  if (!data.queues) {
    cell(queues.insertRow(), "broker unreachable");
  } else {
    const head = queues.insertRow();
    const row = queues.insertRow();
    for (const [name, depth] of Object.entries(data.queues)) { cell(head, name); cell(row, depth); }
  }
  const workers = $("workers");
  workers.textContent = "";
  const list = data.workers || [];
  if (!list.length) {
    const li = document.createElement("li");
    li.textContent = data.workers === null ? "broker unreachable" : "no worker answered";
    workers.appendChild(li);
  }
  for (const w of list) {
    const li = document.createElement("li");
    li.textContent = `${w.name}: ${w.queues.join(", ")}`;
    workers.appendChild(li);
  }
  $("flower").href = `${location.protocol}//${location.hostname}:${data.flower_port}/`;
}

async function loadFailed() {
  const table = $("failed");
  table.textContent = "";
  const failed = await api("GET", "/api/memes/failed");
  if (!failed.length) cell(table.insertRow(), "none");
  for (const meme of failed) {
    const row = table.insertRow();
    cell(row, meme.id);
    cell(row, meme.title);
    cell(row, meme.reason);
    cell(row, "").appendChild(button("Retry", async () => {
      const result = await api("POST", `/api/memes/${meme.id}/retry`);
      toast(result.detail);
      loadFailed();
    }));
  }
}

load().catch((error) => toast(error.message));
loadFailed().catch((error) => toast(error.message));
setInterval(() => load().catch(() => {}), 10000);
