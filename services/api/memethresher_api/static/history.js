"use strict";
// The History page: every rating with both memes, filtered and paged; change a choice or undo any
// rating (server state: it stays so after a reload, on every device).
const $ = (id) => document.getElementById(id);
let next = null;  // the cursor of the next, older page

function localMidnight(value, days) {
  const [y, m, d] = value.split("-").map(Number);
  return new Date(y, m - 1, d + days).toISOString();
}

function query(before) {
  const params = new URLSearchParams({ limit: "50" });
  for (const [name, value] of new FormData($("filters"))) {
    if (!value) continue;
    // Dates are the rater's days: from the first one's start to the end of the last one.
    if (name === "since") params.set(name, localMidnight(value, 0));
    else if (name === "until") params.set(name, localMidnight(value, 1));
    else params.set(name, value);
  }
  if (before) params.set("before", String(before));
  return `/api/ratings?${params}`;
}

function where(r) {
  if (r.origin === "four") return r.batch_id ? `best of four, batch ${r.batch_id} (${r.strategy})` : "best of four";
  if (r.origin !== "acquisition") return "random";
  return r.batch_id ? `batch ${r.batch_id} (${r.strategy})` : "acquisition";
}

function thumb(row, meme) {
  const td = cell(row, "");
  const img = document.createElement("img");
  img.className = "thumb";
  img.loading = "lazy";
  img.src = meme.thumb_url;
  img.alt = meme.title;
  img.title = `#${meme.id} ${meme.title}`;
  td.appendChild(img);
}

function choiceSelect(r) {
  const select = document.createElement("select");
  select.className = "choice";
  select.setAttribute("aria-label", `choice of rating ${r.id}`);
  for (const c of CHOICES) select.add(new Option(c, c, false, c === r.choice));
  select.addEventListener("change", () => change(r.id, select.value, select));
  return select;
}

async function change(id, choice, select) {
  try {
    const answer = await api("PATCH", `/api/ratings/${id}`, { choice });
    select.value = answer.choice;
    toast(`rating ${id} is now ${answer.choice}`);
  } catch (error) {
    toast(error.message);
  }
}

async function undo(row) {
  const id = row.dataset.rating;
  try {
    await api("DELETE", `/api/ratings/${id}`);
    const after = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    if (after && after.dataset.rating) after.focus();
    toast(`rating ${id} undone`);
  } catch (error) {
    toast(error.message);
  }
}

function addRow(table, r) {
  const row = table.insertRow();
  row.dataset.rating = String(r.id);
  row.tabIndex = 0;
  cell(row, new Date(r.created_at).toLocaleString());
  thumb(row, r.a);
  cell(row, "").appendChild(choiceSelect(r));
  thumb(row, r.b);
  cell(row, r.axis);
  cell(row, where(r)).className = "origin";
  cell(row, "").appendChild(button("Undo", () => undo(row)));
}

async function load(before) {
  const table = $("rating-list");
  let page;
  try {
    page = await api("GET", query(before));
  } catch (error) {
    toast(error.message);
    return;
  }
  if (!before) {
    table.textContent = "";
    const head = table.insertRow();
    for (const h of ["rated", "A", "choice", "B", "axis", "from", ""]) cell(head, h);
  }
  for (const r of page.ratings) addRow(table, r);
  next = page.next_before;
  $("older").hidden = next === null;
  $("empty").hidden = table.rows.length > 1;
}

function onKey(event) {
  const row = document.activeElement && document.activeElement.closest && document.activeElement.closest("tr[data-rating]");
  if (typing(event) && event.target.tagName !== "SELECT") return;
  if (!row) return;
  if (event.key === "j" || event.key === "k") {
    const to = event.key === "j" ? row.nextElementSibling : row.previousElementSibling;
    if (to && to.dataset.rating) to.focus();
  } else if (event.key >= "1" && event.key <= String(CHOICES.length)) {
    const select = row.querySelector("select.choice");
    select.value = CHOICES[Number(event.key) - 1];
    change(Number(row.dataset.rating), select.value, select);
  } else if (event.key === "u" || event.key === "Delete") {
    undo(row);
  } else {
    return;
  }
  event.preventDefault();
}

$("filters").addEventListener("submit", (event) => { event.preventDefault(); load(null); });
$("older").addEventListener("click", () => load(next));
document.addEventListener("keydown", onKey);
load(null);
