/* "Already reported nearby?" on the request form: as the resident chooses a category and a
 * place and types, the open requests of that kind close by are shown (web:order-nearby, a
 * fragment rendered by the server: area, words as a neighbour may read them, how many follow
 * it). "This is mine too" follows one of them instead of sending a new request: it is posted
 * as a form of its own, since the list sits inside the request form. */
(function () {
  "use strict";
  var box = document.getElementById("nearby");
  if (!box) { return; }
  var timer = null, last = "";

  function value(id) { var el = document.getElementById(id); return el ? el.value : ""; }

  function query() {
    var form = document.getElementById("order-form");
    var chosen = form && form.querySelector("input[name=category]:checked");
    if (!chosen) { return ""; }
    var params = new URLSearchParams({ category: chosen.value });
    if (value("id_lat") && value("id_lng")) { params.set("lat", value("id_lat")); params.set("lng", value("id_lng")); }
    if (value("id_grid")) { params.set("grid", value("id_grid")); }
    var text = value("id_description").trim();
    if (text) { params.set("text", text.slice(0, 500)); }
    return params.toString();
  }

  function refresh() {
    var q = query();
    if (!q || q === last) { return; }
    last = q;
    fetch(box.getAttribute("data-src") + "?" + q, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        if (q !== last) { return; }  // an answer to an older question
        box.innerHTML = html;
        box.hidden = !html.trim();
      })
      .catch(function () { /* offline: the list simply does not show */ });
  }

  function soon() { clearTimeout(timer); timer = setTimeout(refresh, 400); }

  ["change", "input", "focusin"].forEach(function (kind) {
    document.addEventListener(kind, function (event) {
      if (event.target.closest && event.target.closest("#order-form")) { soon(); }
    });
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-follow]");
    if (!button) { return; }
    var token = document.querySelector("#order-form input[name=csrfmiddlewaretoken]");
    var form = document.createElement("form");
    form.method = "post";
    form.action = button.getAttribute("data-follow");
    if (token) {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = "csrfmiddlewaretoken"; input.value = token.value;
      form.appendChild(input);
    }
    document.body.appendChild(form);
    form.submit();
  });
  soon();
})();
