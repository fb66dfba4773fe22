/* An order's place on its page's map. The place comes in the page's live part, which the
 * server renders with it only for whom may see the address (a point on a map is an address):
 * so the map appears when a volunteer claims the order, and goes when the place goes. It is
 * shown right under the status and the address. */
(function () {
  "use strict";
  var section = document.getElementById("order-map");
  var el = document.getElementById("order-map-canvas");
  if (!section || !el || !window.SandanMap) { return; }
  var M = window.SandanMap;
  var map = null;
  var shownAt = null;

  /* Right under the order's status and address, where the live part has just been drawn
   * (a refresh replaces the live part's content: the same section, map and all, goes back). */
  function settle() {
    var status = document.querySelector("#order-live .status-panel");
    if (status && status.nextElementSibling !== section) {
      status.after(section);
      if (map) { map.invalidateSize(); }
    }
  }

  function sync() {
    var data = document.getElementById("order-place");
    if (!data) {
      if (map) { map.remove(); map = null; shownAt = null; }
      section.hidden = true;
      return;
    }
    settle();
    var place = JSON.parse(data.textContent);
    var key = place.point.join(",");
    if (map && shownAt === key) { return; }
    if (map) { map.remove(); }
    section.hidden = false;
    map = M.create(el);
    var layer = L.layerGroup().addTo(map);
    var at = M.shown(place.point);
    map.setView(at, 17);
    if (place.grid) { M.drawAreas(layer, [place.grid]); }
    L.marker(at, { title: el.getAttribute("data-pin-label"), alt: el.getAttribute("data-pin-label"), keyboard: false,
      icon: L.divIcon({ className: "", html: M.node("span", "map-pin-here"), iconSize: [22, 22], iconAnchor: [11, 26] }) })
      .addTo(layer);
    shownAt = key;
  }

  document.addEventListener("sandan:refreshed", function (event) {
    if (event.target && event.target.id === "order-live") { sync(); }
  });
  sync();
})();
