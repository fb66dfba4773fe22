/* The desk: a request that arrives while the desk is open is highlighted and counted in the
 * tab's title ("(2) Branch desk") until the secretary opens it or marks it seen; an optional
 * sound (kept on this computer); the time left before an offer widens counts down. */
(function () {
  "use strict";
  var queue = document.getElementById("queue");
  var baseTitle = document.title;
  var known = {};
  var unseen = {};
  var SOUND_KEY = "sandan.desk.sound";
  var soundBox = document.getElementById("desk-sound");
  var seenButton = document.getElementById("desk-seen");

  function rows() { return queue ? Array.prototype.slice.call(queue.querySelectorAll("tr[data-order]")) : []; }

  // Every waiting request's id, shown or not: the panel shows the most pressing page, and a
  // new request (not yet pressing) may arrive below it; it is still counted and chimed.
  function ids() {
    var table = queue && queue.querySelector("[data-ids]");
    if (!table) { return rows().map(function (row) { return row.getAttribute("data-order"); }); }
    return table.getAttribute("data-ids").split(" ").filter(Boolean);
  }

  function showTitle() {
    var n = Object.keys(unseen).length;
    document.title = n ? "(" + n + ") " + baseTitle : baseTitle;
    if (seenButton) { seenButton.hidden = n === 0; }
  }

  function mark() {
    rows().forEach(function (row) {
      var id = row.getAttribute("data-order");
      if (!unseen[id] || row.classList.contains("is-new")) { return; }
      row.classList.add("is-new");
      var badge = document.createElement("span");
      badge.className = "badge new-badge";
      badge.textContent = queue.getAttribute("data-new-label");
      var cell = row.querySelector("td:nth-child(2)");
      if (cell) { cell.insertBefore(badge, cell.firstChild); }
    });
  }

  function chime() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    try {
      var context = new Context();
      var tone = context.createOscillator();
      var gain = context.createGain();
      tone.frequency.value = 660;
      gain.gain.setValueAtTime(0.2, context.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, context.currentTime + 0.35);
      tone.connect(gain); gain.connect(context.destination);
      tone.start(); tone.stop(context.currentTime + 0.4);
      setTimeout(function () { context.close(); }, 800);
    } catch (e) { /* the highlight and the title still tell */ }
  }

  function arrived() {
    var fresh = 0;
    ids().forEach(function (id) {
      if (!known[id]) { known[id] = true; unseen[id] = true; fresh += 1; }
    });
    mark();
    showTitle();
    if (fresh && soundBox && soundBox.checked) { chime(); }
  }

  function seen(id) {
    if (id === undefined) { unseen = {}; } else { delete unseen[id]; }
    rows().forEach(function (row) {
      if (!unseen[row.getAttribute("data-order")]) {
        row.classList.remove("is-new");
        var badge = row.querySelector(".new-badge");
        if (badge) { badge.remove(); }
      }
    });
    showTitle();
  }

  if (queue) {
    ids().forEach(function (id) { known[id] = true; });  // already there
    queue.addEventListener("sandan:refreshed", arrived);
    queue.addEventListener("click", function (event) {
      var row = event.target.closest && event.target.closest("tr[data-order]");
      if (row) { seen(row.getAttribute("data-order")); }
    });
  }
  if (seenButton) { seenButton.addEventListener("click", function () { seen(); }); }
  if (soundBox) {
    soundBox.checked = localStorage.getItem(SOUND_KEY) === "1";
    soundBox.addEventListener("change", function () {
      localStorage.setItem(SOUND_KEY, soundBox.checked ? "1" : "0");
      if (soundBox.checked) { chime(); }  // a browser plays sound only after a gesture: this is one
    });
  }

  // --- offers widening: minutes left, counted down on the page ------------------------------
  function countdown() {
    document.querySelectorAll(".countdown[data-deadline]").forEach(function (el) {
      var left = Math.ceil((Date.parse(el.getAttribute("data-deadline")) - Date.now()) / 60000);
      el.textContent = left > 0 ? el.getAttribute("data-label").replace("__N__", String(left)) : el.getAttribute("data-due");
    });
  }
  setInterval(countdown, 20000);
  document.addEventListener("sandan:refreshed", countdown);
})();
