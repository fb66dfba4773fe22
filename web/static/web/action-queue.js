/* Taps kept while offline: a volunteer in a stairwell taps "Start" or "Done" (with a note, the
 * hours and a photo), and the tap waits on this phone (IndexedDB) until the connection is back.
 * Sent in the order they were made, each with its form's one-time key (the server's
 * idempotency key), so a tap sent twice — a lost answer, the page and the service worker both
 * back online — is taken once. A tap the server refuses (the order changed meanwhile) is kept
 * until the page has said why, then dropped.
 *
 * The same file runs in the page (window) and in the service worker (importScripts), which
 * sends the queue after a Background Sync when no page is open. A Web Lock keeps two senders
 * from walking the queue at once. What is stored: the form's fields as the volunteer filled
 * them in (note, hours, photo), its CSRF token and key, the order's number and the button's
 * words. Nothing of the resident. Signing out deletes the queue (docs/pages.md). */
(function (scope) {
  "use strict";
  var DB = "sandan-actions", STORE = "queue", LOCK = "sandan-action-queue", SYNC = "sandan-actions";

  function open() {
    return new Promise(function (resolve, reject) {
      var request = scope.indexedDB.open(DB, 1);
      request.onupgradeneeded = function () { request.result.createObjectStore(STORE, { keyPath: "key" }); };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function run(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var request = work(tx.objectStore(STORE));
        tx.oncomplete = function () { db.close(); resolve(request ? request.result : undefined); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      });
    });
  }

  function all() {
    return run("readonly", function (store) { return store.getAll(); }).then(function (items) {
      return (items || []).sort(function (a, b) { return a.seq - b.seq; });
    });
  }
  function put(item) { return run("readwrite", function (store) { return store.put(item); }); }
  function remove(key) { return run("readwrite", function (store) { return store.delete(key); }); }
  function clear() { return run("readwrite", function (store) { return store.clear(); }); }

  function formDataOf(item) {
    var data = new FormData();
    item.entries.forEach(function (pair) {
      if (pair[1] instanceof Blob) { data.append(pair[0], pair[1], pair[1].name || pair[0]); }
      else { data.append(pair[0], pair[1]); }
    });
    return data;
  }

  function exclusive(work) {
    var locks = scope.navigator && scope.navigator.locks;
    return locks ? locks.request(LOCK, work) : work();
  }

  // One tap to the server. Resolves "sent", "refused" (kept with the reason) or "later".
  function send(item) {
    return fetch(item.url, {
      method: "POST", credentials: "same-origin", body: formDataOf(item),
      headers: { "Accept": "application/json", "X-Requested-With": "fetch", "Idempotency-Key": item.key }
    }).then(function (response) {
      var json = (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
      if (!json) {
        // Signed out, or the session changed: nothing the queue can fix by itself.
        item.refused = { code: "signed_out", message: "", status: response.status };
        return put(item).then(function () { return "refused"; });
      }
      return response.json().then(function (answer) {
        if (answer.ok) { return remove(item.key).then(function () { item.answer = answer; return "sent"; }); }
        if (response.status >= 500) { return "later"; }
        item.refused = { code: answer.code, message: answer.message || "", now: answer.now || "", status: response.status };
        return put(item).then(function () { return "refused"; });
      });
    }, function () {
      // No connection after all: from now on it is a tap that waited for the signal.
      if (item.waited) { return "later"; }
      item.waited = true;
      return put(item).then(function () { return "later"; });
    });
  }

  // Send every waiting tap, oldest first; `tell(item, outcome)` hears about each. A tap after a
  // refused one of the same order is not sent (it relied on the one before).
  function flush(tell) {
    if (scope.navigator && scope.navigator.onLine === false) { return Promise.resolve(); }
    return exclusive(function () {
      return all().then(function (items) {
        var blocked = {};
        return items.reduce(function (chain, item) {
          return chain.then(function (stop) {
            if (stop || item.refused) { return stop; }
            if (blocked[item.order]) {
              item.refused = { code: "after_refused", message: "", status: 0 };
              return put(item).then(function () { if (tell) { tell(item, "refused"); } return false; });
            }
            return send(item).then(function (outcome) {
              if (outcome === "refused") { blocked[item.order] = true; }
              if (tell) { tell(item, outcome); }
              return outcome === "later";
            });
          });
        }, Promise.resolve(false));
      });
    }).catch(function () { /* storage or locks refused: the next chance tries again */ });
  }

  var api = { all: all, put: put, remove: remove, clear: clear, flush: flush, SYNC: SYNC };
  scope.SandanActionQueue = api;
  if (typeof document === "undefined" || !scope.indexedDB) { return; }  // the service worker stops here

  // --- the page ------------------------------------------------------------------------------
  var user = document.body.getAttribute("data-user");
  var box = document.getElementById("queue-status");
  if (!user || !box) { return; }
  var seq = 0;

  function words(key) { return box.getAttribute("data-" + key) || ""; }
  function fill(template, item) {
    return template.replace("__ACTION__", item.label).replace("__ORDER__", "#" + item.order);
  }

  function say(text, good) {
    var flash = document.getElementById("flash");
    if (!flash) { return; }
    var p = document.createElement("p");
    p.className = "flash " + (good ? "flash-success" : "flash-error");
    p.setAttribute("role", good ? "status" : "alert");
    p.textContent = text;
    flash.appendChild(p);
  }

  function refusedSentence(item) {
    var why = item.refused || {};
    var text = fill(words("refused"), item) + " ";
    if (why.code === "after_refused") { return text + words("after-refused"); }
    if (why.code === "signed_out") { return text + words("signed-out"); }
    // The order moved on meanwhile (recalled, released, done by someone else): say so in
    // words, and where it stands now when this person may still see it.
    var moved = ["invalid_transition", "not_permitted", "not_found", "already_claimed"].indexOf(why.code) !== -1;
    text += moved || !why.message ? words("changed") : why.message;
    if (why.now) { text += " " + words("now").replace("__STATUS__", why.now); }
    return text;
  }

  // The pending marks: the tapped button gives way to "waiting for signal"; after a kept
  // "Start", the "Done" form appears (the work goes on without signal).
  function showPending() {
    return all().then(function (items) {
      document.querySelectorAll(".queued-note").forEach(function (el) { el.remove(); });
      document.querySelectorAll("form[data-queue][data-queued]").forEach(function (form) {
        form.removeAttribute("data-queued");
        var button = form.querySelector("button[type=submit]");
        if (button) { button.disabled = false; }
      });
      var waiting = items.filter(function (item) { return !item.refused; });
      waiting.forEach(function (item) {
        document.querySelectorAll('form[data-queue][data-order="' + item.order + '"][data-action="' + item.action + '"]').forEach(function (form) {
          form.setAttribute("data-queued", "");
          var button = form.querySelector("button[type=submit]");
          if (button) { button.disabled = true; }
          var note = document.createElement("p");
          note.className = "queued-note";
          note.setAttribute("role", "status");
          note.textContent = fill(words("pending"), item);
          form.appendChild(note);
          if (item.action === "start") {
            document.querySelectorAll('[data-after-start="' + item.order + '"]').forEach(function (el) { el.hidden = false; });
          }
        });
      });
      box.textContent = waiting.length ? words("count").replace("__N__", String(waiting.length)) : "";
      box.hidden = !waiting.length;
      // Refused taps are said once, then dropped.
      return items.filter(function (item) { return item.refused; }).reduce(function (chain, item) {
        return chain.then(function () { say(refusedSentence(item), false); return remove(item.key); });
      }, Promise.resolve());
    }).catch(function () {});
  }

  // A tap that went out at once hears the server's own answer ("Started."); one that waited
  // for the signal is named, as the volunteer may have forgotten it.
  function tell(item, outcome) {
    if (outcome !== "sent") { return; }
    var answer = item.answer && item.answer.message;
    say(item.waited || !answer ? fill(words("sent"), item) : answer, true);
  }

  function sendNow() {
    return flush(tell).then(showPending).then(function () {
      if (window.SandanLive) { window.SandanLive.refreshAll(); }
    });
  }

  function keep(form) {
    var button = form.querySelector("button[type=submit]");
    var entries = [];
    new FormData(form).forEach(function (value, name) {
      if (value instanceof File && !value.size) { return; }  // no photo chosen
      entries.push([name, value]);
    });
    var key = form.querySelector("input[name=key]");
    var item = {
      key: key && key.value ? key.value : String(Date.now()) + "-" + Math.random().toString(36).slice(2),
      user: user, url: form.action, action: form.getAttribute("data-action"),
      order: form.getAttribute("data-order"), label: button ? button.textContent.trim() : "",
      entries: entries, seq: Date.now() * 1000 + (seq++ % 1000), waited: navigator.onLine === false
    };
    return put(item).then(function () {
      // When no page is open to see the signal come back, the service worker sends the queue.
      if (navigator.serviceWorker && navigator.serviceWorker.controller) {
        navigator.serviceWorker.ready.then(function (reg) { return reg.sync && reg.sync.register(SYNC); }).catch(function () {});
      }
      return showPending();
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-queue")) { return; }
    event.preventDefault();
    if (form.hasAttribute("data-queued") || (form.checkValidity && !form.checkValidity())) { return; }
    var button = form.querySelector("button[type=submit]");
    if (button) { button.disabled = true; }
    // Kept first, sent after: a tap that meets no signal is already safe on the phone.
    keep(form).then(function () {
      if (navigator.onLine === false) { return undefined; }
      return sendNow();
    }).catch(function () {
      // No storage on this phone (a private window): the form goes the ordinary way.
      HTMLFormElement.prototype.submit.call(form);
    });
  }, true);

  // The sign-out form: the queue leaves with the person (the service worker does it too).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.action || form.action.indexOf("/accounts/logout/") === -1 || form.hasAttribute("data-cleared")) { return; }
    event.preventDefault();
    clear().catch(function () {}).then(function () { form.setAttribute("data-cleared", ""); form.submit(); });
  }, true);

  // Messages from the service worker's own sending.
  if (navigator.serviceWorker) {
    navigator.serviceWorker.addEventListener("message", function (event) {
      var data = event.data || {};
      if (data.type === "sandan.queue") {
        if (data.outcome === "sent") { data.item.waited = true; tell(data.item, "sent"); }
        showPending();
        if (window.SandanLive) { window.SandanLive.refreshAll(); }
      }
    });
  }

  window.addEventListener("online", sendNow);
  document.addEventListener("sandan:refreshed", showPending);
  showPending().then(function () { if (navigator.onLine !== false) { return sendNow(); } return undefined; });
})(typeof window !== "undefined" ? window : self);
