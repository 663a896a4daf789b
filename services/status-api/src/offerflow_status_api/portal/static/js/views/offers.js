// All offers: every offer of the publisher with its latest status, current step and time in step, kept current
// by the publisher's offer stream (one stream for the whole page, not one per offer): a changed offer's row is
// updated where it is.
import * as api from "../api.js";
import * as session from "../session.js";
import { follow } from "../sse.js";
import { h, badge, errorBox, fmtDuration, modal, timeTag, OFFER_STATUS, STEP_NAMES, toast } from "../ui.js";

const COLUMNS = [
  { key: "name", label: "Offer", get: (o) => (o.definition?.displayText || o.id).toLowerCase() },
  { key: "status", label: "Status", get: (o) => OFFER_STATUS[o.status] || o.status },
  { key: "step", label: "Current step", get: (o) => STEP_NAMES[o.currentStep] || "" },
  { key: "since", label: "Time in step", get: (o) => (o.stepSince ? -Date.parse(o.stepSince) : -Infinity) },
  { key: "changed", label: "Last change", get: (o) => (o.changedTime ? Date.parse(o.changedTime) : 0) },
];

export function renderOffers(view) {
  const state = { offers: [], sort: "changed", dir: -1, text: "", status: "" };
  const search = h("input", { id: "offers-filter", type: "search", placeholder: "Name or ID", oninput: (e) => { state.text = e.target.value.trim().toLowerCase(); draw(); } });
  const statusSel = h("select", { id: "offers-status", onchange: (e) => { state.status = e.target.value; draw(); } },
    h("option", { value: "" }, "Any status"),
    Object.entries(OFFER_STATUS).filter(([k]) => k !== "notStarted").map(([k, v]) => h("option", { value: k }, v)));
  const sortSel = h("select", { id: "offers-sort", onchange: (e) => { const [k, d] = e.target.value.split(":"); state.sort = k; state.dir = Number(d); draw(); } },
    COLUMNS.flatMap((c) => [h("option", { value: `${c.key}:1` }, `${c.label} (ascending)`), h("option", { value: `${c.key}:-1` }, `${c.label} (descending)`)]));
  const count = h("p", { class: "muted", "aria-live": "polite" });
  const live = h("p", { class: "live-state muted", "aria-live": "off" }, "Connecting…");
  const announce = h("div", { class: "sr-only", "aria-live": "polite", role: "status" });
  const rowsById = new Map(); // offer id -> {tr, key}: a row is updated in place, never rebuilt around the reader
  const thead = h("thead");
  const tbody = h("tbody");
  const area = h("div", {});
  const table = h("table", { class: "offers" }, h("caption", { class: "sr-only" }, "Your offers; column headers sort the table"), thead, tbody);

  view.append(
    h("div", { class: "page-head" }, h("h1", {}, "All offers"),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "btn", onclick: () => load() }, "Refresh"),
        h("button", { type: "button", class: "btn btn-primary", onclick: newOffer }, "New offer"))),
    h("div", { class: "filters" },
      h("div", { class: "field" }, h("label", { for: search.id }, "Filter"), search),
      h("div", { class: "field" }, h("label", { for: statusSel.id }, "Status"), statusSel),
      h("div", { class: "field" }, h("label", { for: sortSel.id }, "Sort by"), sortSel)),
    live, announce, count, area);

  function header() {
    thead.replaceChildren(h("tr", {}, COLUMNS.map((c) => h("th", {
      scope: "col", "aria-sort": state.sort === c.key ? (state.dir > 0 ? "ascending" : "descending") : "none" },
    h("button", { type: "button", class: "sort", onclick: () => {
      state.dir = state.sort === c.key ? -state.dir : 1;
      state.sort = c.key;
      draw();
    } }, c.label, h("span", { "aria-hidden": "true", class: "sort-mark" }, state.sort === c.key ? (state.dir > 0 ? " ▲" : " ▼") : ""))))));
  }

  function draw() {
    header();
    sortSel.value = `${state.sort}:${state.dir}`;
    const col = COLUMNS.find((c) => c.key === state.sort);
    const rows = state.offers
      .filter((o) => !state.status || o.status === state.status)
      .filter((o) => !state.text || o.id.includes(state.text) || (o.definition?.displayText || "").toLowerCase().includes(state.text))
      .sort((a, b) => { const x = col.get(a), y = col.get(b); return (x < y ? -1 : x > y ? 1 : 0) * state.dir || a.id.localeCompare(b.id); });
    count.textContent = `${rows.length} of ${state.offers.length} offer${state.offers.length === 1 ? "" : "s"}`;
    const trs = rows.map(row);
    // Moved only when the order changed: rows that stay where they are keep focus and selection.
    if (trs.length !== tbody.children.length || trs.some((tr, i) => tbody.children[i] !== tr)) tbody.replaceChildren(...trs);
    if (!state.offers.length) area.replaceChildren(h("div", { class: "empty card" }, h("p", {}, "No offers yet."),
      h("button", { type: "button", class: "btn btn-primary", onclick: newOffer }, "Create your first offer")));
    else area.replaceChildren(rows.length ? table : h("p", { class: "empty" }, "No offer matches the filter."));
  }

  function cells(o) {
    return [
      h("td", { "data-label": "Offer" }, h("a", { href: `#/offers/${encodeURIComponent(o.id)}/editor`, class: "offer-link" },
        h("span", { class: "offer-name" }, o.definition?.displayText || o.id)), h("span", { class: "muted id" }, o.id)),
      h("td", { "data-label": "Status", class: "col-status" }, h("a", { href: `#/offers/${encodeURIComponent(o.id)}/status`, "aria-label": `Status of ${o.id}: ${OFFER_STATUS[o.status] || o.status}` }, badge(o.status))),
      h("td", { "data-label": "Current step", class: "col-step" }, STEP_NAMES[o.currentStep] || (o.status === "neverPublished" ? "—" : o.currentStep || "—")),
      h("td", { "data-label": "Time in step", class: "since", dataset: { since: o.stepSince || "" } }, since(o.stepSince)),
      h("td", { "data-label": "Last change", class: "col-changed" }, timeTag(o.changedTime)),
    ];
  }

  // The offer's row: the same element as before, its cells redrawn only when the offer changed.
  function row(o) {
    const key = JSON.stringify(o);
    const known = rowsById.get(o.id);
    if (known && known.key === key) return known.tr;
    const tr = known ? known.tr : h("tr", { dataset: { offer: o.id } });
    tr.replaceChildren(...cells(o));
    rowsById.set(o.id, { tr, key });
    return tr;
  }

  const since = (iso) => (iso ? fmtDuration(Date.now() - Date.parse(iso)) : "—");

  // `first`: the page's first read, which the stream's own first list may have overtaken (then it is newer).
  async function load(first = false) {
    try {
      const offers = await api.listOffers();
      if (first && streamed) return;
      state.offers = offers;
      draw();
    } catch (e) {
      area.replaceChildren(errorBox(e, "Cannot list your offers."));
    }
  }

  // One offer changed (status, step, changedTime): it replaces its entry, and its row is redrawn in place.
  function changed(o) {
    const i = state.offers.findIndex((x) => x.id === o.id);
    const before = i >= 0 ? state.offers[i] : null;
    if (i >= 0) state.offers[i] = o; else state.offers.push(o);
    if (!before || before.status !== o.status || before.currentStep !== o.currentStep) {
      announce.textContent = `${o.definition?.displayText || o.id}: ${OFFER_STATUS[o.status] || o.status}` +
        (o.currentStep && STEP_NAMES[o.currentStep] ? `, ${STEP_NAMES[o.currentStep]}` : "");
    }
    draw();
  }

  const { publisher } = session.current();
  let streaming = false;
  let streamed = false;
  const stop = follow(`/api/publishers/${encodeURIComponent(publisher)}/stream`, {
    onEvent: (event, data) => {
      if (event === "offers") { streamed = true; state.offers = JSON.parse(data); draw(); }
      else if (event === "offer") changed(JSON.parse(data));
    },
    onState: (st) => {
      streaming = st === "live";
      live.textContent = { connecting: "Connecting to live updates…", live: "● Live: this list updates by itself.",
        retrying: "Live updates interrupted; reconnecting…", closed: "Live updates stopped." }[st] || st;
      live.dataset.state = st;
    },
  });
  const ticker = setInterval(() => {
    for (const td of tbody.querySelectorAll("td.since")) td.textContent = since(td.dataset.since);
  }, 1000);
  // Only while the stream is down (reconnecting, or refused its place): then the list is read now and then.
  const refresher = setInterval(() => { if (!streaming && !area.contains(document.activeElement)) load(); }, 10000);
  load(true);
  return () => { stop(); clearInterval(ticker); clearInterval(refresher); };
}

function newOffer() {
  const idIn = h("input", { id: "new-offer-id", required: true, maxlength: "50", spellcheck: "false", autocomplete: "off",
    pattern: "[a-z0-9]([a-z0-9\\-]{0,48}[a-z0-9])?", "aria-describedby": "new-offer-id-hint" });
  const nameIn = h("input", { id: "new-offer-name", required: true, maxlength: "50", autocomplete: "off" });
  const err = h("div", { "aria-live": "assertive" });
  const form = h("form", { id: "new-offer-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    err.replaceChildren();
    const id = idIn.value.trim();
    const name = nameIn.value.trim();
    if (!/^[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?$/.test(id)) {
      err.append(h("p", { class: "alert alert-error", role: "alert" }, "The offer ID is at most 50 lowercase letters, digits and '-', not ending with '-'."));
      idIn.setAttribute("aria-invalid", "true");
      idIn.focus();
      return;
    }
    if (!name) {
      err.append(h("p", { class: "alert alert-error", role: "alert" }, "The offer name is required."));
      nameIn.focus();
      return;
    }
    try {
      const existing = await api.call("GET", api.offerPath(id), { ok: [404] });
      if (existing.status !== 404) {
        err.append(h("p", { class: "alert alert-error", role: "alert" }, `You already have an offer ${id}.`));
        return;
      }
      // The offer does not exist yet, so "*" cannot overwrite anyone's work.
      await api.putOffer(id, { offerTypeId: "microsoft-azure-virtualmachines",
        definition: { displayText: name, offer: { "microsoft-azure-marketplace.title": name }, plans: [] } }, "*");
      dlg.close();
      toast(`Offer ${id} created.`, "success");
      location.hash = `#/offers/${encodeURIComponent(id)}/editor`;
    } catch (ex) {
      err.append(errorBox(ex, "Not created:"));
    }
  } },
  err,
  h("div", { class: "field" }, h("label", { for: idIn.id }, "Offer ID"), idIn,
    h("p", { class: "hint", id: "new-offer-id-hint" }, "Lowercase letters, digits and '-'; it cannot change once the offer is live.")),
  h("div", { class: "field" }, h("label", { for: nameIn.id }, "Offer name"), nameIn));
  const dlg = modal({ title: "New offer", body: form, actions: [
    h("button", { type: "button", class: "btn", onclick: () => dlg.close() }, "Cancel"),
    h("button", { type: "submit", class: "btn btn-primary", form: "new-offer-form" }, "Create")] });
}
