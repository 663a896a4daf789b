// Certification's per-test report: one table per plan, image version and disk, with its package inventory.
import { h } from "../ui.js";
import { call, offerPath } from "../api.js";

const resultClass = (r) => (String(r).toLowerCase() === "pass" || String(r).toLowerCase() === "passed" ? "pass"
  : String(r).toLowerCase().startsWith("warn") ? "warn" : String(r).toLowerCase().startsWith("fail") ? "fail" : "other");

// The portal routes by hash (#/offers/<id>/...): the offer the report belongs to when the caller does not say.
const offerFromHash = () => decodeURIComponent((location.hash.match(/^#\/offers\/([^/]+)/) || [])[1] || "");

// The inventory route needs the bearer token, which a plain link cannot send: the file is fetched, then saved.
async function download(offerId, runId, r, format, button, state) {
  button.disabled = true;
  state.textContent = `Preparing the ${format.toUpperCase()} file…`;
  try {
    const got = await call("GET", offerPath(offerId, `/operations/${encodeURIComponent(runId)}/certification/inventory`), {
      params: { plan: r.planId, imageVersion: r.imageVersion, disk: r.disk, format },
      headers: { Accept: format === "csv" ? "text/csv" : "application/json" }, text: true });
    const name = `${runId}-${r.planId}-${r.imageVersion}-${r.disk}-packages.${format}`.replace(/[^A-Za-z0-9._-]/g, "_");
    const link = h("a", { href: URL.createObjectURL(new Blob([got.body], { type: format === "csv" ? "text/csv" : "application/json" })), download: name });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
    state.textContent = "";
  } catch (e) {
    state.textContent = `Cannot download the package list: ${e.message}`;
  } finally {
    button.disabled = false;
  }
}

function inventoryBlock(offerId, runId, r) {
  const p = r.packages;
  if (!p) return null;
  const state = h("span", { class: "muted small", role: "status" });
  const buttons = ["csv", "json"].map((format) => {
    const b = h("button", { type: "button", class: "btn inventory-download", dataset: { format } }, `Download ${format.toUpperCase()}`);
    b.addEventListener("click", () => download(offerId, runId, r, format, b, state));
    return b;
  });
  const cut = p.listed < p.total ? ` (the first ${p.listed} by name are attached)` : "";
  return h("p", { class: "inventory" },
    `Installed packages: ${p.total}${cut}, read from ${p.database} (${p.format}). `, ...buttons, " ", state);
}

export function certificationReport(body, offerId = offerFromHash()) {
  const reports = body.reports || [];
  return h("div", {},
    h("h2", { id: "report-h" }, "Certification report ", h("span", { class: `result result-${resultClass(body.TestResult)}` }, body.TestResult || "")),
    reports.length ? null : h("p", { class: "muted" }, "No disk was tested."),
    reports.map((r) => h("div", { class: "disk-report" },
      h("h3", {}, `Plan ${r.planId} · version ${r.imageVersion} · ${r.disk === "os" ? "OS disk" : `data disk ${r.disk}`} `,
        h("span", { class: `result result-${resultClass(r.TestResult)}` }, r.TestResult)),
      r.OSName || r.KernelVersion ? h("p", { class: "muted small" }, [r.OSName, r.KernelVersion && `kernel ${r.KernelVersion}`].filter(Boolean).join(" · ")) : null,
      inventoryBlock(offerId, body.runId, r),
      h("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": `Tests of plan ${r.planId} ${r.imageVersion} ${r.disk}` },
        h("table", { class: "tests" },
          h("thead", {}, h("tr", {}, ["TestID", "Test", "Description", "Result", "Actual", "Required"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, (r.Tests || []).map((t) => h("tr", { class: `test-${resultClass(t.Result)}`, dataset: { test: t.TestKey || "" } },
            h("td", { class: "test-id" }, String(t.TestID ?? "")),
            h("th", { scope: "row" }, t.TestCaseName || t.TestKey || String(t.TestID)),
            h("td", {}, t.Description || ""),
            h("td", {}, h("span", { class: `result result-${resultClass(t.Result)}` }, t.Result)),
            h("td", {}, t.ActualValue ?? ""),
            h("td", {}, t.RequiredValue ?? "")))))))));
}
