// Publish: a pop-up asks for the notification emails (validated here and by the API), then the run starts.
import * as api from "../api.js";
import { h, errorBox, modal, toast } from "../ui.js";

const EMAIL = /^[^@\s"<>,;]+@[^@\s"<>,;]+\.[^@\s"<>.,;]+$/;

export function splitEmails(raw) {
  const all = raw.split(/[,;\s]+/).map((s) => s.trim()).filter(Boolean);
  return { valid: all.filter((e) => EMAIL.test(e)), invalid: all.filter((e) => !EMAIL.test(e)) };
}

export function publishDialog(offerId, onDone) {
  const input = h("input", { id: "publish-emails", type: "text", inputmode: "email", autocomplete: "email", required: true,
    spellcheck: "false", "aria-describedby": "publish-emails-hint" });
  const err = h("div", { id: "publish-error", "aria-live": "assertive" });
  const submit = h("button", { type: "submit", class: "btn btn-primary", form: "publish-form" }, "Publish");
  api.status(offerId).then((s) => { if (s && s.notificationEmails && !input.value) input.value = s.notificationEmails; }).catch(() => {});
  const form = h("form", { id: "publish-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    err.replaceChildren();
    const { valid, invalid } = splitEmails(input.value);
    if (invalid.length || !valid.length) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", "publish-emails-hint publish-error");
      err.append(h("p", { class: "alert alert-error", role: "alert" },
        invalid.length ? `Not an email address: ${invalid.join(", ")}` : "Enter at least one email address."));
      input.focus();
      return;
    }
    input.removeAttribute("aria-invalid");
    submit.disabled = true;
    try {
      await api.publish(offerId, valid.join(","));
      dlg.close("published");
      toast("Publishing started.", "success");
    } catch (ex) {
      err.append(errorBox(ex, ex.code === "OperationInProgress" ? "Already publishing:" : "Not published:"));
      submit.disabled = false;
    }
  } },
  h("p", {}, "We will mail the publishing status to these addresses: when the preview is ready, when the offer is live, and at every error."),
  err,
  h("div", { class: "field" }, h("label", { for: input.id }, "Notification emails"), input,
    h("p", { class: "hint", id: "publish-emails-hint" }, "One or more addresses, separated by commas.")));
  const dlg = modal({ title: "Publish offer", body: form, onClose: (result) => { if (result === "published") onDone(); },
    actions: [h("button", { type: "button", class: "btn", onclick: () => dlg.close() }, "Cancel"), submit] });
  return dlg;
}
