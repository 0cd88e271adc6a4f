"use strict";
// The dashboard: queue depths and workers from the broker, failed memes and failing sources with retry buttons.
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

// Per source: why its last crawl failed, the images it could not download, the posts waiting for another try.
function failureInWords(f) {
  const parts = [];
  if (f.error) parts.push(`crawl failed: ${f.error}`);
  if (f.images_failed) parts.push(`${f.images_failed} images not downloaded (${f.image_failures})`);
  if (f.posts_waiting) parts.push(`${f.posts_waiting} posts waiting to be fetched again`);
  const examples = f.examples.map((e) => `"${e.title}": ${e.reason}`).join("; ");
  return parts.join("; ") + (examples ? `. For example ${examples}` : "");
}

async function loadCrawlFailures() {
  const table = $("crawl-failures");
  table.textContent = "";
  const failures = await api("GET", "/api/sources/failures");
  if (!failures.length) cell(table.insertRow(), "none");
  for (const f of failures) {
    const row = table.insertRow();
    row.dataset.sourceId = f.source_id;
    cell(row, `#${f.source_id} ${f.kind} ${f.target}` + (f.listing ? ` (${f.listing})` : ""));
    cell(row, f.last_crawl_at ? new Date(f.last_crawl_at).toLocaleString() : "never crawled");
    cell(row, failureInWords(f));
    cell(row, "").appendChild(button("Retry", async () => {
      const result = await api("POST", `/api/sources/${f.source_id}/retry`);
      toast(result.detail);
      loadCrawlFailures();
    }));
  }
}

// Taste prompts: what the memes are scored by before the first rating, and whether each prompt is embedded.
const SCORING = {
  prompts: "Your prompts score the memes until a model is trained from your ratings.",
  ratings: "A model trained from your ratings scores the memes now; the prompts no longer do.",
  none: "Nothing scores the memes yet: the prompts will once the embedder has embedded them.",
};

async function loadPrompts() {
  const data = await api("GET", "/api/prompts");
  $("prompts-status").textContent = data.text_tower
    ? SCORING[data.scoring]
    : `The active encoder ${data.encoder} has no text tower: switch to a SigLIP encoder to use prompts.`;
  $("prompt-form").hidden = !data.text_tower;
  const table = $("prompt-list");
  table.textContent = "";
  if (!data.prompts.length) cell(table.insertRow(), "no prompts");
  for (const p of data.prompts) {
    const row = table.insertRow();
    row.dataset.promptId = p.id;
    cell(row, p.like ? "like" : "dislike");
    cell(row, p.text);
    cell(row, p.embedded ? "embedded" : "waiting for the embedder");
    cell(row, "").appendChild(button("Remove", async () => {
      await api("DELETE", `/api/prompts/${p.id}`);
      loadPrompts().catch((error) => toast(error.message));
    }));
  }
  return data;
}

$("prompt-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("POST", "/api/prompts", { text: $("prompt-text").value, like: $("prompt-like").value === "true" });
    $("prompt-text").value = "";
    await loadPrompts();
  } catch (error) {
    toast(error.message);
  }
});

load().catch((error) => toast(error.message));
loadPrompts().catch((error) => toast(error.message));
loadFailed().catch((error) => toast(error.message));
loadCrawlFailures().catch((error) => toast(error.message));
setInterval(() => load().catch(() => {}), 10000);
// A prompt waiting for the embedder shows as embedded without a reload.
setInterval(() => loadPrompts().catch(() => {}), 10000);
