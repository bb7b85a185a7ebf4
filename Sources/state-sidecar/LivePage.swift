/// `GET /`: one self-contained page (no CDN, works offline) that follows `/events`: the halt
/// switch and risk limits at a glance, version, age and writer, the state with the last change
/// highlighted, the readers with their lag (from `/status` and `/readers`), and charts of the
/// commit rate and of each version's delay from its rename until the sidecar held it, which start
/// from what the sidecar already knows (`/recent`: recent commits and delays). Behind a
/// token, the browser asks for it once (HTTP Basic, any user name, the token as the password)
/// and sends it with every request of the page, the event stream included.
enum LivePage {
    static let html = #"""
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>StateCoordinator</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;background:#fafafa;color:#222}
 h1{font-size:1.2em;margin:0 0 .8em} .row{display:flex;gap:1em;flex-wrap:wrap}
 .card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8em 1em;min-width:12em}
 #halt{font-size:2em;font-weight:700;padding:.2em .6em;border-radius:6px}
 .running{background:#d9f2dd;color:#145c22} .halted{background:#f8d0d0;color:#8a1010}
 pre{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.8em;overflow:auto;max-height:30em}
 .changed{background:#fff3a8} table{border-collapse:collapse} td,th{padding:.2em .6em;border-bottom:1px solid #eee;text-align:left}
 tr.host th{background:#f3f3f3;font-weight:600} .lag{color:#8a1010;font-weight:600} .muted{color:#777} svg{background:#fff;border:1px solid #ddd;border-radius:6px}
</style></head><body>
<h1>StateCoordinator — <span id="store"></span> <span id="connection" class="muted">connecting…</span></h1>
<div class="row">
 <div class="card"><div class="muted">halt</div><div id="halt" class="running">—</div></div>
 <div class="card"><div class="muted">version</div><div id="version" style="font-size:1.6em">—</div><div id="age" class="muted"></div></div>
 <div class="card"><div class="muted">last writer</div><div id="writer">—</div></div>
 <div class="card"><div class="muted">risk limits</div><div id="limits">—</div></div>
</div>
<h2>State</h2><pre id="state">—</pre>
<h2>Readers</h2><table><thead><tr><th>label</th><th>via</th><th>pid</th><th>loaded</th><th>applied</th><th>lag</th><th>rejected</th></tr></thead><tbody id="readers"></tbody></table>
<h2>Last minutes</h2>
<div class="row"><div><div class="muted">commits per 10 s</div><svg id="rate" width="360" height="90"></svg></div>
<div><div class="muted">delay from rename to sidecar (ms), per version</div><svg id="delay" width="360" height="90"></svg></div></div>
<script>
"use strict";
const $ = id => document.getElementById(id);
let previous = null, current = null, lastVersion = null, commits = [], delays = [];
function flatten(value, path, out) {
  if (value && typeof value === "object" && !Array.isArray(value)) { for (const k of Object.keys(value)) flatten(value[k], path + "/" + k, out); }
  else out[path] = JSON.stringify(value);
  return out;
}
function render(event) {
  const s = event.state; current = event;
  const halted = s && s.halt === true;
  $("halt").textContent = halted ? "HALTED" : (s && s.halt === false ? "running" : String(s && s.halt));
  $("halt").className = halted ? "halted" : "running";
  $("version").textContent = event.version;
  $("writer").textContent = event.writer.label + " (pid " + event.writer.pid + " on " + event.writer.host + ")";
  const limits = s && (s.risk || s.limits);
  $("limits").textContent = limits ? JSON.stringify(limits) : "—";
  const before = previous ? flatten(previous, "", {}) : {}, after = flatten(s, "", {});
  const text = JSON.stringify(s, null, 2).split("\n");
  const changed = Object.keys(after).filter(k => before[k] !== after[k]).map(k => k.split("/").pop());
  $("state").innerHTML = text.map(line => {
    const m = line.match(/^\s*"([^"]+)":/); const esc = line.replace(/[&<>]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;"}[c]));
    return previous && m && changed.includes(m[1]) ? '<span class="changed">' + esc + "</span>" : esc;
  }).join("\n");
  previous = s;
}
function tick() {
  if (current) $("age").textContent = "committed " + ((Date.now() - Date.parse(current.committedAt)) / 1000).toFixed(1) + " s ago";
  const now = Date.now(); commits = commits.filter(t => now - t < 300000); delays = delays.slice(-120);
  const bins = new Array(30).fill(0); for (const t of commits) bins[29 - Math.floor((now - t) / 10000)]++;
  chart($("rate"), bins); chart($("delay"), delays);
}
function chart(svg, values) {
  const w = +svg.getAttribute("width"), h = +svg.getAttribute("height"), max = Math.max(1, ...values);
  const xy = values.map((v, i) => [values.length < 2 ? w / 2 : 4 + i * (w - 8) / (values.length - 1), h - 4 - v * (h - 20) / max]);
  const dots = values.length <= 60 ? xy.map(([x, y]) => '<circle cx="' + x.toFixed(1) + '" cy="' + y.toFixed(1) + '" r="2" fill="#2a6fd6"/>').join("") : "";
  svg.innerHTML = '<polyline fill="none" stroke="#2a6fd6" stroke-width="1.5" points="' + xy.map(p => p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" ") + '"/>' + dots +
    '<text x="4" y="12" font-size="10" fill="#777">max ' + max.toFixed(1) + "</text>";
}
// Readers grouped by host (a store on etcd has readers on several; a host whose readers' state is
// unknown, its mirror cut off, is shown with when it was last heard of and its readers greyed).
function readerRow(r, muted) {
  return '<tr' + (muted ? ' class="muted"' : "") + "><td>" + esc(r.label) + "</td><td>" + esc(r.connection ?? "local") + "</td><td>" + r.pid + "</td><td>" + (r.loadedVersion ?? "—") + "</td><td>" + (r.appliedVersion ?? "—") +
    '</td><td class="' + (r.lagVersions && !muted ? "lag" : "") + '">' + (muted ? "unknown" : (r.lagVersions ?? "—")) + "</td><td>" + (r.rejectedVersion != null ? r.rejectedVersion + ": " + esc(r.rejectedError) : "") + "</td></tr>";
}
async function readers() {
  try {
    const listing = await (await fetch("readers?all")).json();
    const hosts = new Map();
    for (const r of listing.readers) { if (!hosts.has(r.host)) hosts.set(r.host, []); hosts.get(r.host).push(r); }
    let html = "";
    for (const host of [...hosts.keys()].sort()) {
      const list = hosts.get(host);
      html += '<tr class="host"><th colspan="7">' + esc(host) + " — " + list.length + " reader" + (list.length == 1 ? "" : "s") + "</th></tr>" + list.map(r => readerRow(r, false)).join("");
    }
    for (const host of listing.unreachableHosts ?? []) {
      html += '<tr class="host unreachable"><th colspan="7" class="lag">' + esc(host.summary) + "</th></tr>" + host.readers.map(r => readerRow(r, true)).join("");
    }
    $("readers").innerHTML = html || '<tr><td colspan="7" class="muted">no registered reader</td></tr>';
  } catch (e) { }
}
function esc(text) { return String(text).replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;"}[c])); }
fetch("status").then(r => r.json()).then(s => { $("store").textContent = s.store; });
// The charts start from what the sidecar already knows: recent commits (history and its own) and delays.
let seeded = false;
const seeding = fetch("recent").then(r => r.json()).then(r => {
  commits = r.commitTimes.concat(commits); delays = r.delaysMs.concat(delays); seeded = true; tick();
}).catch(() => { seeded = true; });
// The readers table follows acknowledgements: fetched at most once a second after a version, and every 5 s.
let readersTimer = null;
function readersSoon() { if (!readersTimer) readersTimer = setTimeout(() => { readersTimer = null; readers(); }, 1000); }
function connect() {
  const source = new EventSource("events");
  source.addEventListener("open", () => { $("connection").textContent = "live"; });
  // EventSource retries by itself after a dropped connection, but gives up on an error status
  // (503 when the sidecar's stream limit is reached): then try again every 5 s.
  source.addEventListener("error", () => {
    $("connection").textContent = "reconnecting…";
    if (source.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
  });
  source.addEventListener("version", m => {
    const event = JSON.parse(m.data); render(event);
    // The first event of a stream is the current version, not a commit; a gap counts by the jump.
    if (lastVersion !== null) for (let v = lastVersion + 1; v <= event.version && v < lastVersion + 1000; v++) commits.push(Date.now());
    lastVersion = event.version;
    if (event.propagationSeconds != null) delays.push(event.propagationSeconds * 1000);
    tick(); readersSoon();
  });
  source.addEventListener("reset", () => { previous = null; lastVersion = null; });
}
connect();
setInterval(tick, 1000); setInterval(readers, 5000); readers();
</script></body></html>
"""#
}
