/* Batch dispatch on the desk: tick accepted orders, ask the matcher for the assignment that
 * scores best within each volunteer's capacity, confirm it. Rendered with textContent only. */
(function () {
  "use strict";
  var panel = document.getElementById("batch");
  if (!panel) { return; }
  var result = document.getElementById("batch-result");
  var confirmButton = document.getElementById("batch-confirm");
  var proposal = null;

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": Sandan.csrf() },
      body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); });
  }

  function problem(data) {
    if (data && typeof data.detail === "string") { return data.detail; }
    var first = data && Object.keys(data).map(function (k) { return data[k]; })[0];
    return Array.isArray(first) ? String(first[0]) : Sandan.text("failed");
  }

  function nameOf(orderId, volunteerId) {
    var ranked = (proposal.candidates || {})[String(orderId)] || [];
    for (var i = 0; i < ranked.length; i++) {
      if (ranked[i].volunteer === volunteerId) { return ranked[i].name; }
    }
    return "#" + volunteerId;
  }

  function show() {
    result.replaceChildren();
    var list = document.createElement("ul");
    (proposal.assignments || []).forEach(function (row) {
      var item = document.createElement("li");
      item.textContent = "#" + row.order + " → " + nameOf(row.order, row.volunteer) + " (" + Number(row.score).toFixed(2) + ")";
      list.appendChild(item);
    });
    (proposal.unassigned || []).forEach(function (orderId) {
      var item = document.createElement("li");
      item.textContent = "#" + orderId + " → —";
      list.appendChild(item);
    });
    result.appendChild(list);
  }

  document.getElementById("batch-propose").addEventListener("click", function () {
    var picked = Array.prototype.map.call(document.querySelectorAll(".batch-pick:checked"), function (box) {
      return Number(box.value);
    });
    if (!picked.length) { result.textContent = panel.getAttribute("data-none"); return; }
    post(panel.getAttribute("data-propose"), { orders: picked }).then(function (answer) {
      if (!answer.ok) { result.textContent = problem(answer.data); return; }
      proposal = answer.data;
      show();
      confirmButton.hidden = !(proposal.assignments || []).length;
    }).catch(function () { result.textContent = Sandan.text("failed"); });
  });

  confirmButton.addEventListener("click", function () {
    if (!proposal) { return; }
    var pairs = proposal.assignments.map(function (a) { return { order: a.order, volunteer: a.volunteer }; });
    post(panel.getAttribute("data-confirm"), { assignments: pairs }).then(function (answer) {
      result.textContent = answer.ok ? panel.getAttribute("data-done") : problem(answer.data);
      confirmButton.hidden = true;
      proposal = null;
      if (window.SandanLive) { window.SandanLive.refreshAll(); }
    }).catch(function () { result.textContent = Sandan.text("failed"); });
  });
})();
