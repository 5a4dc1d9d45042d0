// Glass viewer: fetches long texts on demand and follows a live session.
// Text from captures is only ever set with textContent; the HTML swapped in
// for live updates is the server's own page, whose capture text is escaped.
(function () {
  "use strict";
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest ? ev.target.closest("button.load-more") : null;
    if (!button) return;
    var url = button.getAttribute("data-fetch");
    var pre = button.parentNode.querySelector("pre");
    button.disabled = true;
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
      .then(function (text) { pre.textContent = text; button.remove(); })
      .catch(function (e) { button.disabled = false; button.textContent = "could not load: " + e.message; });
  });

  var body = document.body;
  var poll = body.getAttribute("data-poll");
  if (!poll) return;
  var fragment = body.getAttribute("data-fragment");
  var status = document.querySelector("[data-testid=live-status]");
  var busy = false;
  function tick() {
    if (busy) return;
    busy = true;
    fetch(poll, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (state) {
        if (state.version === body.getAttribute("data-version")) return null;
        // an error page (404: the session's files are gone; 500) never replaces the conversation
        return fetch(fragment, { credentials: "same-origin" })
          .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
          .then(function (html) {
            document.getElementById("conversation").innerHTML = html;
            body.setAttribute("data-version", state.version);
            if (status) status.textContent = "live: updated " + new Date().toLocaleTimeString();
          });
      })
      .catch(function (e) { if (status) status.textContent = "live: could not update (" + e.message + "), retrying"; })
      .then(function () { busy = false; });
  }
  setInterval(tick, 2000);
})();
