/* Sandan live updates: one WebSocket at /ws/ (session cookie), resumes from the last event
 * id kept in localStorage (`/ws/?after=<id>`), reconnects with backoff, and re-renders the page's live regions
 * ([data-live-src]) from the server when an event concerns them. While the socket is down,
 * the regions are polled every few seconds instead, so the page never goes stale. */
(function () {
  "use strict";
  var body = document.body;
  var userId = body.getAttribute("data-user");
  if (!userId) { return; }
  var KEY = "sandan.cursor." + userId;
  var text = (document.getElementById("js-text") || body).dataset;
  var statusEl = document.getElementById("live-status");
  var socket = null;
  var isOpen = false;
  var attempt = 0;
  var reconnectTimer = null;
  var pollTimer = null;
  var pingTimer = null;
  var pending = {};

  function cursor() { return parseInt(localStorage.getItem(KEY) || "0", 10) || 0; }
  function setCursor(id) { if (id > cursor()) { localStorage.setItem(KEY, String(id)); } }

  function setStatus(on) {
    if (!statusEl) { return; }
    statusEl.hidden = false;
    statusEl.setAttribute("data-state", on ? "on" : "off");
    statusEl.textContent = on ? text.live : text.offline;
  }

  // --- live regions -------------------------------------------------------------------------
  function regions() { return Array.prototype.slice.call(document.querySelectorAll("[data-live-src]")); }

  function versionOf(node) {
    var tagged = node.querySelector("[data-version]");
    return tagged ? tagged.getAttribute("data-version") : null;
  }

  // What someone typed into a region survives its re-rendering: a fresh state (say the task
  // just started) must not wipe the note a volunteer began while the page caught up.
  function fieldKey(field) {
    var owner = field.closest("[data-order]");
    var form = field.form;
    return [owner ? owner.getAttribute("data-order") : "", form ? form.getAttribute("action") : "",
      field.name, field.type === "radio" ? field.value : ""].join("|");
  }

  function typedFields(root) {
    var typed = [];
    root.querySelectorAll("input[name], textarea[name], select[name]").forEach(function (field) {
      if (field.type === "hidden" || field.type === "file" || field.type === "submit") { return; }
      var changed = field.type === "checkbox" || field.type === "radio"
        ? field.checked !== field.defaultChecked
        : field.tagName === "SELECT"
          ? Array.prototype.some.call(field.options, function (o) { return o.selected !== o.defaultSelected; })
          : field.value !== field.defaultValue;
      if (changed) { typed.push({ key: fieldKey(field), field: field }); }
    });
    return typed;
  }

  function restoreTyped(root, typed, focused) {
    if (!typed.length) { return; }
    var fresh = {};
    root.querySelectorAll("input[name], textarea[name], select[name]").forEach(function (field) {
      fresh[fieldKey(field)] = field;
    });
    typed.forEach(function (entry) {
      var field = fresh[entry.key];
      if (!field) { return; }  // the form is gone with the old state: nothing to put back
      if (field.type === "checkbox" || field.type === "radio") { field.checked = entry.field.checked; }
      else { field.value = entry.field.value; }
      if (entry.field === focused) { field.focus(); }
    });
  }

  // A burst of events (or polls) costs one request per region: refreshes are coalesced and
  // at most one per region is in flight.
  var SPACING_MS = 300;

  function refresh(region) {
    if (region._queued) { return; }
    var wait = Math.max(0, SPACING_MS - (Date.now() - (region._fetchedAt || 0)));
    region._queued = setTimeout(function () { region._queued = null; load(region); }, wait);
  }

  function load(region) {
    if (region._loading) { region._dirty = true; return; }
    region._fetchedAt = Date.now();
    region._loading = true;
    fetch(region.getAttribute("data-live-src"), { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (!response.ok || response.redirected) { throw new Error("not refreshed"); }
        return response.text();
      })
      .then(function (html) {
        var target = region.querySelector(".live-body") || region;
        if (html === region._lastHtml) { return; }
        var tpl = document.createElement("template");
        tpl.innerHTML = html;  // our own server's fragment; user text in it is escaped there
        region._lastHtml = html;
        // Same state as shown: keep the DOM, and with it whatever someone is typing.
        var fresh = versionOf(tpl.content);
        if (fresh !== null && fresh === versionOf(target)) { return; }
        var typed = typedFields(target);
        var focused = document.activeElement;
        target.replaceChildren(tpl.content);
        restoreTyped(target, typed, focused);
        region.dispatchEvent(new CustomEvent("sandan:refreshed", { bubbles: true }));
      })
      .catch(function () { /* next event or poll tries again */ })
      .then(function () {
        region._loading = false;
        if (region._dirty) { region._dirty = false; refresh(region); }
      });
  }

  function refreshAll() { regions().forEach(refresh); }

  function orderIdOf(payload) {
    if (!payload) { return null; }
    var o = payload.order;
    if (o && typeof o === "object") { return String(o.id); }
    return o === undefined || o === null ? null : String(o);
  }

  function refreshFor(kind, payload) {
    var orderId = orderIdOf(payload);
    regions().forEach(function (region) {
      var kinds = (region.getAttribute("data-live-kinds") || "").split(/\s+/);
      if (kinds.indexOf(kind) === -1) { return; }
      var only = region.getAttribute("data-live-order");
      if (only && orderId && only !== orderId) { return; }
      refresh(region);
    });
  }

  // --- socket ---------------------------------------------------------------------------------
  function send(frame) {
    if (!isOpen) { return false; }
    try { socket.send(JSON.stringify(frame)); return true; } catch (e) { return false; }
  }

  function handle(frame) {
    if (!frame || typeof frame.type !== "string") { return; }
    switch (frame.type) {
      case "hello":
        // A known cursor was sent in the URL (`?after=`): the server replays what was missed
        // before any live event, so the replay and live events arrive in order.
        if (cursor() === 0 && typeof frame.cursor === "number") { setCursor(frame.cursor); }
        refreshAll();  // whatever happened between rendering the page and connecting
        break;
      case "event":
        if (typeof frame.id === "number") {
          if (frame.id <= cursor()) { return; }  // a duplicate after a resume
          setCursor(frame.id);
        }
        document.dispatchEvent(new CustomEvent("sandan:event", { detail: frame }));
        refreshFor(frame.kind, frame.payload);
        break;
      case "resync":
        if (typeof frame.cursor === "number") { localStorage.setItem(KEY, String(frame.cursor)); }
        refreshAll();
        break;
      case "claim.result":
        var waiter = pending[frame.ref];
        if (waiter) { delete pending[frame.ref]; clearTimeout(waiter.timer); waiter.resolve(frame); }
        break;
      case "error":
        if (frame.ref && pending[frame.ref]) {
          var w = pending[frame.ref]; delete pending[frame.ref]; clearTimeout(w.timer); w.reject(frame);
        }
        break;
      default:
        break;  // pong and anything newer
    }
  }

  function startPolling() {
    stopPolling();
    pollTimer = setInterval(function () {
      regions().forEach(function (region) {
        // Regions that events cannot reach (staff boards) poll even with the socket open.
        if (!isOpen || region.getAttribute("data-live-poll")) { refresh(region); }
      });
    }, isOpen ? 10000 : 4000);
  }
  function stopPolling() { if (pollTimer) { clearInterval(pollTimer); pollTimer = null; } }

  function scheduleReconnect() {
    if (reconnectTimer) { return; }
    var delay = Math.min(30000, 1000 * Math.pow(2, attempt)) * (0.75 + Math.random() * 0.5);
    attempt += 1;
    reconnectTimer = setTimeout(function () { reconnectTimer = null; connect(); }, delay);
  }

  function connect() {
    if (!("WebSocket" in window)) { startPolling(); return; }
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + (body.getAttribute("data-ws") || "/ws/");
    if (cursor() > 0) { url += "?after=" + cursor(); }
    try { socket = new WebSocket(url); } catch (e) { startPolling(); scheduleReconnect(); return; }
    socket.onopen = function () {
      isOpen = true; attempt = 0; setStatus(true); startPolling();
      clearInterval(pingTimer);
      pingTimer = setInterval(function () { send({ type: "ping" }); }, 25000);
    };
    socket.onmessage = function (message) {
      var frame;
      try { frame = JSON.parse(message.data); } catch (e) { return; }
      handle(frame);
    };
    socket.onclose = function () {
      var was = isOpen;
      isOpen = false; setStatus(false); clearInterval(pingTimer);
      Object.keys(pending).forEach(function (ref) {
        var w = pending[ref]; delete pending[ref]; clearTimeout(w.timer); w.reject(new Error("closed"));
      });
      startPolling();
      if (was) { refreshAll(); }
      scheduleReconnect();
    };
    socket.onerror = function () { /* onclose follows */ };
  }

  function claim(orderId) {
    return new Promise(function (resolve, reject) {
      var ref = "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
      if (!send({ type: "claim", order: Number(orderId), ref: ref })) { reject(new Error("not connected")); return; }
      pending[ref] = {
        resolve: resolve, reject: reject,
        timer: setTimeout(function () { delete pending[ref]; reject(new Error("timeout")); }, 5000)
      };
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && !isOpen) {
      if (reconnectTimer) { clearTimeout(reconnectTimer); reconnectTimer = null; }
      attempt = 0; connect(); refreshAll();
    }
  });

  window.SandanLive = { send: send, claim: claim, isOpen: function () { return isOpen; }, refreshAll: refreshAll, refresh: refresh };
  // The badge stays hidden until the first attempt has an outcome: no "offline" flash on load.
  startPolling();
  connect();
})();
