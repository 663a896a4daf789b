// The publisher's support requests: #/support lists them, #/support/{id} shows one with its conversation, where
// the publisher replies (an answered request opens again) or closes it (it stays closed). Mail links open a
// request here. Everything the API sends goes in as text.
import * as api from "../api.js";
import * as session from "../session.js";
import { h, errorBox, timeTag, toast, STEP_NAMES } from "../ui.js";

export const SUPPORT_STATUS = { open: "Open: waiting for support", answered: "Answered: waiting for you", closed: "Closed" };
const BADGE = { open: "running", answered: "waitingForPublisherReview", closed: "complete" };

function path(suffix = "") {
  const s = session.current();
  return `/api/publishers/${encodeURIComponent(s ? s.publisher : "")}/support${suffix}`;
}

const statusBadge = (status) => h("span", { class: `badge badge-${BADGE[status] || "neverPublished"}` }, SUPPORT_STATUS[status] || status);
const requestLink = (r) => h("a", { href: `#/support/${encodeURIComponent(r.id)}` }, r.title);
const offerLink = (offerId) => h("a", { href: `#/offers/${encodeURIComponent(offerId)}/status` }, offerId);

// The request a failure mail's support link means: the newest one not closed about that run, if any.
export async function requestForRun(offerId, runId) {
  const r = await api.call("GET", path(), { params: { offer: offerId, run: runId } });
  const found = (r.body || []).find((x) => x.status !== "closed");
  return found ? found.id : null;
}

export function renderSupportList(view) {
  document.title = "Support requests · Offerflow";
  const area = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  view.append(h("div", { class: "page-head" }, h("h1", {}, "Support requests"),
    h("div", { class: "actions" }, h("button", { type: "button", class: "btn", onclick: () => load() }, "Refresh"))), area);
  async function load() {
    try {
      const list = (await api.call("GET", path())).body || [];
      area.replaceChildren(list.length ? h("div", { class: "table-scroll" }, h("table", { class: "support-list" },
        h("caption", { class: "sr-only" }, "Your support requests, newest first"),
        h("thead", {}, h("tr", {}, ["Request", "Offer", "Status", "Last change"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, list.map((r) => h("tr", { dataset: { request: r.id } },
          h("td", {}, requestLink(r), h("span", { class: "muted id" }, ` ${r.id}`)), h("td", {}, offerLink(r.offerId)),
          h("td", {}, statusBadge(r.status)), h("td", {}, timeTag(r.updatedAt)))))))
        : h("p", { class: "empty muted" }, "No support requests. Open one from an offer's Status page when a step fails."));
    } catch (e) {
      area.replaceChildren(errorBox(e, "Could not load your support requests"));
    }
  }
  load();
  return null;
}

export function renderSupportRequest(view, requestId) {
  document.title = `Support request ${requestId} · Offerflow`;
  const title = h("h1", {}, `Support request ${requestId}`);
  const state = h("span", {});
  const body = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  let stopped = false;
  view.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/support" }, "Support requests"), h("span", { "aria-hidden": "true" }, " › "), h("span", { class: "muted" }, requestId)),
    h("div", { class: "page-head" }, h("div", {}, title, h("p", { class: "muted id" }, `Request ${requestId}`)), state), body);

  async function load(until = null) {
    // After a reply or close the read model follows within moments: ask again until it shows the change.
    for (let i = 0; i < 20 && !stopped; i++) {
      let doc;
      try {
        doc = (await api.call("GET", path(`/${encodeURIComponent(requestId)}`))).body;
      } catch (e) {
        if (e.status === 404 && until === null) { body.replaceChildren(errorBox(e, "There is no such support request")); return; }
        if (e.status !== 404) { body.replaceChildren(errorBox(e, "Could not load the request")); return; }
      }
      if (doc && (until === null || doc.conversation.length >= until)) { draw(doc); return; }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  function draw(doc) {
    title.textContent = doc.title;
    state.replaceChildren(h("span", { class: "sr-only" }, "Status: "), statusBadge(doc.status));
    const meta = h("dl", { class: "support-meta" },
      h("dt", {}, "Offer"), h("dd", {}, offerLink(doc.offerId)),
      h("dt", {}, "Step"), h("dd", {}, STEP_NAMES[doc.step] || doc.step),
      doc.runId ? [h("dt", {}, "Operation"), h("dd", { class: "id" }, doc.runId)] : null,
      h("dt", {}, "Contacts"), h("dd", {}, (doc.contactEmails || []).join(", ") || "—"));
    const talk = h("ol", { class: "conversation", "aria-label": "Conversation" }, doc.conversation.map((m) =>
      h("li", { class: `msg msg-${m.role}`, dataset: { kind: m.kind } },
        h("p", { class: "msg-head" }, h("strong", {}, m.role === "support" ? `Support (${m.author})` : (m.author || "You")),
          ` ${{ opened: "opened the request", answered: "answered", replied: "replied", closed: "closed the request" }[m.kind] || m.kind} · `, timeTag(m.at)),
        m.text ? h("p", { class: "msg-text" }, m.text) : null)));
    body.replaceChildren(meta, talk, doc.status === "closed"
      ? h("p", { class: "alert alert-ok" }, "This request is closed. ",
        h("a", { href: `#/offers/${encodeURIComponent(doc.offerId)}/status` }, "Open a new one from the offer's Status page"), ".")
      : actions(doc));
  }

  function actions(doc) {
    const text = h("textarea", { id: "support-reply", rows: "4", maxlength: "10000", required: true });
    const problem = h("div", { "aria-live": "polite" });
    const send = h("button", { type: "submit", class: "btn btn-primary" }, "Send reply");
    const close = h("button", { type: "button", class: "btn btn-danger", onclick: () => act("close", {}) }, "Close request");
    async function act(action, json) {
      send.disabled = close.disabled = true;
      problem.replaceChildren();
      try {
        const r = await api.call("POST", path(`/${encodeURIComponent(requestId)}/${action}`), { json });
        toast(action === "reply" ? "Reply sent to support." : "Request closed.", "success");
        state.replaceChildren(statusBadge(r.body.status));
        await load(doc.conversation.length + 1);
      } catch (e) {
        problem.replaceChildren(errorBox(e, action === "reply" ? "The reply was not sent" : "The request was not closed"));
        send.disabled = close.disabled = false;
      }
    }
    const form = h("form", { class: "card support-reply", novalidate: true, onsubmit: (e) => {
      e.preventDefault();
      const message = text.value.trim();
      if (!message) { problem.replaceChildren(h("p", { class: "alert alert-error", role: "alert" }, "Write a reply first.")); text.focus(); return; }
      act("reply", { message });
    } },
    h("div", { class: "field" }, h("label", { for: text.id }, doc.status === "answered" ? "Reply to support (the request opens again)" : "Add to your request"), text),
    problem, h("div", { class: "actions" }, send, close));
    return form;
  }

  load();
  return () => { stopped = true; };
}
