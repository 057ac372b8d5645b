// Keyboard shortcuts for the moderators' queue. The pages work without this file (radio
// buttons, lists and submit buttons); it only saves the mouse trip:
//   1-3 / 7-9 choose the category / colour shown with that key, c / o focus the full lists,
//   Enter saves every doubtful label at once, any other key clicks the button showing it.
(function () {
  "use strict";

  function send(form, button) {
    if (!form || form.dataset.sent) return; // one keystroke, one decision: no double submit
    form.dataset.sent = "1";
    if (button && form.requestSubmit) form.requestSubmit(button); // keeps the button's value
    else form.submit();
  }

  function pickOther(select) {
    var radio = select.dataset.radio && document.getElementById(select.dataset.radio);
    if (radio) radio.checked = true;
  }

  document.addEventListener("change", function (event) {
    if (event.target && event.target.tagName === "SELECT") pickOther(event.target);
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var decision = document.getElementById("decision");
    var typing = target && /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName) &&
      target.type !== "checkbox" && target.type !== "radio";
    if (typing) {
      if (event.key === "Escape") target.blur();
      if (event.key === "Enter" && target.tagName === "SELECT" && target.form) {
        event.preventDefault();
        pickOther(target); // c/o, arrow keys, Enter: any label without the mouse
        send(target.form, target.form.querySelector('button[data-key="enter"]'));
      }
      return;
    }
    if (event.key === "Enter" && decision && target.tagName !== "BUTTON") {
      event.preventDefault();
      send(decision, decision.querySelector('button[data-key="enter"]'));
      return;
    }
    var key = event.key.toLowerCase();
    if (key === "c" || key === "o") {
      var select = document.getElementById(key === "c" ? "other-category" : "other-colour");
      if (select) { event.preventDefault(); select.focus(); }
      return;
    }
    var el = document.querySelector('[data-key="' + CSS.escape(key) + '"]');
    if (!el) return;
    event.preventDefault();
    if (el.type === "radio") {
      el.checked = true; // chosen, saved with the other label on Enter
      return;
    }
    send(el.form, el);
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
