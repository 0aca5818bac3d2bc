/* The coordinator's softphone: device registration with token refresh, presence, screen pop,
 * call controls, wrap-up with the outcome form, callback SLA countdowns and click to dial. */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("console-config").textContent);
  const base = cfg.base;  // /p/<id>
  const $ = (id) => document.getElementById(id);
  const state = { call: null, pop: null, startedAt: null, timer: null, device: null };

  function show(el, visible) { if (el) el.hidden = !visible; }
  function setDeviceState(text, kind) {
    const el = $("device-state");
    el.textContent = text;
    el.className = "pill " + (kind || "muted");
  }
  function setPresence(value) {
    const select = $("presence");
    let option = Array.from(select.options).find((o) => o.value === value);
    if (!option) {
      option = new Option(value.replace("_", " "), value, true, true);
      option.disabled = true;
      select.add(option);
    }
    select.value = value;
    $("presence-dot").className = "dot " + value;
  }

  async function fetchToken() { return window.CC.api(base + "/api/token"); }

  async function startDevice() {
    const token = await fetchToken();
    const events = window.CC.events(cfg.practiceId, {
      presence: (data) => { if (data.user_id === cfg.userId) setPresence(data.state); },
    });
    const options = { practiceId: cfg.practiceId, eventSource: events,
      tokenRefreshMs: token.refresh_before * 1000, closeProtection: true,
      codecPreferences: ["opus", "pcmu"], sounds: cfg.sounds };
    const device = cfg.sandbox || !window.Twilio
      ? new window.SandboxDevice(token.token, options)
      : new window.Twilio.Device(token.token, options);
    state.device = device;
    device.on("registered", () => setDeviceState(cfg.sandbox ? "ready · sandbox" : "ready", "ok"));
    device.on("unregistered", () => setDeviceState("offline", "muted"));
    device.on("error", (error) => setDeviceState("error: " + (error.message || error), "bad"));
    device.on("tokenWillExpire", async () => {
      try { device.updateToken((await fetchToken()).token); } catch (e) { setDeviceState("token refresh failed", "bad"); }
    });
    device.on("incoming", onIncoming);
    await device.register();
  }

  function resetPanel() {
    ["pop-name", "pop-phone", "pop-practice", "pop-choice", "pop-consent", "pop-sms", "pop-callbacks"]
      .forEach((id) => window.CC.text($(id), ""));
    $("pop-history").innerHTML = '<li class="muted">none</li>';
    show($("whisper"), false);
  }

  function fillPop(pop) {
    state.pop = pop;
    window.CC.text($("pop-name"), pop.name || "Unknown caller");
    window.CC.text($("pop-phone"), pop.phone);
    window.CC.text($("pop-practice"), pop.practice);
    window.CC.text($("pop-choice"), (pop.menu_choice || "no choice made") + (pop.after_hours ? " · after hours" : ""));
    window.CC.text($("pop-consent"), pop.recording_consent);
    const sms = pop.sms_opted_out === true ? "opted out (do not text)" : pop.sms_opted_out === false ? "opted in" : "no SMS consent on file";
    window.CC.text($("pop-sms"), sms);
    $("pop-sms").className = pop.sms_opted_out ? "warn" : "";
    window.CC.text($("pop-callbacks"), pop.open_callbacks.length ? pop.open_callbacks.map((c) => c.reason.replace("_", " ")).join(", ") : "none");
    const list = $("pop-history");
    list.innerHTML = "";
    if (!pop.past_contacts.length) list.innerHTML = '<li class="muted">first contact</li>';
    pop.past_contacts.forEach((c) => {
      const li = document.createElement("li");
      li.textContent = new Date(c.at).toLocaleString() + " · " + c.direction + " · " + c.status +
        (c.answered_by ? " · " + c.answered_by : "") + (c.outcome ? " · " + c.outcome.replace("_", " ") : "");
      list.appendChild(li);
    });
  }

  async function loadPop(call) {
    const parent = call.customParameters && call.customParameters.get ? call.customParameters.get("ParentCallSid") : "";
    try {
      fillPop(await window.CC.api(base + "/api/screen-pop" + (parent ? "?call_sid=" + encodeURIComponent(parent) : "")));
    } catch (e) {
      window.CC.text($("pop-name"), call.parameters.From || "Unknown caller");
    }
  }

  function controls(mode) {
    show($("btn-answer"), mode === "ringing");
    show($("btn-decline"), mode === "ringing");
    show($("btn-mute"), mode === "open");
    show($("btn-hold"), mode === "open");
    show($("btn-hangup"), mode === "open" || mode === "dialing");
  }

  function startTimer() {
    state.startedAt = Date.now();
    clearInterval(state.timer);
    state.timer = setInterval(() => { $("call-timer").textContent = window.CC.clock((Date.now() - state.startedAt) / 1000); }, 500);
  }

  function onIncoming(call) {
    if (state.call) { call.reject(); return; }
    state.call = call;
    state.pop = null;
    resetPanel();
    show($("idle"), false);
    show($("wrapup"), false);
    show($("wrapup-saved"), false);
    show($("wrapup-booked"), false);
    show($("call-panel"), true);
    $("call-status").textContent = "Incoming call · ringing";
    $("call-timer").textContent = "00:00";
    window.CC.text($("pop-phone"), call.parameters.From);
    controls("ringing");
    loadPop(call);
    call.on("accept", () => {
      $("call-status").textContent = "On call";
      controls("open");
      startTimer();
      if (call.whispers && call.whispers.length) { $("whisper").textContent = "Whisper: " + call.whispers.join(" "); show($("whisper"), true); }
    });
    call.on("cancel", () => endCall(false, "Caller hung up before you answered"));
    call.on("reject", () => endCall(false, "Declined"));
    call.on("disconnect", () => endCall(true, "Call ended"));
    call.on("mute", (muted) => { $("btn-mute").textContent = muted ? "Unmute" : "Mute"; $("btn-mute").classList.toggle("on", muted); });
  }

  async function endCall(talked, message) {
    clearInterval(state.timer);
    $("call-status").textContent = message;
    controls("none");
    const hadCall = state.pop && state.pop.call_id && talked;  // a callback's outcome is its attempt's
    state.call = null;
    if (hadCall) {
      show($("wrapup"), true);
      $("wrapup").querySelector("select").focus();
      // The server puts the coordinator in wrap-up when the call ends; show it.
      setTimeout(heartbeat, 700);
    } else {
      setTimeout(() => { if (!state.call) { show($("call-panel"), false); show($("idle"), true); } }, 2500);
    }
  }

  $("btn-answer").addEventListener("click", () => state.call && state.call.accept());
  $("btn-decline").addEventListener("click", () => state.call && state.call.reject());
  $("btn-hangup").addEventListener("click", () => state.call && state.call.disconnect());
  $("btn-mute").addEventListener("click", () => state.call && state.call.mute(!state.call.isMuted()));
  $("btn-hold").addEventListener("click", async () => {
    const call = state.call;
    if (!call || !call.hold) { $("btn-hold").title = "Hold needs conference routing with live Twilio"; return; }
    const on = !$("btn-hold").classList.contains("on");
    try {
      await call.hold(on);
      $("btn-hold").classList.toggle("on", on);
      $("btn-hold").textContent = on ? "Resume" : "Hold";
      $("call-status").textContent = on ? "On hold" : "On call";
    } catch (e) { $("call-status").textContent = e.message; }
  });

  // A booked outcome opens the booking form: the appointment is saved with the outcome.
  let booking = null;
  const BOOKED = ["booked_consultation", "booked_treatment"];
  $("wrapup").querySelector("select[name=outcome]").addEventListener("change", async (event) => {
    const booked = BOOKED.includes(event.target.value);
    show($("booking"), booked);
    if (!booked) return;
    if (!booking) booking = window.CCBooking.attach($("booking-fields"), { base: base, outcome: event.target.value });
    else await booking.reload(event.target.value);
  });

  $("wrapup").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData($("wrapup"));
    const body = { outcome: form.get("outcome"), note: form.get("note") };
    if (booking && BOOKED.includes(body.outcome)) Object.assign(body, booking.values());
    const bookedDay = booking ? booking.day() : "";
    try {
      const result = await window.CC.api(base + "/api/calls/" + state.pop.call_id + "/outcome", body);
      setPresence(result.presence);
      $("wrapup").reset();
      show($("booking"), false);
      show($("wrapup"), false);
      show($("wrapup-error"), false);
      show($("call-panel"), false);
      show($("wrapup-saved"), true);
      const booked = $("wrapup-booked");
      if (result.outcome.appointment_id) {
        booked.replaceChildren("Appointment booked. ");
        const link = document.createElement("a");
        link.href = base + "/appointments" + (bookedDay ? "?day=" + bookedDay : "");
        link.textContent = "See the day";
        link.dataset.testid = "booked-day-link";
        booked.append(link);
        show(booked, true);
      } else {
        show(booked, false);
      }
      show($("idle"), true);
      state.pop = null;
    } catch (e) {
      $("wrapup-error").textContent = e.message;
      show($("wrapup-error"), true);
      // The slot went to someone else meanwhile: show the times still free.
      if (e.status === 409 && booking) booking.reload(body.outcome);
    }
  });

  $("presence").addEventListener("change", async (event) => {
    try { setPresence((await window.CC.api(base + "/api/presence", { state: event.target.value })).state); }
    catch (e) { setDeviceState(e.message, "bad"); }
  });

  async function heartbeat() {
    try { setPresence((await window.CC.api(base + "/api/heartbeat", {})).state); } catch (e) { /* retry */ }
  }
  setInterval(heartbeat, 15000);

  function tick() {
    document.querySelectorAll("tr[data-deadline]").forEach((row) => {
      const left = (Date.parse(row.dataset.deadline) - Date.now()) / 1000;
      const cell = row.querySelector(".countdown");
      cell.textContent = left >= 0 ? window.CC.clock(left) + " left" : "overdue " + window.CC.clock(-left);
      row.classList.toggle("breach", left < 0);
    });
  }
  tick();
  setInterval(tick, 1000);

  document.querySelectorAll("button.dial").forEach((button) => {
    button.addEventListener("click", async () => {
      if (!state.device || state.call) return;
      const call = await state.device.connect({ params: { To: button.dataset.phone, CallbackTaskId: button.dataset.task } });
      state.call = call;
      state.pop = null;
      resetPanel();
      show($("idle"), false);
      show($("call-panel"), true);
      window.CC.text($("pop-name"), "Calling back");
      window.CC.text($("pop-phone"), button.dataset.phone);
      $("call-status").textContent = "Dialing…";
      controls("dialing");
      // The server reserves the coordinator for the call and frees them after: show it.
      call.on("accept", () => {
        $("call-status").textContent = "On call"; controls("open"); startTimer(); heartbeat();
      });
      call.on("disconnect", () => { endCall(false, call.endReason || "Call ended"); setTimeout(heartbeat, 500); });
    });
  });

  window.CC.api(base + "/api/heartbeat", {}).then((r) => setPresence(r.state)).catch(() => {});
  startDevice().catch((e) => setDeviceState("phone unavailable: " + e.message, "bad"));
  window.softphone = state;
})();
