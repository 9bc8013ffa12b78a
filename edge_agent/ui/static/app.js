// Acorn till: the sell and login screens. Plain JS, served from the box (no internet in a store).
// Every action goes through the JSON API under /api; the server is the source of truth.
"use strict";

const $ = (sel) => document.querySelector(sel);

async function api(method, path, body) {
  const options = { method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch("/api" + path, options);
  let data = {};
  try { data = await response.json(); } catch (e) { data = {}; }
  if (response.status === 401 && !path.startsWith("/login")) {
    window.location.href = "/login";
  }
  if (!response.ok) {
    const err = new Error(data.message || ("request failed (" + response.status + ")"));
    err.code = data.error; err.status = response.status; err.data = data;
    throw err;
  }
  return data;
}

function say(text, ok) {
  const el = $("#message");
  if (!el) return;
  el.textContent = text || "";
  el.classList.toggle("ok", !!ok);
}

function uuid4() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
}

// ---------------------------------------------------------------- status bar (both pages)

function age(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  if (seconds < 90) return Math.round(seconds) + " s";
  if (seconds < 5400) return Math.round(seconds / 60) + " min";
  return Math.round(seconds / 3600) + " h";
}

async function refreshStatus() {
  try {
    const s = await api("GET", "/status");
    const link = $("#link");
    if (link) {
      link.className = "link " + s.sync.state;
      const queued = s.queued_events;
      let text = s.online ? "Online" : (s.sync.state === "auth_failed" ? "Offline: login refused" : "Offline");
      if (queued) text += " · " + queued + " queued, oldest " + age(s.oldest_unsynced_age_s);
      link.textContent = text;
      link.title = s.sync.message;
    }
    if ($("#store")) $("#store").textContent = s.store_name || s.store_id;
    if ($("#day")) $("#day").textContent = s.business_day;
    if ($("#shift")) $("#shift").textContent = s.shift ? "Shift open" : "No shift open";
  } catch (e) { /* the next poll tries again */ }
}

// ---------------------------------------------------------------- login page

function setupLogin() {
  const pin = $("#pin");
  document.querySelectorAll(".keypad .key").forEach((key) => {
    key.addEventListener("click", () => {
      const k = key.textContent;
      if (k === "C") pin.value = "";
      else if (k === "⌫") pin.value = pin.value.slice(0, -1);
      else pin.value += k;
    });
  });
  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      await api("POST", "/login", { cashier_id: $("#cashier-id").value, pin: pin.value });
      window.location.href = "/";
    } catch (e) { say(e.message); pin.value = ""; }
  });
  refreshStatus();
  setInterval(refreshStatus, 5000);
}

// ---------------------------------------------------------------- sell page

let cart = null;
let lastReceipt = null;

function renderCart(c) {
  cart = c;
  const tbody = $("#lines");
  tbody.textContent = "";
  for (const line of c.lines) {
    const tr = document.createElement("tr");
    const cells = [line.name, null, line.unit_price.text, line.discount.minor ? "-" + line.discount.text : "", line.total.text];
    cells.forEach((text, i) => {
      const td = document.createElement("td");
      if (i === 1) {
        const minus = button("−", () => changeQty(line, line.qty - 1));
        const plus = button("+", () => changeQty(line, line.qty + 1));
        const q = document.createElement("span"); q.textContent = " " + line.qty + " ";
        td.append(minus, q, plus);
      } else { td.textContent = text; }
      tr.appendChild(td);
    });
    const td = document.createElement("td");
    td.append(button("✕", () => act(api("DELETE", "/cart/lines/" + line.line_no))));
    tr.appendChild(td);
    tbody.appendChild(tr);
  }
  $("#subtotal").textContent = c.subtotal.text;
  $("#discounts").textContent = c.discounts.minor ? "-" + c.discounts.text : c.discounts.text;
  $("#tax").textContent = c.tax.text;
  $("#total").textContent = c.total.text + " " + c.currency;
  if (c.lines.length) api("GET", "/orders/walk-in-check").then((w) => { if (w.warnings.length) say(w.warnings.join(" ")); }).catch(() => {});
}

function button(text, onClick) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

async function act(promise, okText) {
  try {
    const data = await promise;
    if (data.cart) renderCart(data.cart);
    say(okText || "", true);
    return data;
  } catch (e) {
    say(e.message);
    return null;
  } finally { focusScan(); }
}

function changeQty(line, qty) {
  if (qty < 1) return act(api("DELETE", "/cart/lines/" + line.line_no));
  return act(api("PATCH", "/cart/lines/" + line.line_no, { qty }));
}

function focusScan() {
  const dlg = $("#dialog");
  if (dlg && dlg.open) return;
  const scan = $("#scan");
  if (scan && document.activeElement !== scan && document.activeElement !== $("#qty")) scan.focus();
}

async function onScan(ev) {
  ev.preventDefault();
  const text = $("#scan").value.trim();
  const qty = parseInt($("#qty").value, 10) || 1;
  $("#scan").value = ""; $("#qty").value = 1;
  $("#results").textContent = "";
  if (!text) return;
  if (/^\d+$/.test(text)) {
    const data = await act(api("POST", "/cart/scan", { code: text, qty }));
    if (data) say("Added " + data.cart.lines[data.cart.lines.length - 1].name, true);
    return;
  }
  try {
    const found = await api("GET", "/products?q=" + encodeURIComponent(text));
    if (!found.products.length) { say("Nothing found for “" + text + "”."); return; }
    for (const p of found.products) {
      const li = document.createElement("li");
      li.append(button(p.name + " — " + p.price.text + " (" + p.sku + ")", async () => {
        $("#results").textContent = "";
        await act(api("POST", "/cart/items", { sku: p.sku, qty }), "Added " + p.name);
      }));
      $("#results").appendChild(li);
    }
    say("");
  } catch (e) { say(e.message); }
}

// A small form dialog: fields [{name, label, type, value}] -> values, or null when cancelled.
function ask(title, fields, okText) {
  const dlg = $("#dialog");
  $("#dialog-title").textContent = title;
  $("#dialog-message").textContent = "";
  $("#dialog-ok").textContent = okText || "OK";
  const box = $("#dialog-fields");
  box.textContent = "";
  for (const f of fields) {
    const label = document.createElement("label");
    label.textContent = f.label + " ";
    let input;
    if (f.type === "select") {
      input = document.createElement("select");
      for (const [value, text] of f.options) {
        const o = document.createElement("option"); o.value = value; o.textContent = text; input.appendChild(o);
      }
    } else if (f.type === "text-block") {
      input = document.createElement("div"); input.className = "report"; input.textContent = f.value;
    } else {
      input = document.createElement("input");
      input.type = f.type || "text";
      if (f.type === "number") input.inputMode = "numeric";
    }
    input.name = f.name || "";
    if (f.value !== undefined && f.type !== "text-block") input.value = f.value;
    label.appendChild(input);
    box.appendChild(label);
  }
  return new Promise((resolve) => {
    const form = $("#dialog-form");
    const done = (result) => {
      form.onsubmit = null; $("#dialog-cancel").onclick = null;
      dlg.close(); focusScan(); resolve(result);
    };
    form.onsubmit = (ev) => {
      ev.preventDefault();
      const values = {};
      for (const f of fields) if (f.name) values[f.name] = form.elements[f.name].value;
      done(values);
    };
    $("#dialog-cancel").onclick = () => done(null);
    dlg.showModal();
    const first = box.querySelector("input, select");
    if (first) first.focus();
  });
}

// Retry an action with a manager's approval when the server says one is needed.
async function withApproval(run) {
  try { return await run(undefined); } catch (e) {
    if (e.code !== "approval_required") throw e;
    const v = await ask(e.message + " Manager, enter your id and PIN.", [
      { name: "manager_id", label: "Manager id" },
      { name: "pin", label: "PIN", type: "password" },
    ], "Approve");
    if (!v) throw new Error("Not approved; nothing changed.");
    return run({ manager_id: v.manager_id, pin: v.pin });
  }
}

function toMinor(text) {
  // "12.50" -> 1250 for 2-decimal currencies; the server's figures tell the exponent.
  const exp = cart && cart.total.text.includes(".") ? cart.total.text.split(".")[1].length : 0;
  const [whole, frac = ""] = String(text).trim().split(".");
  return parseInt(whole || "0", 10) * 10 ** exp + parseInt((frac + "0".repeat(exp)).slice(0, exp) || "0", 10);
}

async function pay(tenders) {
  const data = await act(api("POST", "/cart/complete", { cart_id: cart.cart_id, tenders }));
  if (!data) return;
  const sale = data.sale;
  lastReceipt = sale.receipt_no;
  const box = $("#last-sale");
  box.textContent = "";
  const head = document.createElement("div"); head.textContent = "Receipt " + sale.receipt_no + " · total " + sale.total.text;
  const change = document.createElement("div"); change.className = "change"; change.textContent = "Change due: " + sale.change.text;
  box.append(head, change);
  say("Sale complete.", true);
  refreshStatus();
}

const actions = {
  "cash-exact": () => cart && pay([{ kind: "cash", amount_minor: cart.total.minor }]),
  "cash": async () => {
    const v = await ask("Cash tendered (total " + cart.total.text + ")", [{ name: "amount", label: "Amount", value: cart.total.text }], "Take cash");
    if (v) await pay([{ kind: "cash", amount_minor: toMinor(v.amount) }]);
  },
  "card": async () => {
    const v = await ask("Card payment (total " + cart.total.text + ")", [
      { name: "amount", label: "Amount", value: cart.total.text },
      { name: "reference", label: "Terminal reference" },
    ], "Take card");
    if (v) await pay([{ kind: "card", amount_minor: toMinor(v.amount), reference: v.reference }]);
  },
  "discount": async () => {
    const lines = cart.lines.map((l) => [String(l.line_no), l.line_no + ": " + l.name]);
    const v = await ask("Discount", [
      { name: "target", label: "On", type: "select", options: [["cart", "Whole sale"], ...lines] },
      { name: "kind", label: "Kind", type: "select", options: [["percent", "Percent"], ["amount", "Amount"]] },
      { name: "value", label: "Value (% or amount)" },
      { name: "reason", label: "Reason" },
    ], "Apply");
    if (!v) return;
    const value = v.kind === "percent" ? Math.round(parseFloat(v.value) * 100) : toMinor(v.value);
    const path = v.target === "cart" ? "/cart/discount" : "/cart/lines/" + v.target + "/discount";
    await act(withApproval((approval) => api("POST", path, { kind: v.kind, value, reason: v.reason, approval })), "Discount applied.");
  },
  "void": async () => {
    const v = await ask("Void this sale?", [{ name: "reason", label: "Reason" }], "Void");
    if (v) await act(withApproval((approval) => api("POST", "/cart/void", { reason: v.reason, approval })), "Sale voided.");
  },
  "reprint": async () => {
    if (!lastReceipt) {
      const recent = await api("GET", "/sales?limit=1");
      if (!recent.sales.length) { say("No sale to reprint yet."); return; }
      lastReceipt = recent.sales[0].receipt_no;
    }
    const data = await act(api("POST", "/sales/" + encodeURIComponent(lastReceipt) + "/reprint"));
    if (data) say(data.print_job ? "Receipt " + lastReceipt + " sent to the printer." : "No printer configured; receipt " + lastReceipt + " shown on screen.", true);
  },
  "return": async () => {
    const v = await ask("Return", [
      { name: "receipt_no", label: "Receipt number (empty: no receipt)" },
      { name: "line_no", label: "Line number (with a receipt)" },
      { name: "code", label: "Barcode (without a receipt)" },
      { name: "qty", label: "Quantity", value: "1" },
      { name: "disposition", label: "Goods", type: "select", options: [["restock", "Back on the shelf"], ["write_off", "Damaged: write off"]] },
      { name: "reason", label: "Reason" },
    ], "Refund");
    if (!v) return;
    const qty = parseInt(v.qty, 10) || 1;
    const body = { return_id: uuid4(), reason: v.reason, refund_kind: "cash" };
    if (v.receipt_no) {
      body.receipt_no = v.receipt_no;
      body.lines = [{ line_no: parseInt(v.line_no, 10) || 1, qty, disposition: v.disposition }];
    } else {
      body.items = [{ code: v.code, qty, disposition: v.disposition }];
    }
    const data = await act(withApproval((approval) => api("POST", "/returns", { ...body, approval })));
    if (data) say("Refund " + data.return.refund_total.text + " in cash (" + data.return.receipt_no + ").", true);
  },
  "shift": async () => {
    const s = await api("GET", "/shift");
    if (!s.shift) {
      const v = await ask("Open shift: count the float", [{ name: "float", label: "Opening float", value: "0" }], "Open shift");
      if (v) await act(api("POST", "/shift/open", { opening_float_minor: toMinor(v.float) }), "Shift open.");
    } else {
      const v = await ask("Close shift: count the cash in the drawer", [{ name: "counted", label: "Counted cash" }], "Close shift");
      if (!v) return;
      const data = await act(api("POST", "/shift/close", { counted_cash_minor: toMinor(v.counted) }), "Shift closed.");
      if (data) await ask("Z report (shift)", [{ type: "text-block", label: "", value: JSON.stringify(data.report, null, 1) }], "Done");
    }
    refreshStatus();
  },
  "zreport": async () => {
    try {
      const data = await api("GET", "/reports/z");
      await ask("Z report " + data.report.business_day, [{ type: "text-block", label: "", value: JSON.stringify(data.report, null, 1) }], "Done");
    } catch (e) { say(e.message); }
  },
};

// A serial scanner (devices layer) reports scans over server-sent events; the scan field
// handles the keyboard wedge itself.
function listenToScanner() {
  if (!window.EventSource) return;
  const stream = new EventSource("/api/devices/scans/stream");
  stream.addEventListener("scan", async (ev) => {
    const scan = JSON.parse(ev.data);
    if (scan.source === "wedge") return;
    if (scan.outcome !== "accepted") { say(scan.message || "Scan not recognised."); return; }
    if (scan.kind !== "gtin") { say("Scanned " + scan.code + ": not a product barcode."); return; }
    const data = await act(api("POST", "/cart/scan", { code: scan.code }));
    if (data) say("Added " + data.cart.lines[data.cart.lines.length - 1].name, true);
  });
}

function setupSell() {
  $("#scan-form").addEventListener("submit", onScan);
  document.querySelectorAll("[data-action]").forEach((b) => {
    b.addEventListener("click", async () => {
      try { await actions[b.dataset.action](); } catch (e) { say(e.message); } finally { focusScan(); }
    });
  });
  $("#logout").addEventListener("click", async () => { await api("POST", "/logout"); window.location.href = "/login"; });
  // The scan field keeps the focus: a keyboard-wedge scanner types wherever the focus is.
  $("#scan").addEventListener("blur", () => setTimeout(focusScan, 0));
  document.addEventListener("click", () => setTimeout(focusScan, 0));
  // A scanner can type before the focus is back (a click a moment ago): a key pressed
  // outside any field goes to the scan field, so no digit of a barcode is lost.
  document.addEventListener("keydown", (ev) => {
    const t = ev.target;
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (t && t.closest && t.closest("input, textarea, select, dialog")) return;
    if (ev.key.length === 1 || ev.key === "Enter") focusScan();
  }, true);
  api("GET", "/cart").then((d) => renderCart(d.cart)).catch((e) => say(e.message));
  api("GET", "/status").then((s) => { if (s.devices) listenToScanner(); }).catch(() => {});
  refreshStatus();
  setInterval(refreshStatus, 3000);
  focusScan();
}

document.addEventListener("DOMContentLoaded", () => {
  if (document.body.classList.contains("page-login")) setupLogin();
  if (document.body.classList.contains("page-sell")) setupSell();
});
