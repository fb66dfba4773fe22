/* Sandan service worker.
 * - An offline shell: pages and the API are always fetched from the network first; only when
 *   the network fails does the last copy of a start page (or the offline page) stand in.
 * - Alerts: a Web Push becomes a system notification (a new offer, a claim's result, what
 *   happens to a request); "Take it" on an offer claims it from the notification.
 * The shell list is filled in by the server. */
"use strict";
var CACHE = "sandan-shell-v2";
var BRIEF = "sandan-brief-v1";
var SHELL = __SHELL__;
// The taps a volunteer made without signal (action-queue.js, shared with the pages).
importScripts(__QUEUE__);
// Each role's start page; `/` sends people to theirs, so offline it falls back to whichever
// of them this person last opened. They hold the person's own data: they leave at sign-out.
var START_PAGES = ["/volunteer/", "/orders/", "/desk/"];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(SHELL.map(function (url) { return cache.add(url).catch(function () {}); }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE && k !== BRIEF; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

function forgetPerson() {
  return Promise.all([
    caches.open(CACHE).then(function (cache) {
      return Promise.all(START_PAGES.map(function (page) { return cache.delete(page); }));
    }),
    caches.delete(BRIEF)
  ]);
}

function offlineCopy(url) {
  return caches.open(CACHE).then(function (cache) {
    if (url.pathname !== "/") { return cache.match(url.pathname); }
    return START_PAGES.reduce(function (found, page) {
      return found.then(function (hit) { return hit || cache.match(page); });
    }, Promise.resolve(undefined));
  }).then(function (hit) { return hit || caches.match("/offline"); });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.method === "POST" && url.pathname === "/accounts/logout/") {
    // The cached pages hold addresses of tasks and the person's requests, the queue their
    // unsent taps: they leave with them.
    event.waitUntil(Promise.all([forgetPerson(), self.SandanActionQueue.clear().catch(function () {})]));
    return;
  }
  if (request.method !== "GET") { return; }
  if (url.pathname.indexOf("/api/") === 0 || url.pathname.indexOf("/ws/") === 0 || url.search.indexOf("fragment=") !== -1) { return; }
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).then(function (response) {
      var landed = new URL(response.url || request.url).pathname;
      if (response.ok && START_PAGES.indexOf(landed) !== -1) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(landed, copy); });
      }
      return response;
    }).catch(function () { return offlineCopy(url); }));
    return;
  }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(fetch(request).catch(function () { return caches.match(request); }));
  }
});

// --- taps kept without signal: sent when the signal is back, even with no page open ---------

function tellPages(message) {
  return self.clients.matchAll({ type: "window" }).then(function (list) {
    list.forEach(function (client) { client.postMessage(message); });
  });
}

self.addEventListener("sync", function (event) {
  if (event.tag !== self.SandanActionQueue.SYNC) { return; }
  event.waitUntil(self.SandanActionQueue.flush(function (item, outcome) {
    tellPages({ type: "sandan.queue", outcome: outcome, item: { order: item.order, action: item.action, label: item.label } });
  }));
});

// --- alerts ----------------------------------------------------------------------------------

// The page tells the worker its CSRF token and the sentences to show (the worker has no
// translations of its own); kept in a cache so that they outlive the worker's restarts.
self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type !== "sandan.brief") { return; }
  event.waitUntil(caches.open(BRIEF).then(function (cache) {
    return cache.put("/__brief", new Response(JSON.stringify({ csrf: data.csrf, text: data.text || {} })));
  }));
});

function brief() {
  return caches.open(BRIEF).then(function (cache) { return cache.match("/__brief"); })
    .then(function (hit) { return hit ? hit.json() : { csrf: "", text: {} }; })
    .catch(function () { return { csrf: "", text: {} }; });
}

// The volunteer page on screen shows a new offer by itself (with its sound): no banner then.
function offersOnScreen() {
  return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (list) {
    return list.filter(function (c) {
      return c.visibilityState === "visible" && c.focused && new URL(c.url).pathname === "/volunteer/";
    })[0] || null;
  });
}

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { title: event.data ? event.data.text() : "" }; }
  var offer = data.kind === "offer.new";
  event.waitUntil(Promise.all([brief(), offersOnScreen()]).then(function (found) {
    var text = found[0].text || {};
    var onScreen = found[1];
    if (onScreen && offer) {
      onScreen.postMessage({ type: "sandan.push", payload: data });
      return undefined;
    }
    var options = {
      body: data.body || "",
      tag: (offer ? "offer-" : "order-") + (data.order || data.notification || ""),
      renotify: true,
      data: { url: data.url || "/", order: data.order, kind: data.kind },
      icon: SHELL.filter(function (u) { return u.indexOf("icon-192") !== -1; })[0],
      silent: data.sound === false && data.vibrate === false
    };
    if (data.vibrate !== false) { options.vibrate = [200, 100, 200]; }
    if (offer) {
      options.requireInteraction = true;
      options.actions = [{ action: "claim", title: text.take || "✓" }];
    }
    return self.registration.showNotification(data.title || "Sandan", options);
  }));
});

function claimFromNotification(notification) {
  var order = Number(notification.data && notification.data.order);
  return brief().then(function (b) {
    var text = b.text || {};
    return fetch("/orders/" + order + "/claim", {
      method: "POST", credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": b.csrf || "" }
    }).then(function (r) { return r.json(); }).then(function (answer) {
      var sentence = answer.ok ? text.yours : (answer.code === "already_claimed" ? text.faster : (answer.message || text.failed));
      return { ok: !!answer.ok, sentence: sentence };
    }).catch(function () { return { ok: false, sentence: text.failed }; });
  }).then(function (result) {
    // The claim's result, where the offer was: tapping it opens the task (or the offers).
    return self.registration.showNotification(notification.title, {
      body: result.sentence || "", tag: "offer-" + order, renotify: true,
      data: { url: result.ok ? "/orders/" + order + "/" : "/volunteer/", order: order, kind: "claim.result", ok: result.ok }
    });
  });
}

function openPage(url) {
  return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (list) {
    for (var i = 0; i < list.length; i++) {
      if (new URL(list[i].url).pathname === url && "focus" in list[i]) { return list[i].focus(); }
    }
    return self.clients.openWindow(url);
  });
}

self.addEventListener("notificationclick", function (event) {
  var notification = event.notification;
  notification.close();
  if (event.action === "claim") {
    event.waitUntil(claimFromNotification(notification));
    return;
  }
  event.waitUntil(openPage((notification.data && notification.data.url) || "/"));
});
