/* Sandan service worker: keeps an offline shell of the volunteer app. Pages and the API are
 * always fetched from the network first; only when the network fails does the last copy of
 * a page (or the offline page) stand in. The shell list is filled in by the server. */
"use strict";
var CACHE = "sandan-shell-v1";
var SHELL = __SHELL__;

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(SHELL.map(function (url) { return cache.add(url).catch(function () {}); }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.method === "POST" && url.pathname === "/accounts/logout/") {
    // The cached volunteer page holds addresses of tasks: it leaves with the person.
    event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.delete("/volunteer/"); }));
    return;
  }
  if (request.method !== "GET") { return; }
  if (url.pathname.indexOf("/api/") === 0 || url.pathname.indexOf("/ws/") === 0 || url.search.indexOf("fragment=") !== -1) { return; }
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).then(function (response) {
      if (response.ok && url.pathname === "/volunteer/") {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
      }
      return response;
    }).catch(function () {
      return caches.match(request).then(function (hit) { return hit || caches.match("/offline"); });
    }));
    return;
  }
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(fetch(request).catch(function () { return caches.match(request); }));
  }
});
