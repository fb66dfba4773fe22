/* The request form's map: the resident taps where help is needed (or drags the pin there);
 * "use my current location" puts the pin where the phone is. A pin placed by hand is sent in
 * the map's own datum (pin_lat / pin_lng) and the server shifts it back to WGS-84
 * (MAP_TILE_CRS, core/gcj02.py); the phone's position stays in lat / lng, already WGS-84.
 * The map opens on the resident's home, or on the served grids, drawn with their names. */
(function () {
  "use strict";
  var el = document.getElementById("pin-map");
  var startEl = document.getElementById("pin-start");
  if (!el || !window.SandanMap || !startEl) { return; }
  var M = window.SandanMap;
  var start = JSON.parse(startEl.textContent);
  var map = M.create(el);
  var grids = L.layerGroup().addTo(map);
  var pin = null;

  function field(name) { return document.getElementById("id_" + name); }
  function round(x) { return Math.round(x * 1e6) / 1e6; }

  function place(latlng) {
    if (!pin) {
      pin = L.marker(latlng, { draggable: true, autoPan: true, title: el.getAttribute("data-pin-label"),
        alt: el.getAttribute("data-pin-label"), icon: L.divIcon({ className: "", html: M.node("span", "map-pin-here"),
          iconSize: [22, 22], iconAnchor: [11, 26] }) });
      pin.on("dragend", function () { chosen(pin.getLatLng()); });
      pin.addTo(map);
    } else {
      pin.setLatLng(latlng);
    }
    el.setAttribute("data-has-pin", "1");
  }

  /* The resident put the pin here: it is the place, in the map's datum. */
  function chosen(latlng) {
    place(latlng);
    field("pin_lat").value = round(latlng.lat);
    field("pin_lng").value = round(latlng.lng);
    field("lat").value = ""; field("lng").value = "";
    var status = document.getElementById("locate-status");
    if (status) { status.textContent = el.getAttribute("data-pinned") + " ✓"; }
    var locate = document.getElementById("locate");
    if (locate) { locate.setAttribute("aria-pressed", "false"); }
  }

  map.on("click", function (event) { chosen(event.latlng); });

  document.addEventListener("sandan:located", function (event) {
    // The phone's own position (WGS-84) is sent as it is; the pin only shows it.
    field("pin_lat").value = ""; field("pin_lng").value = "";
    var at = M.shown([event.detail.lat, event.detail.lng]);
    place(at);
    map.setView(at, Math.max(map.getZoom(), 17));
  });

  var bounds = M.drawAreas(grids, start.grids || []);
  // After an answer with something to fix, the pin is where the resident left it.
  var pinned = field("pin_lat") && field("pin_lat").value && field("pin_lng").value;
  var located = field("lat") && field("lat").value && field("lng").value;
  if (pinned) {
    place([parseFloat(field("pin_lat").value), parseFloat(field("pin_lng").value)]);
    map.setView(pin.getLatLng(), 17);
  } else if (located) {
    place(M.shown([parseFloat(field("lat").value), parseFloat(field("lng").value)]));
    map.setView(pin.getLatLng(), 17);
  } else if (start.home) {
    map.setView(M.shown(start.home), 16);
  } else if (!M.fit(map, bounds, 16)) {
    map.setView([0, 0], 2);
  }
})();
