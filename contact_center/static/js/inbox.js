/* Inbox: a chosen template is added to the reply box. */
(function () {
  "use strict";
  const pick = document.getElementById("template-pick");
  if (pick) pick.addEventListener("change", function () {
    const box = document.getElementById("reply-body");
    if (pick.value) { box.value = (box.value ? box.value + " " : "") + pick.value; box.focus(); }
    pick.value = "";
  });
})();
