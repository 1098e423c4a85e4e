// Every text a person reads, Chinese (zh-Hans) first and English beside it: door staff and
// organizers must never have to read one language only. Pages add their own messages with
// register(); a message is {zh, en}, either may hold {name} placeholders filled from vars.

const messages = new Map();

/** Add messages: {key: {zh: "…", en: "…"}}. A key registered twice keeps the later text. */
export function register(table) {
  for (const [key, text] of Object.entries(table)) messages.set(key, text);
}

function fill(template, vars) {
  return template.replace(/\{(\w+)\}/g, (whole, name) =>
    name in vars ? String(vars[name]) : whole,
  );
}

/** The message in both languages: {zh, en}. An unknown key shows itself, so it gets noticed. */
export function t(key, vars = {}) {
  const text = messages.get(key);
  if (!text) return { zh: key, en: key };
  return { zh: fill(text.zh, vars), en: fill(text.en ?? text.zh, vars) };
}

/** One line of plain text, "中文 · English", for places that take no markup (title, aria-label). */
export function plain(key, vars = {}) {
  const { zh, en } = t(key, vars);
  return zh === en ? zh : `${zh} · ${en}`;
}

/** Fill element with the message: a zh span, then an English span marked lang="en". */
export function bilingual(element, key, vars = {}) {
  const { zh, en } = t(key, vars);
  const first = document.createElement("span");
  first.lang = "zh-Hans";
  first.className = "zh";
  first.textContent = zh;
  element.replaceChildren(first);
  if (en !== zh) {
    const second = document.createElement("span");
    second.lang = "en";
    second.className = "en";
    second.textContent = en;
    element.append(" ", second);
  }
  return element;
}

/** A new element of tag holding the message in both languages. */
export function el(tag, key, vars = {}, className = "") {
  const element = document.createElement(tag);
  if (className) element.className = className;
  return bilingual(element, key, vars);
}

/**
 * Fill every [data-i18n] element under root; [data-i18n-label] sets aria-label and
 * [data-i18n-placeholder] the placeholder, both as "中文 · English".
 */
export function translate(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) bilingual(node, node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", plain(node.dataset.i18nLabel));
  }
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
    node.setAttribute("placeholder", plain(node.dataset.i18nPlaceholder));
  }
}

/** A party's name as people read it: Chinese name, then the English one when there is one. */
export function partyName(party) {
  if (!party) return { zh: "", en: "" };
  return { zh: party.name_zh ?? "", en: party.name_en ?? "" };
}

register({
  "common.error.network": { zh: "无法连接服务", en: "Cannot reach the service" },
  "common.error.unknown": { zh: "出错了", en: "Something went wrong" },
  "common.signout": { zh: "退出", en: "Sign out" },
  "common.signin": { zh: "登录", en: "Sign in" },
  "common.key": { zh: "API 密钥", en: "API key" },
  "common.loading": { zh: "加载中…", en: "Loading…" },
});
