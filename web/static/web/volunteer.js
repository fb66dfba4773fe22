/* The volunteer's phone page: one-tap claim with immediate feedback, and location sharing
 * while on duty. */
(function () {
  "use strict";
  var feedback = document.getElementById("claim-feedback");
  var hideTimer = null;

  function tell(message, good) {
    if (!feedback) { return; }
    feedback.textContent = message;
    feedback.className = "toast" + (good ? "" : " bad");
    feedback.hidden = false;
    clearTimeout(hideTimer);
    hideTimer = setTimeout(function () { feedback.hidden = true; }, 8000);
  }

  function outcome(ok, code, message) {
    if (ok) { tell(Sandan.text("yours"), true); }
    else if (code === "already_claimed") { tell(Sandan.text("faster"), false); }
    else { tell(message || Sandan.text("failed"), false); }
    if (window.SandanLive) { window.SandanLive.refreshAll(); }
  }

  function claimByPost(form) {
    return fetch(form.action, {
      method: "POST", credentials: "same-origin",
      headers: { "Accept": "application/json" }, body: new FormData(form)
    }).then(function (response) { return response.json(); })
      .then(function (data) { outcome(!!data.ok, data.code, data.message); });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("js-claim")) { return; }
    event.preventDefault();
    var button = form.querySelector("button");
    if (button.disabled) { return; }
    button.disabled = true;
    var live = window.SandanLive;
    var attempt = live && live.isOpen()
      ? live.claim(form.getAttribute("data-order")).then(function (result) {
          outcome(!!result.ok, result.code, result.message);
        }).catch(function () { return claimByPost(form); })  // socket gone: the REST call is retry-safe
      : claimByPost(form);
    attempt.catch(function () { tell(Sandan.text("failed"), false); })
      .then(function () { button.disabled = false; form.removeAttribute("data-sending"); });
  }, true);

  // An offer that vanishes while someone looks at it: say why.
  document.addEventListener("sandan:event", function (event) {
    var frame = event.detail;
    if (frame.kind === "offer.withdrawn" && frame.payload) {
      var card = document.querySelector('.offer[data-order="' + Number(frame.payload.order) + '"]');
      if (card) { card.setAttribute("aria-disabled", "true"); }
    }
  });

  // --- offline: a claim cannot go out, so the button says so instead of failing later ------
  function markOffline() {
    var offline = navigator.onLine === false;
    document.querySelectorAll("form.js-claim button").forEach(function (button) {
      if (offline) { button.disabled = true; button.setAttribute("data-offline", ""); }
      else if (button.hasAttribute("data-offline")) { button.disabled = false; button.removeAttribute("data-offline"); }
    });
    var note = document.getElementById("offline-note");
    if (note) { note.hidden = !offline; }
  }
  window.addEventListener("online", markOffline);
  window.addEventListener("offline", markOffline);
  document.addEventListener("sandan:refreshed", markOffline);
  markOffline();

  // --- location while on duty ---------------------------------------------------------------
  var offers = document.getElementById("offers");
  var note = document.getElementById("duty-note");
  var last = null;
  var lastSent = 0;
  var watch = null;

  function share(position) {
    var lat = position.coords.latitude, lng = position.coords.longitude;
    var now = Date.now();
    var moved = !last || Math.abs(last.lat - lat) + Math.abs(last.lng - lng) > 0.0005;
    if (!moved && now - lastSent < 60000) { return; }
    last = { lat: lat, lng: lng }; lastSent = now;
    var live = window.SandanLive;
    if (live && live.send({ type: "location", lat: lat, lng: lng })) { return; }
    fetch("/api/v1/me/volunteer", {
      method: "PATCH", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": Sandan.csrf() },
      body: JSON.stringify({ lat: lat, lng: lng })
    }).catch(function () {});
  }

  function startSharing() {
    if (watch !== null || !navigator.geolocation) { return; }
    watch = navigator.geolocation.watchPosition(function (position) {
      if (note) { note.textContent = Sandan.text("sharing"); }
      share(position);
    }, function () {}, { enableHighAccuracy: true, maximumAge: 30000, timeout: 20000 });
  }

  function stopSharing() {
    if (watch !== null && navigator.geolocation) { navigator.geolocation.clearWatch(watch); }
    watch = null; last = null;
  }

  if (offers && offers.getAttribute("data-on-duty") === "1") { startSharing(); }

  // --- the duty switch: in place, so that going on duty can go on to ask for alerts ---------
  var dutyForm = document.getElementById("duty-form");
  if (dutyForm) {
    dutyForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = document.getElementById("duty-switch");
      if (button.disabled) { return; }
      button.disabled = true;
      fetch(dutyForm.action, {
        method: "POST", credentials: "same-origin", headers: { "Accept": "application/json" }, body: new FormData(dutyForm)
      }).then(function (r) { return r.json(); }).then(function (data) {
        if (!data.ok) { tell(data.message || Sandan.text("failed"), false); return; }
        var on = !!data.on_duty;
        button.setAttribute("aria-checked", on ? "true" : "false");
        button.querySelector(".switch-label").textContent = dutyForm.getAttribute(on ? "data-on-label" : "data-off-label");
        dutyForm.querySelector("input[name=on_duty]").value = on ? "" : "1";
        if (note) { note.textContent = dutyForm.getAttribute(on ? "data-on-note" : "data-off-note"); }
        if (offers) { offers.setAttribute("data-on-duty", on ? "1" : "0"); }
        if (on) { startSharing(); } else { stopSharing(); }
        if (window.SandanLive) { window.SandanLive.refreshAll(); }
        document.dispatchEvent(new CustomEvent("sandan:duty", { detail: { onDuty: on } }));
      }).catch(function () { tell(Sandan.text("failed"), false); })
        .then(function () { button.disabled = false; dutyForm.removeAttribute("data-sending"); });
    });
  }
})();
