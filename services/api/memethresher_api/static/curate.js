"use strict";
// The curation page: name and keep (Enter), discard (empty Enter or Delete), undo (Ctrl+Z).
const $ = (id) => document.getElementById(id);
let current = null;
// With several rating axes: the axis whose scores order the queue, and the axis whose picks it shows
// (kept in the address, so a reload keeps them).
const view = new URLSearchParams(location.search);

function query() {
  const params = new URLSearchParams();
  if (view.get("axis")) params.set("axis", view.get("axis"));
  if (view.get("queued_by")) params.set("queued_by", view.get("queued_by"));
  const text = params.toString();
  return text ? `?${text}` : "";
}

function axisScores(item) {
  const scores = Object.entries(item.scores).map(([axis, score]) => `${axis} ${score.toFixed(3)}`);
  return [...scores, `queued by ${item.axis}`].join(" · ");
}

function render(item) {
  current = item;
  $("item").hidden = !item;
  $("empty").hidden = !!item;
  if (!item) {
    $("empty").textContent = "Nothing waiting for curation.";
    $("pending").textContent = "0";
    return;
  }
  $("item-img").src = item.meme.thumb_url;
  $("item-img").dataset.memeId = String(item.meme.id);
  $("item").dataset.itemId = String(item.id);
  $("item-title").textContent = item.meme.title || `meme ${item.meme.id}`;
  $("item-sub").textContent = item.meme.subreddit ? `r/${item.meme.subreddit}` : "";
  $("item-score").textContent = item.score.toFixed(3);
  $("item-spread").textContent = item.spread === null ? "–" : item.spread.toFixed(3);
  $("item-version").textContent = item.scored_by_version_id ? `(model v${item.scored_by_version_id})` : "";
  $("item-axes").textContent = $("axis-controls") ? axisScores(item) : "";
  // The current model no longer ranks it highly: it waits behind the others, and says why.
  $("item-sunk").hidden = !item.sunk_reason;
  $("item-sunk").textContent = item.sunk_reason || "";
  $("pending").textContent = String(item.pending);
  $("dup").hidden = !item.near_duplicate;
  if (item.near_duplicate) {
    $("dup-img").src = item.near_duplicate.thumb_url;
    $("dup-cos").textContent = item.near_duplicate_cosine.toFixed(3);
    $("dup-title").textContent = item.near_duplicate.title;
  }
  $("name").value = "";
  $("name").focus();
}

async function load() {
  try {
    render(await api("GET", `/api/curation/next${query()}`));
  } catch (error) {
    if (error.status === 404) render(null);
    else toast(error.message);
  }
}

async function decide(kind) {
  if (!current) return;
  const name = $("name").value.trim();
  try {
    const item = kind === "keep" && name
      ? await api("POST", `/api/curation/${current.id}/keep${query()}`, { name })
      : await api("POST", `/api/curation/${current.id}/discard${query()}`);
    $("last").textContent = item.status === "kept" ? `kept as ${item.library_path}` : "discarded";
    await load();
  } catch (error) {
    toast(error.message);
  }
}

async function undo() {
  try {
    const item = await api("POST", `/api/curation/undo${query()}`);
    $("last").textContent = "undone";
    render(item);
  } catch (error) {
    toast(error.message);
  }
}

for (const [id, param] of [["sort-axis", "axis"], ["queued-by", "queued_by"]]) {
  const select = $(id);
  if (!select) continue;
  select.value = view.get(param) || select.value;
  select.addEventListener("change", () => {
    if (select.value) view.set(param, select.value);
    else view.delete(param);
    history.replaceState(null, "", `${location.pathname}${query()}`);
    load();
  });
}
$("keep-form").addEventListener("submit", (event) => { event.preventDefault(); decide("keep"); });
$("discard").addEventListener("click", () => decide("discard"));
$("undo").addEventListener("click", undo);
document.addEventListener("keydown", (event) => {
  const empty = !$("name").value;
  if (event.key === "Delete" && empty) { event.preventDefault(); decide("discard"); }
  if (event.key === "z" && (event.ctrlKey || event.metaKey) && empty) { event.preventDefault(); undo(); }
});
load();
