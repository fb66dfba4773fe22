/* Alerts on the volunteer's phone: a system notification for each new offer and for the
 * result of a claim (Web Push through the service worker, so they arrive with the app
 * closed), and a sound and a vibration while the app is open. Each can be turned off; the
 * switches are kept on the server (/api/v1/me/notification-preferences).
 * Permission is asked at a moment that explains itself: right after going on duty. */
(function () {
  "use strict";
  var panel = document.getElementById("alerts");
  if (!panel) { return; }
  var statusEl = document.getElementById("alerts-status");
  var allow = document.getElementById("alerts-allow");
  var prefs = {
    push: panel.getAttribute("data-push") === "1",
    sound: panel.getAttribute("data-sound") === "1",
    vibrate: panel.getAttribute("data-vibrate") === "1"
  };
  var supported = "Notification" in window && "serviceWorker" in navigator;

  function say(key) { statusEl.textContent = key ? panel.getAttribute("data-text-" + key) : ""; }

  function send(method, url, body) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": Sandan.csrf() },
      body: JSON.stringify(body)
    }).then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); });
  }

  function keyBytes(base64url) {
    var raw = atob(base64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((base64url.length + 3) % 4));
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { bytes[i] = raw.charCodeAt(i); }
    return bytes;
  }

  // The service worker claims from a notification's "Take it" button: it needs the CSRF
  // token and the sentences to show, which only the page has.
  function briefWorker(registration) {
    var worker = registration.active || registration.waiting || registration.installing;
    if (!worker) { return; }
    worker.postMessage({
      type: "sandan.brief", csrf: Sandan.csrf(),
      text: {
        take: panel.getAttribute("data-text-take"), yours: panel.getAttribute("data-text-yours"),
        faster: panel.getAttribute("data-text-faster"), failed: panel.getAttribute("data-text-failed")
      }
    });
  }

  function registration() {
    return navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(function () {
      return navigator.serviceWorker.ready;
    });
  }

  // Subscribe this browser to Web Push and hand the subscription to the server. Without VAPID
  // keys on the server there is no push service to use: notifications then come from the open
  // page only (below).
  function subscribe() {
    return registration().then(function (reg) {
      briefWorker(reg);
      var url = panel.getAttribute("data-subscriptions");
      return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (info) {
          if (!info.vapid_public_key || !reg.pushManager) { return null; }
          return reg.pushManager.getSubscription().then(function (existing) {
            return existing || reg.pushManager.subscribe({
              userVisibleOnly: true, applicationServerKey: keyBytes(info.vapid_public_key)
            });
          }).then(function (subscription) {
            return send("POST", url, subscription.toJSON());
          });
        });
    }).catch(function () { /* the page's own alerts still work */ });
  }

  function showState() {
    allow.hidden = true;
    if (!prefs.push) { say(""); return; }
    if (!supported) { say("unsupported"); return; }
    if (Notification.permission === "denied") { say("blocked"); return; }
    if (Notification.permission === "default") { say(""); allow.hidden = false; return; }
    say("on");
  }

  function ask() {
    if (!supported || !prefs.push) { return Promise.resolve(); }
    var asked = Notification.permission === "default" ? Notification.requestPermission() : Promise.resolve(Notification.permission);
    return Promise.resolve(asked).then(function (answer) {
      showState();
      if (answer === "granted") { return subscribe(); }
    });
  }

  allow.addEventListener("click", function () { ask(); });

  ["push", "sound", "vibrate"].forEach(function (name) {
    var box = document.getElementById("alert-" + name);
    box.addEventListener("change", function () {
      var body = {};
      body[name] = box.checked;
      send("PATCH", panel.getAttribute("data-prefs"), body).then(function (saved) {
        prefs[name] = !!saved[name];
        box.checked = prefs[name];
        if (name === "push" && prefs.push) { ask(); } else { showState(); }
      }).catch(function () { box.checked = prefs[name]; say(""); statusEl.textContent = Sandan.text("failed"); });
    });
  });

  // --- while the page is open ----------------------------------------------------------------
  function beep() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    try {
      var context = new Context();
      [0, 0.22].forEach(function (at, i) {
        var tone = context.createOscillator();
        var gain = context.createGain();
        tone.frequency.value = i ? 1175 : 880;
        gain.gain.setValueAtTime(0.25, context.currentTime + at);
        gain.gain.exponentialRampToValueAtTime(0.001, context.currentTime + at + 0.18);
        tone.connect(gain); gain.connect(context.destination);
        tone.start(context.currentTime + at); tone.stop(context.currentTime + at + 0.2);
      });
      setTimeout(function () { context.close(); }, 800);
    } catch (e) { /* no sound is no reason to miss the offer on screen */ }
  }

  function alertNewOffer(payload) {
    if (prefs.sound) { beep(); }
    if (prefs.vibrate && navigator.vibrate) { navigator.vibrate([200, 100, 200]); }
    // In the background (another app on screen, the socket still open): a system
    // notification, tagged like the push's so that one offer never shows twice.
    if (document.visibilityState !== "visible" && prefs.push && supported && Notification.permission === "granted") {
      navigator.serviceWorker.ready.then(function (reg) {
        var id = payload.order;
        return reg.showNotification(payload.category_name || document.title, {
          body: [payload.area, payload.description].filter(Boolean).join(" · ").slice(0, 140),
          tag: "offer-" + id, renotify: true, data: { url: "/volunteer/", order: id, kind: "offer.new" },
          actions: [{ action: "claim", title: panel.getAttribute("data-text-take") }]
        });
      }).catch(function () {});
    }
  }

  document.addEventListener("sandan:event", function (event) {
    var frame = event.detail;
    if (frame.kind === "offer.new" && frame.payload) { alertNewOffer(frame.payload); }
  });

  // A push that arrived while this page was on screen: the worker left the banner out.
  if (supported) {
    navigator.serviceWorker.addEventListener("message", function (event) {
      if (event.data && event.data.type === "sandan.push" && window.SandanLive) { window.SandanLive.refreshAll(); }
    });
  }

  // Going on duty is the moment to ask: the volunteer has just said they want offers.
  document.addEventListener("sandan:duty", function (event) {
    if (event.detail && event.detail.onDuty) { panel.open = true; ask(); }
  });

  window.SandanAlerts = { prefs: prefs, ask: ask };
  showState();
  var onDuty = document.getElementById("duty-switch").getAttribute("aria-checked") === "true";
  if (supported && onDuty && prefs.push && Notification.permission === "granted") { subscribe(); }
  else if (supported) { registration().then(briefWorker).catch(function () {}); }
})();
