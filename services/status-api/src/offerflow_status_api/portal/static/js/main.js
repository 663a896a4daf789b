// Boot and hash routing: #/offers, #/offers/{id}/{editor|status|compare}[?query], #/support[/{id}], #/signin.
// Links from mails use these routes (/portal/#/offers/{id}/status); a signed-out visitor is sent to the
// sign-in screen with the route kept as `next` and lands on it after signing in.
import * as session from "./session.js";
import { h } from "./ui.js";
import { renderSignIn } from "./views/signin.js";
import { renderOffers } from "./views/offers.js";
import { renderOffer } from "./views/offer.js";
import { renderSupportList, renderSupportRequest, requestForRun } from "./views/support.js";

const main = document.getElementById("main");
let cleanup = null;

function account() {
  const nav = document.getElementById("account");
  const s = session.current();
  nav.replaceChildren(...(s ? [
    h("a", { href: "#/offers", class: "nav-link" }, "All offers"),
    h("a", { href: "#/support", class: "nav-link" }, "Support"),
    h("span", { class: "who" }, "Publisher ", h("strong", {}, s.publisher)),
    h("button", { type: "button", class: "btn btn-quiet", onclick: () => { session.clear(); location.hash = "#/signin"; } }, "Sign out"),
  ] : []));
}

async function route() {
  // A link with credentials may also arrive while the portal is open (a same-document navigation).
  session.refuseLinkCredentials();
  const hash = location.hash || "#/offers";
  if (!hash.startsWith("#/")) return; // an in-page anchor, not a route
  if (cleanup) { cleanup(); cleanup = null; }
  account();
  // A route may carry a query after its path (mail links: #/offers/{id}/status?support={step}&run={run}).
  const q = hash.indexOf("?");
  const parts = hash.slice(2, q < 0 ? undefined : q).split("/").map(decodeURIComponent);
  const query = new URLSearchParams(q < 0 ? "" : hash.slice(q + 1));
  if (!session.current() && !parts[0].startsWith("signin")) {
    location.replace("#/signin?next=" + encodeURIComponent(hash.slice(1)));
    return;
  }
  // A failure mail's support link opens the request already made about that run, else the form (status page).
  if (parts[0] === "offers" && parts[2] === "status" && query.get("support") && query.get("run")) {
    const found = await requestForRun(parts[1], query.get("run")).catch(() => null);
    if (found) { location.replace(`#/support/${encodeURIComponent(found)}`); return; }
  }
  main.replaceChildren();
  const view = h("div", { class: "view" });
  main.append(view);
  if (parts[0].startsWith("signin")) cleanup = renderSignIn(view);
  else if (parts[0] === "offers" && parts[1]) cleanup = renderOffer(view, parts[1], parts[2] || "editor", query);
  else if (parts[0] === "support") cleanup = parts[1] ? renderSupportRequest(view, parts[1]) : renderSupportList(view);
  else cleanup = renderOffers(view);
  // Move focus to the new page's heading so keyboard and screen-reader users land on it.
  const heading = view.querySelector("h1");
  if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
  window.scrollTo(0, 0);
}

window.addEventListener("offerflow:unauthorized", () => {
  session.clear();
  if (!location.hash.startsWith("#/signin")) location.hash = "#/signin?expired=1";
});

session.refuseLinkCredentials();
document.querySelector(".skip").addEventListener("click", (e) => { e.preventDefault(); main.focus(); });
window.addEventListener("hashchange", route);
route();
