// Acorn HQ live updates: one EventSource, store tiles and alarm tables patched in place.
(function () {
  "use strict";
  var live = document.getElementById("live");

  function ago(iso) {
    if (!iso) { return "never"; }
    var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 60) { return s + " s ago"; }
    if (s < 3600) { return Math.floor(s / 60) + " min ago"; }
    if (s < 86400) { return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min ago"; }
    return Math.floor(s / 86400) + " d ago";
  }

  function duration(s) {
    if (s === null || s === undefined) { return "—"; }
    if (s < 60) { return s + " s"; }
    if (s < 3600) { return Math.floor(s / 60) + " min " + (s % 60) + " s"; }
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }

  function setText(root, selector, text) {
    var el = root.querySelector(selector);
    if (el) { el.textContent = text; }
    return el;
  }

  function updateTile(t) {
    var tiles = document.querySelectorAll('[data-store-id="' + CSS.escape(t.store_id) + '"]');
    tiles.forEach(function (tile) {
      tile.classList.toggle("online", t.online);
      tile.classList.toggle("offline", !t.online);
      setText(tile, ".state", t.online ? "online" : "offline");
      var seen = setText(tile, ".f-last-seen", ago(t.last_seen_at));
      if (seen) { seen.setAttribute("data-ts", t.last_seen_at || ""); }
      setText(tile, ".f-lag", duration(t.sync_lag_s));
      setText(tile, ".f-outbox", t.outbox_depth === null ? "—" : String(t.outbox_depth));
    });
  }

  function refreshAlarms(open) {
    var badge = document.getElementById("alarm-count");
    if (badge) {
      badge.textContent = String(open);
      badge.classList.toggle("hot", open > 0);
    }
    document.querySelectorAll("table[data-fragment]").forEach(function (table) {
      fetch(table.getAttribute("data-fragment"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          // Server-rendered, autoescaped rows of this dashboard (same origin).
          table.tBodies[0].innerHTML = html;
        })
        .catch(function () { /* the next event retries */ });
    });
  }

  function tick() {
    document.querySelectorAll(".f-last-seen[data-ts]").forEach(function (el) {
      var ts = el.getAttribute("data-ts");
      if (ts) { el.textContent = ago(ts); }
    });
  }

  if (window.EventSource) {
    var first = true;
    var source = new EventSource("/dashboard/events");
    source.onopen = function () { if (live) { live.classList.add("on"); } };
    source.onerror = function () { if (live) { live.classList.remove("on"); } };
    source.addEventListener("stores", function (e) {
      JSON.parse(e.data).forEach(updateTile);
    });
    source.addEventListener("alarms", function (e) {
      var info = JSON.parse(e.data);
      if (first) { first = false; } else { refreshAlarms(info.open); }
      var badge = document.getElementById("alarm-count");
      if (badge) { badge.textContent = String(info.open); badge.classList.toggle("hot", info.open > 0); }
    });
    source.addEventListener("signed_out", function () {
      source.close();
      window.location.href = "/dashboard/login?next=" + encodeURIComponent(window.location.pathname);
    });
  }
  window.setInterval(tick, 10000);
}());
