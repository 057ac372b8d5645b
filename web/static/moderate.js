// Keyboard shortcuts for the moderators' pages. The pages work without this file (radio
// buttons, lists, links and submit buttons); it only saves the mouse trip.
// Queue: 1-3 / 7-9 choose the category / colour shown with that key, c / o focus the full
//   lists, Enter saves every doubtful label at once, z zooms, any other key clicks the button
//   showing it.
// Bulk grid: arrows move between photos, Space selects, z zooms, Shift+A / Shift+R accept /
//   reject the selection, c / o choose a category / colour and Enter sets it on the selection.
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

  // ---- zoom: the photo large in a modal dialog (Escape closes it natively) ----
  function openZoom(id) {
    var dialog = document.getElementById(id);
    if (!dialog || !dialog.showModal) return false;
    var img = dialog.querySelector("img[data-src]");
    if (img && !img.getAttribute("src")) img.src = img.dataset.src;
    if (!dialog.open) dialog.showModal();
    return true;
  }

  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-zoom]");
    if (opener && openZoom(opener.dataset.zoom)) { event.preventDefault(); return; }
    var dialog = event.target.closest && event.target.closest("dialog.zoom");
    if (dialog) { event.preventDefault(); dialog.close(); } // a click or tap anywhere closes
  });

  function openDialog() { return document.querySelector("dialog.zoom[open]"); }

  document.addEventListener("change", function (event) {
    if (event.target && event.target.tagName === "SELECT") pickOther(event.target);
    if (event.target && event.target.name === "photo") countSelected();
  });

  // ---- the bulk grid ----
  var bulk = document.getElementById("bulk");
  var boxes = bulk ? Array.prototype.slice.call(bulk.querySelectorAll('input[name="photo"]')) : [];

  function countSelected() {
    var out = document.getElementById("selected-count");
    if (out) out.textContent = boxes.filter(function (b) { return b.checked; }).length + " selected";
  }

  function columns() {
    if (boxes.length < 2) return 1;
    var top = boxes[0].closest("li").offsetTop, n = 0;
    while (n < boxes.length && boxes[n].closest("li").offsetTop === top) n++;
    return Math.max(1, n);
  }

  function gridKey(event, target) {
    var at = boxes.indexOf(target);
    var step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns(), ArrowUp: -columns() }[event.key];
    if (step !== undefined) {
      event.preventDefault();
      var next = boxes[Math.min(boxes.length - 1, Math.max(0, (at < 0 ? -step : at) + step))];
      if (next) { next.focus(); next.closest("li").scrollIntoView({ block: "nearest" }); }
      return true;
    }
    if (event.shiftKey && (event.key === "A" || event.key === "R")) {
      event.preventDefault();
      send(bulk, bulk.querySelector('button[data-bulk="' + event.key + '"]'));
      return true;
    }
    if (event.key === "z" && at >= 0) {
      event.preventDefault();
      openZoom("zoom-" + target.closest("li").dataset.id);
      return true;
    }
    if (event.key === "c" || event.key === "o") {
      event.preventDefault();
      document.getElementById(event.key === "c" ? "set-category" : "set-colour").focus();
      return true;
    }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (openDialog()) return; // the dialog has the keys: Escape closes it
    var target = event.target;
    var decision = document.getElementById("decision");
    var typing = target && /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName) &&
      target.type !== "checkbox" && target.type !== "radio";
    if (typing) {
      if (event.key === "Escape") target.blur();
      if (event.key === "Enter" && target.tagName === "SELECT" && target.form) {
        event.preventDefault();
        pickOther(target); // c/o, arrow keys, Enter: any label without the mouse
        var button = target.form.querySelector('button[data-key="enter"]') ||
          (target.form === bulk && document.getElementById("set-selected"));
        send(target.form, button || null);
      }
      return;
    }
    if (bulk) {
      if (gridKey(event, target)) return;
      if (event.key === "Enter" && target.name === "photo") {
        event.preventDefault(); // Enter on a photo would submit without an action
      }
      return;
    }
    // Enter saves, unless on a button or a link; the photo's zoom link (focused again after
    // the zoom closes) counts as the photo, so z, Escape, Enter still saves.
    var link = target.tagName === "A" && !target.dataset.zoom;
    if (event.key === "Enter" && decision && target.tagName !== "BUTTON" && !link) {
      event.preventDefault();
      send(decision, decision.querySelector('button[data-key="enter"]'));
      return;
    }
    var key = event.key.toLowerCase();
    if (key === "z") {
      var opener = document.querySelector("article.review [data-zoom]");
      if (opener) { event.preventDefault(); openZoom(opener.dataset.zoom); }
      return;
    }
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
      boxes.forEach(function (box) { box.checked = all.checked; });
      countSelected();
    });
  }
  if (boxes.length && !document.querySelector("#flash.error")) boxes[0].focus({ preventScroll: true });
})();
