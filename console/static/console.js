// Fetch the alert list every few seconds so new alerts appear without a reload.
// Without this script the page works the same; it only needs reloading.
(function () {
  "use strict";
  var list = document.getElementById("alert-list");
  if (!list || !window.fetch) { return; }
  var busy = false;
  function refresh() {
    var active = document.activeElement;
    if (busy || (active && list.contains(active) && active.tagName !== "BUTTON")) { return; }
    busy = true;
    fetch(list.getAttribute("data-src"), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) { list.innerHTML = html; } })
      .catch(function () {})
      .then(function () { busy = false; });
  }
  setInterval(refresh, 5000);
})();
