// The editor's form controls. Each writes straight into the loaded document, so keys the editor does
// not show survive the round trip untouched, and only fields the publisher touched change.
import { h, nextId } from "../ui.js";
import { IMAGES, LEAD_ALIASES, LEAD_CONFIG_KEY, LEAD_FIELDS, LEAD_KINDS, GENERIC_LEAD_KEY, M, PLAN, SECRET, pointer } from "./fields.js";

const splitList = (v, re) => v.split(re).map((s) => s.trim()).filter(Boolean);

// ctx: {get(path), set(path, value), register(pointer, wrapper)}
export function control(f, path, ctx) {
  const id = nextId("fld");
  const hintId = f.hint ? id + "-hint" : null;
  const value = ctx.get(path);
  const wrap = h("div", { class: `field field-${f.type}` });
  const hint = f.hint ? h("p", { class: "hint", id: hintId }, f.hint) : null;
  const set = (v) => ctx.set(path, v);
  let input;
  if (f.type === "bool") {
    input = h("input", { id, type: "checkbox", checked: value === true, onchange: (e) => set(e.target.checked) });
    wrap.append(h("div", { class: "check" }, input, h("label", { for: id }, f.label)), hint || "");
  } else if (f.type === "checks") {
    const chosen = new Set(Array.isArray(value) ? value : []);
    const boxes = f.options.map(([v, text]) => {
      const bid = nextId("chk");
      const box = h("input", { id: bid, type: "checkbox", value: v, checked: chosen.has(v), onchange: () => {
        const now = boxes.filter((b) => b.checked).map((b) => b.value);
        set(now.length ? now : undefined);
      } });
      return box;
    });
    input = boxes[0];
    const fs = h("fieldset", { class: "field field-checks" }, h("legend", {}, f.label),
      boxes.map((b, i) => h("div", { class: "check" }, b, h("label", { for: b.id }, f.options[i][1]))), hint);
    ctx.register(pointer(path), fs, boxes[0]);
    return fs;
  } else {
    const common = { id, name: id, "aria-describedby": hintId, autocomplete: "off", spellcheck: f.type === "textarea" ? "true" : "false" };
    if (f.type === "textarea" || f.type === "lines" || f.type === "categories") {
      const text = f.type === "lines" ? (Array.isArray(value) ? value.map((x) => (typeof x === "object" ? x.uri || x.url || JSON.stringify(x) : x)).join("\n") : "")
        : f.type === "categories" ? categoriesText(value) : (value ?? "");
      input = h("textarea", { ...common, rows: String(f.rows || 3), maxlength: f.max ? String(f.max) : null, value: text });
    } else if (f.type === "select") {
      input = h("select", { ...common, value: value === undefined || value === null ? "" : String(value) },
        f.options.map(([v, text]) => h("option", { value: v }, text)));
    } else {
      const type = { url: "url", email: "email", tel: "tel", number: "number", secret: "password" }[f.type] || "text";
      const shown = f.type === "list" ? (Array.isArray(value) ? value.map((x) => (typeof x === "object" ? `${x.port}/${x.protocol || "TCP"}` : x)).join(", ") : "")
        : value ?? "";
      input = h("input", { ...common, type, value: String(shown), maxlength: f.max ? String(f.max) : null,
        step: f.type === "number" ? "any" : null, inputmode: f.type === "number" ? "decimal" : null });
    }
    const parse = (raw) => {
      if (f.parse) return f.parse(raw);
      if (f.type === "list") return raw.trim() ? splitList(raw, /[,\n]/) : undefined;
      if (f.type === "lines") return raw.trim() ? splitList(raw, /[\n,]/) : undefined;
      if (f.type === "categories") return raw.trim() ? parseCategories(raw) : undefined;
      if (f.type === "number") return raw.trim() === "" || isNaN(Number(raw)) ? undefined : Number(raw);
      return raw === "" ? undefined : raw;
    };
    input.addEventListener(f.type === "select" ? "change" : "input", (e) => set(parse(e.target.value)));
    wrap.append(h("label", { for: id }, f.label, f.max ? h("span", { class: "muted" }, ` (max ${f.max})`) : null), input, hint || "");
  }
  ctx.register(pointer(path), wrap, input);
  return wrap;
}

function categoriesText(value) {
  if (!Array.isArray(value)) return "";
  return value.map((c) => {
    const l1 = c && c.categoryL1;
    const subs = (c && c[`categoryL2-${l1}`]) || [];
    return subs.length ? `${l1}: ${subs.join(", ")}` : String(l1 ?? "");
  }).join("\n");
}

function parseCategories(raw) {
  return raw.split("\n").map((l) => l.trim()).filter(Boolean).map((line) => {
    const [l1, rest] = line.split(":");
    const name = l1.trim();
    const subs = rest ? splitList(rest, /,/) : [];
    return subs.length ? { categoryL1: name, [`categoryL2-${name}`]: subs } : { categoryL1: name };
  });
}

// Plans: every plan's fields and its disk versions, with add and remove.
export function plansPanel(ctx, redraw) {
  const plans = ctx.get(["plans"]);
  const list = Array.isArray(plans) ? plans : [];
  const addPlan = () => {
    const next = [...list, { planId: "", [IMAGES]: {} }];
    ctx.set(["plans"], next);
    redraw("plans");
  };
  const panel = h("div", { class: "plans" });
  const top = h("div", { class: "plans-top" },
    h("p", {}, list.length ? `${list.length} plan${list.length > 1 ? "s" : ""}.` : "No plan yet: an offer needs at least one plan (SKU) with a VM image."),
    h("div", { class: "actions" }, h("button", { type: "button", class: "btn", onclick: addPlan }, "Add a plan")));
  ctx.register("/plans", top, top.querySelector("button"));
  panel.append(top);
  list.forEach((plan, i) => {
    const title = plan.planId || `Plan ${i + 1}`;
    const card = h("section", { class: "card plan", "aria-label": `Plan ${title}` },
      h("div", { class: "card-head" }, h("h3", {}, `Plan: ${title}`),
        h("button", { type: "button", class: "btn btn-quiet", onclick: () => {
          if (!confirm(`Remove plan ${title} from the draft?`)) return;
          ctx.set(["plans"], list.filter((_, j) => j !== i));
          redraw("plans");
        } }, "Remove plan")),
      h("div", { class: "grid" }, PLAN.map((f) => control(f, ["plans", i, ...f.rel], ctx))),
      imagesBlock(ctx, i, plan, redraw));
    panel.append(card);
  });
  return panel;
}

function imagesBlock(ctx, i, plan, redraw) {
  const base = ["plans", i, IMAGES];
  const versions = plan[IMAGES] && typeof plan[IMAGES] === "object" ? plan[IMAGES] : {};
  const fs = h("fieldset", { class: "images" }, h("legend", {}, "Disk versions (VM images)"));
  ctx.register(pointer(base), fs, null);
  for (const [version, image] of Object.entries(versions)) {
    const vid = nextId("ver");
    const verIn = h("input", { id: vid, value: version, spellcheck: "false", autocomplete: "off", onchange: (e) => {
      const name = e.target.value.trim();
      if (!name || name === version || name in versions) { e.target.value = version; return; }
      // Rename the key in place, keeping the order (order carries meaning: versions must increase).
      const renamed = Object.fromEntries(Object.entries(versions).map(([k, v]) => [k === version ? name : k, v]));
      ctx.set(base, renamed);
      redraw("plans");
    } });
    const row = h("div", { class: "image" },
      h("div", { class: "field" }, h("label", { for: vid }, "Version"), verIn,
        h("p", { class: "hint" }, "X.Y.Z or a date YYYY.MM.DD; each new version higher than the last.")),
      control({ label: "OS disk VHD URL", type: "url" }, [...base, version, "osVhdUrl"], ctx),
      lunsControl(ctx, [...base, version], image),
      h("button", { type: "button", class: "btn btn-quiet", onclick: () => {
        const rest = { ...versions };
        delete rest[version];
        ctx.set(base, rest);
        redraw("plans");
      } }, `Remove version ${version}`));
    ctx.register(pointer([...base, version]), row.firstChild, verIn);
    fs.append(row);
  }
  fs.append(h("button", { type: "button", class: "btn", onclick: () => {
    const keys = Object.keys(versions);
    let next = "1.0.0";
    if (keys.length) {
      const parts = keys[keys.length - 1].split(".").map(Number);
      next = parts.length === 3 && parts.every(Number.isFinite) ? `${parts[0]}.${parts[1]}.${parts[2] + 1}` : `${keys.length + 1}.0.0`;
    }
    ctx.set(base, { ...versions, [next]: { osVhdUrl: "", lunVhdDetails: [] } });
    redraw("plans");
  } }, "Add a disk version"));
  return fs;
}

function lunsControl(ctx, imagePath, image) {
  const id = nextId("lun");
  const luns = Array.isArray(image && image.lunVhdDetails) ? image.lunVhdDetails : [];
  const input = h("textarea", { id, rows: "2", spellcheck: "false", value: luns.map((l) => (l && l.lunVhdUrl) || "").join("\n"),
    "aria-describedby": id + "-hint" });
  input.addEventListener("input", () => {
    const urls = splitList(input.value, /\n/);
    // Keep any other keys of existing data disks; the LUN is the line number.
    ctx.set([...imagePath, "lunVhdDetails"], urls.map((u, j) => ({ ...(luns[j] || {}), lun: luns[j]?.lun ?? j, lunVhdUrl: u })));
  });
  const wrap = h("div", { class: "field" }, h("label", { for: id }, "Data disk VHD URLs"), input,
    h("p", { class: "hint", id: id + "-hint" }, "One per line, LUN 0 first (up to 15). Every version keeps the same count."));
  ctx.register(pointer([...imagePath, "lunVhdDetails"]), wrap, input);
  return wrap;
}

// Lead management: the destination, then the settings that destination needs.
export function leadsPanel(ctx, redraw) {
  const raw = ctx.get(["offer", M + "leadDestination"]);
  const kind = LEAD_ALIASES[String(raw ?? "none").trim().toLowerCase()] || "None";
  const id = nextId("lead");
  const sel = h("select", { id, value: kind, onchange: (e) => { ctx.set(["offer", M + "leadDestination"], e.target.value); redraw("leads"); } },
    LEAD_KINDS.map(([v, text]) => h("option", { value: v }, text)));
  const top = h("div", { class: "field" }, h("label", { for: id }, "Lead destination"), sel,
    h("p", { class: "hint" }, "Where customer leads go. On publish the connection is checked by sending a test lead."));
  ctx.register(pointer(["offer", M + "leadDestination"]), top, sel);
  const out = h("div", {}, top);
  if (kind === "None") return out;
  const own = LEAD_CONFIG_KEY[kind];
  const hasOwn = ctx.get(["offer", own]) && typeof ctx.get(["offer", own]) === "object";
  const key = !hasOwn && ctx.get(["offer", GENERIC_LEAD_KEY]) ? GENERIC_LEAD_KEY : own;
  for (const [name, label, type, options] of LEAD_FIELDS[kind] || []) {
    const f = { label, type, options, hint: type === "secret" ? "Write-only: a stored value shows as ******** and is kept unless you type a new one." : null };
    out.append(control(f, ["offer", key, name], ctx));
  }
  return out;
}

export { SECRET };
