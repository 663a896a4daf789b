// The Status tab: every step with its status, ETA, progress and messages, kept current over SSE. The ETA and
// the overdue flag are the API's (measured from recent runs when there are enough of them); the time left
// and by how much a step is late are counted here, every second, from them.
import * as api from "../api.js";
import { follow } from "../sse.js";
import { h, badge, errorBox, fmtDuration, messageText, modal, timeTag, toast, STEP_STATUS } from "../ui.js";
import { certificationReport } from "./report.js";
import { stagingReports } from "./staging.js";
import { historyList } from "./history.js";

const NEXT_STEPS = {
  displaydummycertify: "Fix the fields listed in the message (the Editor shows a warning next to each), then Publish again.",
  displaycertify: "Fix the image so the failed tests pass, add it as a new disk version in the Editor, then Publish again.",
  displayprovision: "Check that the image is still readable and unchanged since certification, then Publish again.",
  displaystaging: "Read the failed check and the console log, fix the image (run `offerflow stage IMAGE` locally), then Publish again.",
  displaypackage: "Check the marketplace content and the lead destination settings, then Publish again.",
  "publisher-signoff": "Review the preview, then choose Go live or Cancel publication.",
  live: "Publish again; if it keeps failing, open a support request.",
};

// `query` may ask for the support request form of one step (`support`) of one run (`run`): mail links do.
export function renderStatus(view, offerId, shell, query = new URLSearchParams()) {
  let doc = null;
  let supportAsked = query.get("support");
  let reportRun = null;
  const openSteps = new Set();
  const consoles = new Map(); // staging console logs already read, by "run:plan"
  const live = h("p", { class: "live-state muted", "aria-live": "off" }, "Connecting…");
  const announce = h("div", { class: "sr-only", "aria-live": "polite", role: "status" });
  const overview = h("div", { class: "overview card" });
  const actions = h("div", { class: "signoff-actions" });
  const links = h("div", { class: "links" });
  const steps = h("ol", { class: "steps", "aria-label": "Publishing steps" });
  const report = h("section", { class: "report", "aria-labelledby": "report-h", hidden: true });
  const hist = h("section", { class: "history", "aria-labelledby": "history-h" },
    h("h2", { id: "history-h" }, "History"), h("p", { class: "muted" }, "Loading…"));
  view.append(h("h2", { class: "sr-only" }, "Publishing status"), live, announce, overview, actions, links, steps, report, hist);

  function drawOverview() {
    const current = doc.steps.find((s) => s.id === doc.currentStep);
    overview.replaceChildren(...[
      h("div", { class: "overview-main" }, h("span", { class: "muted" }, "Status "), badge(doc.status),
        current && doc.status !== "succeeded" ? h("span", { class: "muted" }, ` at ${current.stepName}`) : null),
      doc.runId ? h("p", { class: "muted small" }, `Operation ${doc.runId}`, doc.offerVersion ? ` · version ${doc.offerVersion}` : "",
        doc.notificationEmails ? ` · notifications to ${doc.notificationEmails.split(",").join(", ")}` : "") : null,
      doc.status === "neverPublished" ? h("p", {}, "This offer was never published. Open the ",
        h("a", { href: `#/offers/${encodeURIComponent(offerId)}/editor` }, "Editor"), " and choose Publish.") : null,
    ].filter(Boolean));
    shell.setStatus(doc.status);
  }

  function drawActions() {
    actions.replaceChildren();
    if (doc.status !== "waitingForPublisherReview") return;
    actions.append(h("div", { class: "card signoff" },
      h("h2", {}, "Your sign-off"),
      h("p", {}, "Check the preview below: it is visible only to the preview subscriptions. When it looks right, go live."),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "btn btn-primary", onclick: goLive }, "Go live"),
        h("button", { type: "button", class: "btn btn-danger", onclick: cancel }, "Cancel publication"))));
  }

  function drawLinks() {
    const list = (label, urls, cls) => (urls && urls.length ? h("div", { class: `link-group ${cls}` }, h("h2", {}, label),
      h("ul", {}, urls.map((u) => h("li", {}, h("a", { href: u, target: "_blank", rel: "noopener" }, u, h("span", { class: "sr-only" }, " (opens in a new tab)")))))) : null);
    links.replaceChildren(...[list("Preview", doc.previewLinks, "preview-links"), list("Live", doc.liveLinks, "live-links")].filter(Boolean));
  }

  function drawSteps() {
    steps.replaceChildren(...doc.steps.map((s, i) => {
      const failed = s.status === "failed";
      const pct = Number(s.progressPercentage) || 0;
      const since = s.startedAt ? (s.finishedAt ? Date.parse(s.finishedAt) : Date.now()) - Date.parse(s.startedAt) : null;
      return h("li", { class: `step step-${s.status}`, dataset: { step: s.id, status: s.status }, "aria-current": s.id === doc.currentStep && doc.status !== "succeeded" ? "step" : null },
        h("div", { class: "step-head" },
          h("span", { class: "step-num", "aria-hidden": "true" }, String(i + 1)),
          h("h3", { class: "step-name" }, s.stepName),
          badge(s.status, STEP_STATUS),
          s.overdue ? h("span", { class: "badge badge-overdue" }, "Overdue") : null),
        h("p", { class: "step-desc muted" }, s.description),
        h("dl", { class: "step-facts" },
          h("div", {}, h("dt", {}, s.etaSamples ? `Estimated time (measured from the last ${s.etaSamples} runs)` : "Estimated time"),
            h("dd", { class: "eta-frame" }, s.estimatedTimeFrame || "—")),
          s.status === "inProgress" && s.startedAt && s.etaSeconds != null ? h("div", { class: s.overdue ? "eta-overdue" : null },
            h("dt", {}, "Time left"),
            h("dd", { class: "eta-left", dataset: { since: s.startedAt, eta: String(s.etaSeconds), samples: String(s.etaSamples || ""), overdue: s.overdue ? "1" : "" } },
              etaLeft(s.startedAt, s.etaSeconds, s.etaSamples, s.overdue))) : null,
          s.startedAt ? h("div", {}, h("dt", {}, "Started"), h("dd", {}, timeTag(s.startedAt))) : null,
          since != null ? h("div", {}, h("dt", {}, s.finishedAt ? "Took" : "Running for"), h("dd", { class: s.finishedAt ? null : "running-for", dataset: { since: s.startedAt } }, fmtDuration(since))) : null),
        h("div", { class: "progress-row" },
          h("label", { for: `progress-${s.id}` }, "Progress"),
          h("progress", { id: `progress-${s.id}`, max: "100", value: String(pct) }), h("span", { class: "pct" }, `${pct}%`)),
        failed ? failure(s) : null,
        doc.runId ? stagingReports(s, offerId, doc.runId, consoles) : null,
        messages(s));
    }));
  }

  // A finished step's messages fold away (one click opens them); the step in progress or failing shows them.
  function messages(s) {
    if (!s.messages || !s.messages.length) return null;
    const list = h("ul", { class: "messages", "aria-label": `Messages of ${s.stepName}` },
      s.messages.map((m) => h("li", { class: `msg msg-${m.level}` },
        h("span", { class: `level level-${m.level}` }, m.level), " ", timeTag(m.timestamp), " ",
        h("span", { class: "msg-text" }, messageText(m.messageHtml)), m.field ? h("code", { class: "msg-field" }, m.field) : null)));
    const folded = s.status === "complete" && s.messages.length > 2;
    const key = `${doc.runId}:${s.id}`;
    // Only the publisher's own clicks are remembered (a details element also toggles when built open).
    const remember = (e) => { if (e.currentTarget.parentElement.open) openSteps.delete(key); else openSteps.add(key); };
    return h("details", { class: "step-messages", open: !folded || openSteps.has(key) },
      h("summary", { onclick: remember }, `${s.messages.length} message${s.messages.length > 1 ? "s" : ""}`), list);
  }

  function failure(s) {
    const errorMsg = (s.messages || []).filter((m) => m.level === "error");
    return h("div", { class: "failure", role: "group", "aria-label": `${s.stepName} failed` },
      h("p", { class: "failure-title" }, h("strong", {}, `${s.stepName} failed`), errorMsg[0] ? `: ${messageText(errorMsg[0].messageHtml)}` : ""),
      h("p", {}, h("strong", {}, "Next steps: "), s.nextSteps || NEXT_STEPS[s.id] || "Fix the problem, then Publish again."),
      h("div", { class: "actions" },
        h("a", { class: "btn", href: `#/offers/${encodeURIComponent(offerId)}/editor` }, "Open the Editor"),
        h("button", { type: "button", class: "btn", onclick: () => supportDialog(s, errorMsg, doc.runId) }, "Open support request")));
  }

  async function drawReport() {
    const cert = doc.steps.find((s) => s.id === "displaycertify");
    if (!doc.runId || !cert || !["complete", "failed"].includes(cert.status)) { report.hidden = true; return; }
    if (reportRun === doc.runId) return;
    reportRun = doc.runId;
    try {
      const body = await api.certification(offerId, doc.runId);
      if (!body) { reportRun = null; return; }
      report.replaceChildren(certificationReport(body));
      report.hidden = false;
    } catch (e) {
      reportRun = null;
      report.replaceChildren(errorBox(e, "Cannot load the certification report:"));
      report.hidden = false;
    }
  }

  let histTimer = null;
  function drawHistory() {
    clearTimeout(histTimer);
    histTimer = setTimeout(async () => {
      try {
        const entries = await api.history(offerId);
        hist.replaceChildren(h("h2", { id: "history-h" }, "History"), historyList(entries));
      } catch (e) {
        hist.replaceChildren(h("h2", { id: "history-h" }, "History"), errorBox(e, "Cannot load the history:"));
      }
    }, 250);
  }

  function apply(next) {
    const before = doc;
    doc = next;
    const changed = (doc.steps || []).filter((s) => {
      const old = before && before.steps.find((o) => o.id === s.id);
      return before && (!old || old.status !== s.status);
    });
    if (changed.length) announce.textContent = changed.map((s) => `${s.stepName}: ${STEP_STATUS[s.status] || s.status}`).join(". ");
    drawOverview();
    if (!before || before.status !== doc.status || before.runId !== doc.runId) drawActions();
    drawLinks();
    drawSteps();
    drawReport();
    drawHistory();
    openAskedSupport();
  }

  async function goLive(e) {
    e.target.disabled = true;
    try {
      await api.goLive(offerId);
      toast("Going live: the offer is being promoted to production.", "success");
    } catch (ex) {
      actions.append(errorBox(ex, "Go live refused:"));
      e.target.disabled = false;
    }
  }

  function cancel() {
    const yes = h("button", { type: "button", class: "btn btn-danger", onclick: async () => {
      yes.disabled = true;
      try {
        const r = await api.cancel(offerId);
        d.close();
        toast(r.status === 200 ? "Publication canceled." : "Cancel requested.", "success");
        if (r.status === 200 && r.body && r.body.steps) apply(r.body);
      } catch (ex) {
        body.append(errorBox(ex, "Cancel refused:"));
        yes.disabled = false;
      }
    } }, "Cancel publication");
    const body = h("div", {}, h("p", {}, "The preview is withdrawn and the offer returns to step 1. To publish it later, choose Publish again."));
    const d = modal({ title: "Cancel publication?", body, actions: [h("button", { type: "button", class: "btn", onclick: () => d.close() }, "Keep it"), yes] });
  }

  // Once, after the first status: the form of the step the link names, for the link's run (an older run
  // keeps its id, so the request is attached to the run the mail was about). The query then leaves the
  // address so that a reload does not open the form again.
  function openAskedSupport() {
    if (!supportAsked || !doc) return;
    // "failed" (old mail links) means the step that failed in this run.
    const step = doc.steps.find((s) => s.id === supportAsked || (supportAsked === "failed" && s.status === "failed"));
    const runId = query.get("run") || doc.runId;
    supportAsked = null;
    history.replaceState(null, "", `#/offers/${encodeURIComponent(offerId)}/status`);
    if (!step) { steps.before(h("p", { class: "alert alert-warning" }, `There is no step ${query.get("support")} to ask about.`)); return; }
    const errors = runId === doc.runId ? (step.messages || []).filter((m) => m.level === "error") : [];
    supportDialog(step, errors, runId);
  }

  function supportDialog(step, errors, runId) {
    const t = h("input", { id: "support-title", required: true, maxlength: "200", value: `${step.stepName} failed for offer ${offerId}` });
    const dsc = h("textarea", { id: "support-desc", rows: "5", required: true, maxlength: "10000",
      value: `${errors.map((m) => messageText(m.messageHtml)).join("\n")}\n\nWhat I tried:\n` });
    const out = h("div", { "aria-live": "assertive" });
    const send = h("button", { type: "submit", class: "btn btn-primary", form: "support-form" }, "Send");
    const form = h("form", { id: "support-form", novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      out.replaceChildren();
      if (!t.value.trim() || !dsc.value.trim()) { out.append(h("p", { class: "alert alert-error", role: "alert" }, "Title and description are required.")); return; }
      send.disabled = true;
      try {
        const r = await api.openSupport(offerId, t.value.trim(), dsc.value.trim(), runId);
        form.replaceChildren(h("p", { class: "alert alert-ok", role: "status" }, `Support request ${r.id} is open. Our engineers will contact ${doc.notificationEmails || "you"}.`));
        send.remove();
      } catch (ex) {
        out.append(errorBox(ex, "Not sent:"));
        send.disabled = false;
      }
    } }, out,
    h("div", { class: "field" }, h("label", { for: t.id }, "Title"), t),
    h("div", { class: "field" }, h("label", { for: dsc.id }, "Description"), dsc),
    h("p", { class: "hint" }, `The request is attached to operation ${runId || "—"} and its messages.`));
    const d = modal({ title: "Open a support request", body: form, actions: [h("button", { type: "button", class: "btn", onclick: () => d.close() }, "Close"), send] });
  }

  const ticker = setInterval(() => {
    for (const dd of steps.querySelectorAll("dd.running-for")) dd.textContent = fmtDuration(Date.now() - Date.parse(dd.dataset.since));
    for (const dd of steps.querySelectorAll("dd.eta-left")) {
      dd.textContent = etaLeft(dd.dataset.since, Number(dd.dataset.eta), Number(dd.dataset.samples) || null, dd.dataset.overdue === "1");
    }
  }, 1000);

  api.status(offerId).then((d) => { if (!doc) apply(d); }).catch((e) => steps.replaceChildren(errorBox(e, "Cannot read the status:")));
  const stop = follow(api.offerPath(offerId, "/status/stream"), {
    onEvent: (event, data) => { if (event === "status") apply(JSON.parse(data)); },
    onState: (s) => {
      live.textContent = { connecting: "Connecting to live updates…", live: "● Live: this page updates by itself.",
        retrying: "Live updates interrupted; reconnecting…", closed: "Live updates stopped." }[s] || s;
      live.dataset.state = s;
    },
  });
  return () => { stop(); clearInterval(ticker); clearTimeout(histTimer); };
}

// A duration as people say it: "40 s", "3 min", "2 h 30 min", "3 days" (hours keep their minutes, so that it
// reads like the step's "Running for").
export function approx(ms) {
  const s = Math.max(1, Math.round(ms / 1000));
  if (s < 90) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} min`;
  if (m < 48 * 60) return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m / 60} h`;
  const d = Math.round(m / 1440);
  return `${d} day${d === 1 ? "" : "s"}`;
}

// What is left of a running step against its ETA bound (the measured p90, or the static bound), saying where the
// estimate comes from; once the API flags the step overdue, by how much it is late.
export function etaLeft(startedAt, etaSeconds, samples, overdue) {
  const running = Date.now() - Date.parse(startedAt);
  const bound = etaSeconds * 1000;
  const basis = samples ? `measured from the last ${samples} run${samples === 1 ? "" : "s"}` : "static estimate";
  if (overdue) return `overdue by ${approx(running - bound)}: running ${approx(running)}, expected within ${approx(bound)} (${basis})`;
  if (running < bound) return `about ${approx(bound - running)} left (${basis})`;
  return `taking longer than expected: running ${approx(running)}, expected within ${approx(bound)} (${basis})`;
}
