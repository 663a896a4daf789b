// Certification's per-test report: one table per plan, image version and disk.
import { h } from "../ui.js";

const resultClass = (r) => (String(r).toLowerCase() === "pass" || String(r).toLowerCase() === "passed" ? "pass"
  : String(r).toLowerCase().startsWith("warn") ? "warn" : String(r).toLowerCase().startsWith("fail") ? "fail" : "other");

export function certificationReport(body) {
  const reports = body.reports || [];
  return h("div", {},
    h("h2", { id: "report-h" }, "Certification report ", h("span", { class: `result result-${resultClass(body.TestResult)}` }, body.TestResult || "")),
    reports.length ? null : h("p", { class: "muted" }, "No disk was tested."),
    reports.map((r) => h("div", { class: "disk-report" },
      h("h3", {}, `Plan ${r.planId} · version ${r.imageVersion} · ${r.disk === "os" ? "OS disk" : `data disk ${r.disk}`} `,
        h("span", { class: `result result-${resultClass(r.TestResult)}` }, r.TestResult)),
      r.OSName || r.KernelVersion ? h("p", { class: "muted small" }, [r.OSName, r.KernelVersion && `kernel ${r.KernelVersion}`].filter(Boolean).join(" · ")) : null,
      h("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": `Tests of plan ${r.planId} ${r.imageVersion} ${r.disk}` },
        h("table", { class: "tests" },
          h("thead", {}, h("tr", {}, ["Test", "Description", "Result", "Actual", "Required"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, (r.Tests || []).map((t) => h("tr", { class: `test-${resultClass(t.Result)}` },
            h("th", { scope: "row" }, t.TestCaseName || t.TestID),
            h("td", {}, t.Description || ""),
            h("td", {}, h("span", { class: `result result-${resultClass(t.Result)}` }, t.Result)),
            h("td", {}, t.ActualValue ?? ""),
            h("td", {}, t.RequiredValue ?? "")))))))));
}
