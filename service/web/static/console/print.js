// Pages the service renders for people (agendas, the report) need the Bearer header, so a
// plain link cannot open them. The console fetches them with the key it holds and shows the
// HTML from a blob: URL in a new window: no key is typed again or put in any URL.
import { api } from "/static/common/api.js";

/** Open a fetched HTML page in a window the person can print; returns that window. */
export function showHtml(html, target = null) {
  const url = URL.createObjectURL(new Blob([html], { type: "text/html;charset=utf-8" }));
  const win = target || window.open("", "_blank");
  if (!win) {
    URL.revokeObjectURL(url);
    throw new Error("popup_blocked");
  }
  win.location.href = url;
  // The window has its own copy once loaded; free the blob a while later.
  setTimeout(() => URL.revokeObjectURL(url), 60000);
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
