"use strict";
// Reddit access: which door a crawl took, why Reddit shut one and what to do, and the check of every door.

function accessInWords(result) {
  if (!result || !result.access_mode) return "";
  const scores = result.access_mode === "feed" ? ", feeds carry no Reddit scores" : "";
  return ` (by ${result.access_mode}${scores})`;
}

function refusalInWords(result) {
  const mode = result.access_mode ? ` ${result.access_mode}` : "";
  return `Reddit refused the${mode} request: ${result.refusal.reason}. What to do: ${result.refusal.remedy}`;
}

function showRedditCheck(check) {
  const table = document.getElementById("reddit-check");
  table.textContent = "";
  document.getElementById("reddit-checked").textContent = check.checked_at
    ? `checked ${new Date(check.checked_at).toLocaleString()} against ${check.target}`
    : check.detail || "not checked yet";
  if (!check.modes.length) return;
  const head = table.insertRow();
  for (const h of ["mode", "state", "why / what to do", "budget", ""]) cell(head, h);
  for (const m of check.modes) {
    const row = table.insertRow();
    row.dataset.mode = m.mode;
    for (const text of [m.mode, m.state, m.detail, m.budget, m.chosen ? "used by crawls now" : ""]) cell(row, text);
  }
}

async function runRedditCheck() {
  const before = (await api("GET", "/api/reddit/check")).checked_at;
  const queued = await api("POST", "/api/reddit/check");
  toast(queued.detail);
  if (!queued.queued) return;
  // Each door is tried once; a feed may wait for its budget, so the answer can take a while.
  for (let i = 0; i < 60; i++) {
    await new Promise((done) => setTimeout(done, 1000));
    const check = await api("GET", "/api/reddit/check");
    if (check.checked_at && check.checked_at !== before) return showRedditCheck(check);
  }
  toast("no crawler worker answered the check yet");
}

async function showRefusals() {
  const list = document.getElementById("refusals");
  list.textContent = "";
  const refused = (await api("GET", "/api/sources")).filter((s) => s.last_result && s.last_result.refusal);
  if (!refused.length) cell(list.insertRow(), "none");
  for (const s of refused) {
    const row = list.insertRow();
    cell(row, `#${s.id} ${s.target}`);
    cell(row, refusalInWords(s.last_result));
  }
}

if (document.getElementById("reddit-check")) {
  document.getElementById("check-reddit").addEventListener("click", () => runRedditCheck().catch((e) => toast(e.message)));
  api("GET", "/api/reddit/check").then(showRedditCheck).catch((e) => toast(e.message));
}
if (document.getElementById("refusals")) showRefusals().catch((e) => toast(e.message));
