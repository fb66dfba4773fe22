/* Sandan's maps (Leaflet, shipped with the app): the settings, the datum, the grid outlines and
 * the markers every map draws. The data is WGS-84; on GCJ-02 tiles (MAP_TILE_CRS=gcj02) each
 * point is shifted for display here, with the same published transform as core/gcj02.py (a
 * test checks both agree), and a dropped pin is shifted back by the server. Without a tile
 * URL the map is a plain background with the outlines and markers: nothing from the internet.
 * Text reaches the page through textContent only. */
(function () {
  "use strict";
  if (!window.L) { return; }
  var A = 6378245.0;
  var EE = 0.00669342162296594323;

  function outOfChina(lat, lng) { return !(lng > 73.66 && lng < 135.05 && lat > 3.86 && lat < 53.55); }

  function latShift(x, y) {
    var r = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    r += (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0 / 3.0;
    r += (20.0 * Math.sin(y * Math.PI) + 40.0 * Math.sin(y / 3.0 * Math.PI)) * 2.0 / 3.0;
    r += (160.0 * Math.sin(y / 12.0 * Math.PI) + 320.0 * Math.sin(y * Math.PI / 30.0)) * 2.0 / 3.0;
    return r;
  }

  function lngShift(x, y) {
    var r = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    r += (20.0 * Math.sin(6.0 * x * Math.PI) + 20.0 * Math.sin(2.0 * x * Math.PI)) * 2.0 / 3.0;
    r += (20.0 * Math.sin(x * Math.PI) + 40.0 * Math.sin(x / 3.0 * Math.PI)) * 2.0 / 3.0;
    r += (150.0 * Math.sin(x / 12.0 * Math.PI) + 300.0 * Math.sin(x / 30.0 * Math.PI)) * 2.0 / 3.0;
    return r;
  }

  function toGcj02(lat, lng) {
    if (outOfChina(lat, lng)) { return [lat, lng]; }
    var dLat = latShift(lng - 105.0, lat - 35.0);
    var dLng = lngShift(lng - 105.0, lat - 35.0);
    var rad = lat / 180.0 * Math.PI;
    var magic = 1 - EE * Math.sin(rad) * Math.sin(rad);
    var sqrtMagic = Math.sqrt(magic);
    dLat = (dLat * 180.0) / ((A * (1 - EE)) / (magic * sqrtMagic) * Math.PI);
    dLng = (dLng * 180.0) / (A / sqrtMagic * Math.cos(rad) * Math.PI);
    return [lat + dLat, lng + dLng];
  }

  var settings = null;
  function config() {
    if (settings) { return settings; }
    var el = document.getElementById("map-config");
    try { settings = el ? JSON.parse(el.textContent) : null; } catch (e) { settings = null; }
    settings = settings || { tiles: "", attribution: "", crs: "wgs84" };
    return settings;
  }

  /* A stored (WGS-84) point where the tiles draw it. */
  function shown(point) {
    return config().crs === "gcj02" ? toGcj02(point[0], point[1]) : [point[0], point[1]];
  }

  function create(el, options) {
    var cfg = config();
    var map = L.map(el, Object.assign({ zoomSnap: 0.5, attributionControl: !!cfg.tiles, zoomControl: false }, options || {}));
    L.control.zoom({ zoomInTitle: cfg.zoom_in || "+", zoomOutTitle: cfg.zoom_out || "-" }).addTo(map);
    // Grid names sit above the outlines and below the markers: a name never hides a request.
    map.createPane("sandan-labels").style.zIndex = 450;
    if (cfg.tiles) {
      // The operator's attribution (their setting) may carry a link: Leaflet renders it as HTML.
      L.tileLayer(cfg.tiles, { attribution: cfg.attribution, maxZoom: 19 }).addTo(map);
    } else {
      el.classList.add("map-plain");
    }
    el.setAttribute("data-crs", cfg.crs);
    return map;
  }

  function node(tag, className, text) {
    var el = document.createElement(tag);
    if (className) { el.className = className; }
    if (text !== undefined && text !== null) { el.textContent = String(text); }
    return el;
  }

  /* Grid outlines (or, for a grid drawn without one, a ring at its centre), each named. */
  function drawAreas(layer, areas) {
    var bounds = [];
    areas.forEach(function (area) {
      var shape;
      var style = { color: area.level === "grid" ? "#8e1212" : "#5a5a5a", weight: area.level === "grid" ? 2 : 3,
        dashArray: area.level === "grid" ? null : "6 6", fillOpacity: area.level === "grid" ? 0.06 : 0, interactive: false };
      if (area.polygon && area.polygon.length >= 3) {
        shape = L.polygon(area.polygon.map(shown), style);
      } else if (area.level !== "grid") {
        return;  // a community or street without an outline: its grids say where it is
      } else {
        shape = L.circle(shown(area.center), Object.assign({ radius: 250 }, style, { dashArray: "4 6" }));
      }
      shape.addTo(layer);
      if (area.level === "grid") {
        L.tooltip({ permanent: true, direction: "center", className: "map-area-label", interactive: false, pane: "sandan-labels" })
          .setLatLng(shown(area.center)).setContent(node("span", "", area.name)).addTo(layer);
      }
      // A circle knows its bounds only once on a map: a ring's are computed from its centre.
      bounds.push(area.polygon && area.polygon.length >= 3 ? shape.getBounds() : L.latLng(shown(area.center)).toBounds(500));
    });
    return bounds;
  }

  /* A marker drawn by CSS; `attrs` go on the drawn element (data-* for the page's scripts). */
  function icon(className, text, size, attrs) {
    var n = size || 28;
    var el = node("span", className, text);
    Object.keys(attrs || {}).forEach(function (name) { el.setAttribute(name, String(attrs[name])); });
    return L.divIcon({ className: "", html: el, iconSize: [n, n], iconAnchor: [n / 2, n / 2] });
  }

  /* Fit the view to what is drawn, once; a lone point gets a street-level zoom. */
  function fit(map, bounds, zoom) {
    var all = null;
    bounds.forEach(function (b) { if (b && b.isValid && b.isValid()) { all = all ? all.extend(b) : L.latLngBounds(b.getSouthWest(), b.getNorthEast()); } });
    if (all) { map.fitBounds(all.pad(0.08), { maxZoom: zoom || 17 }); return true; }
    return false;
  }

  window.SandanMap = { config: config, shown: shown, toGcj02: toGcj02, create: create, drawAreas: drawAreas,
    icon: icon, node: node, fit: fit };
})();
