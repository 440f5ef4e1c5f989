// livedet web view: one MJPEG <img> per source, /api/stats polled every second,
// events pushed by /api/events (Server-Sent Events). The token, if the page was opened with
// ?token=..., is passed on to every request (an <img> or EventSource cannot send headers).
"use strict";
const token = new URLSearchParams(location.search).get("token");
const withToken = (url) => token ? url + (url.includes("?") ? "&" : "?") + "token=" +
  encodeURIComponent(token) : url;
const cards = new Map();
const MAX_EVENTS = 50;

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
  if (text) node.textContent = text;
  return node;
}

function streamUrl(name) {
  return withToken("stream.mjpg?source=" + encodeURIComponent(name));
}

function card(name) {
  if (cards.has(name)) return cards.get(name);
  const box = el("div", {class: "card", "data-source": name});
  const title = el("h3");
  title.append(el("span", {}, name), el("span", {class: "badge"}, "…"));
  const img = el("img", {alt: "live view of " + name, src: streamUrl(name)});
  // A dropped stream (viewer limit, restart, network) is retried, not left broken.
  img.addEventListener("error", () => setTimeout(() => { img.src = streamUrl(name); }, 3000));
  const facts = el("dl");
  box.append(title, img, facts);
  document.getElementById("sources").append(box);
  const entry = {box, badge: title.lastChild, facts};
  cards.set(name, entry);
  return entry;
}

const fmt = (v, digits = 1) => v === undefined || v === null ? "–" :
  typeof v === "number" ? v.toFixed(Number.isInteger(v) ? 0 : digits) : String(v);

function duration(seconds) {
  if (seconds === undefined || seconds === null) return "–";
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.floor(s % 3600 / 60)} min`
       : s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

function showSource(name, s) {
  const {badge, facts} = card(name);
  const state = s.state || (s.frame_age_s !== undefined ? "live" : "waiting");
  badge.textContent = state + (state !== "live" && s.outage_s ? " " + duration(s.outage_s) : "");
  badge.className = "badge " + (state === "live" ? "ok" : "warn");
  const latency = typeof s.latency_ms === "object" && s.latency_ms ? s.latency_ms.p50 : s.latency_ms;
  const rows = [["fps", fmt(s.fps)], ["dropped", fmt(s.dropped)], ["latency ms", fmt(latency, 0)],
                ["uptime", duration(s.uptime_s)], ["frame age", fmt(s.frame_age_s, 2) + " s"],
                ["frames", fmt(s.frames_published)]];
  facts.replaceChildren(...rows.map(([k, v]) => {
    const pair = el("div"); pair.append(el("dt", {}, k), el("dd", {}, v)); return pair;
  }));
}

function showCounts(counts) {
  const body = document.querySelector("#counts tbody");
  if (!counts || !Object.keys(counts).length) return;
  const flat = [];
  const walk = (prefix, v) => typeof v === "object" && v !== null
    ? Object.entries(v).forEach(([k, w]) => walk(prefix ? prefix + " " + k : k, w))
    : flat.push([prefix, v]);
  walk("", counts);
  body.replaceChildren(...flat.map(([k, v]) => {
    const tr = el("tr"); tr.append(el("td", {}, k), el("td", {}, fmt(v))); return tr;
  }));
}

async function refresh() {
  const health = document.getElementById("health");
  try {
    const response = await fetch(withToken("api/stats"), {cache: "no-store"});
    if (!response.ok) throw new Error("HTTP " + response.status);
    const stats = await response.json();
    Object.entries(stats.sources || {}).forEach(([name, s]) => showSource(name, s));
    showCounts(stats.counts);
    health.textContent = stats.health.ok ? "healthy" : "unhealthy: " + stats.health.reason;
    health.className = "badge " + (stats.health.ok ? "ok" : "bad");
    document.getElementById("updated").textContent =
      "updated " + new Date().toLocaleTimeString();
  } catch (error) {
    health.textContent = "no connection (" + error.message + ")";
    health.className = "badge bad";
  }
}

function describe(event) {
  const time = event.time || event.timestamp;
  const when = typeof time === "number" && time > 1e9
    ? new Date(time * 1000).toLocaleTimeString() : (time ?? "");
  const rest = Object.entries(event).filter(([k]) => !["time", "timestamp"].includes(k))
    .map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" ");
  return (when ? when + "  " : "") + rest;
}

function listenForEvents() {
  const list = document.getElementById("events");
  const source = new EventSource(withToken("api/events"));
  source.onmessage = (message) => {
    list.prepend(el("li", {}, describe(JSON.parse(message.data))));
    while (list.children.length > MAX_EVENTS) list.lastChild.remove();
  };
}

refresh();
setInterval(refresh, 1000);
listenForEvents();
