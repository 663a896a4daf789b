// The public API, exactly as any script uses it: bearer token, api-version, JSON errors.
import * as session from "./session.js";

export const API_VERSION = "2017-10-31";

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `The API answered ${status}.`);
    this.status = status;
    this.code = err.code || String(status);
    this.details = Array.isArray(err.details) ? err.details : [];
    this.body = body;
  }
}

function creds() {
  const s = session.current();
  if (!s) throw new ApiError(401, { error: { code: "Unauthorized", message: "Please sign in." } });
  return s;
}

export function offerPath(offerId = "", suffix = "") {
  const { publisher } = creds();
  let p = `/api/publishers/${encodeURIComponent(publisher)}/offers`;
  if (offerId) p += `/${encodeURIComponent(offerId)}`;
  return p + suffix;
}

export function url(path, params = {}) {
  const u = new URL(path, location.origin);
  u.searchParams.set("api-version", API_VERSION);
  for (const [k, v] of Object.entries(params)) if (v != null) u.searchParams.set(k, v);
  return u.toString();
}

export function authHeaders(extra = {}) {
  return { Authorization: `Bearer ${creds().token}`, Accept: "application/json", ...extra };
}

// Returns {status, body, headers}; statuses listed in `ok` are answers, every other 4xx/5xx throws ApiError.
// `text`: a successful body stays text even when it parses as JSON (a console log).
export async function call(method, path, { json, headers = {}, params, ok = [], signal, text: asText = false } = {}) {
  const init = { method, headers: authHeaders(headers), signal };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  }
  let resp;
  try {
    resp = await fetch(url(path, params), init);
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, { error: { code: "Unreachable", message: "The API cannot be reached. Check your connection and try again." } });
  }
  const text = await resp.text();
  let body = null;
  if (asText && resp.status < 400) body = text;
  else if (text) {
    try { body = JSON.parse(text); } catch { body = text; }
  }
  if (resp.status === 401) window.dispatchEvent(new CustomEvent("offerflow:unauthorized"));
  if (resp.status >= 400 && !ok.includes(resp.status)) throw new ApiError(resp.status, body);
  return { status: resp.status, body, headers: resp.headers };
}

export const listOffers = async () => (await call("GET", offerPath())).body || [];
export const getOffer = (id) => call("GET", offerPath(id));
export const putOffer = (id, doc, ifMatch) => call("PUT", offerPath(id), { json: doc, headers: { "If-Match": ifMatch } });
export const validation = async (id) => (await call("GET", offerPath(id, "/validation"))).body || { problems: [] };
export const status = async (id) => (await call("GET", offerPath(id, "/status"))).body;
export const publish = (id, emails) => call("POST", offerPath(id, "/publish"), { json: { metadata: { "notification-emails": emails } } });
export const goLive = (id) => call("POST", offerPath(id, "/golive"));
export const cancel = (id) => call("POST", offerPath(id, "/cancel"), { json: {} });
export const history = async (id) => (await call("GET", offerPath(id, "/history"))).body || [];
export const slot = async (id, name) => {
  const r = await call("GET", offerPath(id, `/slot/${name}`), { ok: [404] });
  return r.status === 404 ? null : r.body;
};
export const certification = async (id, runId) => {
  const r = await call("GET", offerPath(id, `/operations/${encodeURIComponent(runId)}/certification`), { ok: [404] });
  return r.status === 404 ? null : r.body;
};
// The console log of one plan's staging boot, as text; null when none was kept.
export const stagingConsole = async (id, runId, plan) => {
  const r = await call("GET", offerPath(id, `/operations/${encodeURIComponent(runId)}/staging/console`),
    { params: { plan }, headers: { Accept: "text/plain" }, ok: [404], text: true });
  return r.status === 404 ? null : String(r.body ?? "");
};
export const openSupport = async (id, title, description, runId) =>
  (await call("POST", offerPath(id, "/support"), { json: { title, description, ...(runId ? { runId } : {}) } })).body;
