// Compare: the draft, the preview and the live offer, field by field.
import * as api from "../api.js";
import { h, errorBox } from "../ui.js";
import { labelOf } from "./fields.js";

// Leaves of a definition by JSON pointer; lists of plain values are one leaf, lists of objects are walked.
export function flatten(value, prefix = "", out = new Map()) {
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== "object")) out.set(prefix, value.join(", "));
  else if (value && typeof value === "object") {
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    if (!entries.length) out.set(prefix, "");
    for (const [k, v] of entries) flatten(v, `${prefix}/${String(k).replace(/~/g, "~0").replace(/\//g, "~1")}`, out);
  } else out.set(prefix, value === null || value === undefined ? "" : String(value));
  return out;
}

function name(ptr, def) {
  const parts = ptr.split("/").slice(1).map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
  const out = [];
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === "offer") continue;
    if (parts[i] === "plans" && i + 1 < parts.length) {
      const id = def?.plans?.[Number(parts[i + 1])]?.planId;
      out.push(`Plan ${id || Number(parts[i + 1]) + 1}`);
      i++;
      continue;
    }
    out.push(/^\d+$/.test(parts[i]) ? `#${Number(parts[i]) + 1}` : labelOf(parts[i]));
  }
  return out.join(" › ") || "Offer";
}

export function renderCompare(view, offerId, shell) {
  const only = h("input", { id: "compare-only", type: "checkbox", checked: true, onchange: () => draw() });
  const out = h("div", {}, h("p", { class: "muted" }, "Loading the three versions…"));
  view.append(h("div", { class: "check" }, only, h("label", { for: only.id }, "Show only the fields that differ")), out);
  let data = null;

  function draw() {
    const [draft, preview, live] = data;
    const cols = [["Draft", draft], ["Preview", preview], ["Live", live]];
    const maps = cols.map(([, d]) => (d ? flatten(d.definition) : new Map()));
    const keys = [...new Set(maps.flatMap((m) => [...m.keys()]))].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
    const rows = keys.map((k) => ({ k, vals: maps.map((m, i) => (cols[i][1] ? (m.has(k) ? m.get(k) : null) : undefined)) }))
      .map((r) => ({ ...r, differs: new Set(r.vals.filter((v) => v !== undefined).map((v) => v ?? "")).size > 1 }));
    const shown = only.checked ? rows.filter((r) => r.differs) : rows;
    const cell = (v, differs) => h("td", { class: differs ? "differs" : null },
      v === undefined ? h("span", { class: "muted" }, "—") : v === null ? h("span", { class: "muted" }, "(not set)") : v);
    out.replaceChildren(
      h("p", {}, cols.map(([label, d]) => `${label}: ${d ? `version ${d.version}` : "none yet"}`).join(" · ")),
      h("p", { class: "muted", "aria-live": "polite" }, `${shown.length} field${shown.length === 1 ? "" : "s"} shown; ${rows.filter((r) => r.differs).length} differ.`),
      h("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": "Comparison" },
        h("table", { class: "compare" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Field"), cols.map(([label]) => h("th", { scope: "col" }, label)))),
          h("tbody", {}, shown.map((r) => h("tr", { class: r.differs ? "row-differs" : null },
            h("th", { scope: "row" }, name(r.k, draft?.definition), h("code", { class: "ptr" }, r.k)),
            r.vals.map((v) => cell(v, r.differs))))))));
  }

  Promise.all([api.slot(offerId, "Draft"), api.slot(offerId, "Preview"), api.slot(offerId, "Production")])
    .then((d) => { data = d; shell.setTitle(d[0]?.definition?.displayText || offerId, d[0]?.status); draw(); })
    .catch((e) => out.replaceChildren(errorBox(e, "Cannot compare:")));
  return null;
}
