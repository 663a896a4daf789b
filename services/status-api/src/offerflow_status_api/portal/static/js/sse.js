// Server-sent events over fetch(): EventSource cannot send the Authorization header.
import { authHeaders, url } from "./api.js";

// Splits a text/event-stream into events ({event, data}); comments (keep-alives) are skipped.
export function parseEvents(buffer) {
  const events = [];
  let rest = buffer.replace(/\r\n?/g, "\n");
  let cut;
  while ((cut = rest.indexOf("\n\n")) >= 0) {
    const block = rest.slice(0, cut);
    rest = rest.slice(cut + 2);
    const ev = { event: "message", data: [], retry: null };
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (field === "event") ev.event = value;
      else if (field === "data") ev.data.push(value);
      else if (field === "retry" && /^\d+$/.test(value)) ev.retry = Number(value);
    }
    if (ev.data.length || ev.retry != null) events.push({ event: ev.event, data: ev.data.join("\n"), retry: ev.retry });
  }
  return { events, rest };
}

// Follows `path` until stop() is called, reconnecting after a drop or the server's lifetime limit.
// onState receives "connecting" | "live" | "retrying".
export function follow(path, { onEvent, onState = () => {} }) {
  const controller = new AbortController();
  let stopped = false;
  let retryMs = 1000;

  async function once() {
    onState("connecting");
    const resp = await fetch(url(path), { headers: authHeaders({ Accept: "text/event-stream" }), signal: controller.signal, cache: "no-store" });
    if (!resp.ok || !resp.body) {
      const err = new Error(`stream answered ${resp.status}`);
      err.status = resp.status;
      throw err;
    }
    onState("live");
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      const { events, rest } = parseEvents(buffer + value);
      buffer = rest;
      for (const ev of events) {
        if (ev.retry != null) retryMs = ev.retry;
        if (ev.data) onEvent(ev.event, ev.data);
      }
    }
  }

  (async () => {
    let failures = 0;
    while (!stopped) {
      try {
        await once();
        failures = 0;
      } catch (e) {
        if (stopped || e.name === "AbortError") return;
        if (e.status === 401 || e.status === 404) { onState("closed"); return; }
        failures += 1;
      }
      if (stopped) return;
      onState("retrying");
      await new Promise((r) => setTimeout(r, Math.min(retryMs * 2 ** Math.min(failures, 4), 15000)));
    }
  })();

  return () => { stopped = true; controller.abort(); };
}
