// The staging step's details on the Status tab: each plan's boot check by check (from the status document, so it
// updates live) and its console log, read once per run and plan from the console route. The console is whatever
// the VM printed: it only ever goes into the page as text (textContent of a <pre>), never as HTML.
import * as api from "../api.js";
import { h } from "../ui.js";

const resultClass = (r) => {
  const v = String(r).toLowerCase();
  return v.startsWith("pass") ? "pass" : v.startsWith("warn") ? "warn" : v.startsWith("fail") ? "fail" : "other";
};
const seconds = (s) => (s == null ? "—" : `${Number(s).toFixed(1)} s`);

// `consoles` caches {text, url} (or null: none kept) by "run:plan" across redraws of the steps.
export function stagingReports(step, offerId, runId, consoles) {
  const reports = step.stagingReports || [];
  if (!reports.length) return null;
  return h("section", { class: "staging-reports", "aria-label": `Staging checks of ${step.stepName}` },
    reports.map((r) => h("div", { class: "staging-plan", dataset: { plan: r.planId } },
      h("h4", {}, `Plan ${r.planId} · version ${r.imageVersion} `,
        h("span", { class: `result result-${resultClass(r.result)}` }, r.result)),
      h("p", { class: "staging-summary" }, r.summary || ""),
      h("div", { class: "table-scroll", tabindex: "0", role: "region", "aria-label": `Boot checks of plan ${r.planId}` },
        h("table", { class: "tests staging-checks" },
          h("thead", {}, h("tr", {}, ["Check", "Result", "Actual", "Required", "At"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, (r.checks || []).map((c) => h("tr", { class: `test-${resultClass(c.result)}`, dataset: { check: c.checkId } },
            h("th", { scope: "row" }, c.name || c.checkId),
            h("td", {}, h("span", { class: `result result-${resultClass(c.result)}` }, c.result)),
            h("td", {}, c.actual ?? ""),
            h("td", {}, c.required ?? ""),
            h("td", { class: "seconds" }, seconds(c.seconds))))))),
      consoleBlock(offerId, runId, r.planId, consoles))));
}

function consoleBlock(offerId, runId, plan, consoles) {
  const key = `${runId}:${plan}`;
  const pre = h("pre", { class: "console", tabindex: "0", role: "region", "aria-label": `Console log of plan ${plan}` });
  const name = `${runId}-${plan}-console.txt`.replace(/[^A-Za-z0-9._-]/g, "_");
  const link = h("a", { class: "btn console-download", download: name, hidden: true }, "Download the console log");
  const state = h("p", { class: "muted small console-state" }, "Loading the console log…");
  const show = (got) => {
    if (got == null) { state.textContent = "No console log was kept for this boot."; pre.hidden = true; return; }
    state.remove();
    pre.textContent = got.text; // text only: whatever the VM printed stays characters
    link.href = got.url;
    link.hidden = false;
    requestAnimationFrame(() => { pre.scrollTop = pre.scrollHeight; }); // the end is where a boot stopped
  };
  if (consoles.has(key)) show(consoles.get(key));
  else {
    api.stagingConsole(offerId, runId, plan).then((text) => {
      // The route needs the bearer token, which a plain link cannot send: the download is the text it answered.
      const got = text == null ? null : { text, url: URL.createObjectURL(new Blob([text], { type: "text/plain" })) };
      consoles.set(key, got);
      show(got);
    })
      .catch((e) => { state.textContent = `Cannot load the console log: ${e.message}`; });
  }
  return h("div", { class: "staging-console" }, h("h5", {}, "Console log"), state, pre, link);
}
