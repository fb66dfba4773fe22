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

  // --- location while on duty ---------------------------------------------------------------
  var offers = document.getElementById("offers");
  var onDuty = offers && offers.getAttribute("data-on-duty") === "1";
  var note = document.getElementById("duty-note");
  var last = null;
  var lastSent = 0;

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

  if (onDuty && navigator.geolocation) {
    navigator.geolocation.watchPosition(function (position) {
      if (note) { note.textContent = Sandan.text("sharing"); }
      share(position);
    }, function () {}, { enableHighAccuracy: true, maximumAge: 30000, timeout: 20000 });
  }

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
  }
})();
