/* Owner forms: the error summary takes the focus when the page loads (where the browser
   did not honour its `autofocus`), and its links move the focus to their field with the
   field's label in view, as the GOV.UK design system does. Without this script the
   summary's links still jump to the fields. */
(function () {
  "use strict";
  var summary = document.getElementById("error-summary");
  if (!summary) { return; }
  if (document.activeElement !== summary) { summary.focus(); }
  summary.addEventListener("click", function (event) {
    var link = event.target.closest("a[href^='#']");
    if (!link) { return; }
    var field = document.getElementById(link.getAttribute("href").slice(1));
    if (!field) { return; }
    event.preventDefault();
    var group = field.closest(".form-group, .field") || field;
    group.scrollIntoView({ block: "start" });
    field.focus({ preventScroll: true });
  });
})();
