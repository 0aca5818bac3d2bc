/* The booking form: service, provider, day and a free slot from the practice's calendar.
 * Used by the wrap-up (booked consultation / treatment), the patient's page, callbacks and the
 * day view's reschedule. CCBooking.attach(root, {base, outcome, serviceId, ignore}) fills
 * ``root`` with the fields and returns {values(), reload(outcome)}. */
(function () {
  "use strict";

  function field(labelText, control) {
    const label = document.createElement("label");
    label.append(labelText + " ", control);
    return label;
  }

  function select(name, testid) {
    const el = document.createElement("select");
    el.name = name;
    el.dataset.testid = testid;
    return el;
  }

  function attach(root, opts) {
    const base = opts.base;
    root.replaceChildren();
    const service = select("service_id", "booking-service");
    const provider = select("provider_id", "booking-provider");
    const day = document.createElement("input");
    day.type = "date";
    day.name = "day";
    day.dataset.testid = "booking-day";
    const slot = select("start", "booking-slot");
    const hint = document.createElement("p");
    hint.className = "muted small";
    hint.dataset.testid = "booking-hint";
    if (opts.serviceId) { service.hidden = true; }
    root.append(
      opts.serviceId ? service : field("Service", service),
      field("Provider", provider),
      field("Day", day),
      field("Time", slot),
      hint,
    );

    async function loadSlots() {
      slot.replaceChildren(new Option("Loading…", ""));
      if (!service.value || !day.value) { slot.replaceChildren(new Option("Pick a service and a day", "")); return; }
      const params = new URLSearchParams({ service_id: service.value, day: day.value });
      if (provider.value) params.set("provider_id", provider.value);
      if (opts.ignore) params.set("ignore", opts.ignore);
      try {
        const data = await window.CC.api(base + "/api/appointments/slots?" + params.toString());
        slot.replaceChildren();
        if (!data.slots.length) {
          slot.append(new Option("No free time that day", ""));
          hint.textContent = "Try another day or provider.";
          return;
        }
        slot.append(new Option("Choose a time…", ""));
        data.slots.forEach((s) => {
          const who = s.providers.length && !provider.value ? " · " + s.providers.join(", ") : "";
          slot.append(new Option(s.label + who, s.start));
        });
        hint.textContent = data.slots.length + " free times";
      } catch (e) {
        slot.replaceChildren(new Option("Could not load times", ""));
        hint.textContent = e.message;
      }
    }

    async function reload(outcome) {
      const params = new URLSearchParams();
      if (outcome) params.set("outcome", outcome);
      const data = await window.CC.api(base + "/api/appointments/options?" + params.toString());
      service.replaceChildren();
      if (!opts.serviceId) service.append(new Option(data.services.length ? "Choose…" : "No services set up", ""));
      data.services.forEach((s) => service.append(new Option(s.name + " (" + s.minutes + " min)", String(s.id))));
      if (opts.serviceId) {
        if (!Array.from(service.options).some((o) => o.value === String(opts.serviceId))) {
          service.append(new Option("", String(opts.serviceId)));
        }
        service.value = String(opts.serviceId);
      } else if (data.services.length === 1) {
        service.value = String(data.services[0].id);
      }
      provider.replaceChildren(new Option("Any provider", ""));
      data.providers.forEach((p) => provider.append(new Option(p.name, String(p.id))));
      if (!day.value) { day.value = data.today; day.min = data.today; }
      await loadSlots();
    }

    [service, provider, day].forEach((el) => el.addEventListener("change", loadSlots));
    const ready = reload(opts.outcome);
    return {
      ready: ready,
      reload: reload,
      values: () => ({ service_id: service.value, provider_id: provider.value, start: slot.value }),
      day: () => day.value,
    };
  }

  window.CCBooking = { attach: attach };
})();
