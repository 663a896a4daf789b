// The publisher's credentials live in sessionStorage only: gone when the tab closes, never in a URL.
// The only way in is the sign-in form (views/signin.js), where the publisher types or pastes the token.
const KEY = "offerflow.session";

export function current() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY) || "null");
    return s && s.publisher && s.token ? s : null;
  } catch {
    return null;
  }
}

export function save(publisher, token) {
  sessionStorage.setItem(KEY, JSON.stringify({ publisher: publisher.trim(), token: token.trim() }));
}

export function clear() {
  sessionStorage.removeItem(KEY);
}

// A credential in a link (…/portal/#publisher=…&token=…, ?token=…, #/offers?token=…) never signs anyone in:
// anyone can send a link, and it would sign the reader into the sender's account. It is wiped from the address
// bar (replaceState: the history entry keeps no token) and the sign-in form says why. The route the link asked
// for (its `next`, or its own route) is kept: after signing in with their own token the publisher lands there.
const CREDENTIAL = /(^|[?&#])(publisher|token|access_?token|api_?token)=/i;

export function refuseLinkCredentials() {
  const hash = location.hash.replace(/^#/, "");
  if (!CREDENTIAL.test(location.search) && !CREDENTIAL.test(hash)) return false;
  const q = hash.indexOf("?");
  const route = hash.startsWith("/");
  const params = new URLSearchParams(route ? (q < 0 ? "" : hash.slice(q + 1)) : hash);
  const next = params.get("next") || (route ? hash.slice(0, q < 0 ? undefined : q) : null);
  const query = new URLSearchParams({ link: "1" });
  if (next && next.startsWith("/") && !next.startsWith("/signin")) query.set("next", next);
  history.replaceState(null, "", location.pathname + "#/signin?" + query.toString());
  return true;
}
