// The history timeline: every command (who asked what, and the answer) and every pipeline event.
import { h, timeTag } from "../ui.js";

const EVENT_TEXT = {
  "offer.draft_saved": "Draft saved", "offer.publish_requested": "Publish requested", "offer.golive_requested": "Go live requested",
  "offer.cancel_requested": "Cancel requested", "offer.publish_canceled": "Publication canceled", "offer.preview_ready": "Preview ready",
  "offer.went_live": "Offer went live", "offer.golive_failed": "Go live failed", "offer.preview_withdrawn": "Preview withdrawn",
  "notification.sent": "Notification mailed",
};

function describe(e) {
  if (e.kind === "command") return `${e.action}: ${e.outcome}${e.httpStatus ? ` (${e.httpStatus})` : ""}`;
  if (EVENT_TEXT[e.action]) return EVENT_TEXT[e.action];
  const [stage, what] = String(e.action).split(".");
  return stage && what ? `${stage[0].toUpperCase()}${stage.slice(1)} ${what}` : e.action;
}

export function historyList(entries, limit = 40) {
  const newest = [...entries].reverse();
  const list = h("ol", { class: "timeline" });
  const draw = (n) => list.replaceChildren(...newest.slice(0, n).map((e) => h("li", { class: `tl tl-${e.kind}` },
    timeTag(e.time), " ", h("span", { class: `kind kind-${e.kind}` }, e.kind === "command" ? "you" : "pipeline"), " ",
    h("span", { class: "what" }, describe(e)),
    e.kind === "command" && e.detail ? h("span", { class: "muted detail" }, ` — ${e.detail}`) : null)));
  draw(limit);
  if (!entries.length) return h("p", { class: "muted" }, "Nothing happened yet.");
  const more = newest.length > limit ? h("button", { type: "button", class: "btn btn-quiet", onclick: () => { draw(newest.length); more.remove(); } },
    `Show all ${newest.length} entries`) : null;
  return h("div", {}, h("p", { class: "muted small" }, "Newest first."), list, more);
}
