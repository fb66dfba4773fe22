/* The time-bank balance, when the time bank exists. */
(function () {
  "use strict";
  var box = document.getElementById("timebank");
  if (!box) { return; }
  fetch(box.getAttribute("data-src"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (r) { if (!r.ok) { throw new Error(); } return r.json(); })
    .then(function (data) { document.getElementById("timebank-balance").textContent = String(data.balance); })
    .catch(function () { box.hidden = true; });
})();
