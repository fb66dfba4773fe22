/* An order's place on its page's map, drawn for whom may see the address only (the server
 * renders it for them alone). When the live part of the page stops showing the address (a
 * volunteer who released the order), the map goes too. */
(function () {
  "use strict";
  var el = document.getElementById("order-map-canvas");
  var data = document.getElementById("order-place");
  if (!el || !data || !window.SandanMap) { return; }
  var M = window.SandanMap;
  var place = JSON.parse(data.textContent);
  var map = M.create(el);
  var layer = L.layerGroup().addTo(map);
  if (place.grid) { M.drawAreas(layer, [place.grid]); }
  var at = M.shown(place.point);
  L.marker(at, { title: el.getAttribute("data-pin-label"), alt: el.getAttribute("data-pin-label"), keyboard: false,
    icon: L.divIcon({ className: "", html: M.node("span", "map-pin-here"), iconSize: [22, 22], iconAnchor: [11, 26] }) })
    .addTo(layer);
  map.setView(at, 17);

  document.addEventListener("sandan:refreshed", function (event) {
    if (event.target && event.target.id === "order-live" && !document.getElementById("order-address")) {
      var section = document.getElementById("order-map");
      if (section) { map.remove(); section.remove(); }
    }
  });
})();
