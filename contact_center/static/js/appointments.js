/* The day view's actions (cancel, reschedule, arrived, fulfilled, no-show) and the booking
 * page's form. Each action is one JSON call; the page reloads to show what was saved. */
(function () {
  "use strict";
  const cfgEl = document.getElementById("appointments-config");
  if (!cfgEl) return;
  const cfg = JSON.parse(cfgEl.textContent);
  const base = cfg.base;
  const error = document.getElementById("appointment-error");
  const dayPick = document.querySelector("[data-testid=day-pick]");
  if (dayPick) dayPick.addEventListener("change", () => dayPick.form.submit());

  function fail(e) {
    if (!error) return;
    error.textContent = e.message;
    error.hidden = false;
  }

  document.querySelectorAll("tr[data-testid=appointment] button[data-action]").forEach((button) => {
    button.addEventListener("click", async () => {
      const row = button.closest("tr");
      const id = row.dataset.id;
      const action = button.dataset.action;
      if (action === "reschedule") {
        const panel = document.querySelector("tr.reschedule-row[data-for='" + id + "']");
        panel.hidden = !panel.hidden;
        if (!panel.booking) {
          panel.booking = window.CCBooking.attach(panel.querySelector(".booking-fields"),
            { base: base, serviceId: button.dataset.service, ignore: id });
          panel.querySelector("form").addEventListener("submit", async (event) => {
            event.preventDefault();
            const v = panel.booking.values();
            try {
              await window.CC.api(base + "/api/appointments/" + id + "/reschedule",
                { start: v.start, provider_id: v.provider_id });
              location.href = location.pathname + "?day=" + panel.booking.day();
            } catch (e) { fail(e); }
          });
        }
        return;
      }
      if (action === "cancel" && !window.confirm("Cancel this appointment?")) return;
      const url = base + "/api/appointments/" + id + "/" + action;
      try {
        await window.CC.api(url, action === "status" ? { status: button.dataset.status } : {});
        location.reload();
      } catch (e) { fail(e); }
    });
  });

  const bookForm = document.getElementById("book-form");
  if (bookForm) {
    const booking = window.CCBooking.attach(document.getElementById("book-fields"), { base: base });
    bookForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = new FormData(bookForm);
      const body = Object.assign({ phone: form.get("phone"), patient_id: form.get("patient_id"),
        task_id: form.get("task_id"), note: form.get("note") }, booking.values());
      try {
        await window.CC.api(base + "/api/appointments", body);
        location.href = base + "/appointments?day=" + booking.day();
      } catch (e) { fail(e); }
    });
  }
})();
