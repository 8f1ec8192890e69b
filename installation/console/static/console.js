// The console's page: shows each state the piece pushes over /api/ws and
// sends the buttons to the JSON API (installation/console/web.py). The
// token, when the piece needs one, rides in the cookie /?token=... set.
"use strict";

const $ = (id) => document.getElementById(id);
let state = null;        // the newest state pushed
let sceneNames = "";     // the scene list the buttons were built for
let retry = 500;         // ms before reconnecting; grows to 5 s

function connect() {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const socket = new WebSocket(scheme + location.host + "/api/ws");
  socket.onopen = () => { retry = 500; link(true, "live"); };
  socket.onmessage = (event) => show(JSON.parse(event.data));
  socket.onclose = () => {
    link(false, "reconnecting…");
    explainRefusal();
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 5000);
  };
}

async function explainRefusal() {
  // A WebSocket refused says nothing of why: the API says it in one line.
  try {
    const answer = await fetch("/api/state", { cache: "no-store" });
    if (!answer.ok) link(false, (await answer.json()).error || "refused");
  } catch (e) { link(false, "the piece does not answer"); }
}

function link(live, text) {
  const el = $("link");
  el.textContent = text;
  el.classList.toggle("live", live);
}

function show(s) {
  state = s;
  $("piece").textContent = s.piece || "Console";
  document.title = (s.piece || "Console") + ": console";
  $("scene").textContent = s.stage === "show" ? s.scene : s.stage === "starting" ? "starting…" : s.scene;
  document.body.classList.toggle("dark-screen", s.stage !== "show");
  $("fps").textContent = number(s.fps) + " fps";
  $("tracking-fps").textContent = number(s.tracking_fps) + " fps";
  const drawn = (s.latency_ms || {}).drawn;
  $("latency").textContent = drawn ? `${Math.round(drawn[0])} ms · p95 ${Math.round(drawn[1])}` : "–";
  const people = s.people || [];
  $("people").textContent = people.length ? `${people.length}: id ${people.join(", ")}` : "nobody";
  $("uptime").textContent = duration(s.uptime);
  $("hours").textContent = hours(s);
  $("usage").textContent = typeof s.cpu === "number"
    ? `${Math.round(s.cpu)}% of a core · ${Math.round(s.memory_mb)} MB` : "–";
  nodes(s.nodes || []);
  scenes(s);
  const black = s.stage === "blackout";
  const blackout = $("blackout");
  blackout.textContent = black ? "Back from blackout" : "Blackout";
  blackout.setAttribute("aria-pressed", String(black));
  blackout.disabled = s.stage === "starting";
  $("next").disabled = s.stage !== "show";
  $("reload").disabled = s.stage !== "show";
  problems(s.problems || []);
}

function nodes(list) {
  const el = $("nodes");
  el.hidden = !list.length;
  el.replaceChildren(...list.map((n) => {
    const item = document.createElement("li");
    item.classList.toggle("silent", !n.heard);
    const usage = typeof n.cpu === "number" ? ` · ${Math.round(n.cpu)}% CPU · ${Math.round(n.memory_mb)} MB` : "";
    const drops = n.untimely || n.out_of_order ? ` · dropped ${n.untimely + n.out_of_order}` : "";
    item.textContent = n.heard
      ? `${n.name}: ${Math.round(n.latency_ms[0])} ms (p95 ${Math.round(n.latency_ms[1])}) · ${n.people} people · ${number(n.fps)} fps${usage}${drops}`
      : `${n.name}: silent${drops}`;
    return item;
  }));
}

function scenes(s) {
  const names = (s.scenes || []).join("\n");
  const list = $("scenes");
  if (names !== sceneNames) {
    sceneNames = names;
    list.replaceChildren(...(s.scenes || []).map((name) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = name;
      button.dataset.scene = name;
      if (!(s.playlist || []).includes(name)) button.classList.add("out");
      button.addEventListener("click", () => send("/api/scene", { name }));
      item.append(button);
      return item;
    }));
  }
  for (const button of list.querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(s.stage === "show" && button.dataset.scene === s.scene));
    button.disabled = s.stage !== "show";
  }
}

function problems(records) {
  const list = $("problems");
  const key = JSON.stringify(records);
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  if (!records.length) {
    list.innerHTML = '<li class="none">none so far</li>';
    return;
  }
  list.replaceChildren(...records.slice().reverse().map(logItem));
}

function logItem(r) {
  const item = document.createElement("li");
  item.className = r.level;
  const time = document.createElement("time");
  time.textContent = r.time;
  const level = document.createElement("b");
  level.textContent = r.level + " ";
  item.append(time, level, document.createTextNode(r.message));
  return item;
}

async function send(path, body) {
  const said = $("said");
  try {
    const answer = await fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
    const reply = await answer.json();
    said.textContent = answer.ok ? reply.message : reply.error;
    said.classList.toggle("bad", !answer.ok);
  } catch (e) {
    said.textContent = "the piece does not answer";
    said.classList.add("bad");
  }
}

function number(value) {
  return typeof value === "number" ? value.toFixed(1) : "–";
}

function duration(seconds) {
  if (typeof seconds !== "number") return "–";
  const s = Math.floor(seconds), d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24;
  const m = Math.floor(s / 60) % 60;
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${String(m).padStart(2, "0")} min`;
  return m ? `${m} min ${s % 60} s` : `${s % 60} s`;
}

function hours(s) {
  const open = s.hours_open !== false;
  if (!s.next_change) return open ? "open, always" : "closed";
  return open ? `open; closes ${s.next_change}` : `closed; opens ${s.next_change}`;
}

$("next").addEventListener("click", () => send("/api/next"));
$("reload").addEventListener("click", () => send("/api/reload", { name: state && state.scene }));

// Restart takes two taps within 4 s: a thumb in a pocket must not restart the show.
let disarm = null;
$("restart").addEventListener("click", () => {
  const button = $("restart");
  if (button.dataset.armed === "true") {
    clearTimeout(disarm);
    button.dataset.armed = "false";
    button.textContent = "Restart the piece";
    send("/api/restart");
    return;
  }
  button.dataset.armed = "true";
  button.textContent = "Tap again to restart";
  disarm = setTimeout(() => {
    button.dataset.armed = "false";
    button.textContent = "Restart the piece";
  }, 4000);
});

// The live view: a new picture once the last one has arrived, at most two a
// second, only while the panel is open and the page is seen.
let pictures = 0;
function nextPicture() {
  if (!$("live").open || document.hidden) return;
  const started = Date.now();
  const image = $("view");
  const again = () => setTimeout(nextPicture, Math.max(0, 500 - (Date.now() - started)));
  image.onload = again;
  image.onerror = () => setTimeout(nextPicture, 2000);
  image.src = "/api/view.jpg?n=" + (pictures += 1);
}
$("live").addEventListener("toggle", nextPicture);
document.addEventListener("visibilitychange", nextPicture);

// The log: its last lines at the chosen level, every two seconds while open.
async function showLog() {
  if (!$("log-panel").open || document.hidden) return;
  try {
    const answer = await fetch(`/api/log?level=${$("log-level").value}&count=100`, { cache: "no-store" });
    if (answer.ok) logLines((await answer.json()).lines);
  } catch (e) { /* the link's status says it */ }
}
function logLines(lines) {
  const list = $("log");
  if (!lines.length) {
    list.innerHTML = '<li class="none">nothing at this level yet</li>';
    return;
  }
  list.replaceChildren(...lines.slice().reverse().map(logItem));
}
$("log-panel").addEventListener("toggle", showLog);
$("log-level").addEventListener("change", showLog);
setInterval(showLog, 2000);
$("blackout").addEventListener("click", () =>
  send("/api/blackout", { on: !(state && state.stage === "blackout") }));
connect();
