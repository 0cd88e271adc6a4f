"use strict";
// The curation page: name and keep (Enter), discard (empty Enter or Delete), undo (Ctrl+Z).
const $ = (id) => document.getElementById(id);
let current = null;

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
    render(await api("GET", "/api/curation/next"));
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
      ? await api("POST", `/api/curation/${current.id}/keep`, { name })
      : await api("POST", `/api/curation/${current.id}/discard`);
    $("last").textContent = item.status === "kept" ? `kept as ${item.library_path}` : "discarded";
    await load();
  } catch (error) {
    toast(error.message);
  }
}

async function undo() {
  try {
    const item = await api("POST", "/api/curation/undo");
    $("last").textContent = "undone";
    render(item);
  } catch (error) {
    toast(error.message);
  }
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
