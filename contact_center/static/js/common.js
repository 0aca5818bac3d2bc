/* Small helpers shared by the console pages: CSRF-aware JSON calls, live events, formatting. */
(function () {
  "use strict";
  const meta = document.querySelector('meta[name="csrf-token"]');

  async function api(url, body, method) {
    const options = {
      method: method || (body === undefined ? "GET" : "POST"),
      headers: { "Accept": "application/json", "X-CSRF-Token": meta ? meta.content : "" },
      credentials: "same-origin",
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) {
      const error = new Error(data.error || ("request failed (" + response.status + ")"));
      error.status = response.status;
      error.data = data;
      throw error;
    }
    return data;
  }

  /* One EventSource per page; handlers by event type. Reconnects on its own. */
  function events(practiceId, handlers) {
    const source = new EventSource("/p/" + practiceId + "/events");
    Object.keys(handlers).forEach(function (kind) {
      source.addEventListener(kind, function (event) {
        let data = {};
        try { data = JSON.parse(event.data); } catch (e) { return; }
        handlers[kind](data);
      });
    });
    return source;
  }

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    const mm = String(m).padStart(2, "0"), ss = String(r).padStart(2, "0");
    return h ? h + ":" + mm + ":" + ss : mm + ":" + ss;
  }

  function text(el, value) { if (el) el.textContent = value == null || value === "" ? "—" : value; }

  // The practice switcher (no inline handlers: the Content-Security-Policy forbids them).
  document.querySelectorAll("select[data-navigate]").forEach(function (select) {
    select.addEventListener("change", function () { location.href = select.value; });
  });

  window.CC = { api: api, events: events, clock: clock, text: text };
})();
