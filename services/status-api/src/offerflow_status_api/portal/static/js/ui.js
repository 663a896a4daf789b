// Small DOM helpers. Everything from the server goes in as text, never as HTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false || k === "value") continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  if (attrs && attrs.value != null) el.value = attrs.value; // after the options of a <select> exist
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// The API sends every message as text escaped for HTML (`messageHtml`). The portal shows text, so it decodes
// the entities in an inert document (DOMParser runs no script and loads nothing) and inserts the result as
// a text node: "&lt;b&gt;" reads "<b>", and nothing the publisher typed ever becomes markup.
export function messageText(messageHtml) {
  if (messageHtml == null) return "";
  return new DOMParser().parseFromString(String(messageHtml), "text/html").documentElement.textContent || "";
}

let uid = 0;
export const nextId = (prefix = "f") => `${prefix}-${++uid}`;

export function toast(message, kind = "info") {
  const box = document.getElementById("toast");
  const item = h("div", { class: `toast toast-${kind}` }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 9000 : 5000);
}

export function errorBox(err, title) {
  const details = (err && err.details) || [];
  return h("div", { class: "alert alert-error", role: "alert" },
    h("strong", {}, title || "Something went wrong"), " ", err ? err.message : "",
    details.length ? h("ul", {}, details.map((d) => h("li", {}, [d.target ? h("code", {}, d.target) : null, " ", d.message]))) : null);
}

// A modal built on <dialog>: showModal() makes the page behind it inert (focus stays inside) and Esc
// closes it. Focus returns to whatever opened it.
export function modal({ title, body, actions, onClose, label }) {
  const opener = document.activeElement;
  const titleId = nextId("dlg");
  const dlg = h("dialog", { class: "modal", "aria-labelledby": titleId },
    h("div", { class: "modal-head" },
      h("h2", { id: titleId }, title),
      h("button", { type: "button", class: "icon-btn", "aria-label": label || "Close", onclick: () => close() }, "×")),
    body, actions ? h("div", { class: "modal-actions" }, actions) : null);
  function close(result) {
    if (dlg.open) dlg.close();
    dlg.remove();
    if (opener && opener.focus) opener.focus();
    if (onClose) onClose(result);
  }
  dlg.addEventListener("cancel", (e) => { e.preventDefault(); close(); });
  document.body.append(dlg);
  dlg.showModal();
  const first = dlg.querySelector("[autofocus], input, textarea, select, button:not(.icon-btn)");
  if (first) first.focus();
  return { dlg, close };
}

// ARIA tabs: arrow keys, Home and End move between tabs (roving tabindex); panels follow the tab.
export function tabs(label, items, { initial = 0, onChange } = {}) {
  const list = h("div", { role: "tablist", "aria-label": label, class: "tabs" });
  const panels = [];
  const buttons = items.map((item, i) => {
    const tabId = nextId("tab");
    const panelId = nextId("panel");
    const btn = h("button", { type: "button", role: "tab", id: tabId, "aria-controls": panelId, class: "tab",
      dataset: { key: item.key }, onclick: () => select(i) }, item.label, item.badge || null);
    const panel = h("div", { role: "tabpanel", id: panelId, "aria-labelledby": tabId, tabindex: "0", class: "tabpanel" }, item.content);
    panels.push(panel);
    return btn;
  });
  list.append(...buttons);
  list.addEventListener("keydown", (e) => {
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    const n = buttons.length;
    const to = { ArrowRight: (i + 1) % n, ArrowLeft: (i - 1 + n) % n, Home: 0, End: n - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    select(to);
    buttons[to].focus();
  });
  function select(i) {
    buttons.forEach((b, j) => {
      b.setAttribute("aria-selected", String(i === j));
      b.tabIndex = i === j ? 0 : -1;
      panels[j].hidden = i !== j;
    });
    if (onChange) onChange(items[i].key, i);
  }
  select(initial);
  return { el: h("div", { class: "tabset" }, list, panels), select, buttons, panels };
}

export const OFFER_STATUS = {
  neverPublished: "Never published", notStarted: "Not started", running: "In progress",
  waitingForPublisherReview: "Waiting for your sign-off", succeeded: "Live", failed: "Failed", canceled: "Canceled",
};
export const STEP_STATUS = {
  notStarted: "Not started", inProgress: "In progress", waitingForPublisherReview: "Waiting for you",
  complete: "Complete", failed: "Failed", canceled: "Canceled",
};
export const STEP_NAMES = {
  displaydummycertify: "Validate Pre-Requisites", displaycertify: "Certification", displayprovision: "Provisioning",
  displaystaging: "Staging deployment", displaypackage: "Packaging and Lead Generation Registration", "publisher-signoff": "Publisher signoff", live: "Live",
};

export function badge(statusValue, map = OFFER_STATUS) {
  return h("span", { class: `badge badge-${statusValue || "neverPublished"}` }, map[statusValue] || statusValue || "—");
}

export function fmtTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function fmtDuration(ms) {
  if (ms == null || !isFinite(ms) || ms < 0) return "—";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `${hr}h ${m % 60}m`;
  return `${Math.floor(hr / 24)}d ${hr % 24}h`;
}

export function timeTag(iso) {
  return iso ? h("time", { datetime: iso }, fmtTime(iso)) : "—";
}
