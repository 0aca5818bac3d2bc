/* A stand-in for Twilio.Device in sandbox mode, with the same interface the softphone uses.
 *
 * new SandboxDevice(token, {practiceId, eventSource, tokenRefreshMs}); device.on(event, fn);
 * register(), unregister(), updateToken(token), connect({params}), destroy(); events:
 * registered, unregistered, incoming(call), tokenWillExpire, error. Calls (SandboxCall) have
 * parameters, customParameters, status(), accept(), reject(), ignore(), disconnect(),
 * mute(bool), isMuted(), sendDigits(), on(event, fn): accept, disconnect, cancel, reject, mute.
 * Incoming calls arrive as server-sent events from the sandbox's Twilio stand-in.
 */
(function () {
  "use strict";

  class Emitter {
    constructor() { this._handlers = {}; }
    on(event, fn) { (this._handlers[event] = this._handlers[event] || []).push(fn); return this; }
    off(event, fn) {
      this._handlers[event] = (this._handlers[event] || []).filter(function (h) { return h !== fn; });
      return this;
    }
    once(event, fn) {
      const wrap = (...args) => { this.off(event, wrap); fn(...args); };
      return this.on(event, wrap);
    }
    emit(event, ...args) { (this._handlers[event] || []).slice().forEach(function (h) { h(...args); }); }
  }

  function jwtExpiry(token) {
    try { return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/"))).exp; }
    catch (e) { return null; }
  }

  class SandboxCall extends Emitter {
    constructor(device, data, direction) {
      super();
      this._device = device;
      this._data = data;
      this._status = direction === "OUTGOING" ? "connecting" : "pending";
      this._muted = false;
      this.direction = direction;
      this.parameters = { CallSid: data.child_sid || data.call_sid, From: data.from || "", To: data.to || "" };
      this.customParameters = new Map([["ParentCallSid", data.call_sid || ""]]);
    }
    _url(action) {
      return "/p/" + (this._data.practice_id || this._device.practiceId) + "/sandbox/device/" +
        encodeURIComponent(this._data.call_sid) + "/" + action;
    }
    status() { return this._status; }
    isMuted() { return this._muted; }
    async accept() {
      if (this._status !== "pending") return;
      this._status = "connecting";
      try {
        const result = await window.CC.api(this._url("answer"), {});
        this._status = "open";
        this.whispers = result.whispers || [];
        this.emit("accept", this);
      } catch (error) {
        this._status = "closed";
        this.emit("error", error);
        this.emit("cancel");
      }
    }
    async reject() {
      if (this._status !== "pending") return;
      this._status = "closed";
      this._device._forget(this);
      try { await window.CC.api(this._url("reject"), { status: "busy" }); } catch (e) { /* gone */ }
      this.emit("reject");
    }
    ignore() { this._status = "closed"; this._device._forget(this); }
    async disconnect() {
      if (this._status === "closed") return;
      const wasOpen = this._status === "open";
      this._status = "closed";
      this._device._forget(this);
      if (wasOpen) {
        try { await window.CC.api(this._url("hangup"), {}); } catch (e) { /* ended already */ }
      }
      this.emit("disconnect", this);
    }
    async hold(on) { return window.CC.api(this._url("hold"), { on: on ? "1" : "0" }); }
    mute(shouldMute) {
      this._muted = shouldMute === undefined ? true : !!shouldMute;
      this.emit("mute", this._muted, this);
    }
    sendDigits() { /* the sandbox caller has no IVR after connecting */ }
    _remoteEnded(kind) {
      if (this._status === "closed") return;
      const wasOpen = this._status === "open";
      this._status = "closed";
      this._device._forget(this);
      this.emit(wasOpen ? "disconnect" : kind, this);
    }
  }

  class SandboxDevice extends Emitter {
    constructor(token, options) {
      super();
      options = options || {};
      this.token = token;
      this.practiceId = options.practiceId;
      this.state = "unregistered";
      this.calls = [];
      this._source = options.eventSource || null;
      this._refreshMs = options.tokenRefreshMs || 10000;
      this._timer = null;
      this._listening = false;
      this._scheduleExpiry();
    }
    get isBusy() { return this.calls.some(function (c) { return c.status() === "open"; }); }
    get identity() { return this._identity || null; }
    _scheduleExpiry() {
      clearTimeout(this._timer);
      const exp = jwtExpiry(this.token);
      if (!exp) return;
      const wait = exp * 1000 - Date.now() - this._refreshMs;
      this._timer = setTimeout(() => this.emit("tokenWillExpire", this), Math.max(0, wait));
    }
    updateToken(token) { this.token = token; this._scheduleExpiry(); }
    _listen() {
      if (this._listening) return;
      this._listening = true;
      if (!this._source) this._source = new EventSource("/p/" + this.practiceId + "/events");
      this._source.addEventListener("sandbox.incoming", (e) => {
        if (this.state !== "registered") return;
        const data = JSON.parse(e.data);
        const call = new SandboxCall(this, data, "INCOMING");
        this.calls.push(call);
        this.emit("incoming", call);
      });
      const ended = (kind) => (e) => {
        const data = JSON.parse(e.data);
        this.calls.filter(function (c) { return c._data.call_sid === data.call_sid; })
          .forEach(function (c) { c._remoteEnded(kind); });
      };
      this._source.addEventListener("sandbox.cancel", ended("cancel"));
      this._source.addEventListener("sandbox.hangup", ended("disconnect"));
    }
    async register() {
      this._listen();
      if (this._source.readyState !== 1) {
        // Registered once the event stream is subscribed, so no ring is missed.
        await new Promise((resolve) => this._source.addEventListener("open", resolve, { once: true }));
      }
      this.state = "registered";
      this.emit("registered");
    }
    async unregister() { this.state = "unregistered"; this.emit("unregistered"); }
    async connect(options) {
      // Like Twilio's TwiML App: the product decides what the call does (a callback task's
      // patient, or a spoken refusal); the sandbox patient answers at once.
      const params = (options && options.params) || {};
      const placed = await window.CC.api("/p/" + this.practiceId + "/sandbox/device/calls",
        { task_id: params.CallbackTaskId || "" });
      const call = new SandboxCall(this, { call_sid: placed.call_sid, to: placed.to_number }, "OUTGOING");
      call.lines = placed.lines || [];
      this.calls.push(call);
      setTimeout(() => {
        if (call._status !== "connecting") return;
        if (placed.state === "connected") { call._status = "open"; call.emit("accept", call); }
        else { call.endReason = call.lines.map((l) => l.text).join(" "); call._remoteEnded("disconnect"); }
      }, 300);
      return call;
    }
    _forget(call) { this.calls = this.calls.filter(function (c) { return c !== call; }); }
    disconnectAll() { this.calls.slice().forEach(function (c) { c.disconnect(); }); }
    destroy() {
      this.disconnectAll();
      clearTimeout(this._timer);
      this.state = "destroyed";
      this.emit("destroyed");
    }
  }

  window.SandboxDevice = SandboxDevice;
  window.SandboxCall = SandboxCall;
})();
