// The queue's "tick all" box: shown only where scripts run; without it each row is ticked.
(function () {
  "use strict";
  var all = document.getElementById("pick-all");
  if (!all) { return; }
  var boxes = document.querySelectorAll('#bulk-form input[name="reference"]');
  all.hidden = false;
  all.addEventListener("change", function () {
    boxes.forEach(function (box) { box.checked = all.checked; });
  });
})();
