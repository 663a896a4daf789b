// One offer: its name and status, and the Editor, Status and Compare pages.
import * as api from "../api.js";
import { h, badge } from "../ui.js";
import { renderEditor } from "./editor.js";
import { renderStatus } from "./status.js";
import { renderCompare } from "./compare.js";

const PAGES = [["editor", "Editor"], ["status", "Status"], ["compare", "Compare"]];

export function renderOffer(view, offerId, page, query = new URLSearchParams()) {
  const title = h("h1", {}, offerId);
  const state = h("span", { class: "offer-status" });
  const base = `#/offers/${encodeURIComponent(offerId)}`;
  const nav = h("nav", { class: "subnav", "aria-label": "Offer pages" },
    PAGES.map(([key, label]) => h("a", { href: `${base}/${key}`, class: "subnav-link", "aria-current": key === page ? "page" : null }, label)));
  const content = h("div", { class: "offer-page" });
  view.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/offers" }, "All offers"), h("span", { "aria-hidden": "true" }, " › "), h("span", { class: "muted" }, offerId)),
    h("div", { class: "page-head" }, h("div", {}, title, h("p", { class: "muted id" }, `Offer ID ${offerId}`)), state),
    nav, content);
  const shell = {
    setTitle(name, status) {
      title.textContent = name || offerId;
      document.title = `${name || offerId} · ${PAGES.find(([k]) => k === page)?.[1] || ""} · Offerflow`;
      if (status) shell.setStatus(status);
    },
    setStatus(status) { state.replaceChildren(h("span", { class: "sr-only" }, "Status: "), badge(status)); },
  };
  shell.setTitle(offerId);
  api.getOffer(offerId).then((r) => shell.setTitle(r.body?.definition?.displayText || offerId)).catch(() => {});
  const render = { editor: renderEditor, status: renderStatus, compare: renderCompare }[page] || renderEditor;
  return render(content, offerId, shell, query);
}
