"use strict";
// The Models page's encoder section: the active encoder, a switch to another one from the registry,
// its progress (n of N embedded, ETA, then training and comparing) and how the last switch ended.
const encoderEl = (id) => document.getElementById(id);
const PHASES = { embedding: "embedding", training: "training a model on the new vectors", comparing: "comparing with the active encoder" };

function eta(seconds) {
  if (seconds === null || seconds === undefined) return "ETA unknown";
  if (seconds < 90) return `about ${Math.round(seconds)} s left`;
  return `about ${Math.round(seconds / 60)} min left`;
}

function showPending(pending) {
  encoderEl("encoder-pending").hidden = pending === null;
  encoderEl("encoder-cancel").hidden = pending === null;
  encoderEl("encoder-switch").disabled = pending !== null;
  if (pending === null) return;
  const progress = encoderEl("encoder-progress");
  progress.max = Math.max(pending.total, 1);
  progress.value = pending.embedded;
  const waiting = pending.comparison && pending.comparison.waiting_for
    ? `, waiting for ${pending.comparison.waiting_for} memes to be embedded` : "";
  encoderEl("encoder-progress-text").textContent =
    `${pending.encoder}: ${PHASES[pending.status] || pending.status}, ${pending.embedded} of ${pending.total} embedded, ${eta(pending.eta_s)}${waiting}`;
}

function showLast(last) {
  const el = encoderEl("encoder-last");
  el.hidden = last === null;
  if (last === null) return;
  const outcome = { done: "now active", rejected: "rejected", cancelled: "cancelled" }[last.status] || last.status;
  const why = last.status === "done" ? (last.comparison && last.comparison.why) : last.reason;
  el.textContent = `Last switch, ${last.previous} → ${last.encoder}: ${outcome}${why ? ` (${why})` : ""}.`;
  el.className = last.status === "rejected" ? "error" : "hint";
}

async function loadEncoders() {
  const state = await api("GET", "/api/encoders");
  encoderEl("encoder-active").textContent = state.active;
  const select = encoderEl("encoder-choice");
  const chosen = select.value;
  select.textContent = "";
  for (const e of state.encoders) {
    if (e.id !== state.active) select.appendChild(new Option(`${e.id} — ${e.description}`, e.id));
  }
  if ([...select.options].some((o) => o.value === chosen)) select.value = chosen;
  showPending(state.pending);
  showLast(state.last);
  clearTimeout(loadEncoders.timer);
  if (state.pending !== null) loadEncoders.timer = setTimeout(() => loadEncoders().catch(() => {}), 2000);
}

async function encoderAction(method, url, body, message) {
  try {
    const answer = await api(method, url, body);
    toast(message(answer));
  } catch (error) {
    toast(error.message);
  }
  await loadEncoders();
}

encoderEl("encoder-switch").addEventListener("click", () => {
  const encoder = encoderEl("encoder-choice").value;
  encoderAction("POST", "/api/encoders/switch", { encoder }, (a) => `switching to ${encoder}: ${a.pending.total} memes to embed`);
});
encoderEl("encoder-cancel").addEventListener("click", () => {
  encoderAction("POST", "/api/encoders/cancel", undefined, (a) => `switch cancelled; ${a.active} stays active`);
});
loadEncoders().catch((error) => toast(error.message));
