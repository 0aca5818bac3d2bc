/* The Try-it page: the patient's phone and Twilio's side of a sandbox call, step by step. */
(function () {
  "use strict";
  const cfg = JSON.parse(document.getElementById("try-config").textContent);
  const base = "/p/" + cfg.practiceId + "/sandbox";
  const $ = (id) => document.getElementById(id);
  let current = null, spoken = 0, ringTimer = null, vmTimer = null, vmStarted = 0;

  function speak(text) {
    if (!("speechSynthesis" in window)) return;
    try { window.speechSynthesis.speak(new SpeechSynthesisUtterance(text)); } catch (e) { /* no voice */ }
  }

  function render(call) {
    if (current && call.call_sid !== current.call_sid) return;
    current = call;
    const list = $("transcript");
    list.innerHTML = "";
    call.lines.forEach((line, i) => {
      const li = document.createElement("li");
      li.className = "line " + line.who;
      li.textContent = line.text;
      list.appendChild(li);
      if (i >= spoken && line.who === "ivr") speak(line.text);
    });
    spoken = call.lines.length;
    list.scrollTop = list.scrollHeight;
    const labels = { ivr: "in the menu", gather: "waiting for your answer", ringing: "ringing the coordinator",
      connected: call.held ? "on hold" : "connected", voicemail: "recording voicemail", ended: "call ended" };
    $("call-state").textContent = labels[call.state] || call.state;
    $("call-state").className = "pill " + (call.state === "connected" ? "ok" : call.state === "ended" ? "muted" : "warn");
    $("keypad").hidden = call.state !== "gather";
    $("voicemail").hidden = call.state !== "voicemail";
    $("hangup").hidden = call.state === "ended";
    $("call").hidden = call.state !== "ended";
    clearTimeout(ringTimer);
    if (call.state === "ringing") {
      // Twilio's ring timeout: nobody answered in time, the product decides what is next.
      ringTimer = setTimeout(() => post("/calls/" + call.call_sid + "/ring-timeout", {}), (call.dial.timeout || 20) * 1000);
    }
    clearInterval(vmTimer);
    if (call.state === "voicemail") {
      vmStarted = Date.now();
      vmTimer = setInterval(() => { $("vm-secs").textContent = Math.round((Date.now() - vmStarted) / 1000) + " s"; }, 500);
    }
    refreshRequests();
  }

  async function post(path, body) {
    try { render(await window.CC.api(base + path, body)); }
    catch (e) {
      const li = document.createElement("li");
      li.className = "line system";
      li.textContent = e.message;
      $("transcript").appendChild(li);
    }
  }

  $("call").addEventListener("click", async () => {
    current = null;
    spoken = 0;
    $("transcript").innerHTML = "";
    $("call-state").textContent = "dialing…";
    await post("/calls", { from: $("from").value });
  });
  $("hangup").addEventListener("click", () => current && post("/calls/" + current.call_sid + "/hangup", {}));
  $("keypad").addEventListener("click", (event) => {
    const key = event.target.closest("button");
    if (!key || !current) return;
    post("/calls/" + current.call_sid + "/digits", { digits: key.dataset.key });
  });
  $("vm-done").addEventListener("click", () => {
    if (current) post("/calls/" + current.call_sid + "/voicemail", { seconds: String(Math.max(1, Math.round((Date.now() - vmStarted) / 1000))) });
  });

  $("sms").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = event.target.elements.body.value;
    const log = $("sms-log");
    const add = (who, text) => { const li = document.createElement("li"); li.className = "line " + who; li.textContent = text; log.appendChild(li); };
    add("caller", body);
    // Clear the box now, not when the reply arrives: the next text may already be typed.
    event.target.reset();
    try {
      const result = await window.CC.api(base + "/sms", { from: $("from").value, body: body });
      (result.replies || []).forEach((r) => add("ivr", r));
      if (!(result.replies || []).length) add("system", "no automatic reply");
    } catch (e) { add("system", e.message); }
    refreshRequests();
  });

  $("lead").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target.elements;
    const out = $("lead-result");
    out.textContent = "sending…";
    try {
      const lead = await window.CC.api(base + "/lead", { name: form.name.value, phone: $("from").value, message: form.message.value });
      const at = (iso) => new Date(iso).toLocaleTimeString([], { timeZone: cfg.zone, hour: "numeric", minute: "2-digit" });
      out.textContent = "Lead accepted: text " + lead.sms + ", first call due " + at(lead.first_attempt_due) +
        ", SLA " + at(lead.sla_deadline) + " (" + cfg.zone + ").";
    } catch (e) { out.textContent = e.message; }
    setTimeout(refreshRequests, 1500);
  });

  async function refreshRequests() {
    try {
      const data = await window.CC.api(base + "/requests");
      const body = $("requests");
      body.innerHTML = "";
      if (!data.requests.length) body.innerHTML = '<tr><td colspan="4" class="muted">none yet</td></tr>';
      data.requests.forEach((r) => {
        const tr = document.createElement("tr");
        const resource = r.url.replace(/^.*\/Accounts\/[^/]+/, "");
        [r.method, resource, r.form.To || "", r.form.Body || r.form.Url || ""].forEach((v) => {
          const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
        });
        body.appendChild(tr);
      });
    } catch (e) { /* the next action refreshes */ }
  }

  window.CC.events(cfg.practiceId, { "sandbox.call": render });
  refreshRequests();
})();
