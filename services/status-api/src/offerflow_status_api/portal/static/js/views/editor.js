// The editor: the offer's sections as tabs, a warning next to every field validation flagged, and a
// save that sends If-Match so that a stale save becomes a visible conflict instead of an overwrite.
import * as api from "../api.js";
import { h, errorBox, messageText, tabs, toast } from "../ui.js";
import { AUDIENCE, LEGAL, MARKETPLACE, OFFER_SETTINGS, SUPPORT, getAt, labelOf, setAt } from "./fields.js";
import { control, leadsPanel, plansPanel } from "./editor_form.js";
import { publishDialog } from "./publish.js";

const SECTIONS = [
  ["settings", "Offer settings"], ["plans", "Plans and images"], ["marketplace", "Marketplace"],
  ["leads", "Lead management"], ["legal", "Legal"], ["support", "Support"], ["audience", "Preview audience"],
];

// Problems name fields by JSON pointer into the definition; PUT errors name them in the whole document.
export const normalize = (ptr) => (ptr || "").replace(/^\/definition(?=\/|$)/, "");

export function renderEditor(view, offerId, shell) {
  const st = { doc: null, etag: null, dirty: false, problems: [], saveErrors: [], fields: new Map(), tab: "settings", tabset: null };
  const toolbar = h("div", { class: "toolbar" });
  const banner = h("div", { "aria-live": "polite" });
  const summary = h("div", {});
  const body = h("div", { class: "editor" });
  const saveState = h("span", { class: "save-state muted", "aria-live": "polite" });
  const saveBtn = h("button", { type: "button", class: "btn", onclick: () => save() }, "Save");
  const publishBtn = h("button", { type: "button", class: "btn btn-primary", onclick: () => startPublish() }, "Publish");
  toolbar.append(saveState, saveBtn, publishBtn);
  view.append(toolbar, banner, summary, body);

  const ctx = {
    get: (path) => getAt(st.doc.definition, path),
    set: (path, value) => { setAt(st.doc.definition, path, value); markDirty(); },
    register: (ptr, wrap, input) => st.fields.set(ptr, { wrap, input }),
  };

  function markDirty() {
    st.dirty = true;
    saveState.textContent = "Unsaved changes";
  }

  function panelFor(key) {
    if (key === "settings") {
      return h("div", { class: "grid" },
        h("div", { class: "field" }, h("label", { for: "offer-id-ro" }, "Offer ID"), h("input", { id: "offer-id-ro", value: offerId, readonly: true }),
          h("p", { class: "hint" }, "Fixed: it is part of the offer's address.")),
        h("div", { class: "field" }, h("label", { for: "publisher-id-ro" }, "Publisher ID"), h("input", { id: "publisher-id-ro", value: st.doc.publisherId || "", readonly: true })),
        OFFER_SETTINGS.map((f) => control(f, f.path, ctx)));
    }
    if (key === "plans") return plansPanel(ctx, redraw);
    if (key === "leads") return leadsPanel(ctx, redraw);
    const list = { marketplace: MARKETPLACE, legal: LEGAL, support: SUPPORT, audience: AUDIENCE }[key];
    return h("div", { class: "grid" }, list.map((f) => control(f, f.path, ctx)));
  }

  // Rebuilds one section (after adding a plan, changing the lead destination …), keeping the tab open.
  function redraw(key) {
    const i = SECTIONS.findIndex(([k]) => k === key);
    const panel = st.tabset.panels[i];
    for (const [ptr, f] of st.fields) if (panel.contains(f.wrap)) st.fields.delete(ptr);
    panel.replaceChildren(panelFor(key));
    showProblems();
  }

  function drawForm() {
    st.fields.clear();
    const initial = Math.max(0, SECTIONS.findIndex(([k]) => k === st.tab));
    st.tabset = tabs("Offer sections", SECTIONS.map(([key, label]) => ({ key, label, content: panelFor(key),
      badge: h("span", { class: "tab-count", dataset: { count: "0" } }) })), { initial, onChange: (k) => { st.tab = k; } });
    body.replaceChildren(st.tabset.el);
    showProblems();
  }

  // Puts each problem next to its field: the field itself, else the nearest enclosing or enclosed one.
  function place(ptr) {
    if (st.fields.has(ptr)) return st.fields.get(ptr);
    let best = null;
    for (const [p, f] of st.fields) {
      if (ptr.startsWith(p + "/") && (!best || p.length > best[0].length)) best = [p, f];
    }
    if (best) return best[1];
    for (const [p, f] of st.fields) if (p.startsWith(ptr + "/")) return f;
    return null;
  }

  function showProblems() {
    for (const el of body.querySelectorAll(".problems")) el.remove();
    for (const el of body.querySelectorAll("[aria-invalid]")) {
      el.removeAttribute("aria-invalid");
      el.setAttribute("aria-describedby", (el.getAttribute("aria-describedby") || "").split(" ").filter((x) => !x.startsWith("prob-")).join(" "));
    }
    const all = [...st.saveErrors, ...st.problems];
    const placed = [];
    const counts = new Map();
    all.forEach((pr, n) => {
      const target = place(normalize(pr.field));
      const id = `prob-${n}`;
      if (target) {
        let box = target.wrap.querySelector(":scope > .problems");
        if (!box) { box = h("ul", { class: "problems" }); target.wrap.append(box); }
        box.append(h("li", { id, class: `problem problem-${pr.level || "error"}` },
          h("span", { class: "problem-icon", "aria-hidden": "true" }, pr.level === "warning" ? "⚠" : "✖"),
          h("span", { class: "sr-only" }, pr.level === "warning" ? "Warning: " : "Problem: "), pr.message));
        if (target.input) {
          target.input.setAttribute("aria-invalid", "true");
          target.input.setAttribute("aria-describedby", `${target.input.getAttribute("aria-describedby") || ""} ${id}`.trim());
        }
        const i = st.tabset.panels.findIndex((p) => p.contains(target.wrap));
        counts.set(i, (counts.get(i) || 0) + 1);
      }
      placed.push({ pr, target, tab: st.tabset.panels.findIndex((p) => target && p.contains(target.wrap)) });
    });
    st.tabset.buttons.forEach((b, i) => {
      const c = b.querySelector(".tab-count");
      const n = counts.get(i) || 0;
      c.textContent = n ? String(n) : "";
      c.dataset.count = String(n);
      c.setAttribute("aria-label", n ? `${n} problem${n > 1 ? "s" : ""}` : "");
    });
    drawSummary(placed);
  }

  function drawSummary(placed) {
    const errors = placed.filter((x) => (x.pr.level || "error") === "error").length;
    const warnings = placed.length - errors;
    if (!placed.length) {
      summary.replaceChildren(st.doc ? h("p", { class: "alert alert-ok" }, "No problems found: the offer is ready to publish.") : "");
      return;
    }
    const open = (x) => {
      if (x.tab >= 0) st.tabset.select(x.tab);
      const el = x.target && (x.target.input || x.target.wrap);
      if (el) { el.scrollIntoView({ block: "center" }); (x.target.input || x.target.wrap.querySelector("input,textarea,select,button"))?.focus(); }
    };
    // A long list folds away (the tab badges and the marks next to fields still show every problem).
    summary.replaceChildren(h("details", { class: `alert ${errors ? "alert-error" : "alert-warning"} summary`, open: placed.length <= 6 },
      h("summary", {}, errors ? `${errors} field${errors > 1 ? "s" : ""} to fix before publishing` : "", errors && warnings ? ", " : "",
        warnings ? `${warnings} warning${warnings > 1 ? "s" : ""}` : ""),
      h("ul", {}, placed.map((x) => h("li", {},
        h("button", { type: "button", class: "link", onclick: () => open(x) },
          x.tab >= 0 ? `${SECTIONS[x.tab][1]} › ` : "", fieldName(x.pr.field)), ": ", x.pr.message)))));
  }

  const fieldName = (ptr) => {
    const parts = normalize(ptr).split("/").slice(1).map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
    if (!parts.length) return "Offer";
    if (parts.length === 1 && parts[0] === "plans") return "Plans";
    const plan = parts[0] === "plans" && parts.length > 1 ? `Plan ${getAt(st.doc.definition, ["plans", Number(parts[1]), "planId"]) || Number(parts[1]) + 1} › ` : "";
    return plan + labelOf(parts[parts.length - 1]);
  };

  async function refreshProblems() {
    try {
      const v = await api.validation(offerId);
      const last = (v.lastRun && v.lastRun.messages) || [];
      const fromRun = last.filter((m) => m.field && !(v.problems || []).some((p) => normalize(p.field || p.target) === normalize(m.field)))
        .map((m) => ({ field: m.field, message: messageText(m.messageHtml), level: m.level === "error" ? "error" : "warning", code: m.code }));
      st.problems = [...(v.problems || []).map((p) => ({ ...p, field: p.field ?? p.target })), ...fromRun];
    } catch (e) {
      st.problems = [];
      banner.replaceChildren(errorBox(e, "Cannot check the offer:"));
    }
    showProblems();
  }

  async function load() {
    body.replaceChildren(h("p", { class: "muted" }, "Loading the offer…"));
    try {
      const r = await api.getOffer(offerId);
      st.doc = r.body;
      st.etag = r.headers.get("ETag");
      st.dirty = false;
      st.saveErrors = [];
      saveState.textContent = "";
      banner.replaceChildren();
      shell.setTitle(st.doc.definition?.displayText || offerId, st.doc.status);
      drawForm();
      await refreshProblems();
    } catch (e) {
      body.replaceChildren(errorBox(e, "Cannot open the offer:"));
    }
  }

  async function save({ force = false } = {}) {
    if (!st.doc) return false;
    saveBtn.disabled = true;
    saveState.textContent = "Saving…";
    try {
      const r = await api.putOffer(offerId, st.doc, force ? "*" : st.etag);
      st.doc = r.body;
      st.etag = r.headers.get("ETag");
      st.dirty = false;
      st.saveErrors = [];
      banner.replaceChildren();
      saveState.textContent = "Saved";
      shell.setTitle(st.doc.definition?.displayText || offerId, st.doc.status);
      toast("Saved.", "success");
      await refreshProblems();
      return true;
    } catch (e) {
      saveState.textContent = "Not saved";
      if (e.status === 412) conflict();
      else if (e.status === 400 && e.details.length) {
        st.saveErrors = e.details.map((d) => ({ field: d.target, message: d.message, level: "error", code: d.code }));
        banner.replaceChildren(h("p", { class: "alert alert-error", role: "alert" }, `Not saved: ${e.message} Each field is marked below.`));
        showProblems();
      } else banner.replaceChildren(errorBox(e, "Not saved:"));
      return false;
    } finally {
      saveBtn.disabled = false;
    }
  }

  function conflict() {
    banner.replaceChildren(h("div", { class: "alert alert-error conflict", role: "alert" },
      h("h2", {}, "Conflict: someone else changed this offer"),
      h("p", {}, "The offer was saved elsewhere (another tab, a colleague or a script) after you opened it. Your changes were ",
        h("strong", {}, "not"), " saved, so nothing was overwritten."),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "btn", onclick: () => load() }, "Load their version (discard my changes)"),
        h("button", { type: "button", class: "btn btn-danger", onclick: () => {
          if (confirm("Replace their version with yours? Their changes will be lost.")) save({ force: true });
        } }, "Overwrite with my version"))));
    banner.querySelector("h2").tabIndex = -1;
    banner.querySelector("h2").focus();
  }

  async function startPublish() {
    if (st.dirty && !(await save())) return;
    await refreshProblems();
    const errors = [...st.saveErrors, ...st.problems].filter((p) => (p.level || "error") === "error");
    if (errors.length) {
      toast(`Fix the ${errors.length} flagged field${errors.length > 1 ? "s" : ""}, then Publish again.`, "error");
      const s = summary.querySelector("summary");
      if (s) { s.tabIndex = -1; s.focus(); }
      return;
    }
    publishDialog(offerId, () => { location.hash = `#/offers/${encodeURIComponent(offerId)}/status`; });
  }

  const beforeUnload = (e) => { if (st.dirty) { e.preventDefault(); e.returnValue = ""; } };
  window.addEventListener("beforeunload", beforeUnload);
  load();
  return () => window.removeEventListener("beforeunload", beforeUnload);
}

