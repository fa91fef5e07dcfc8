// The receipt waits for the pipeline's decision: ask the server every few seconds, reload once decided.
(function () {
  var box = document.getElementById("receipt");
  if (!box || box.dataset.decided === "yes") { return; }
  var url = box.dataset.statusUrl;
  function poll() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) { if (s && s.decided) { window.location.reload(); } else { setTimeout(poll, 1000); } })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
})();
