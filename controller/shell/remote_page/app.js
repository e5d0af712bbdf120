// The phone remote's page: no build step, no library. The STOP works without a token or a socket;
// everything else needs the token the pairing link put in the address (#token=...), kept here.
"use strict";

const RENEW_EVERY = 100; // ms: a held button renews its hold this often (the contract: 200 ms at most)
const PLOT_SECONDS = 180;

const $ = (id) => document.getElementById(id);
const state = { status: null, socket: null, linkUp: false, holding: null, renew: null, plot: [] };

// -- pairing ------------------------------------------------------------------------------------
(function pair() {
  const m = location.hash.match(/token=([A-Za-z0-9_-]+)/);
  if (m) {
    localStorage.setItem("inversion-table-token", m[1]);
    history.replaceState(null, "", location.pathname); // the token leaves the address bar
  }
})();
const token = () => localStorage.getItem("inversion-table-token");

// -- STOP: on the finger's touch, not on its release; no confirmation ------------------------------
function stop(ev) {
  if (ev) ev.preventDefault();
  endHold("stop pressed");
  const button = $("stop");
  button.classList.add("sent");
  fetch("/api/stop", { method: "POST", cache: "no-store", keepalive: true })
    .then((r) => r.json().then((body) => say(r.ok ? "stop latched" : "STOP: " + body.error)))
    .catch(() => say("STOP could not reach the table: use the table's own stop button"))
    .finally(() => setTimeout(() => button.classList.remove("sent"), 300));
}
$("stop").addEventListener("pointerdown", stop);
$("stop").addEventListener("keydown", (ev) => { if (ev.key === "Enter" || ev.key === " ") stop(ev); });

// -- the API ------------------------------------------------------------------------------------------
function say(text) { $("answer").textContent = text; }

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: "Bearer " + (token() || "") }, options.headers || {});
  const r = await fetch(path, Object.assign({ cache: "no-store" }, options, { headers }));
  let body = {};
  try { body = await r.json(); } catch (e) { /* not JSON */ }
  if (r.status === 401) say("not paired: run `inversion-table remote pair` and open its link");
  return { ok: r.ok, status: r.status, body };
}

async function press(button) {
  say(button === "start" && state.status && state.status.allow_motion ? "start: the table warns, then moves…" : button + "…");
  const r = await api("/api/press", { method: "POST", body: JSON.stringify({ button }), headers: { "Content-Type": "application/json" } });
  say(r.ok ? `${button}: taken${r.body.notice ? " (" + r.body.notice + ")" : ""}` : `${button}: ${r.body.error || r.status}`);
}
$("start").addEventListener("click", () => press("start"));
$("return").addEventListener("click", () => press("return"));
$("reset").addEventListener("click", () => press("reset"));
$("preset").addEventListener("change", async (ev) => {
  const r = await api("/api/preset", { method: "POST", body: JSON.stringify({ name: ev.target.value }), headers: { "Content-Type": "application/json" } });
  say(r.ok ? `preset ${ev.target.value} selected` : `preset: ${r.body.error || r.status}`);
});

// -- hold-to-run: held while the finger is down, renewed over the socket ----------------------------
function send(message) {
  if (state.socket && state.socket.readyState === WebSocket.OPEN) { state.socket.send(JSON.stringify(message)); return true; }
  return false;
}
function beginHold(ev) {
  const button = ev.currentTarget;
  ev.preventDefault();
  if (!state.linkUp) { say("no link: holds cannot work until the page is connected again"); return; }
  try { button.setPointerCapture(ev.pointerId); } catch (e) { /* not a pointer that captures */ }
  endHold(null);
  state.holding = button.dataset.hold;
  button.classList.add("holding");
  send({ hold: state.holding });
  state.renew = setInterval(() => { if (!send({ hold: state.holding })) endHold("link lost"); }, RENEW_EVERY);
}
function endHold(why) {
  if (state.renew) clearInterval(state.renew);
  state.renew = null;
  if (state.holding) send({ hold: null });
  state.holding = null;
  document.querySelectorAll(".holdbtn").forEach((b) => b.classList.remove("holding"));
  if (why) say("hold ended: " + why);
}
document.querySelectorAll(".holdbtn").forEach((b) => {
  b.addEventListener("pointerdown", beginHold);
  for (const kind of ["pointerup", "pointercancel", "lostpointercapture"]) b.addEventListener(kind, () => endHold(null));
  b.addEventListener("contextmenu", (ev) => ev.preventDefault());
});
window.addEventListener("blur", () => endHold(state.holding ? "the page lost focus" : null));
document.addEventListener("visibilitychange", () => { if (document.hidden) endHold(state.holding ? "the page was hidden" : null); });

// -- the socket: status, events, the link's state ---------------------------------------------------
function connect() {
  if (!token()) { setLink(false, "NOT PAIRED — only STOP works. Pair with `inversion-table remote pair`."); return; }
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/ws";
  const socket = new WebSocket(url);
  state.socket = socket;
  socket.onopen = () => socket.send(JSON.stringify({ token: token() }));
  socket.onmessage = (m) => {
    const data = JSON.parse(m.data);
    if (data.type === "status") { if (!state.linkUp) setLink(true); show(data); }
    else if (data.type === "event") addEvent(data);
    else if (data.type === "hold" && (data.refused || data.ended)) endHold(data.refused || data.ended);
    else if (data.type === "error") say(data.error);
  };
  socket.onclose = () => {
    state.socket = null;
    endHold(null);
    setLink(false, "LINK LOST — every hold has ended; the table does not move for this page. Reconnecting…");
    setTimeout(connect, 1000);
  };
}
function setLink(up, text) {
  state.linkUp = up;
  const link = $("link");
  link.className = up ? "up" : "down";
  link.textContent = up ? "connected to the table" : text;
  document.body.dataset.link = up ? "up" : "down";
}

// -- showing the status ---------------------------------------------------------------------------------
const fmt = (s) => (s == null ? "–" : `${Math.floor(s / 60)}:${String(Math.floor(s % 60)).padStart(2, "0")}`);

function show(s) {
  state.status = s;
  document.body.dataset.state = s.state;
  $("angle").textContent = s.angle == null ? "–" : `${s.angle.toFixed(1)}°`;
  $("state").textContent = s.stop_latched ? "stopped — reset to go on" : s.state;
  $("state").className = "state " + s.state;
  draw("bed", s.angle);
  draw("bed-target", s.target);
  $("head-down").textContent = `${fmt(s.head_down)} of ${fmt(s.session_timeout)}`;
  const share = Math.min(1, s.head_down / s.session_timeout);
  $("head-down-bar").style.width = `${share * 100}%`;
  $("head-down-bar").className = share > 0.9 ? "late" : "";
  $("auto-return-row").hidden = s.auto_return_in == null || s.stop_latched || !!s.trip;
  $("auto-return").textContent = fmt(s.auto_return_in);
  $("start-in-row").hidden = s.start_in == null;
  $("start-in").textContent = s.start_in == null ? "" : `${s.start_in.toFixed(1)} s — STOP cancels`;
  $("held").textContent = s.held.length ? s.held.join(", ") : "nothing";
  $("user").textContent = s.user || "nobody in particular";
  $("trip").hidden = !s.trip;
  if (s.trip) {
    $("trip-code").textContent = s.trip;
    $("trip-message").textContent = s.trip_message || "";
    $("trip-todo").textContent = `To come home: hold ⌂ Return (slowly, only while held). Then reset, once ${s.trip_clears || "the cause is gone"}.`;
  }
  const select = $("preset");
  if (select.dataset.names !== s.presets.join(",")) {
    select.innerHTML = "";
    for (const name of s.presets) select.add(new Option(name, name));
    select.dataset.names = s.presets.join(",");
  }
  if (document.activeElement !== select) select.value = s.preset || "";
  $("start").disabled = !s.allow_motion || s.state !== "idle" || s.stop_latched;
  $("hold-up").disabled = $("hold-down").disabled = !s.allow_motion;
  $("motion-note").textContent = s.allow_motion ? "" : "Start, up and down are off for the remote ([remote] allow_motion = false). Return, reset and STOP always work.";
  plot(s);
}

function draw(id, angle) {
  // Positive is head-down: the head end (left) goes down on the screen.
  $(id).setAttribute("transform", angle == null ? "" : `rotate(${-angle})`);
}

function plot(s) {
  if (s.angle == null) return;
  state.plot.push([s.t, s.angle, s.target]);
  while (state.plot.length && state.plot[0][0] < s.t - PLOT_SECONDS) state.plot.shift();
  const c = $("plot"), g = c.getContext("2d"), w = c.width, h = c.height;
  const lo = Math.min(s.home_angle, -10), hi = Math.max(s.max_angle, 10);
  const x = (t) => w - ((s.t - t) / PLOT_SECONDS) * w, y = (a) => h - ((a - lo) / (hi - lo)) * h;
  g.clearRect(0, 0, w, h);
  g.strokeStyle = "#333"; g.beginPath(); g.moveTo(0, y(0)); g.lineTo(w, y(0)); g.stroke();
  for (const [index, color] of [[2, "#4aa3ff"], [1, "#eeeeee"]]) {
    g.strokeStyle = color; g.lineWidth = index === 1 ? 2 : 1; g.beginPath();
    state.plot.forEach((p, i) => (i ? g.lineTo(x(p[0]), y(p[index])) : g.moveTo(x(p[0]), y(p[index]))));
    g.stroke();
  }
  g.fillStyle = "#999"; g.font = "12px sans-serif";
  g.fillText(`${hi}°`, 4, 12); g.fillText(`${lo}°`, 4, h - 4); g.fillText("angle (white), target (blue)", w - 170, 12);
}

function addEvent(e) {
  if (e.event === "indicate") return;
  const li = document.createElement("li");
  const detail = Object.entries(e).filter(([k]) => !["type", "t", "event"].includes(k)).map(([k, v]) => `${k}=${v}`).join(" ");
  li.textContent = `${e.event} ${detail}`;
  const list = $("events");
  list.prepend(li);
  while (list.children.length > 50) list.lastChild.remove();
}

// -- history and the profile editor ---------------------------------------------------------------
async function loadHistory() {
  const r = await api("/api/history");
  const body = $("history").tBodies[0];
  body.innerHTML = "";
  for (const s of (r.body.sessions || []).slice().reverse()) {
    const row = body.insertRow();
    for (const v of [s.started, s.user, s.profile, s.outcome, fmt(s.head_down)]) row.insertCell().textContent = v == null ? "–" : v;
  }
  if (r.body.note) body.insertRow().insertCell().textContent = r.body.note;
}
$("history-load").addEventListener("click", loadHistory);

$("check").addEventListener("click", async () => {
  const r = await api("/api/profiles/check", { method: "POST", body: $("profile").value, headers: { "Content-Type": "text/plain" } });
  const out = $("check-result");
  out.textContent = r.body.message || r.body.error || String(r.status);
  out.className = r.ok && r.body.ok ? "ok" : "bad";
});

$("pairing").textContent = token() ? "This page is paired with the table." : "Not paired yet: STOP works; pair for the rest.";
connect();
if (token()) loadHistory();
