/* Wallboard: bars drawn from their data-pct, reloaded on live events and every 30 s. */
(function () {
  "use strict";
  // Set through the CSSOM: the Content-Security-Policy allows no inline style attributes.
  document.querySelectorAll(".bar [data-pct]").forEach(function (el) {
    el.style.width = Math.max(0, Math.min(100, Number(el.dataset.pct) || 0)) + "%";
  });
  const cfg = JSON.parse(document.getElementById("wallboard-config").textContent);
  let pending = null;
  function refresh() { clearTimeout(pending); pending = setTimeout(function () { location.reload(); }, 800); }
  window.CC.events(cfg.practiceId, { presence: refresh, outcome: refresh });
  setInterval(function () { location.reload(); }, 30000);
})();
