/* Requests written while offline wait here (IndexedDB, on this phone, per signed-in person)
 * and are sent as soon as the connection is back, from whichever page is open. Each carries
 * the form's one-time key (the API's Idempotency-Key), so a request sent twice — a lost
 * answer, two tabs coming back online at once — is still one request. */
(function () {
  "use strict";
  var user = document.body.getAttribute("data-user");
  if (!user || !window.indexedDB) { window.SandanOutbox = null; return; }
  var DB = "sandan", STORE = "outbox";
  var flushing = false;

  function open() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB, 1);
      request.onupgradeneeded = function () { request.result.createObjectStore(STORE, { keyPath: "key" }); };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function run(mode, work) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var result = work(tx.objectStore(STORE));
        tx.oncomplete = function () { db.close(); resolve(result && "result" in result ? result.result : undefined); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      });
    });
  }

  function save(key, url, formData) {
    var entries = [];
    formData.forEach(function (value, name) { entries.push([name, value]); });  // files are kept as Blobs
    return run("readwrite", function (store) {
      return store.put({ key: key, user: user, url: url, entries: entries, savedAt: Date.now() });
    });
  }

  function all() {
    return run("readonly", function (store) { return store.getAll(); }).then(function (items) {
      return (items || []).filter(function (item) { return item.user === user; });
    });
  }

  function remove(key) { return run("readwrite", function (store) { return store.delete(key); }); }

  function formDataOf(item) {
    var data = new FormData();
    item.entries.forEach(function (pair) {
      if (pair[1] instanceof Blob) { data.append(pair[0], pair[1], pair[1].name || pair[0]); }
      else { data.append(pair[0], pair[1]); }
    });
    return data;
  }

  // Send one saved request. Resolves {sent: url of the order} or {refused: the server's page}.
  function send(item) {
    return fetch(item.url, {
      method: "POST", credentials: "same-origin", body: formDataOf(item), headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      if ((response.headers.get("Content-Type") || "").indexOf("application/json") === 0) {
        return response.json().then(function (answer) {
          return remove(item.key).then(function () { return { sent: answer.url }; });
        });
      }
      return response.text().then(function (html) { return { refused: html, status: response.status }; });
    });
  }

  // Send everything saved; `tell` hears about each outcome.
  function flush(tell) {
    if (flushing || navigator.onLine === false) { return Promise.resolve(); }
    flushing = true;
    return all().then(function (items) {
      return items.reduce(function (chain, item) {
        return chain.then(function () {
          return send(item).then(function (outcome) { if (tell) { tell(item, outcome); } });
        });
      }, Promise.resolve());
    }).catch(function () { /* still offline, or storage refused: the next chance tries again */ })
      .then(function () { flushing = false; });
  }

  window.SandanOutbox = { save: save, all: all, remove: remove, send: send, flush: flush, formDataOf: formDataOf };

  // On any other page: send, and say so in the page's flash area.
  if (!document.getElementById("order-form")) {
    var note = function (item, outcome) {
      var flash = document.getElementById("flash");
      if (!flash) { return; }
      var p = document.createElement("p");
      var a = document.createElement("a");
      p.className = "flash" + (outcome.sent ? "" : " flash-error");
      p.setAttribute("role", "status");
      a.href = outcome.sent || ("/orders/new?restore=" + encodeURIComponent(item.key));
      a.textContent = Sandan.text(outcome.sent ? "outboxSent" : "outboxRefused");
      p.appendChild(a);
      flash.appendChild(p);
    };
    window.addEventListener("online", function () { flush(note); });
    flush(note);
  }
})();
