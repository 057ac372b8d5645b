// Keyboard shortcuts for the moderators' queue: each key clicks the button showing it.
// The pages work without this file; it only saves the mouse trip.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName) && target.type !== "checkbox") {
      if (event.key === "Escape") target.blur();
      if (event.key === "Enter" && target.tagName === "SELECT" && target.form) {
        event.preventDefault();
        target.form.submit(); // c/o, arrow keys, Enter: any label without the mouse
      }
      return;
    }
    var key = event.key.toLowerCase();
    if (key === "c" || key === "o") {
      var select = document.getElementById(key === "c" ? "other-category" : "other-colour");
      if (select) { event.preventDefault(); select.focus(); }
      return;
    }
    var button = document.querySelector('button[data-key="' + CSS.escape(key) + '"]');
    if (button) {
      event.preventDefault();
      button.disabled = true; // one keystroke, one decision: no double submit
      button.form.submit();
    }
  });
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll('#bulk input[name="photo"]').forEach(function (box) {
        box.checked = all.checked;
      });
    });
  }
})();
