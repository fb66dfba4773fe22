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

  function show(rows) {
    result.replaceChildren();
    var list = document.createElement("ul");
    rows.forEach(function (row) {
      var item = document.createElement("li");
      var who = row.volunteer_name || row.volunteer;
      item.textContent = "#" + row.order + " → " + (who === null || who === undefined ? "—" : who) +
        (row.score !== undefined ? " (" + Number(row.score).toFixed(2) + ")" : "");
      list.appendChild(item);
    });
    result.appendChild(list);
  }

  document.getElementById("batch-propose").addEventListener("click", function () {
    var picked = Array.prototype.map.call(document.querySelectorAll(".batch-pick:checked"), function (box) {
      return Number(box.value);
    });
    if (!picked.length) { result.textContent = "—"; return; }
    post(panel.getAttribute("data-propose"), { orders: picked }).then(function (answer) {
      if (!answer.ok) { result.textContent = answer.data.detail || Sandan.text("failed"); return; }
      proposal = answer.data;
      show(proposal.assignments || []);
      confirmButton.hidden = !(proposal.assignments || []).length;
    }).catch(function () { result.textContent = Sandan.text("failed"); });
  });

  confirmButton.addEventListener("click", function () {
    if (!proposal) { return; }
    post(panel.getAttribute("data-confirm"), proposal).then(function (answer) {
      result.textContent = answer.ok ? "✓" : (answer.data.detail || Sandan.text("failed"));
      confirmButton.hidden = true;
      if (window.SandanLive) { window.SandanLive.refreshAll(); }
    });
  });
})();
