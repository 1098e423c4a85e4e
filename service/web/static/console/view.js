// Building the console's elements: one small h() instead of innerHTML, so nothing the service
// returns is ever parsed as markup, and the bilingual pieces every screen repeats.
import { el, plain } from "/static/common/i18n.js";

/**
 * h("button", {class: "primary", onclick}, "text", child…): an element with its attributes
 * (on* are listeners, booleans set or omit the attribute) and children (strings become text).
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      element.className = value;
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** A message in both languages inside tag: Chinese, then English marked lang="en". */
export function msg(tag, key, vars = {}, className = "") {
  return el(tag, key, vars, className);
}

/** Chinese and English texts that come from data (names), not from the message table. */
export function both(zh, en, tag = "span") {
  const node = h(tag, {}, h("span", { lang: "zh-Hans" }, zh || ""));
  if (en && en !== zh) node.append(" ", h("span", { lang: "en", class: "en" }, en));
  return node;
}

/** A party as people know it: a committee by its designation first, then its names. */
export function partyLabel(party, { short = false } = {}) {
  if (!party) return h("span", {}, "—");
  const node = h("span", { class: "party" });
  if (party.designation) node.append(h("strong", { class: "designation" }, party.designation), " ");
  node.append(h("span", { lang: "zh-Hans" }, party.name_zh || ""));
  if (!short && party.name_en) node.append(" ", h("span", { lang: "en", class: "en" }, party.name_en));
  return node;
}

/** A text for places without markup: "中文 · English". */
export function label(key, vars = {}) {
  return plain(key, vars);
}

/** The time of day at the event's venue, "09:12". */
export function clock(iso, timeZone) {
  if (!iso) return "";
  return new Intl.DateTimeFormat("zh-CN", {
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
    timeZone,
  }).format(new Date(iso));
}

/** The time of day with seconds, for "updated at". */
export function clockSeconds(date, timeZone) {
  return new Intl.DateTimeFormat("zh-CN", {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
    timeZone,
  }).format(date);
}

/**
 * A problem from the API shown where the person looks, never swallowed: the stable code, the
 * service's title and detail, each bad field, and (when the screen knows more) an explanation.
 */
export function problemBox(error, explanation = null) {
  const box = h("div", { class: "problem", role: "alert" });
  if (error && error.status === 0) {
    box.append(msg("p", "console.problem.network"));
  } else if (error && error.status) {
    box.append(
      h(
        "p",
        { class: "problem-head" },
        h("strong", {}, `${error.status} ${error.code || ""}`),
        " ",
        error.title || "",
      ),
    );
    if (error.detail) box.append(h("p", { class: "problem-detail" }, error.detail));
    const fields = error.problem && Array.isArray(error.problem.errors) ? error.problem.errors : [];
    if (fields.length) {
      box.append(
        h(
          "ul",
          {},
          fields.map((f) => h("li", {}, h("code", {}, f.field || ""), " ", f.message || "")),
        ),
      );
    }
  } else {
    box.append(h("p", {}, String(error && error.message ? error.message : error)));
  }
  if (explanation) box.append(explanation);
  return box;
}
