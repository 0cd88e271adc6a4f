"use strict";
// The evaluation page: label random memes good (G) or bad (B), undo (U), and see the report.
const $ = (id) => document.getElementById(id);
let current = null;
const done = [];

async function next() {
  try {
    const data = await api("GET", "/api/evaluation/next");
    current = data.meme;
    $("eval-img").src = current.thumb_url;
    $("eval-img").dataset.memeId = String(current.id);
    $("eval-title").textContent = current.title;
    $("labelled").textContent = String(data.labelled);
    $("empty").hidden = true;
  } catch (error) {
    current = null;
    $("empty").textContent = error.message;
    $("empty").hidden = false;
  }
}

async function label(good) {
  if (!current) return;
  const meme = current;
  current = null;
  try {
    const data = await api("POST", "/api/evaluation/labels", { meme_id: meme.id, good });
    done.push(meme.id);
    $("labelled").textContent = String(data.labelled);
  } catch (error) {
    toast(error.message);
  }
  await next();
  loadReport();
}

async function undo() {
  const memeId = done.pop();
  if (memeId === undefined) return toast("nothing to undo");
  try {
    const data = await api("DELETE", `/api/evaluation/labels/${memeId}`);
    $("labelled").textContent = String(data.labelled);
    loadReport();
  } catch (error) {
    toast(error.message);
  }
}

async function loadReport() {
  const id = $("model-select").value;
  const response = await fetch(`/evaluate/report${id ? `?model_version_id=${id}` : ""}`);
  $("report").innerHTML = await response.text();  // server-rendered and escaped by the template
}

$("good").addEventListener("click", () => label(true));
$("bad").addEventListener("click", () => label(false));
$("undo").addEventListener("click", undo);
$("model-select").addEventListener("change", loadReport);
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat || typing(event)) return;
  const key = event.key.toLowerCase();
  if (key === "g") label(true);
  else if (key === "b") label(false);
  else if (key === "u") undo();
});
next();
loadReport();
