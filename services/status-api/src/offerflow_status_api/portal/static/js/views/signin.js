import * as api from "../api.js";
import * as session from "../session.js";
import { h, errorBox } from "../ui.js";

export function renderSignIn(view) {
  const query = new URLSearchParams(location.hash.split("?")[1] || "");
  const next = query.get("next");
  const err = h("div", { "aria-live": "assertive" });
  const pub = h("input", { id: "signin-publisher", name: "publisher", required: true, autocomplete: "username",
    spellcheck: "false", pattern: "[A-Za-z0-9][A-Za-z0-9_.\\-]{0,49}" });
  const tok = h("input", { id: "signin-token", name: "token", type: "password", required: true, autocomplete: "current-password" });
  const btn = h("button", { type: "submit", class: "btn btn-primary" }, "Sign in");
  // method=post: even a submission without this script would carry the token in a body, never in a URL.
  const form = h("form", { class: "card narrow", method: "post", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    err.replaceChildren();
    if (!pub.value.trim() || !tok.value.trim()) {
      err.append(h("p", { class: "alert alert-error", role: "alert" }, "Enter your publisher ID and your API token."));
      (pub.value.trim() ? tok : pub).focus();
      return;
    }
    btn.disabled = true;
    session.save(pub.value, tok.value);
    try {
      await api.listOffers();
      location.hash = next && next.startsWith("/") && !next.startsWith("/signin") ? "#" + next : "#/offers";
    } catch (ex) {
      session.clear();
      err.append(errorBox(ex, ex.status === 401 || ex.status === 404 ? "Sign-in failed:" : "Cannot sign in:"));
      if (ex.status === 401 || ex.status === 404) err.lastChild.append(" Check the publisher ID and the token.");
      tok.focus();
    } finally {
      btn.disabled = false;
    }
  } },
  h("p", {}, "Sign in with your publisher ID and an API token. The token stays in this browser tab only."),
  query.get("expired") ? h("p", { class: "alert alert-warning" }, "Your session ended or the token was revoked. Sign in again.") : null,
  query.get("link") ? h("p", { class: "alert alert-warning", role: "alert" },
    "The link you opened carried sign-in details. Links never sign you in, so it was removed from the address bar. "
    + "Sign in with your own publisher ID and token, and do not share tokens in links.") : null,
  err,
  h("div", { class: "field" }, h("label", { for: pub.id }, "Publisher ID"), pub),
  h("div", { class: "field" }, h("label", { for: tok.id }, "API token"), tok,
    h("p", { class: "hint" }, "An administrator creates tokens (", h("code", {}, "offerflow tokens create PUBLISHER"), "); ",
      h("code", {}, "make up"), " prints the demo publisher's token next to the portal address.")),
  h("div", { class: "actions" }, btn));
  view.append(h("h1", {}, "Sign in"), form);
  return null;
}
