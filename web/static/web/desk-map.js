/* The desk's map: its open requests coloured by state (urgent ones marked "!", overdue ones
 * flagged), its grids' outlines, its on-duty volunteers where they last shared their position
 * (/api/v1/desk/map decides what this desk may see). It is drawn again whenever the desk's
 * socket brings an event about requests (the same kinds as the lists), when the lists
 * themselves refresh (a reconnect's resync, the fallback poll), and every 30 s for the
 * volunteers' positions. A click on a request shows it beside the map with its ranked
 * candidates (the candidates endpoint): those with a shared position are numbered on the map. */
(function () {
  "use strict";
  var section = document.getElementById("desk-map");
  if (!section || !window.SandanMap) { return; }
  var M = window.SandanMap;
  var canvas = document.getElementById("desk-map-canvas");
  var detail = document.getElementById("desk-map-detail");
  var text = section.dataset;
  var KINDS = ["desk.new_order", "order.updated", "order.assigned"];
  var NEEDS_VOLUNTEER = ["submitted", "accepted", "dispatched"];

  var map = M.create(canvas);
  var areaLayer = L.layerGroup().addTo(map);
  var volunteerLayer = L.layerGroup().addTo(map);
  var orderLayer = L.layerGroup().addTo(map);
  var pickLayer = L.layerGroup().addTo(map);
  var data = null;
  var selected = null;
  var fitted = false;
  var markers = {};
  var timer = null;
  var loading = false;
  var again = false;

  function minutesAgo(n) { return text.minutesAgo.replace("__N__", String(n)); }

  function orderClass(o) {
    return "map-pin state-" + o.status + (o.urgent ? " is-urgent" : "") + (o.overdue ? " is-overdue" : "") +
      (o.id === selected ? " is-selected" : "");
  }

  function drawOrders() {
    orderLayer.clearLayers();
    markers = {};
    data.orders.slice().reverse().forEach(function (o) {  // the most pressing drawn last, on top
      var label = "#" + o.id + " " + o.category + " · " + o.status_label +
        (o.urgent ? " · " + text.urgent : "") + (o.overdue ? " · " + text.overdue : "");
      var marker = L.marker(M.shown(o.point), { icon: M.icon(orderClass(o), o.urgent ? "!" : "", 28, { "data-order": o.id, "data-status": o.status }), title: label,
        alt: label, keyboard: true, riseOnHover: true, zIndexOffset: (o.urgent || o.overdue) ? 500 : 0 });
      marker.on("click", function () { select(o.id, true); });
      marker.on("keypress", function (e) { if (e.originalEvent.key === "Enter") { select(o.id, true); } });
      marker.addTo(orderLayer);
      markers[o.id] = marker;
    });
  }

  function drawVolunteers() {
    volunteerLayer.clearLayers();
    data.volunteers.forEach(function (v) {
      var marker = L.marker(M.shown(v.point), { icon: M.icon("map-volunteer" + (v.fresh ? "" : " is-stale"), "", 18, { "data-volunteer": v.id }),
        title: v.name + " · " + minutesAgo(v.minutes_ago), keyboard: false, zIndexOffset: -100 });
      marker.bindTooltip(M.node("span", "", v.name + " · " + minutesAgo(v.minutes_ago)));
      marker.addTo(volunteerLayer);
    });
  }

  // A link to the desk may name a request to open on the map (/desk/?order=12).
  var asked = parseInt(new URLSearchParams(location.search).get("order") || "", 10) || null;

  function draw(fresh) {
    data = fresh;
    areaLayer.clearLayers();
    var bounds = M.drawAreas(areaLayer, data.areas);
    drawVolunteers();
    drawOrders();
    if (!fitted) {
      data.orders.concat(data.volunteers).forEach(function (row) { bounds.push(L.latLngBounds([M.shown(row.point)])); });
      fitted = M.fit(map, bounds);
    }
    section.setAttribute("data-count", String(data.orders.length));
    if (asked !== null && data.orders.some(function (o) { return o.id === asked; })) { select(asked, false); }
    asked = null;
    var still = selected !== null && data.orders.some(function (o) { return o.id === selected; });
    if (selected !== null && !still) { select(null); } else if (still) { showDetail(false); }
  }

  function load() {
    if (loading) { again = true; return; }
    loading = true;
    fetch(section.getAttribute("data-src"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("map"); } return r.json(); })
      .then(draw)
      .catch(function () { /* the next event or poll tries again */ })
      .then(function () { loading = false; if (again) { again = false; schedule(); } });
  }

  function schedule() {
    if (timer) { return; }
    timer = setTimeout(function () { timer = null; load(); }, 300);
  }

  // --- one request: beside the map, with its candidates --------------------------------------
  function row(label, value) {
    var p = M.node("p", "map-fact");
    p.appendChild(M.node("span", "muted", label + " "));
    p.appendChild(M.node("strong", "", value));
    return p;
  }

  function showDetail(fetchCandidates) {
    var o = data.orders.filter(function (x) { return x.id === selected; })[0];
    if (!o) { return; }
    canvas.querySelectorAll(".map-pin[data-order]").forEach(function (el) {
      el.classList.toggle("is-selected", Number(el.getAttribute("data-order")) === selected);
    });
    if (!fetchCandidates) { return; }
    detail.replaceChildren();
    var head = M.node("h3", "", "#" + o.id + " " + o.category);
    head.setAttribute("tabindex", "-1");
    detail.appendChild(head);
    var flags = M.node("p", "");
    var badge = M.node("span", "badge status-" + o.status, o.status_label);
    flags.appendChild(badge);
    if (o.urgent) { flags.appendChild(document.createTextNode(" ")); flags.appendChild(M.node("span", "badge urgent-badge", text.urgent)); }
    if (o.overdue) { flags.appendChild(document.createTextNode(" ")); flags.appendChild(M.node("span", "badge overdue-badge", text.overdue)); }
    detail.appendChild(flags);
    if (o.area) { detail.appendChild(row(text.area, o.area)); }
    var open = M.node("a", "button primary", text.open);
    open.href = o.url;
    detail.appendChild(open);
    pickLayer.clearLayers();
    if (NEEDS_VOLUNTEER.indexOf(o.status) === -1) {
      detail.appendChild(M.node("p", "muted small", text.taken));
      return;
    }
    detail.appendChild(M.node("h4", "", text.candidates));
    var list = M.node("ol", "map-candidates");
    list.appendChild(M.node("li", "muted", text.loading));
    detail.appendChild(list);
    var wanted = o.id;
    fetch(text.candidatesUrl.replace("__ID__", String(o.id)), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error("candidates"); } return r.json(); })
      .then(function (ranked) { if (selected === wanted) { drawCandidates(o, ranked, list); } })
      .catch(function () { list.replaceChildren(M.node("li", "muted", text.noCandidates)); });
  }

  function drawCandidates(o, ranked, list) {
    pickLayer.clearLayers();
    list.replaceChildren();
    if (!ranked.length) { list.appendChild(M.node("li", "muted", text.noCandidates)); return; }
    var where = {};
    data.volunteers.forEach(function (v) { where[v.id] = v; });
    var bounds = [L.latLngBounds([M.shown(o.point)])];
    ranked.forEach(function (c, i) {
      var rank = i + 1;
      var li = M.node("li", "");
      li.setAttribute("data-volunteer", String(c.volunteer));
      li.appendChild(M.node("strong", "", c.name));
      li.appendChild(document.createTextNode(" · " + text.metres.replace("__N__", String(c.distance_m))));
      var seen = where[c.volunteer];
      if (seen) {
        var at = M.shown(seen.point);
        L.polyline([M.shown(o.point), at], { color: "#0b57d0", weight: 2, dashArray: "4 6", interactive: false }).addTo(pickLayer);
        var marker = L.marker(at, { icon: M.icon("map-rank", rank, 24, { "data-rank": rank, "data-volunteer": c.volunteer }), title: rank + ". " + c.name, zIndexOffset: 800 });
        marker.addTo(pickLayer);
        bounds.push(L.latLngBounds([at]));
      } else {
        li.appendChild(M.node("span", "muted small", " · " + text.notShared));
      }
      list.appendChild(li);
    });
    M.fit(map, bounds, map.getZoom());
  }

  function select(id, focus) {
    selected = id;
    if (id === null) {
      pickLayer.clearLayers();
      detail.replaceChildren(M.node("p", "muted", text.hint));
      section.removeAttribute("data-selected");
      showDetail(false);
      return;
    }
    section.setAttribute("data-selected", String(id));
    showDetail(true);
    if (focus) { var h = detail.querySelector("h3"); if (h) { h.focus({ preventScroll: true }); } }
  }

  document.addEventListener("sandan:event", function (event) {
    var frame = event.detail || {};
    if (KINDS.indexOf(frame.kind) !== -1) { schedule(); }
  });
  document.addEventListener("sandan:refreshed", function (event) {
    if (event.target && event.target.closest && event.target.closest("#queue, #board")) { schedule(); }
  });
  setInterval(function () { if (document.visibilityState === "visible") { schedule(); } }, 30000);
  load();
})();
