/* The request form.
 * - Location from the device; a voice message recorded in the page, encoded here as 16-bit
 *   PCM WAV (mono, 16 kHz), a format the server accepts everywhere, and put into the form's
 *   file input so it is sent with the form; a thumbnail of the chosen photo; a character
 *   counter (the text is never cut without a word).
 * - Sent by script: when the server finds something to fix, the answer's form takes the place
 *   of this one but keeps the photo and the recording (a browser cannot put them back);
 *   the first field to fix gets the focus. Offline, the request is kept on the phone (outbox.js)
 *   and sent as soon as the connection is back, once (the form's key).
 * Everything is delegated from the document: the form itself is replaced after an error. */
(function () {
  "use strict";
  var MAX_SECONDS = 110;
  var RATE = 16000;
  var recording = null;

  function form() { return document.getElementById("order-form"); }
  if (!form()) { return; }
  var note = document.getElementById("outbox-note");

  function byId(id) { return document.getElementById(id); }

  // --- location -------------------------------------------------------------------------------
  document.addEventListener("click", function (event) {
    if (event.target.id !== "locate") { return; }
    var status = byId("locate-status");
    if (!navigator.geolocation) { status.textContent = Sandan.text("noLocation"); return; }
    status.textContent = Sandan.text("locating");
    navigator.geolocation.getCurrentPosition(function (position) {
      byId("id_lat").value = position.coords.latitude.toFixed(6);
      byId("id_lng").value = position.coords.longitude.toFixed(6);
      byId("locate-status").textContent = Sandan.text("located") + " ✓";
      byId("locate").setAttribute("aria-pressed", "true");
      document.dispatchEvent(new CustomEvent("sandan:located", {
        detail: { lat: position.coords.latitude, lng: position.coords.longitude }
      }));
    }, function () {
      byId("locate-status").textContent = Sandan.text("noLocation");
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });

  // --- photo thumbnail and the counter ----------------------------------------------------------
  function showPhoto() {
    var input = byId("photo"), preview = byId("photo-preview");
    if (!input || !preview) { return; }
    var file = input.files && input.files[0];
    if (preview.src) { URL.revokeObjectURL(preview.src); }
    if (file) { preview.src = URL.createObjectURL(file); preview.hidden = false; }
    else { preview.removeAttribute("src"); preview.hidden = true; }
  }

  function count() {
    var area = byId("id_description"), counter = byId("description-counter");
    if (!area || !counter) { return; }
    var max = parseInt(area.getAttribute("maxlength"), 10) || 2000;
    var n = area.value.length;
    var label = n >= max ? counter.getAttribute("data-full") : counter.getAttribute("data-label");
    counter.textContent = label.replace("__N__", String(n)).replace("__MAX__", String(max));
    counter.classList.toggle("error", n >= max);
  }

  document.addEventListener("change", function (event) { if (event.target.id === "photo") { showPhoto(); } });
  document.addEventListener("input", function (event) { if (event.target.id === "id_description") { count(); } });

  // --- voice ------------------------------------------------------------------------------------
  var canRecord = navigator.mediaDevices && navigator.mediaDevices.getUserMedia &&
    (window.AudioContext || window.webkitAudioContext) && window.DataTransfer;

  function downsample(chunks, fromRate) {
    var length = chunks.reduce(function (n, c) { return n + c.length; }, 0);
    var joined = new Float32Array(length);
    var offset = 0;
    chunks.forEach(function (c) { joined.set(c, offset); offset += c.length; });
    if (fromRate === RATE) { return joined; }
    var ratio = fromRate / RATE;
    var out = new Float32Array(Math.floor(length / ratio));
    for (var i = 0; i < out.length; i++) {
      // Average the source samples that fall into this output sample (a cheap low-pass).
      var start = Math.floor(i * ratio), end = Math.min(length, Math.floor((i + 1) * ratio));
      var sum = 0;
      for (var j = start; j < end; j++) { sum += joined[j]; }
      out[i] = end > start ? sum / (end - start) : 0;
    }
    return out;
  }

  function wav(samples) {
    var buffer = new ArrayBuffer(44 + samples.length * 2);
    var view = new DataView(buffer);
    function str(at, s) { for (var i = 0; i < s.length; i++) { view.setUint8(at + i, s.charCodeAt(i)); } }
    str(0, "RIFF"); view.setUint32(4, 36 + samples.length * 2, true); str(8, "WAVE");
    str(12, "fmt "); view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
    view.setUint32(24, RATE, true); view.setUint32(28, RATE * 2, true); view.setUint16(32, 2, true);
    view.setUint16(34, 16, true); str(36, "data"); view.setUint32(40, samples.length * 2, true);
    for (var i = 0; i < samples.length; i++) {
      var s = Math.max(-1, Math.min(1, samples[i]));
      view.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
    }
    return new Blob([buffer], { type: "audio/wav" });
  }

  function putVoice(file) {
    var transfer = new DataTransfer();
    transfer.items.add(file);
    byId("voice").files = transfer.files;
    var preview = byId("voice-preview");
    preview.src = URL.createObjectURL(file);
    preview.hidden = false;
  }

  function stop() {
    if (!recording) { return; }
    var r = recording;
    recording = null;
    clearTimeout(r.limit);
    r.processor.disconnect(); r.source.disconnect();
    r.stream.getTracks().forEach(function (t) { t.stop(); });
    var blob = wav(downsample(r.chunks, r.context.sampleRate));
    r.context.close();
    putVoice(new File([blob], "voice.wav", { type: "audio/wav" }));
    byId("record-status").textContent = Sandan.text("recorded") + " ✓ (" + Math.round(r.chunks.length ? blob.size / (RATE * 2) : 0) + " s)";
    byId("record").setAttribute("aria-pressed", "false");
  }

  document.addEventListener("click", function (event) {
    if (event.target.id !== "record") { return; }
    if (recording) { stop(); return; }
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      var Context = window.AudioContext || window.webkitAudioContext;
      var context = new Context();
      var source = context.createMediaStreamSource(stream);
      var processor = context.createScriptProcessor(4096, 1, 1);
      var chunks = [];
      processor.onaudioprocess = function (e) { chunks.push(new Float32Array(e.inputBuffer.getChannelData(0))); };
      source.connect(processor);
      processor.connect(context.destination);
      recording = { stream: stream, context: context, source: source, processor: processor, chunks: chunks,
        limit: setTimeout(stop, MAX_SECONDS * 1000) };
      byId("record-status").textContent = Sandan.text("recording");
      byId("record").setAttribute("aria-pressed", "true");
    }).catch(function () { byId("record-status").textContent = Sandan.text("noMic"); });
  });

  // --- errors: keep the files, focus the first thing to fix -------------------------------------
  function focusFirstError() {
    var first = form().querySelector(".errors, .error[data-for]");
    if (!first) { return; }
    var target = first.getAttribute("data-for") ? byId(first.getAttribute("data-for")) : null;
    (target || first).focus({ preventScroll: false });
    if (!target) { first.setAttribute("tabindex", "-1"); first.focus(); }
    (target || first).scrollIntoView({ block: "center" });
  }

  function problem(fieldId, message) {
    var field = byId(fieldId);
    var holder = field && field.closest(".field");
    if (!holder) { return; }
    holder.querySelectorAll(".error.js-error").forEach(function (old) { old.remove(); });
    var p = document.createElement("p");
    p.className = "error js-error";
    p.setAttribute("data-for", fieldId);
    p.textContent = message;
    holder.appendChild(p);
  }

  // What can be told without the server: the rest the server says after sending.
  function clientCheck(f) {
    f.querySelectorAll(".error.js-error").forEach(function (old) { old.remove(); });
    var ok = true;
    if (!f.querySelector('input[name="category"]:checked')) {
      problem(f.querySelector('input[name="category"]').id, f.getAttribute("data-no-category")); ok = false;
    }
    // "Call me back" (call_me.html) has no words to write: the tap says it.
    if (f.hasAttribute("data-no-words")) {
      var words = (byId("id_description").value || "").trim();
      var files = ((byId("photo") || {}).files || []).length + ((byId("voice") || {}).files || []).length;
      if (!words && !files) { problem("id_description", f.getAttribute("data-no-words")); ok = false; }
    }
    if (!ok) { focusFirstError(); }
    return ok;
  }

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("order-form");
    if (!fresh) { document.open(); document.write(html); document.close(); return; }  // not our form: show the answer
    var old = form();
    // The chosen photo and the recording move into the new form: file inputs cannot be refilled;
    // so does the map, with its pin (the pin's fields come back filled from the server).
    ["photo", "voice", "voice-preview", "photo-preview", "pin-map"].forEach(function (id) {
      var keep = old.querySelector("#" + id), slot = fresh.querySelector("#" + id);
      if (keep && slot) { slot.replaceWith(keep); }
    });
    var status = old.querySelector("#record-status"), freshStatus = fresh.querySelector("#record-status");
    if (status && freshStatus) { freshStatus.textContent = status.textContent; }
    old.replaceWith(document.adoptNode(fresh));
    ready();
    count();
    focusFirstError();
  }

  function tell(key) {
    if (!note) { return; }
    note.textContent = key ? form().getAttribute("data-" + key) : "";
    note.hidden = !key;
  }

  function keyOf(f) { return (f.querySelector('input[name="key"]') || {}).value || String(Date.now()); }

  function sendNow(f, body) {
    var outbox = window.SandanOutbox;
    return fetch(f.getAttribute("action") || location.pathname, {
      method: "POST", credentials: "same-origin", body: body, headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      if ((response.headers.get("Content-Type") || "").indexOf("application/json") === 0) {
        return response.json().then(function (answer) {
          var done = outbox ? outbox.remove(keyOf(f)).catch(function () {}) : Promise.resolve();
          return done.then(function () { location.assign(answer.url); });
        });
      }
      return response.text().then(function (html) {
        if (outbox) { outbox.remove(keyOf(f)).catch(function () {}); }
        tell("");
        swap(html);
      });
    });
  }

  function keepOffline(f, body) {
    var outbox = window.SandanOutbox;
    if (!outbox) { tell("saved"); return Promise.resolve(); }
    return outbox.save(keyOf(f), f.getAttribute("action") || location.pathname, body).then(function () { tell("saved"); });
  }

  document.addEventListener("submit", function (event) {
    var f = event.target;
    if (f.id !== "order-form") { return; }
    event.preventDefault();
    if (recording) { stop(); }
    if (!clientCheck(f)) { f.removeAttribute("data-sending"); return; }
    var body = new FormData(f);
    var attempt = navigator.onLine === false ? Promise.reject(new Error("offline")) : sendNow(f, body);
    attempt.catch(function () { return keepOffline(f, new FormData(form())); })
      .then(function () { var now = form(); if (now) { now.removeAttribute("data-sending"); } });
  });

  // --- a request kept offline: back in the form, then sent when the connection is back ------
  function restore(item) {
    var f = form();
    item.entries.forEach(function (pair) {
      var name = pair[0], value = pair[1];
      if (name === "csrfmiddlewaretoken") { return; }  // this page's token is the fresh one
      if (value instanceof Blob) {
        if (!value.size) { return; }
        var input = f.querySelector('input[type="file"][name="' + name + '"]');
        if (!input) { return; }
        var transfer = new DataTransfer();
        transfer.items.add(value instanceof File ? value : new File([value], name));
        if (name === "voice") { putVoice(transfer.files[0]); } else { input.files = transfer.files; }
        return;
      }
      var fields = f.querySelectorAll('[name="' + name + '"]');
      fields.forEach(function (field) {
        if (field.type === "radio" || field.type === "checkbox") { field.checked = field.value === value; }
        else { field.value = value; }
      });
    });
    showPhoto();
    count();
  }

  function resend() {
    var outbox = window.SandanOutbox;
    if (!outbox || navigator.onLine === false) { return; }
    outbox.all().then(function (items) {
      if (!items.length) { return; }
      var wanted = new URLSearchParams(location.search).get("restore");
      var item = items.filter(function (i) { return i.key === wanted; })[0] || items[0];
      restore(item);
      tell("sending");
      var f = form();
      f.setAttribute("data-sending", "");
      sendNow(f, new FormData(f)).catch(function () { tell("saved"); })
        .then(function () { var now = form(); if (now) { now.removeAttribute("data-sending"); } });
    }).catch(function () {});
  }

  // The buttons only this script can work come from the server disabled: a tap before the
  // script has loaded (a slow phone network) would otherwise do nothing and say nothing.
  function ready() {
    form().querySelectorAll("button[data-script]").forEach(function (b) { b.disabled = false; });
    if (!canRecord) { var voice = byId("voice-field"); if (voice) { voice.hidden = true; } }
  }

  window.addEventListener("online", resend);
  ready();
  count();
  showPhoto();
  focusFirstError();
  resend();
})();
