"use strict";
// The rating page: a queue of prefetched pairs, optimistic saves with retries, undo and skip.
const root = document.getElementById("rate");
const config = JSON.parse(root.dataset.config);
const axes = config.axes.length ? config.axes : [null];
const state = {
  queue: [], history: [], axisChoices: [], pending: 0, failed: 0, loading: false, inFlight: new Set(),
  displayed: null, serial: 0, skipped: new Set(),
};
const $ = (id) => document.getElementById(id);

function heldPairIds() {
  // Skips and saves may still be on their way: never fetch those pairs back.
  const ids = new Set([...state.inFlight, ...state.skipped]);
  for (const p of state.queue) if (p.pair_id) ids.add(p.pair_id);
  return [...ids];
}

async function refill() {
  if (state.loading || state.queue.length > config.prefetch) return;
  state.loading = true;
  try {
    const held = heldPairIds();
    const query = new URLSearchParams({ count: String(config.prefetch + 1) });
    for (const id of held) query.append("exclude", String(id));
    const data = await api("GET", `/api/pairs?${query}`);
    for (const pair of data.pairs) {
      if (pair.pair_id && held.includes(pair.pair_id)) continue;
      state.queue.push(pair);
      for (const side of [pair.a, pair.b]) new Image().src = side.thumb_url;
    }
    $("empty").hidden = true;
  } catch (error) {
    if (!state.queue.length) {
      $("empty").textContent = error.message;
      $("empty").hidden = false;
    }
    setTimeout(refill, 5000);
  } finally {
    state.loading = false;
  }
  show();
}

function show() {
  const pair = state.queue[0];
  $("pair").hidden = !pair;
  if (!pair) return;
  if (pair !== state.displayed) {
    // Counts every new pair on screen, so a test (or a person) can tell one pair from the next.
    state.displayed = pair;
    state.serial++;
    $("pair").dataset.serial = String(state.serial);
    $("pair").dataset.pairId = pair.pair_id ? String(pair.pair_id) : "";
  }
  for (const [side, meme] of [["left", pair.a], ["right", pair.b]]) {
    const img = $(`${side}-img`);
    if (img.dataset.memeId !== String(meme.id)) img.src = meme.thumb_url;
    img.dataset.memeId = String(meme.id);
    img.alt = meme.title || `meme ${meme.id}`;
    $(side).dataset.memeId = String(meme.id);
    $(`${side}-title`).textContent = meme.title + (meme.subreddit ? ` · r/${meme.subreddit}` : "");
  }
  $("why").textContent = pairOrigin(pair);
  const axis = axes[state.axisChoices.length];
  $("axis-prompt").hidden = axis === null;
  if (axis !== null) $("axis-prompt").textContent = `axis: ${axis} (${state.axisChoices.length + 1} of ${axes.length})`;
}

// "diverse" is the default because no model strategy beat random pairs in the learning benchmark.
function pairOrigin(pair) {
  if (pair.origin !== "acquisition") return "random pair (no acquisition batch waiting)";
  const batch = `batch ${pair.batch_id} of model v${pair.model_version_id}`;
  if (pair.strategy === "diverse") {
    return `random pairs spread over your memes (the model's picks did not beat random pairs in our tests); ${batch}`;
  }
  return `chosen by ${pair.strategy} (value ${Number(pair.acquisition).toPrecision(3)}) from ${batch}`;
}

function updateSaveState(message) {
  const el = $("save-state");
  el.dataset.pending = String(state.pending);
  el.dataset.failed = String(state.failed);
  el.className = state.failed ? "failed" : state.pending ? "busy" : "";
  el.textContent = message || (state.pending ? `saving ${state.pending}…` : "all saved");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function withRetry(entry, action) {
  for (let attempt = 0; ; attempt++) {
    if (entry.cancelled && entry.ids === undefined) return [];
    try {
      return await action();
    } catch (error) {
      if (error.status && error.status >= 400 && error.status < 500) {
        state.failed++;
        updateSaveState(`not saved: ${error.message}`);
        return [];
      }
      updateSaveState(`save failed (${error.message}); retrying…`);
      await sleep(Math.min(10000, 500 * 2 ** attempt));
    }
  }
}

function save(entry) {
  const bodies = entry.choices.map((choice, i) => ({
    a: entry.pair.a.id, b: entry.pair.b.id, choice, pair_id: entry.pair.pair_id, axis: axes[i],
  }));
  state.pending++;
  if (entry.pair.pair_id) state.inFlight.add(entry.pair.pair_id);
  updateSaveState();
  entry.promise = withRetry(entry, async () => {
    const stored = bodies.length === 1
      ? [await api("POST", "/api/ratings", bodies[0])]
      : await api("POST", "/api/ratings/batch", { ratings: bodies });
    return stored.map((r) => r.id);
  }).then((ids) => {
    entry.ids = ids;
    state.pending--;
    state.inFlight.delete(entry.pair.pair_id);
    updateSaveState();
    refreshStatus();
    return ids;
  });
  state.history.push(entry);
}

function choose(choice) {
  const pair = state.queue[0];
  if (!pair) return;
  state.axisChoices.push(choice);
  if (state.axisChoices.length < axes.length) return show();
  const entry = { pair, choices: state.axisChoices, cancelled: false };
  state.axisChoices = [];
  state.queue.shift();
  show();
  save(entry);
  refill();
}

async function undo() {
  if (state.axisChoices.length) { state.axisChoices.pop(); return show(); }
  const entry = state.history.pop();
  if (!entry) return toast("nothing to undo");
  entry.cancelled = true;
  state.queue.unshift(entry.pair);
  show();
  state.pending++;
  updateSaveState();
  const ids = await entry.promise;
  for (const id of ids) {
    await withRetry({}, () => api("DELETE", `/api/ratings/${id}`));
  }
  state.pending--;
  updateSaveState();
  toast("rating undone");
  refreshStatus();
}

function skip() {
  const pair = state.queue.shift();
  state.axisChoices = [];
  if (pair && pair.pair_id) {
    state.skipped.add(pair.pair_id);
    state.pending++;
    withRetry({}, () => api("POST", `/api/pairs/${pair.pair_id}/skip`)).then(() => { state.pending--; updateSaveState(); });
  }
  show();
  refill();
}

async function refreshStatus() {
  try {
    const s = await api("GET", "/api/rating-status");
    $("today").textContent = s.ratings_today;
    $("total").textContent = s.ratings_total;
    $("batch-left").textContent = s.pending_in_batch;
    $("model").textContent = s.model_version_id
      ? `v${s.model_version_id}, trained ${new Date(s.model_trained_at).toLocaleString()}` : "none yet";
    $("retrain").hidden = !s.retrain_running;
    $("stopping").hidden = !s.stopping;
    if (s.stopping) {
      const share = s.stopping.decision_change_share;
      $("stopping-changes").textContent =
        `~${s.stopping.decision_changes} keep/discard decisions (${(100 * share).toFixed(1)}%) may change`;
    }
  } catch (error) { /* the status bar is informative only */ }
}

function showHelp() {
  const table = $("help-keys");
  table.textContent = "";
  for (const [key, action] of Object.entries(config.keys)) {
    const row = table.insertRow();
    cell(row, key);
    cell(row, action);
  }
  $("help").showModal();
}

const actions = { undo, skip, help: showHelp };
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat || typing(event)) return;
  if ($("help").open) return;
  const combo = event.shiftKey && event.key.startsWith("Arrow") ? `Shift+${event.key}` : event.key;
  const action = config.keys[combo] ?? config.keys[event.key] ?? config.keys[event.key.toLowerCase()];
  if (!action) return;
  event.preventDefault();
  if (actions[action]) actions[action]();
  else choose(action);
});
$("left").addEventListener("click", () => choose("a"));
$("right").addEventListener("click", () => choose("b"));
// A touch screen has no keys: every choice (ties and clear wins too), undo and skip as buttons.
for (const control of $("choices").querySelectorAll("button")) {
  const { choice, action } = control.dataset;
  control.addEventListener("click", () => (choice ? choose(choice) : actions[action]()));
}
window.addEventListener("beforeunload", (event) => { if (state.pending) event.preventDefault(); });
refill();
refreshStatus();
setInterval(refreshStatus, 15000);
