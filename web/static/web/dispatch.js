/* The desk's dispatch buttons say exactly who gets the offer: the number of ticked volunteers
 * and the number of best-ranked ones follow what the secretary types or ticks. The dispatch
 * part of the page is re-rendered live, so everything is delegated from the document. */
(function () {
  "use strict";
  function label(button, n) {
    if (!button) { return; }
    if (button.id === "pool-top-send") {
      button.textContent = button.getAttribute("data-label").replace("__N__", String(n));
      return;
    }
    var key = n === 0 ? "data-label-none" : (n === 1 ? "data-label-one" : "data-label-many");
    button.textContent = button.getAttribute(key).replace("__N__", String(n));
    button.disabled = n === 0;
  }

  function update() {
    var ticked = document.querySelectorAll('input[name="volunteers"][form="dispatch-pool"]:checked').length;
    label(document.getElementById("pool-ticked"), ticked);
    var top = document.getElementById("pool-top");
    if (top) {
      var n = parseInt(top.value, 10);
      label(document.getElementById("pool-top-send"), n > 0 ? n : "…");
    }
  }

  document.addEventListener("input", function (event) { if (event.target.id === "pool-top") { update(); } });
  document.addEventListener("change", function (event) {
    if (event.target.name === "volunteers") { update(); }
  });
  document.addEventListener("sandan:refreshed", update);
  update();
})();
