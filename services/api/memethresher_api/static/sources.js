"use strict";
// The sources page: add (every option the CLI has), edit, remove, enable/disable, crawl now, the last crawl in words.
const $ = (id) => document.getElementById(id);

function listing(s) {
  return [s.sort, s.time_window].filter(Boolean).join(", ") || "–";
}

function optionsInWords(s) {
  const words = [];
  if (s.options.library) words.push("the library folder");
  if (s.kind === "folder") words.push(s.options.watch ? "watched" : "imported once");
  if (s.options.stream) words.push("stream");
  if (s.options.take_link_previews === true) words.push("takes previews of links");
  if (s.options.take_link_previews === false) words.push("skips previews of links");
  return words.join(", ") || "–";
}

function lastResult(result) {
  if (!result) return "";
  if (result.refusal) return refusalInWords(result);  // a shut door, with what to do (reddit_access.js)
  if (result.error) return `error: ${result.error}`;
  const reasons = Object.entries(result.skip_reasons || {}).map(([why, n]) => `${why} ${n}`).join(", ");
  return `${result.posts_new} new posts, ${result.images_new} new images, ${result.posts_skipped} skipped` +
    (reasons ? ` (${reasons})` : "") + accessInWords(result);
}

async function load() {
  const table = $("source-list");
  table.textContent = "";
  const head = table.insertRow();
  for (const h of ["id", "kind", "target", "sort", "options", "every", "enabled", "last crawl", "result", ""]) cell(head, h);
  for (const s of await api("GET", "/api/sources")) {
    const row = table.insertRow();
    row.dataset.sourceId = s.id;
    cell(row, s.id);
    cell(row, s.kind);
    cell(row, s.target);
    cell(row, listing(s));
    cell(row, optionsInWords(s));
    cell(row, `${s.interval_s} s`);
    cell(row, s.enabled ? "yes" : "no");
    cell(row, s.last_crawl_at ? new Date(s.last_crawl_at).toLocaleString() : "never");
    cell(row, lastResult(s.last_result));
    const actions = cell(row, "");
    actions.appendChild(button(s.enabled ? "Disable" : "Enable", async () => {
      await api("PATCH", `/api/sources/${s.id}`, { enabled: !s.enabled });
      load();
    }));
    actions.appendChild(button("Crawl now", async () => toast((await api("POST", `/api/sources/${s.id}/crawl`)).detail)));
    actions.appendChild(button("Edit", () => startEditing(s)));
    actions.appendChild(button("Remove", async () => {
      if (!confirm(`Remove source #${s.id} ${s.kind} ${s.target} and its posts? The memes it brought stay.`)) return;
      try {
        await api("DELETE", `/api/sources/${s.id}`);
        toast(`removed #${s.id}`);
      } catch (error) {
        toast(error.message);
      }
      load();
    }));
  }
}

// One source at a time is edited, in the form below the list, with the options of its kind.
let editing = null;

function startEditing(s) {
  editing = s;
  const listing = s.kind !== "folder";
  $("edit-title").textContent = `Edit #${s.id} ${s.kind} ${s.target}`;
  for (const el of document.querySelectorAll("#edit-source .reddit-sort")) el.disabled = el.hidden = s.kind !== "reddit";
  for (const el of document.querySelectorAll(".edit-listing")) el.hidden = !listing;
  for (const el of document.querySelectorAll(".edit-folder")) el.hidden = listing;
  $("edit-sort").value = s.sort || "new";
  $("edit-time").value = s.time_window || "day";
  $("edit-interval").value = s.interval_s;
  $("edit-watch").checked = Boolean(s.options.watch);
  $("edit-stream").checked = Boolean(s.options.stream);
  const previews = s.options.take_link_previews;
  $("edit-previews").value = previews === undefined ? "" : String(previews);
  $("edit-enabled").checked = s.enabled;
  $("edit-error").textContent = "";
  showEditFields();
  $("edit-source").hidden = false;
}

function showEditFields() {
  const timed = editing && editing.kind !== "folder" && TIMED_SORTS.includes($("edit-sort").value);
  for (const el of document.querySelectorAll(".edit-timed")) el.hidden = !timed;
}

function editedFields() {
  const changes = { interval_s: Number($("edit-interval").value), enabled: $("edit-enabled").checked };
  if (editing.kind === "folder") return { ...changes, watch: $("edit-watch").checked };
  const sort = $("edit-sort").value;
  const previews = $("edit-previews").value;
  return { ...changes, sort, time: TIMED_SORTS.includes(sort) ? $("edit-time").value : null,
           stream: $("edit-stream").checked, take_link_previews: previews === "" ? null : previews === "true" };
}

$("edit-sort").addEventListener("change", showEditFields);
$("edit-cancel").addEventListener("click", () => { $("edit-source").hidden = true; });
$("edit-source").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await api("PATCH", `/api/sources/${editing.id}`, editedFields());
    $("edit-source").hidden = true;
    toast(`saved #${editing.id}`);
    load();
  } catch (error) {
    $("edit-error").textContent = error.message;
  }
});

function formOptions(form) {
  const kind = form.get("kind");
  const options = {};
  if (form.get("interval_s")) options.interval_s = Number(form.get("interval_s"));
  if (kind === "folder") {
    options.watch = form.get("watch") === "on";
    return options;
  }
  options.sort = form.get("sort");
  if (TIMED_SORTS.includes(options.sort)) options.time = form.get("time");
  if (form.get("stream") === "on") options.stream = true;
  if (form.get("take_link_previews")) options.take_link_previews = form.get("take_link_previews") === "true";
  return options;
}

const TIMED_SORTS = ["top", "controversial"];

// Only the fields that apply to the kind (and sort) chosen are shown; Lemmy has no rising or controversial.
function showFields() {
  const kind = $("source-kind").value;
  const sort = $("source-sort");
  for (const el of document.querySelectorAll("#add-source .reddit-sort")) el.disabled = el.hidden = kind !== "reddit";
  if (sort.selectedOptions[0].disabled) sort.value = "new";
  for (const el of document.querySelectorAll(".listing-only")) el.hidden = kind === "folder";
  for (const el of document.querySelectorAll(".folder-only")) el.hidden = kind !== "folder";
  for (const el of document.querySelectorAll(".top-only")) el.hidden = kind === "folder" || !TIMED_SORTS.includes(sort.value);
}

$("source-kind").addEventListener("change", showFields);
$("source-sort").addEventListener("change", showFields);
$("add-source").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    const s = await api("POST", "/api/sources", { kind: form.get("kind"), target: form.get("target"), options: formOptions(form) });
    $("source-error").textContent = "";
    $("source-added").textContent = `${s.already_there ? "already there" : "added"}: #${s.id} ${s.kind} ${s.target}`;
    event.target.reset();
    showFields();
    load();
  } catch (error) {
    $("source-added").textContent = "";
    $("source-error").textContent = error.message;
  }
});
showFields();
load().catch((error) => toast(error.message));
