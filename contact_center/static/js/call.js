/* Call detail: evidence links seek the recording to the moment a criterion was met. */
(function () {
  "use strict";
  document.querySelectorAll(".seek").forEach(function (el) {
    el.addEventListener("click", function () {
      const player = document.getElementById("player");
      if (!player) return;
      player.currentTime = parseFloat(el.dataset.seek || "0");
      player.play().catch(function () {});
    });
  });
})();
