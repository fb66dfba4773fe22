/* Small behaviours of every page. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el && el.hasAttribute && el.hasAttribute("data-autosubmit") && el.form) { el.form.submit(); }
  });
  // A form is sent once: a second tap while the first is on its way does nothing.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || form.hasAttribute("data-sending")) {
      if (form.hasAttribute("data-sending")) { event.preventDefault(); }
      return;
    }
    form.setAttribute("data-sending", "");
    setTimeout(function () { form.removeAttribute("data-sending"); }, 8000);
  });
  // "Your request has been sent" is true only until the order moves on: when its live part
  // changes, the page's earlier success messages go.
  document.addEventListener("sandan:refreshed", function (event) {
    if (!event.target.hasAttribute || !event.target.hasAttribute("data-live-order")) { return; }
    document.querySelectorAll("#flash .flash-success").forEach(function (flash) { flash.remove(); });
  });
  // The installable app: every signed-in page runs under the service worker (offline shell,
  // alerts, requests kept while offline).
  if ("serviceWorker" in navigator && document.body.hasAttribute("data-user")) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
  }
})();

window.Sandan = {
  csrf: function () {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  },
  text: function (key) {
    var el = document.getElementById("js-text");
    return (el && el.dataset[key]) || "";
  }
};
