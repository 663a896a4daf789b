// The publisher's credentials live in sessionStorage only: gone when the tab closes, never in a URL we keep.
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

// `make up` prints …/portal/#publisher=demo&token=…: the fragment never reaches the server. Read it once,
// keep it in sessionStorage and wipe it from the address bar (and from history) at once.
export function takeFromFragment() {
  const hash = location.hash.replace(/^#/, "");
  if (!/(^|&)token=/.test(hash)) return false;
  const params = new URLSearchParams(hash);
  const publisher = params.get("publisher");
  const token = params.get("token");
  const next = params.get("next");
  history.replaceState(null, "", location.pathname + location.search + (next && next.startsWith("/") ? "#" + next : "#/offers"));
  if (publisher && token) {
    save(publisher, token);
    return true;
  }
  return false;
}
