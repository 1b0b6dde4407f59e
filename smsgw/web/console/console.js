// smsgw web console: plain JavaScript, no build step. It reads the JSON API (/api/...), the
// mock merchant's API (/merchant/...) and follows the carrier's events (/api/events) so that
// phones, traffic and orders change live.
"use strict";

// -- small helpers ---------------------------------------------------------------------

const $ = (selector, root = document) => root.querySelector(selector);

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(method, path, body) {
  const options = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch {
    throw new Error(`the carrier does not answer (${method} ${path}): is smsgw still running?`);
  }
  const text = await response.text();
  const payload = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error(payload?.error?.message || `${method} ${path}: ${response.status}`);
    error.code = payload?.error?.code;
    error.status = response.status;
    throw error;
  }
  return payload;
}

function toast(message, isError = false) {
  const box = $("#toast");
  box.textContent = message;
  box.className = isError ? "toast error" : "toast";
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

// Errors of user actions go to the toast; the console stays usable.
function guarded(action) {
  return async (...args) => {
    try {
      await action(...args);
    } catch (error) {
      toast(error.message, true);
    }
  };
}

function debounce(action, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(action, ms);
  };
}

// Times come as ISO text from the carrier's API and as epoch seconds from the merchant's; all
// are on the carrier's clock. A time on another day than the carrier's today shows its date.
let carrierToday = new Date().toDateString();
function time(at) {
  if (!at) return "";
  const moment = new Date(typeof at === "number" ? at * 1000 : at);
  const clock = moment.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
  return moment.toDateString() === carrierToday ? clock : `${moment.toLocaleDateString()} ${clock}`;
}
const plus = (msisdn) => (/^\d{6,}$/.test(msisdn) ? `+${msisdn}` : msisdn);
function money(minor, currency) {
  const sign = minor < 0 ? "-" : "";
  const value = Math.abs(minor);
  return `${sign}${Math.floor(value / 100)}.${String(value % 100).padStart(2, "0")} ${currency}`;
}
function hexDump(hex) {
  const lines = [];
  for (let offset = 0; offset < hex.length; offset += 32) {
    const bytes = hex.slice(offset, offset + 32).match(/../g).join(" ");
    lines.push(`${(offset / 2).toString(16).padStart(4, "0")}  ${bytes}`);
  }
  return lines.join("\n");
}

// -- tabs ------------------------------------------------------------------------------

const views = {};
let currentTab = "phones";

// A tab's address may carry what to show: #timeline?order=ord_0042.
function showTab(address) {
  let [name, query] = address.split("?");
  if (!views[name]) name = "phones";
  currentTab = name;
  for (const section of document.querySelectorAll("[data-view]")) section.hidden = section.dataset.view !== name;
  for (const link of document.querySelectorAll("[data-tab]")) link.classList.toggle("active", link.dataset.tab === name);
  views[name].refresh(new URLSearchParams(query || "")).catch((error) => toast(error.message, true));
}

window.addEventListener("hashchange", () => showTab(location.hash.slice(1)));

// -- phones ----------------------------------------------------------------------------

const phones = new Map(); // msisdn -> Phone
let activePhone = null;

class Phone {
  constructor(handset) {
    this.msisdn = handset.msisdn;
    this.name = handset.name;
    this.state = handset.state;
    this.mode = "inbox"; // inbox | read | compose | dial | ussd
    this.entry = "";
    this.messages = [];
    this.selected = -1;
    this.reading = null;
    this.ussd = null;
    this.composeTo = "";
    this.node = this.build();
  }

  build() {
    const key = (label, action, extra = "") =>
      el("button", { type: "button", class: extra, "data-key": label, onclick: guarded(action) }, label);
    this.screen = el("div", { class: "screen", "data-testid": "screen" });
    this.left = el("button", { type: "button", class: "soft left", "data-testid": "soft-left", onclick: guarded(() => this.softLeft()) });
    this.right = el("button", { type: "button", class: "soft right", "data-testid": "soft-right", onclick: guarded(() => this.softRight()) });
    this.power = el("button", { type: "button", class: "power", "data-testid": "power", onclick: guarded(() => this.togglePower()) });
    this.nameNode = el("span", { class: "name" });
    const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"].map((k) => key(k, () => this.press(k)));
    const node = el(
      "article",
      { class: "phone", tabindex: "0", "data-msisdn": this.msisdn, "data-testid": `phone-${this.msisdn}` },
      el("div", { class: "phone-head" }, this.nameNode, el("span", { class: "num" }, plus(this.msisdn)),
        el("a", { class: "to-timeline", href: `#timeline?msisdn=${this.msisdn}`, title: "this phone's timeline", "data-testid": "phone-timeline" }, "⏱"),
        this.power),
      this.screen,
      el("div", { class: "softkeys" }, this.left, this.right),
      el("div", { class: "keypad" }, key("call", () => this.call(), "call"), el("span"), key("end", () => this.end(), "end"), keys),
    );
    node.addEventListener("focus", () => setActive(this));
    node.addEventListener("click", () => setActive(this));
    return node;
  }

  async load() {
    await Promise.all([this.loadInbox(), this.loadUssd()]);
  }

  async loadInbox() {
    const inbox = await api("GET", `/api/handsets/${this.msisdn}/inbox?limit=1000`);
    this.messages = inbox.messages.slice(-30).reverse(); // newest first, as a phone lists them
    // The highlight stays on the same message when new ones come in above it.
    this.selected = this.messages.findIndex((m) => m.id === this.selectedId);
    this.render();
  }

  async loadUssd() {
    const screen = await api("GET", `/api/handsets/${this.msisdn}/ussd`);
    // A dialogue that ended before this page looked is history: it does not take the screen.
    const fresh = this.ussd ? screen.cursor > this.ussd.cursor : screen.state !== "closed";
    this.ussd = screen;
    if (fresh && screen.state !== "idle" && (screen.screen || screen.state === "closed") && this.mode !== "compose") {
      this.mode = "ussd";
      this.entry = "";
    }
    this.render();
  }

  render() {
    const off = this.state === "off";
    this.node.classList.toggle("off", off);
    this.nameNode.textContent = this.name || "phone";
    this.power.textContent = off ? "off" : this.state;
    // A compose screen is built once: rebuilding it (a message arriving) would lose the caret.
    const composing = this.mode === "compose" && !off;
    if (!(composing && this.composeShown)) this.screen.replaceChildren(...this.screenContent(off));
    this.composeShown = composing;
    const [left, right] = this.softLabels();
    this.left.textContent = left;
    this.right.textContent = right;
  }

  screenContent(off) {
    if (off) return [el("div", { class: "title" }, "switched off")];
    if (this.mode === "dial") return [el("div", { class: "title" }, "Dial"), el("div", { class: "entry", "data-testid": "entry" }, this.entry)];
    if (this.mode === "read" && this.reading) {
      const m = this.reading;
      return [
        el("div", { class: "title" }, `From ${m.from}`),
        el("div", { class: "meta" }, `${time(m.received_at)}${m.complete ? "" : " · incomplete"}${m.flash ? " · flash" : ""}`),
        el("div", { "data-testid": "message-text" }, m.text),
      ];
    }
    if (this.mode === "compose") {
      const area = el("textarea", { "data-testid": "compose-text", placeholder: "text (Enter sends)" });
      area.value = this.composeText || "";
      area.addEventListener("input", () => { this.composeText = area.value; });
      const to = el("input", { "data-testid": "compose-to", value: this.composeTo, placeholder: "to", size: "12" });
      to.addEventListener("input", () => { this.composeTo = to.value; });
      for (const field of [area, to]) {
        field.addEventListener("keydown", (event) => {
          if (event.key === "Enter" && !event.shiftKey) {
            event.preventDefault();
            guarded(() => this.send())();
          } else if (event.key === "Escape") {
            event.preventDefault();
            this.home();
            this.node.focus();
          }
        });
      }
      queueMicrotask(() => (this.composeTo ? area : to).focus());
      return [el("div", { class: "title" }, "New SMS"), el("label", {}, "To ", to), area];
    }
    if (this.mode === "ussd" && this.ussd && this.ussd.state !== "idle") {
      const u = this.ussd;
      const waiting = u.state === "waiting_app" && !u.screen;
      const parts = [el("div", { class: "title" }, el("span", {}, u.service_code || "USSD"), el("span", {}, u.state === "closed" ? "ended" : ""))];
      parts.push(el("div", { "data-testid": "ussd-text" }, waiting ? "Please wait…" : u.screen || ""));
      if (u.state === "closed" && u.end_reason) parts.push(el("div", { class: "meta" }, u.end_reason));
      if (u.expects_reply) parts.push(el("div", { class: "prompt-input", "data-testid": "ussd-input" }, this.entry));
      return parts;
    }
    const items = this.messages.map((m, i) =>
      el("li", { class: i === this.selected ? "selected" : "", "data-testid": "inbox-item", onclick: () => this.open(i) },
        `${m.from}: ${m.text}`));
    return [
      el("div", { class: "title" }, el("span", {}, "Messages"), el("span", {}, String(this.messages.length))),
      items.length ? el("ul", { "data-testid": "inbox" }, items) : el("div", { class: "meta" }, "no messages"),
    ];
  }

  softLabels() {
    if (this.state === "off") return ["", ""];
    switch (this.mode) {
      case "dial": return ["Clear", "Back"];
      case "read": return ["Reply", "Back"];
      case "compose": return ["Send", "Back"];
      case "ussd":
        if (this.ussd?.expects_reply) return ["Send", "Cancel"];
        return this.ussd?.state === "closed" ? ["OK", ""] : ["", "Cancel"];
      default: return ["Write", this.selected >= 0 ? "Open" : ""];
    }
  }

  // -- keys --

  press(key) {
    if (this.state === "off") return;
    if (this.mode === "ussd" && this.ussd?.expects_reply) {
      this.entry += key;
    } else if (this.mode === "inbox" || this.mode === "dial" || (this.mode === "ussd" && this.ussd?.state === "closed")) {
      if (this.mode !== "dial") this.entry = "";
      this.mode = "dial";
      this.entry += key;
    } else {
      return;
    }
    this.render();
  }

  backspace() {
    if (this.entry) {
      this.entry = this.entry.slice(0, -1);
      if (!this.entry && this.mode === "dial") this.mode = "inbox";
      this.render();
    }
  }

  async call() {
    if (this.state === "off") return;
    if (this.mode === "dial" && this.entry) {
      const typed = this.entry;
      this.entry = "";
      if (/[*#]/.test(typed)) {
        this.dialing = api("POST", `/api/handsets/${this.msisdn}/ussd?wait=10`, { dial: typed });
        try {
          this.ussd = await this.dialing;
        } catch (error) {
          this.entry = typed; // stay on the dial screen with what was typed
          throw error;
        } finally {
          this.dialing = null;
        }
        if (this.cancelled) return; // end() cancels it
        this.mode = "ussd";
      } else {
        this.mode = "compose";
        this.composeTo = typed;
      }
      this.render();
    } else if (this.mode === "ussd" && this.ussd?.expects_reply) {
      await this.answer();
    } else if (this.mode === "compose") {
      await this.send();
    } else if (this.mode === "read" && this.reading) {
      this.reply();
    }
  }

  async answer() {
    const text = this.entry;
    this.entry = "";
    // Typed at the prompt on this screen: if another dialogue took the phone meanwhile (a push
    // after a timeout), the server refuses rather than type the text into it.
    const session = this.ussd ? this.ussd.session : undefined;
    this.ussd = await api("POST", `/api/handsets/${this.msisdn}/ussd/reply?wait=10`, { text, session });
    this.render();
  }

  async end() {
    if (this.dialing) {
      // Ended while the dial waits for the first screen: cancel the dialogue once it is open.
      this.cancelled = true;
      this.home();
      this.ussd = await this.dialing.catch(() => null);
    }
    if (this.ussd && this.ussd.state !== "closed" && this.ussd.state !== "idle" && (this.mode === "ussd" || this.cancelled)) {
      this.ussd = await api("DELETE", `/api/handsets/${this.msisdn}/ussd`);
    }
    this.cancelled = false;
    this.home();
  }

  home() {
    this.mode = "inbox";
    this.entry = "";
    this.reading = null;
    this.render();
  }

  open(index) {
    this.selected = index;
    this.selectedId = this.messages[index]?.id;
    this.reading = this.messages[index];
    if (this.reading) this.mode = "read";
    this.render();
  }

  reply() {
    this.composeTo = this.reading ? this.reading.from : "";
    this.composeText = "";
    this.mode = "compose";
    this.render();
  }

  async send() {
    const to = (this.composeTo || "").trim();
    const text = this.composeText || "";
    if (!to || !text) throw new Error("an SMS needs a number (or short code) and a text");
    await api("POST", `/api/handsets/${this.msisdn}/sms`, { to, text });
    toast(`sent to ${to}`);
    this.composeText = "";
    this.home();
  }

  async softLeft() {
    switch (this.mode) {
      case "dial": this.entry = ""; this.mode = "inbox"; this.render(); break;
      case "read": this.reply(); break;
      case "compose": await this.send(); break;
      case "ussd":
        if (this.ussd?.expects_reply) await this.answer();
        else if (this.ussd?.state === "closed") this.home();
        break;
      default: this.composeTo = ""; this.composeText = ""; this.mode = "compose"; this.render();
    }
  }

  async softRight() {
    if (this.mode === "ussd") return this.end();
    if (this.mode === "inbox" && this.selected >= 0) return this.open(this.selected);
    this.home();
  }

  move(step) {
    if (this.mode !== "inbox" || !this.messages.length) return;
    this.selected = Math.max(0, Math.min(this.messages.length - 1, this.selected + step));
    this.selectedId = this.messages[this.selected].id;
    this.render();
  }

  async togglePower() {
    const state = this.state === "off" ? "on" : "off";
    const handset = await api("PATCH", `/api/handsets/${this.msisdn}`, { state });
    this.state = handset.state;
    this.render();
  }
}

function setActive(phone) {
  if (activePhone === phone) return;
  if (activePhone) activePhone.node.classList.remove("active");
  activePhone = phone;
  phone.node.classList.add("active");
}

// The keypad on the keyboard, for the phone last clicked (unless typing in a field).
document.addEventListener("keydown", (event) => {
  if (event.altKey && /^[1-6]$/.test(event.key)) {
    location.hash = ["phones", "traffic", "sessions", "merchant", "faults", "timeline"][Number(event.key) - 1];
    event.preventDefault();
    return;
  }
  if (currentTab !== "phones" || !activePhone || event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.target.matches("input, textarea, select")) return;
  const phone = activePhone;
  const run = guarded(async () => {
    const answering = phone.mode === "ussd" && phone.ussd?.expects_reply;
    // A USSD answer may be any text ("12.50"); elsewhere the keypad's keys dial.
    if (/^[0-9*#]$/.test(event.key) || (answering && event.key.length === 1)) phone.press(event.key);
    else if (event.key === "Enter") await phone.call();
    else if (event.key === "Escape") await phone.end();
    else if (event.key === "Backspace") phone.backspace();
    else if (event.key === "ArrowDown") phone.move(1);
    else if (event.key === "ArrowUp") phone.move(-1);
    else return;
    event.preventDefault();
  });
  run();
});

const phonesView = {
  async refresh() {
    const { handsets } = await api("GET", "/api/handsets");
    const grid = $("#phone-grid");
    const seen = new Set();
    for (const handset of handsets) {
      seen.add(handset.msisdn);
      let phone = phones.get(handset.msisdn);
      if (!phone) {
        phone = new Phone(handset);
        phones.set(handset.msisdn, phone);
        grid.append(phone.node);
        phone.load().catch((error) => toast(error.message, true));
      } else {
        phone.name = handset.name;
        phone.state = handset.state;
        phone.render();
      }
    }
    for (const [msisdn, phone] of phones) {
      if (!seen.has(msisdn)) {
        phone.node.remove();
        phones.delete(msisdn);
      }
    }
  },
};
views.phones = phonesView;

$("#add-phone").addEventListener("submit", guarded(async (event) => {
  event.preventDefault();
  const form = event.target;
  const body = { name: form.name.value };
  if (form.msisdn.value.trim()) body.msisdn = form.msisdn.value.trim();
  const handset = await api("POST", "/api/handsets", body);
  form.reset();
  toast(`added ${plus(handset.msisdn)}`);
  await phonesView.refresh();
}));

// -- traffic ---------------------------------------------------------------------------

// Accounts format their ids differently (decimal, hex), so two accounts' messages can share a
// message_id: a message is named by its account and its id together.
const messageKey = (account, messageId) => `${account ?? ""}\u0000${messageId}`;
const stateHistory = new Map(); // messageKey -> [{state, at}] seen live by this page
let selectedMessage = null; // { account, id }

// Receipts and USSD screens are not stored messages: the page keeps those it saw live.
const liveRows = [];
const LIVE_ROWS = 500;

function keepLive(row) {
  liveRows.unshift(row);
  if (liveRows.length > LIVE_ROWS) liveRows.pop();
}

const trafficView = {
  async refresh() {
    const form = $("#traffic-filters");
    const filter = Object.fromEntries(
      ["msisdn", "account", "direction", "state"].map((name) => [name, form[name].value.trim()]),
    );
    const stored = !filter.direction || filter.direction === "MT" || filter.direction === "MO";
    let messages = [];
    if (stored) {
      const query = new URLSearchParams({ limit: "200" });
      for (const [name, value] of Object.entries(filter)) if (value) query.set(name, value);
      try {
        ({ messages } = await api("GET", `/api/messages?${query}`));
      } catch (error) {
        $("#traffic-table tbody").replaceChildren(el("tr", {}, el("td", { colspan: "8" }, `filter: ${error.message}`)));
        throw error;
      }
    }
    const rows = messages.map((m) => ({
      kind: m.direction, at: m.submitted_at, id: m.message_id, account: m.account, from: m.from, to: m.to,
      text: m.text ?? `(${m.body_hex.length / 2} bytes)`, state: m.state, open: () => showMessage(m.account, m.message_id),
    }));
    const digits = filter.msisdn.replace(/\D/g, "");
    for (const row of liveRows) {
      if (filter.direction ? row.kind !== filter.direction : false) continue;
      if (filter.account && row.account !== filter.account) continue;
      if (filter.state && row.state !== filter.state) continue;
      if (digits && !`${row.from} ${row.to}`.includes(digits)) continue;
      rows.push(row);
    }
    rows.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
    const selected = (row) => (row.kind === "MT" || row.kind === "MO") && selectedMessage !== null &&
      row.id === selectedMessage.id && (row.account ?? "") === selectedMessage.account;
    $("#traffic-table tbody").replaceChildren(...rows.slice(0, 300).map((row) =>
      el("tr", { "data-id": row.id, "data-account": row.account ?? "", "data-kind": row.kind, class: selected(row) ? "selected" : "", onclick: guarded(row.open) },
        el("td", {}, time(row.at)),
        el("td", {}, row.id),
        el("td", {}, row.kind),
        el("td", {}, row.account || "—"),
        el("td", {}, row.from),
        el("td", {}, row.to),
        el("td", { class: "text" }, row.text),
        el("td", { class: `state-${row.state}` }, row.state))));
    if (selectedMessage) await showMessage(selectedMessage.account, selectedMessage.id, false);
  },
};

function showUssd(row) {
  selectedMessage = null;
  const detail = $("#message-detail");
  detail.hidden = false;
  const field = (name, value) => [el("dt", {}, name), el("dd", {}, value ?? "—")];
  detail.replaceChildren(
    el("h3", {}, `USSD dialogue ${row.session} (${row.origin === "network" ? "pushed" : "dialled"})`),
    el("dl", {}, field("handset", plus(row.msisdn)), field("state", row.state), field("screen", row.text),
      field("waits for an answer", row.expects ? "yes" : "no"), field("ended", row.end || "—"), field("at", time(row.at))),
    el("div", { class: "meta" }, "USSD travels as SMPP deliver_sm/submit_sm with ussd_service_op; the dialogue's screens are shown as the phone saw them."),
  );
}
views.traffic = trafficView;
$("#traffic-filters").addEventListener("submit", guarded(async (event) => {
  event.preventDefault();
  await trafficView.refresh();
}));

async function showMessage(account, messageId, scroll = true) {
  account = account ?? "";
  selectedMessage = { account, id: messageId };
  const path = `/api/messages/${encodeURIComponent(messageId)}`;
  const which = `?${new URLSearchParams({ account })}`;
  const [m, { pdus }] = await Promise.all([api("GET", path + which), api("GET", `${path}/pdus${which}`)]);
  for (const row of document.querySelectorAll("#traffic-table tbody tr")) {
    const same = row.dataset.id === messageId && row.dataset.account === account;
    row.classList.toggle("selected", same && (row.dataset.kind === "MT" || row.dataset.kind === "MO"));
  }
  const field = (name, value) => [el("dt", {}, name), el("dd", {}, value ?? "—")];
  const timeline = [{ state: "submitted", at: m.submitted_at }];
  if (m.scheduled_at) timeline.push({ state: "scheduled for", at: m.scheduled_at });
  for (const change of stateHistory.get(messageKey(account, messageId)) || []) timeline.push(change);
  if (m.done_at && !timeline.some((t) => t.state === m.state)) timeline.push({ state: m.state, at: m.done_at });
  const detail = $("#message-detail");
  detail.hidden = false;
  detail.replaceChildren(
    el("h3", {}, `Message ${m.message_id} (${m.direction})`),
    el("a", { href: `#timeline?${new URLSearchParams({ message_id: m.message_id, account })}`, "data-testid": "message-timeline" },
      "Its timeline: every step, across SMPP, USSD, HTTP and the merchant"),
    el("dl", {},
      field("account", m.account),
      field("from", m.from),
      field("to", m.to),
      field("text", m.text),
      field("data_coding", `0x${m.data_coding.toString(16).padStart(2, "0")}`),
      field("esm_class", `0x${m.esm_class.toString(16).padStart(2, "0")}`),
      field("parts", m.parts ? `part ${m.parts.seq} of ${m.parts.total} (ref ${m.parts.ref})` : "one part"),
      field("registered_delivery", m.registered_delivery),
      field("service_type", m.service_type || "—"),
      field("state", m.state),
      field("error", m.error),
      field("expires", m.expires_at ? new Date(m.expires_at).toLocaleString() : "—")),
    el("strong", {}, "Timeline"),
    el("ol", { class: "timeline" }, timeline.map((t) => el("li", {}, `${time(t.at)} ${t.state}`))),
    el("strong", {}, "User data"),
    el("pre", {}, hexDump(m.body_hex) || "(empty)"),
    el("strong", {}, "PDUs"),
    ...(pdus.length
      ? pdus.flatMap((p) => [
          el("div", { class: "meta" }, `${p.direction === "received" ? "← from" : "→ to"} the ESME: ${p.command}` +
            `${p.sequence_number ? ` seq ${p.sequence_number}` : ""}, ${p.length} bytes, ${time(p.at)}`),
          el("pre", { "data-testid": "pdu-hex" }, hexDump(p.hex)),
        ])
      : [el("div", { class: "meta" }, "no PDU kept for this message (older than the log, or not from an ESME)")]),
  );
  if (scroll && window.innerWidth < 900) detail.scrollIntoView({ behavior: "smooth" });
}

// -- sessions --------------------------------------------------------------------------

const accepted = []; // [at ms, system_id] of messages accepted lately, for a rate per account

const sessionsView = {
  async refresh() {
    const { sessions } = await api("GET", "/api/sessions");
    const since = Date.now() - 10000;
    while (accepted.length && accepted[0][0] < since) accepted.shift();
    const rate = (systemId) => (accepted.filter(([, s]) => s === systemId).length / 10).toFixed(1);
    const rows = sessions.map((s) =>
      el("tr", { "data-id": s.id },
        el("td", {}, s.id),
        el("td", {}, s.system_id),
        el("td", {}, s.bind_type),
        el("td", {}, s.peer),
        el("td", {}, time(s.since)),
        el("td", {}, `${s.window.in_flight}/${s.window.size}`),
        el("td", {}, s.queued_deliveries),
        el("td", {}, rate(s.system_id)),
        el("td", {}, el("button", { class: "danger", type: "button", onclick: guarded(async () => {
          await api("DELETE", `/api/sessions/${s.id}`);
          toast(`dropped session ${s.id} of ${s.system_id}`);
          setTimeout(() => sessionsView.refresh().catch(() => {}), 300);
        }) }, "Drop"))));
    $("#sessions-table tbody").replaceChildren(...rows);
  },
};
views.sessions = sessionsView;

// -- merchant --------------------------------------------------------------------------

const typedCodes = new Map(); // order id -> the code typed in its row
let shownOrders = "";

function orderActions(order) {
  if (["paid", "failed", "expired", "cancelled"].includes(order.status)) return "";
  const cancel = el("button", { type: "button", class: "danger", onclick: guarded(async () => {
    await api("POST", `/merchant/orders/${order.id}/cancel`);
    await merchantView.refresh();
  }) }, "Cancel");
  if (order.method !== "otp" || order.status !== "awaiting_confirmation") return cancel;
  // The code the buyer would type on the shop's page.
  const code = el("input", { size: "7", placeholder: "code", "data-testid": "order-code", inputmode: "numeric" });
  // The table is rebuilt as the order moves: what was typed so far survives it.
  code.value = typedCodes.get(order.id) || "";
  code.addEventListener("input", () => typedCodes.set(order.id, code.value));
  const confirm = el("button", { type: "button", onclick: guarded(async () => {
    try {
      await api("POST", `/merchant/orders/${order.id}/confirm`, { code: code.value.trim() });
    } finally {
      await merchantView.refresh();
    }
  }) }, "Confirm");
  return el("span", { class: "actions" }, code, confirm, cancel);
}

const merchantView = {
  async refresh() {
    let orders, wallets;
    try {
      [{ orders }, { wallets }] = await Promise.all([api("GET", "/merchant/orders"), api("GET", "/merchant/wallets")]);
    } catch (error) {
      shownOrders = "";
      const why = error.status === 404 ? "the mock merchant does not run here (smsgw serve --no-merchant)" : error.message;
      $("#orders-table tbody").replaceChildren(el("tr", {}, el("td", { colspan: "8" }, why)));
      return;
    }
    const latest = JSON.stringify(orders);
    // Unchanged orders keep their rows, and whatever is being typed in them.
    if (latest !== shownOrders) {
      shownOrders = latest;
      // Newest first, as the merchant pages them: this is its first page.
      $("#orders-table tbody").replaceChildren(...orders.map((o) =>
      el("tr", { "data-id": o.id },
        el("td", {}, el("a", { href: `#timeline?order=${encodeURIComponent(o.id)}`, title: "the order's timeline", "data-testid": "order-timeline" }, o.id)),
        el("td", {}, plus(o.msisdn)),
        el("td", {}, money(o.amount, o.currency)),
        el("td", {}, o.method),
        el("td", { class: `status-${o.status}`, "data-testid": "order-status" }, o.status),
        el("td", {}, o.reason || ""),
        el("td", {}, o.history.map((h) => `${time(h.at)} ${h.status}`).join(" → ")),
        el("td", {}, orderActions(o)))));
    }
    $("#wallets-table tbody").replaceChildren(...wallets.map((w) =>
      el("tr", {},
        el("td", {}, plus(w.msisdn)),
        el("td", {}, money(w.balance, w.currency)),
        el("td", {}, w.language),
        el("td", {}, w.locked ? "locked" : ""),
        el("td", {}, w.payments_total))));
    const select = $("#checkout").msisdn;
    const chosen = select.value;
    select.replaceChildren(...wallets.map((w) => el("option", { value: w.msisdn }, plus(w.msisdn))));
    if (chosen) select.value = chosen;
  },
};
views.merchant = merchantView;

$("#checkout").addEventListener("submit", guarded(async (event) => {
  event.preventDefault();
  const form = event.target;
  const result = $("#checkout-result");
  result.textContent = "";
  let order;
  try {
    order = await api("POST", "/merchant/orders", {
      msisdn: form.msisdn.value, amount: form.amount.value, currency: "CNY", method: form.method.value,
    });
  } catch (error) {
    result.textContent = `refused: ${error.message}`;
    throw error;
  }
  result.textContent = `${order.id}: ${order.status}`;
  await merchantView.refresh();
}));

// -- faults and clock ------------------------------------------------------------------

async function refreshClock() {
  const clock = await api("GET", "/api/clock");
  carrierToday = new Date(clock.now).toDateString();
  const shown = new Date(clock.now).toLocaleString();
  $("#clock").textContent = clock.offset_seconds ? `carrier time ${shown} (+${clock.offset_seconds} s)` : `carrier time ${shown}`;
  $("#clock-detail").textContent = `${shown}, ${clock.offset_seconds} s ahead of the wall clock`;
}

const faultsView = {
  async refresh() {
    const [{ faults }] = await Promise.all([api("GET", "/api/faults"), refreshClock()]);
    const shownValue = (k, v) => (k === "delay" && Array.isArray(v) ? `${v[0]}–${v[1]} s` : k === "delay" ? `${v} s` : v);
    const detail = (f) => ["status", "state", "error", "delay"].filter((k) => f[k] !== undefined && f[k] !== null).map((k) => `${k} ${shownValue(k, f[k])}`).join(", ");
    const matches = (f) => [f.msisdn && `msisdn ${f.msisdn}`, f.account && `account ${f.account}`, f.code && `code ${f.code}`,
      f.namespace && `namespace ${f.namespace}`, f.every ? `every ${f.every}` : `p ${f.probability}`].filter(Boolean).join(", ");
    $("#faults-table tbody").replaceChildren(...faults.map((f) =>
      el("tr", { "data-name": f.name },
        el("td", {}, f.name),
        el("td", {}, f.effect),
        el("td", {}, f.source),
        el("td", {}, matches(f)),
        el("td", {}, detail(f)),
        el("td", {}, f.counted),
        el("td", {}, f.fired),
        el("td", {}, el("button", { class: "danger", type: "button", onclick: guarded(async () => {
          await api("DELETE", `/api/faults/${encodeURIComponent(f.name)}`);
          await faultsView.refresh();
        }) }, "Remove")))));
  },
};
views.faults = faultsView;

for (const button of document.querySelectorAll("[data-advance]")) {
  button.addEventListener("click", guarded(async () => {
    await api("POST", "/api/clock", { advance_seconds: Number(button.dataset.advance) });
    await faultsView.refresh();
  }));
}

$("#add-fault").addEventListener("submit", guarded(async (event) => {
  event.preventDefault();
  const form = event.target;
  const result = $("#fault-result");
  result.textContent = "";
  let more = {};
  if (form.more.value.trim()) {
    try {
      more = JSON.parse(form.more.value);
    } catch {
      more = null;
    }
    if (more === null || typeof more !== "object" || Array.isArray(more)) {
      throw new Error('"More" must be a JSON object, e.g. {"status": "ESME_RSYSERR"}');
    }
  }
  const rule = { name: form.name.value.trim(), effect: form.effect.value, ...more };
  if (form.msisdn.value.trim()) rule.msisdn = form.msisdn.value.trim();
  const every = form.every.value.trim();
  if (every) {
    if (!/^[1-9]\d*$/.test(every)) throw new Error(`"Every Nth" must be a whole number from 1, not ${JSON.stringify(every)}`);
    rule.every = Number(every);
  }
  try {
    await api("POST", "/api/faults", rule);
  } catch (error) {
    result.textContent = `refused: ${error.message}`;
    throw error;
  }
  result.textContent = `added ${rule.name}`;
  form.name.value = "";
  await faultsView.refresh();
}));

// -- timeline --------------------------------------------------------------------------

// One payment's story (GET /api/timeline): the steps already recorded, then the new ones as
// they come (polled with ?after= while the tab shows).
const shownTimeline = { query: null, after: 0, steps: [], loading: false };
const TIMELINE_FILTERS = ["order", "msisdn", "message_id", "namespace"];

function stepWhat(step) {
  const d = step.detail || {};
  if (step.pdu) {
    const command = step.pdu.command || step.kind;
    if (command.endsWith("_resp") || command.endsWith("nack")) return `${command}: ${step.pdu.status ?? ""}`;
    return step.pdu.text !== undefined ? `${command}: “${step.pdu.text}”` : command;
  }
  if (d.path) return `${d.method} ${d.path} → ${d.status}`; // an HTTP call on a handset
  if (d.state) return `${d.state}${d.error ? ` err ${d.error}` : ""}`;
  if (d.status) return `${d.status}${d.reason ? ` (${d.reason})` : ""}`;
  if (d.text !== undefined) return `“${d.text}”`;
  return Object.entries(d).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
}

function stepIds(step) {
  return [step.order_id, step.message_id && `msg ${step.message_id}`, step.session && `ussd ${step.session}`, step.system_id]
    .filter(Boolean).join(" ");
}

function showStep(step, row) {
  for (const other of document.querySelectorAll("#timeline-table tbody tr")) other.classList.toggle("selected", other === row);
  const field = (name, value) => [el("dt", {}, name), el("dd", {}, value === "" || value === null || value === undefined ? "—" : value)];
  const detail = $("#step-detail");
  detail.hidden = false;
  detail.replaceChildren(...[
    el("h3", {}, `${step.kind} (step ${step.id})`),
    el("dl", {}, field("at", step.at), field("phone", step.msisdn && plus(step.msisdn)), field("namespace", step.namespace),
      field("account", step.system_id), field("message_id", step.message_id), field("order", step.order_id),
      field("USSD dialogue", step.session)),
    Object.keys(step.detail || {}).length ? [el("strong", {}, "Detail"), el("pre", {}, JSON.stringify(step.detail, null, 1))] : [],
    step.pdu ? [el("strong", {}, `Decoded ${step.protocol || ""} PDU`), el("pre", { "data-testid": "step-pdu" }, JSON.stringify(step.pdu, null, 1))] : [],
    step.hex ? [el("strong", {}, "Bytes"), el("pre", { "data-testid": "step-hex" }, hexDump(step.hex))] : [],
  ].flat());
}

function timelineRow(step) {
  const row = el("tr", { "data-id": step.id, "data-kind": step.kind, "data-testid": "timeline-step" },
    el("td", {}, time(step.at)),
    el("td", {}, step.kind),
    el("td", {}, step.msisdn ? plus(step.msisdn) : ""),
    el("td", {}, stepIds(step)),
    el("td", { class: "text" }, stepWhat(step)));
  row.addEventListener("click", () => showStep(step, row));
  return row;
}

async function loadTimeline() {
  if (!shownTimeline.query || shownTimeline.loading) return;
  const asked = shownTimeline.query;
  shownTimeline.loading = true;
  try {
    const params = new URLSearchParams({ ...asked, after: shownTimeline.after, limit: 1000 });
    const { steps, next_after: nextAfter } = await api("GET", `/api/timeline?${params}`);
    if (shownTimeline.query !== asked) return; // another one was asked for meanwhile
    shownTimeline.steps.push(...steps);
    shownTimeline.after = nextAfter ?? shownTimeline.after;
    $("#timeline-table tbody").append(...steps.map(timelineRow));
    const what = Object.entries(asked).filter(([k]) => k !== "account").map(([k, v]) => `${k} ${v}`).join(", ");
    $("#timeline-summary").textContent = shownTimeline.steps.length
      ? `${shownTimeline.steps.length} steps of ${what}, in order; new ones appear as they happen`
      : `no step of ${what} yet (recorded for phones in a namespace; for every phone with [timeline] record = "all")`;
  } finally {
    shownTimeline.loading = false;
  }
}

function askTimeline(query) {
  shownTimeline.query = query;
  shownTimeline.after = 0;
  shownTimeline.steps = [];
  $("#timeline-table tbody").replaceChildren();
  $("#step-detail").hidden = true;
  return loadTimeline();
}

const timelineView = {
  async refresh(params = new URLSearchParams()) {
    const of = TIMELINE_FILTERS.find((name) => params.get(name));
    if (!of) return loadTimeline();
    const form = $("#timeline-filter");
    form.of.value = of;
    form.value.value = of === "msisdn" ? plus(params.get(of)) : params.get(of);
    form.account.value = params.get("account") || "";
    const query = { [of]: of === "msisdn" ? params.get(of).replace(/^\+/, "") : params.get(of) };
    if (params.get("account")) query.account = params.get("account");
    return askTimeline(query);
  },
};
views.timeline = timelineView;
$("#timeline-filter").addEventListener("submit", guarded(async (event) => {
  event.preventDefault();
  const form = event.target;
  const value = form.value.value.trim();
  const params = new URLSearchParams({ [form.of.value]: form.of.value === "msisdn" ? value.replace(/^\+/, "") : value });
  // The address says what is shown: a link to it shows the same story.
  history.replaceState(null, "", `#timeline?${params}`);
  await timelineView.refresh(params);
}));
setInterval(() => currentTab === "timeline" && loadTimeline().catch(() => {}), 1000);

// -- live events -----------------------------------------------------------------------

const refreshTraffic = debounce(() => currentTab === "traffic" && trafficView.refresh().catch(() => {}), 250);
const refreshMerchant = debounce(() => currentTab === "merchant" && merchantView.refresh().catch(() => {}), 250);
const refreshSessions = debounce(() => currentTab === "sessions" && sessionsView.refresh().catch(() => {}), 250);
const refreshPhones = debounce(() => phonesView.refresh().catch(() => {}), 250);
const inboxRefreshers = new Map();

function phoneChanged(msisdn, what) {
  const phone = phones.get(msisdn);
  if (!phone) return;
  const key = `${msisdn}:${what}`;
  if (!inboxRefreshers.has(key)) {
    inboxRefreshers.set(key, debounce(() => (what === "ussd" ? phone.loadUssd() : phone.loadInbox()).catch(() => {}), 100));
  }
  inboxRefreshers.get(key)();
}

function follow() {
  const live = $("#live");
  const events = new EventSource("/api/events");
  events.onopen = () => {
    live.textContent = "live";
    live.classList.add("on");
    $("#offline").hidden = true;
  };
  events.onerror = () => {
    live.textContent = "reconnecting…";
    live.classList.remove("on");
    $("#offline").hidden = false;
  };
  const on = (type, handle) => events.addEventListener(type, (message) => handle(JSON.parse(message.data)));
  on("message_accepted", (e) => {
    accepted.push([Date.now(), e.system_id]);
    phoneChanged(e.msisdn, "inbox");
    refreshTraffic();
    refreshMerchant();
  });
  on("message_state_changed", (e) => {
    const key = messageKey(e.system_id, e.message_id);
    const history = stateHistory.get(key) || [];
    history.push({ state: e.state, at: e.at });
    stateHistory.set(key, history);
    phoneChanged(e.msisdn, "inbox");
    refreshTraffic();
    refreshMerchant();
  });
  on("ussd_changed", (e) => {
    const row = {
      kind: "USSD", at: e.at, id: `#${e.session}`, account: "", session: e.session, origin: e.origin, msisdn: e.msisdn,
      from: e.origin === "network" ? "" : e.msisdn, to: e.origin === "network" ? e.msisdn : "",
      text: e.screen || e.end_reason || "", state: e.state, expects: e.expects_reply, end: e.end_reason,
    };
    row.open = () => showUssd(row);
    keepLive(row);
    phoneChanged(e.msisdn, "ussd");
    refreshTraffic();
    refreshMerchant();
  });
  on("handset_changed", () => refreshPhones());
  on("bound", () => refreshSessions());
  on("unbound", () => refreshSessions());
  on("delivery_done", (e) => {
    if (e.kind === "receipt") {
      keepLive({
        kind: "receipt", at: e.at, id: e.message_id, account: e.system_id, from: e.msisdn, to: e.system_id,
        text: `receipt ${e.state} of ${e.message_id}`, state: e.state, open: () => showMessage(e.system_id, e.message_id),
      });
      refreshTraffic();
    }
    refreshSessions();
    refreshMerchant();
  });
  on("fault_injected", (e) => {
    toast(`fault ${e.rule}: ${e.effect} on ${plus(e.msisdn)}`);
    if (currentTab === "faults") faultsView.refresh().catch(() => {});
  });
}

// -- start -----------------------------------------------------------------------------

async function start() {
  follow();
  setInterval(() => refreshClock().catch(() => {}), 5000);
  await refreshClock().catch(() => {});
  await phonesView.refresh();
  showTab(location.hash.slice(1) || "phones");
}

start().catch((error) => toast(error.message, true));
