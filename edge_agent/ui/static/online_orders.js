// Online orders: list with a visible and audible alert for new orders; the fulfilment steps.
// Plain JS served from the box; the beep is synthesised with WebAudio (no sound file, no CDN).
"use strict";

const $ = (sel) => document.querySelector(sel);
const POLL_MS = 3000;

async function api(method, path, body) {
  const options = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch("/api" + path, options);
  let data = {};
  try { data = await response.json(); } catch (e) { data = {}; }
  if (response.status === 401) { window.location.href = "/login"; }
  if (!response.ok) {
    const err = new Error(data.message || ("request failed (" + response.status + ")"));
    err.code = data.error; err.status = response.status;
    throw err;
  }
  return data;
}

function say(text, ok) {
  const el = $("#message");
  if (!el) return;
  el.textContent = text || "";
  el.className = "message " + (ok ? "ok" : "error");
}

function text(tag, value, cls) {
  const el = document.createElement(tag);
  el.textContent = value === null || value === undefined ? "" : String(value);
  if (cls) el.className = cls;
  return el;
}

// --- sound -------------------------------------------------------------------------------
let audio = null;
let soundOn = localStorage.getItem("acorn.orders.sound") !== "off";

function beep() {
  if (!soundOn) return;
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    const t = audio.currentTime;
    [0, 0.25, 0.5].forEach((offset, i) => {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = i === 2 ? 1320 : 880;
      gain.gain.setValueAtTime(0.0001, t + offset);
      gain.gain.exponentialRampToValueAtTime(0.3, t + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + offset + 0.2);
      osc.connect(gain).connect(audio.destination);
      osc.start(t + offset);
      osc.stop(t + offset + 0.22);
    });
  } catch (e) { /* no audio device: the banner still shows */ }
}

function showSound() {
  const b = $("#sound");
  if (b) b.textContent = "Sound: " + (soundOn ? "on" : "off");
}

// --- list page ---------------------------------------------------------------------------
const seen = new Set(JSON.parse(sessionStorage.getItem("acorn.orders.seen") || "[]"));
let firstLoad = seen.size === 0;

async function loadList() {
  let data;
  try { data = await api("GET", "/orders"); } catch (e) { say(e.message); return; }
  const body = $("#orders");
  body.replaceChildren();
  const fresh = [];
  for (const o of data.orders) {
    const tr = document.createElement("tr");
    tr.dataset.order = o.order_id;
    if (o.active && !seen.has(o.order_id)) { tr.classList.add("new"); fresh.push(o.order_id); }
    if (o.active && o.overdue) tr.classList.add("overdue");
    if (!o.active) tr.classList.add("done");
    tr.appendChild(text("td", o.marketplace_order_id || o.order_id));
    tr.appendChild(text("td", o.lines.map((l) => l.qty + " × " + l.name).join(", ")));
    tr.appendChild(text("td", o.ship_by_local || "–", "ship-by"));
    tr.appendChild(text("td", o.status.replace("_", " "), "status"));
    const open = document.createElement("td");
    const a = text("a", o.active ? "Open" : "View", "button small");
    a.href = "/orders/" + encodeURIComponent(o.order_id);
    open.appendChild(a);
    tr.appendChild(open);
    body.appendChild(tr);
  }
  $("#open-count").textContent = String(data.open);
  $("#empty").hidden = data.orders.length > 0;
  const alertBox = $("#alert");
  if (fresh.length && !firstLoad) {
    alertBox.textContent = fresh.length === 1
      ? "New online order " + fresh[0] + ": accept or reject it now."
      : fresh.length + " new online orders: accept or reject them now.";
    alertBox.hidden = false;
    document.title = "(" + data.open + ") New online order · Acorn till";
    beep();
  }
  fresh.forEach((id) => seen.add(id));
  sessionStorage.setItem("acorn.orders.seen", JSON.stringify([...seen]));
  firstLoad = false;
}

// --- detail page -------------------------------------------------------------------------
const STEP_OF = { routed: "routed", accepted: "accepted", picked: "picked", packed: "packed" };

function renderOrder(o) {
  $("#status").textContent = o.status.replace("_", " ");
  $("#ship-by").textContent = o.ship_by_local || "–";
  const to = o.ship_to || {};
  $("#ship-to").textContent = [to.city, to.postal_code, to.country].filter(Boolean).join(" ");
  const body = $("#lines");
  body.replaceChildren();
  for (const l of o.lines) {
    const tr = document.createElement("tr");
    if (l.picked >= l.qty) tr.className = "line-done";
    tr.appendChild(text("td", l.name));
    tr.appendChild(text("td", l.sku));
    tr.appendChild(text("td", l.location || ""));
    tr.appendChild(text("td", l.picked + " / " + l.qty));
    body.appendChild(tr);
  }
  const step = STEP_OF[o.status] || "done";
  document.querySelectorAll(".steps > div").forEach((d) => d.classList.toggle("current", d.dataset.step === step));
  $("#cancelled").hidden = o.status !== "cancelled";
  if (step === "done") {
    $("#done-text").textContent = o.status === "handed_over"
      ? "Handed over to " + o.carrier + " (" + o.tracking_number + ")."
      : o.status === "rejected" ? "Rejected: " + (o.reject_reason || "").replace("_", " ") + "."
      : "This order was cancelled.";
  }
  if (step === "accepted") $("#scan").focus();
}

async function refresh(orderId) {
  try { renderOrder(await api("GET", "/orders/" + encodeURIComponent(orderId))); }
  catch (e) { say(e.message); }
}

function step(orderId, path, body, okText) {
  return api("POST", "/orders/" + encodeURIComponent(orderId) + path, body)
    .then((o) => { renderOrder(o.order || o); say(okText, true); return o; })
    .catch((e) => { say(e.message); if (e.code === "order_cancelled") refresh(orderId); });
}

function initDetail() {
  const orderId = document.body.dataset.order;
  $("#accept").addEventListener("click", () => step(orderId, "/accept", {}, "Accepted. Print the pick list and pick."));
  const reject = (ev) => {
    ev.preventDefault();
    const reason = $("#reject-reason").value;
    const body = { reason, note: $("#reject-note").value };
    if (reason === "out_of_stock") {
      const counts = {};
      for (const row of document.querySelectorAll("#lines tr")) {
        const sku = row.children[1].textContent;
        const answer = window.prompt("How many of " + row.children[0].textContent + " are on the shelf?", "0");
        if (answer === null) return;
        counts[sku] = Math.max(0, parseInt(answer, 10) || 0);
      }
      body.shelf_counts = counts;
    }
    step(orderId, "/reject", body, "Rejected; the order goes to another store.");
  };
  $("#reject-form").addEventListener("submit", reject);
  $("#reject-accepted").addEventListener("submit", (ev) => {
    ev.preventDefault();
    document.querySelector('.steps > div[data-step="routed"]').classList.add("current");
  });
  $("#print").addEventListener("click", () => step(orderId, "/print", {}, "Pick list sent to the printer."));
  $("#scan-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const code = $("#scan").value.trim();
    $("#scan").value = "";
    if (!code) return;
    step(orderId, "/scan", { code }, "").then((r) => {
      if (r && r.name) say(r.name + ": " + r.picked + " of " + r.qty + (r.order_complete ? ". All picked: pack it." : ""), true);
    });
  });
  $("#pack").addEventListener("click", () => step(orderId, "/pack", { parcels: parseInt($("#parcels").value, 10) || 1 }, "Packed. Hand it to the carrier."));
  $("#handover-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    step(orderId, "/hand-over", { carrier: $("#carrier").value, tracking_number: $("#tracking").value }, "Handed over.");
  });
  refresh(orderId);
  setInterval(() => refresh(orderId), POLL_MS * 2);
}

document.addEventListener("DOMContentLoaded", () => {
  const b = $("#sound");
  if (b) {
    showSound();
    b.addEventListener("click", () => {
      soundOn = !soundOn;
      localStorage.setItem("acorn.orders.sound", soundOn ? "on" : "off");
      showSound();
      if (soundOn) beep();
    });
  }
  if (document.body.dataset.page === "list") {
    loadList();
    setInterval(loadList, POLL_MS);
  } else {
    initDetail();
  }
});
