// Pages the service renders for people (agendas, the report) need the Bearer header, so a
// plain link cannot open them. The console fetches them with the key it holds and shows the
// HTML from a blob: URL in a new window: no key is typed again or put in any URL.
import { api } from "/static/common/api.js";

/**
 * The page's own <style> as a constructed stylesheet. A blob: document inherits the console's
 * Content-Security-Policy, which refuses inline <style>; styles given through the CSSOM are
 * not inline markup, so the page keeps its look without loosening the policy.
 */
function adoptStyles(win, css) {
  const sheet = new win.CSSStyleSheet();
  sheet.replaceSync(css);
  win.document.adoptedStyleSheets = [...win.document.adoptedStyleSheets, sheet];
}

/** Open a fetched HTML page in a window the person can print; returns that window. */
export function showHtml(html, target = null) {
  const win = target || window.open("", "_blank");
  if (!win) throw new Error("popup_blocked");
  // The service's own pages: their <style> blocks are plain text, taken out as written.
  const STYLE = /<style[^>]*>([\s\S]*?)<\/style>/gi;
  const css = Array.from(html.matchAll(STYLE), (m) => m[1]).join("\n");
  const page = html.replace(STYLE, "");
  const url = URL.createObjectURL(new Blob([page], { type: "text/html;charset=utf-8" }));
  win.location.href = url;
  // Same origin: the opener may style the page once the blob has loaded in it.
  const started = Date.now();
  const poll = setInterval(() => {
    let ready = false;
    try {
      ready = win.document.URL === url && win.document.readyState !== "loading";
    } catch {
      ready = false;
    }
    if (ready || win.closed || Date.now() - started > 10000) {
      clearInterval(poll);
      if (ready && css) adoptStyles(win, css);
      win.document.documentElement.dataset.styled = "true";
      // The window has its own copy now; free the blob.
      URL.revokeObjectURL(url);
    }
  }, 50);
  return win;
}

/** A participant's printable agenda. */
export async function agendaHtml(eventId, participantId) {
  const { data } = await api("GET", "/v1/events/{event_id}/participants/{participant_id}/agenda", {
    params: { event_id: eventId, participant_id: participantId },
    headers: { Accept: "text/html" },
  });
  return data;
}

/** The event report, with its charts. */
export async function reportHtml(eventId) {
  const { data } = await api("GET", "/v1/events/{event_id}/report", {
    params: { event_id: eventId },
    headers: { Accept: "text/html" },
  });
  return data;
}

/**
 * Many agendas as one document to print at once, each starting on a new page: the bodies of
 * the service's own pages, under the first page's head (its styles).
 */
export function combine(pages) {
  const parser = new DOMParser();
  const docs = pages.map((html) => parser.parseFromString(html, "text/html"));
  if (!docs.length) return "";
  const out = docs[0];
  out.body.replaceChildren();
  const style = out.createElement("style");
  style.textContent = ".agenda-page { break-after: page; page-break-after: always; }";
  out.head.append(style);
  for (const doc of docs) {
    const section = out.createElement("section");
    section.className = "agenda-page";
    section.append(...Array.from(doc.body.childNodes, (n) => out.importNode(n, true)));
    out.body.append(section);
  }
  return `<!doctype html>\n${out.documentElement.outerHTML}`;
}
