// livedet web view: one MJPEG <img> per source, /api/stats fetched at once and then every second,
// events pushed by /api/events (Server-Sent Events), each with a thumbnail of its moment.
// The token, if the page was opened with ?token=..., is passed on to every request (an <img> or
// EventSource cannot send headers). Everything shown is set as text, never parsed as HTML.
"use strict";
const token = new URLSearchParams(location.search).get("token");
const withToken = (url) => token ? url + (url.includes("?") ? "&" : "?") + "token=" +
  encodeURIComponent(token) : url;
const cards = new Map();
const MAX_EVENTS = 50;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== ""));
  return node;
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const fmt = (v, digits = 1) => v === undefined || v === null ? "–" :
  typeof v === "number" ? v.toFixed(Number.isInteger(v) ? 0 : digits) : String(v);
const count = (v) => typeof v === "number" ? v.toLocaleString() : "0";

function duration(seconds) {
  if (seconds === undefined || seconds === null) return "–";
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.floor(s % 3600 / 60)} min`
       : s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

// ---- sources ----

function streamUrl(name) {
  return withToken("stream.mjpg?source=" + encodeURIComponent(name));
}

function card(name) {
  if (cards.has(name)) return cards.get(name);
  const badge = el("span", {class: "badge"}, "…");
  const img = el("img", {alt: "live view of " + name, src: streamUrl(name)});
  // A dropped stream (viewer limit, restart, network) is retried, not left broken.
  img.addEventListener("error", () => setTimeout(() => { img.src = streamUrl(name); }, 3000));
  const facts = el("dl");
  const box = el("div", {class: "card", "data-source": name},
                 el("h3", {}, el("span", {class: "name"}, name), badge), img, facts);
  document.getElementById("sources").append(box);
  const entry = {badge, facts};
  cards.set(name, entry);
  return entry;
}

function showSource(name, s) {
  const {badge, facts} = card(name);
  let state = s.state || "waiting";
  // The pipeline calls a source live as soon as it opened; the page says so once it shows it.
  if (state === "live" && s.frames_published === undefined) state = "starting";
  badge.textContent = state + (state !== "live" && s.outage_s ? " " + duration(s.outage_s) : "");
  badge.className = "badge state " + (state === "live" ? "ok" : "warn");
  const latency = typeof s.latency_ms === "object" && s.latency_ms ? s.latency_ms.p50 : s.latency_ms;
  const rows = [["fps", fmt(s.fps)], ["dropped", fmt(s.dropped)], ["latency ms", fmt(latency, 0)],
                ["uptime", duration(s.uptime_s)],
                ["frame age", s.frame_age_s === undefined ? "no frame yet" : fmt(s.frame_age_s, 2) + " s"],
                ["frames", fmt(s.frames_published ?? 0)]];
  if (s.detect_on === "motion")  // motion gating: how much of the model's work the gate saved
    rows.push(["detections", fmt(s.detections_run ?? 0) + " run, " + fmt(s.detections_skipped ?? 0) + " skipped"]);
  facts.replaceChildren(...rows.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v))));
}

// ---- counts: per source, a table of lines (in, out) and one of zones, classes below each ----

function countsTable(kind, rows, columns) {
  const head = el("tr", {}, el("th", {}, kind), ...columns.map(([title]) => el("th", {}, title)));
  const body = el("tbody");
  for (const [name, figures] of rows) {
    const label = el("td", {class: "name"}, name);
    if (figures.mean_dwell_s !== undefined && figures.mean_dwell_s !== null) {
      label.append(el("small", {}, "avg stay " + duration(figures.mean_dwell_s)));
    }
    body.append(el("tr", {class: "total", ["data-" + kind.toLowerCase()]: name}, label,
                   ...columns.map(([, key]) => el("td", {class: "n"}, count(figures[key])))));
    for (const [cls, byClass] of Object.entries(figures.by_class || {})) {
      body.append(el("tr", {class: "by-class"}, el("td", {}, cls),
                     ...columns.map(([, key]) => el("td", {class: "n"}, count(byClass[key])))));
    }
  }
  return el("table", {class: kind.toLowerCase() + "s"}, el("thead", {}, head), body);
}

function showCounts(counts) {
  const box = document.getElementById("counts");
  const sections = [];
  let lineCount = 0, zoneCount = 0;
  for (const [source, c] of Object.entries(counts || {})) {
    const lines = Object.entries(c.lines || {}), zones = Object.entries(c.zones || {});
    if (!lines.length && !zones.length) continue;
    lineCount = Math.max(lineCount, lines.length);
    zoneCount = Math.max(zoneCount, zones.length);
    const section = el("section", {class: "counted", "data-source": source}, el("h3", {}, source));
    if (lines.length) section.append(countsTable("Line", lines, [["In", "in"], ["Out", "out"]]));
    if (zones.length) {
      section.append(countsTable("Zone", zones,
        [["Inside", "inside"], ["Entries", "entries"], ["Exits", "exits"]]));
    }
    sections.push(section);
  }
  if (!sections.length) {
    box.replaceChildren(el("p", {class: "muted"}, "counting is off (no --line or --zone)"));
    return "counting off";
  }
  box.replaceChildren(...sections);
  const what = [lineCount && plural(lineCount, "line"), zoneCount && plural(zoneCount, "zone")];
  return "counting " + what.filter(Boolean).join(", ");
}

// ---- stats ----

async function refresh() {
  const health = document.getElementById("health");
  try {
    const response = await fetch(withToken("api/stats"), {cache: "no-store"});
    if (!response.ok) throw new Error("HTTP " + response.status);
    const stats = await response.json();
    const sources = Object.entries(stats.sources || {});
    sources.forEach(([name, s]) => showSource(name, s));
    const counting = showCounts(stats.counts);
    document.getElementById("summary").textContent =
      [sources.length ? plural(sources.length, "source") : "no source yet", counting,
       plural(stats.frames_out ?? 0, "frame")].join(" · ");
    health.textContent = stats.health.ok ? "healthy" : "unhealthy: " + stats.health.reason;
    health.className = "badge " + (stats.health.ok ? "ok" : "bad");
    document.getElementById("updated").textContent =
      "updated " + new Date().toLocaleTimeString();
  } catch (error) {
    health.textContent = "no connection (" + error.message + ")";
    health.className = "badge bad";
  }
}

// ---- events: "person #12 crossed door (in)", when, where, and the frame of that moment ----

function what(e) {
  const who = (e.label || "object") + (e.track_id !== undefined ? " #" + e.track_id : "");
  const stay = e.dwell_s !== undefined && e.dwell_s !== null ? " after " + duration(e.dwell_s) : "";
  switch (e.event) {
    case "cross": return `${who} crossed ${e.line}` + (e.direction ? ` (${e.direction})` : "");
    case "enter": return `${who} entered ${e.zone}`;
    case "appear": return `${who} appeared`;
    case "exit": return `${who} left ${e.zone}${e.lost ? " (lost from view)" : ""}${stay}`;
    default: {
      const meta = ["wall_time", "thumbnail", "id", "t", "source", "clip", "clip_t", "snapshot",
                    "crop", "snapshot_url"];
      return Object.entries(e).filter(([k]) => !meta.includes(k))
        .map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
    }
  }
}

function when(e) {
  if (typeof e.wall_time !== "number") return "";
  const at = new Date(e.wall_time * 1000);
  const sameDay = at.toDateString() === new Date().toDateString();
  return sameDay ? at.toLocaleTimeString() : at.toLocaleString();
}

function eventRow(e, id) {
  const thumb = e.thumbnail
    ? el("img", {class: "thumb", src: withToken(e.thumbnail), alt: "the frame of this event"})
    : el("div", {class: "thumb none"});
  // Gone (an old event after a restart, a source that ended): keep the row's shape, no icon.
  thumb.addEventListener("error", () => thumb.replaceWith(el("div", {class: "thumb none"})));
  const meta = el("div", {class: "meta"}, [when(e), e.source].filter(Boolean).join(" · "));
  // --clips: the thumbnail opens the object's best picture (snapshot) in a new tab.
  const picture = e.snapshot_url
    ? el("a", {href: withToken(e.snapshot_url), target: "_blank", rel: "noopener"}, thumb) : thumb;
  const row = el("li", {class: "event", "data-id": id}, picture,
                 el("div", {}, el("div", {class: "what"}, what(e)), meta));
  if (typeof e.t === "number") row.title = `source time ${e.t.toFixed(1)} s`;
  return row;
}

function listenForEvents() {
  const list = document.getElementById("events");
  const source = new EventSource(withToken("api/events"));
  source.onmessage = (message) => {
    list.querySelector(".empty")?.remove();
    list.prepend(eventRow(JSON.parse(message.data), message.lastEventId));
    while (list.children.length > MAX_EVENTS) list.lastChild.remove();
  };
}

refresh();
setInterval(refresh, 1000);
listenForEvents();
