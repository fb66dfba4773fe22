/* The request form: location from the device, and a voice message recorded in the page.
 * The recording is encoded here as 16-bit PCM WAV (mono, 16 kHz), a format the server
 * accepts everywhere, and put into the form's file input so it is sent with the form. */
(function () {
  "use strict";
  var MAX_SECONDS = 110;
  var RATE = 16000;

  // --- location -------------------------------------------------------------------------------
  var locate = document.getElementById("locate");
  var locateStatus = document.getElementById("locate-status");
  if (locate) {
    if (!navigator.geolocation) { locate.hidden = true; }
    locate.addEventListener("click", function () {
      locateStatus.textContent = Sandan.text("locating");
      navigator.geolocation.getCurrentPosition(function (position) {
        document.getElementById("id_lat").value = position.coords.latitude.toFixed(6);
        document.getElementById("id_lng").value = position.coords.longitude.toFixed(6);
        locateStatus.textContent = Sandan.text("located") + " ✓";
        locate.setAttribute("aria-pressed", "true");
      }, function () {
        locateStatus.textContent = Sandan.text("noLocation");
      }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
    });
  }

  // --- voice ------------------------------------------------------------------------------------
  var button = document.getElementById("record");
  var status = document.getElementById("record-status");
  var preview = document.getElementById("voice-preview");
  var input = document.getElementById("voice");
  if (!button) { return; }
  var canRecord = navigator.mediaDevices && navigator.mediaDevices.getUserMedia &&
    (window.AudioContext || window.webkitAudioContext) && window.DataTransfer;
  if (!canRecord) { document.getElementById("voice-field").hidden = true; return; }

  var recording = null;

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

  function stop() {
    if (!recording) { return; }
    var r = recording;
    recording = null;
    clearTimeout(r.limit);
    r.processor.disconnect(); r.source.disconnect();
    r.stream.getTracks().forEach(function (t) { t.stop(); });
    var blob = wav(downsample(r.chunks, r.context.sampleRate));
    r.context.close();
    var file = new File([blob], "voice.wav", { type: "audio/wav" });
    var transfer = new DataTransfer();
    transfer.items.add(file);
    input.files = transfer.files;
    preview.src = URL.createObjectURL(blob);
    preview.hidden = false;
    status.textContent = Sandan.text("recorded") + " ✓ (" + Math.round(r.chunks.length ? blob.size / (RATE * 2) : 0) + " s)";
    button.setAttribute("aria-pressed", "false");
  }

  button.addEventListener("click", function () {
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
      status.textContent = Sandan.text("recording");
      button.setAttribute("aria-pressed", "true");
    }).catch(function () { status.textContent = Sandan.text("noMic"); });
  });
})();
