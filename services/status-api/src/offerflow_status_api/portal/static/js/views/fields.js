// What the editor shows: the offer's sections, each field named by its path in the offer definition.
// Paths are arrays of keys; their JSON pointers match the `field` of validation problems.

export const M = "microsoft-azure-marketplace.";
export const VM = "microsoft-azure-virtualmachines.";
export const IMAGES = "microsoft-azure-corevm.vmImagesPublicAzure";
export const PRICING = "virtualMachinePricing";
export const SECRET = "********";

export function pointer(path) {
  return path.map((t) => "/" + String(t).replace(/~/g, "~0").replace(/\//g, "~1")).join("");
}

export function getAt(obj, path) {
  let cur = obj;
  for (const k of path) {
    if (cur == null || typeof cur !== "object") return undefined;
    cur = cur[k];
  }
  return cur;
}

export function setAt(obj, path, value) {
  let cur = obj;
  path.slice(0, -1).forEach((k, i) => {
    if (cur[k] == null || typeof cur[k] !== "object") cur[k] = typeof path[i + 1] === "number" ? [] : {};
    cur = cur[k];
  });
  const last = path[path.length - 1];
  if (value === undefined) {
    if (Array.isArray(cur) && typeof last === "number") cur.splice(last, 1);
    else delete cur[last];
  } else cur[last] = value;
}

const o = (name, label, type = "text", extra = {}) => ({ path: ["offer", M + name], label, type, ...extra });
const p = (key, label, type = "text", extra = {}) => ({ rel: [key], label, type, ...extra });

export const OFFER_SETTINGS = [
  { path: ["displayText"], label: "Offer name", type: "text", max: 50, hint: "How the offer is listed in the portal." },
];

export const MARKETPLACE = [
  o("title", "Title", "text", { max: 50 }),
  o("summary", "Summary", "text", { max: 100 }),
  o("longSummary", "Long summary", "textarea", { max: 256, rows: 3 }),
  o("description", "Description", "textarea", { max: 3000, rows: 6, hint: "Simple HTML is allowed." }),
  o("offerMarketingUrlIdentifier", "Marketing identifier", "text", { max: 50, hint: "Part of the product page address." }),
  o("publisherDisplayName", "Publisher display name", "text", { max: 100 }),
  o("cspOfferOptIn", "Offer through Cloud Solution Providers (CSP)", "bool"),
  o("categoryMap", "Categories", "categories", { rows: 2, hint: "One category per line, up to 2, each with up to 2 subcategories: category: sub1, sub2" }),
  o("smallLogo", "Small logo (40×40 PNG URL)", "url"),
  o("mediumLogo", "Medium logo (90×90 PNG URL)", "url"),
  o("largeLogo", "Large logo (115×115 PNG URL)", "url"),
  o("wideLogo", "Wide logo (255×115 PNG URL)", "url"),
  o("heroLogo", "Hero image (815×290 PNG URL, optional; cannot be removed once live)", "url"),
  o("screenshots", "Screenshots (533×324 image URLs, one per line, up to 5)", "lines", { rows: 3 }),
];

export const LEGAL = [
  o("privacyURL", "Privacy policy URL", "url"),
  o("useEnterpriseContract", "Use the standard contract", "bool"),
  o("termsOfUse", "Terms of use", "textarea", { rows: 5, hint: "Plain text or simple HTML." }),
  o("termsOfUseURL", "Terms of use URL (optional)", "url"),
];

export const SUPPORT = [
  o("engineeringContactName", "Engineering contact name", "text", { max: 100, autocomplete: "off" }),
  o("engineeringContactEmail", "Engineering contact email", "email"),
  o("engineeringContactPhone", "Engineering contact phone", "tel", { max: 50 }),
  o("supportContactName", "Customer support contact name", "text", { max: 100 }),
  o("supportContactEmail", "Customer support contact email", "email"),
  o("supportContactPhone", "Customer support contact phone", "tel", { max: 50 }),
  o("publicAzureSupportUrl", "Support URL (public cloud, optional)", "url"),
  o("fairfaxSupportUrl", "Support URL (government cloud, optional)", "url"),
];

export const AUDIENCE = [
  o("allowedSubscriptions", "Preview subscription IDs", "lines", { rows: 4,
    hint: "One subscription GUID per line (1 to 100). Only these subscriptions see the preview.",
    item: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/ }),
];

export const PLAN = [
  p("planId", "Plan ID", "text", { max: 50, hint: "Lowercase letters, digits, '-' and '_'; fixed once published." }),
  p(VM + "skuTitle", "Plan title", "text", { max: 50 }),
  p(VM + "skuSummary", "Plan summary", "text", { max: 100 }),
  p(VM + "skuDescription", "Plan description", "textarea", { max: 3000, rows: 3 }),
  p(VM + "hideSKUForSolutionTemplate", "Hide this plan (only for solution templates)", "bool"),
  p(VM + "cloudAvailability", "Cloud availability", "checks", { options: [["PublicAzure", "Public cloud"], ["Fairfax", "Government cloud"]] }),
  p("regions", "Countries/regions", "list", { hint: "ISO codes separated by commas, e.g. US, DE, JP" }),
  { rel: [PRICING, "isByol"], label: "License model", type: "select", options: [["", "Choose…"], ["true", "Bring your own license (BYOL)"], ["false", "Usage-based (monthly)"]], parse: (v) => (v === "" ? undefined : v === "true") },
  { rel: [PRICING, "freeTrialDurationInMonths"], label: "Free trial", type: "select", options: [["", "Not set"], ["0", "No free trial"], ["1", "1 month"], ["3", "3 months"]], parse: (v) => (v === "" ? undefined : Number(v)) },
  { rel: [PRICING, "coreMultiplier", "currency"], label: "Price currency (usage-based)", type: "text", max: 3, hint: "e.g. USD" },
  { rel: [PRICING, "coreMultiplier", "single"], label: "Price per core and hour (usage-based)", type: "number" },
  p(VM + "operatingSystemFamily", "OS family", "select", { options: [["", "Choose…"], ["Linux", "Linux"], ["Windows", "Windows"]] }),
  p(VM + "osType", "OS type or vendor", "text"),
  p(VM + "operationSystem", "OS friendly name", "text", { max: 100 }),
  p(VM + "recommendedVMSizes", "Recommended VM sizes", "list", { hint: "Up to 6, separated by commas, e.g. d2s-standard-v3" }),
  p(VM + "openPorts", "Open ports", "list", { hint: "e.g. 443/TCP, 8080/TCP (22/TCP and 3389/TCP are added for you)" }),
];

// Lead destinations and the settings each needs; secrets come back from the API as "********".
export const LEAD_KINDS = [
  ["None", "None"], ["AzureTable", "Azure Table"], ["HttpsEndpoint", "HTTPS endpoint"], ["SalesForce", "Salesforce"],
  ["Dynamics", "Dynamics 365 (CRM)"], ["Marketo", "Marketo"], ["AzureBlob", "Azure Blob (deprecated)"],
];
export const LEAD_CONFIG_KEY = {
  AzureTable: M + "tableLeadConfiguration", AzureBlob: M + "blobLeadConfiguration",
  SalesForce: M + "salesForceLeadConfiguration", Dynamics: M + "crmLeadConfiguration",
  HttpsEndpoint: M + "httpsEndpointLeadConfiguration", Marketo: M + "marketoLeadConfiguration",
};
export const GENERIC_LEAD_KEY = M + "leadConfiguration";
export const LEAD_FIELDS = {
  AzureTable: [["connectionString", "Storage account connection string", "secret"]],
  AzureBlob: [["connectionString", "Storage account connection string", "secret"], ["containerName", "Container name", "text"]],
  HttpsEndpoint: [["httpsEndpointUrl", "HTTPS endpoint URL (receives leads by POST)", "secret"]],
  SalesForce: [["objectIdentifier", "Web-to-lead Object Identifier (OID)", "text"]],
  Dynamics: [["authenticationType", "Authentication", "select", [["", "Choose…"], ["azureAD", "Azure AD application (recommended)"], ["office365", "Office 365 user"]]],
    ["instanceUrl", "Instance URL", "url"], ["applicationId", "Application ID", "text"], ["directoryId", "Directory ID", "text"],
    ["applicationKey", "Application key", "secret"], ["userName", "User name", "text"], ["password", "Password", "secret"]],
  Marketo: [["munchkinId", "Munchkin ID", "text"], ["clientId", "Client ID (LaunchPoint API service)", "text"],
    ["clientSecret", "Client secret", "secret"], ["serverId", "Server ID (optional)", "text"],
    ["formId", "Form ID (optional)", "text"]],
};
export const LEAD_ALIASES = { none: "None", azuretable: "AzureTable", table: "AzureTable", azureblob: "AzureBlob", blob: "AzureBlob",
  salesforce: "SalesForce", dynamics: "Dynamics", crm: "Dynamics", dynamicscrm: "Dynamics", httpsendpoint: "HttpsEndpoint",
  https: "HttpsEndpoint", marketo: "Marketo" };

// Human names of document keys, for the compare view and for problems without a field on screen.
export function labelOf(key) {
  const all = [...OFFER_SETTINGS, ...MARKETPLACE, ...LEGAL, ...SUPPORT, ...AUDIENCE];
  const hit = all.find((f) => f.path[f.path.length - 1] === key) || PLAN.find((f) => f.rel[f.rel.length - 1] === key);
  if (hit) return hit.label.replace(/ \(.*\)$/, "");
  return String(key).replace(/^microsoft-azure-(marketplace|virtualmachines|corevm)\./, "");
}
