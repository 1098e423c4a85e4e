// The organizer console: sign-in with an admin key, then four screens (today, meetings,
// directory, agreements) chosen by the URL's #fragment, which never holds the key.
import { api, apiAll, clearKey, getKey, setKey } from "/static/common/api.js";
import { register, translate } from "/static/common/i18n.js";
import { h, label, msg, problemBox } from "/static/console/view.js";
import * as today from "/static/console/today.js";
import * as meetings from "/static/console/meetings.js";
import * as directory from "/static/console/directory.js";
import * as agreements from "/static/console/agreements.js";

register({
  "console.title": { zh: "会务控制台", en: "Organizer console" },
  "console.signin.title": { zh: "会务组登录", en: "Organizer sign-in" },
  "console.signin.hint": {
    zh: "请输入管理员密钥（只保存在本标签页，关闭即清除）。",
    en: "Enter an admin key (kept in this tab only, gone when it closes).",
  },
  "console.signin.not_admin": {
    zh: "此密钥不是管理员密钥，无法使用控制台。",
    en: "This key is not an admin key; the console needs one.",
  },
  "console.signin.bad_key": {
    zh: "密钥无效或已撤销。",
    en: "The key is not valid or has been revoked.",
  },
  "console.event": { zh: "活动", en: "Event" },
  "console.no_event": { zh: "还没有活动。", en: "There is no event yet." },
  "console.nav": { zh: "控制台导航", en: "Console navigation" },
  "console.nav.today": { zh: "今日签到", en: "Today" },
  "console.nav.meetings": { zh: "会谈日程", en: "Meetings" },
  "console.nav.directory": { zh: "名录", en: "Directory" },
  "console.nav.agreements": { zh: "合作成果", en: "Agreements" },
  "console.problem.network": {
    zh: "无法连接服务，稍后自动重试。",
    en: "Cannot reach the service; retrying shortly.",
  },
});

const SCREENS = { today, meetings, directory, agreements };
const EVENT_ITEM = "smk.console.event";
const root = document.getElementById("app");
let stopScreen = null;

/** What every screen shares: the event, its participants by id, and a way to reload them. */
const ctx = {
  event: null,
  events: [],
  participants: null,
  async loadParticipants(force = false) {
    if (!this.participants || force) {
      const items = await apiAll("/v1/events/{event_id}/participants", {
        params: { event_id: this.event.id },
      });
      this.participants = new Map(items.map((p) => [p.id, p]));
    }
    return this.participants;
  },
};

function signInForm(problem = null) {
  const input = h("input", {
    type: "password",
    id: "key",
    name: "key",
    autocomplete: "off",
    required: true,
    spellcheck: "false",
  });
  const form = h(
    "form",
    { class: "signin panel", onsubmit: (e) => (e.preventDefault(), signIn(input.value)) },
    msg("h1", "console.signin.title"),
    msg("p", "console.signin.hint"),
    h("label", { for: "key" }, msg("span", "common.key")),
    input,
    h("button", { type: "submit", class: "primary" }, msg("span", "common.signin")),
  );
  if (problem) form.append(problem);
  root.replaceChildren(h("main", { class: "signin-page" }, form));
  input.focus();
}

async function signIn(secret) {
  secret = secret.trim();
  if (!secret) return;
  const refuse = (key) => {
    const box = msg("p", key, {}, "problem");
    box.setAttribute("role", "alert");
    signInForm(box);
  };
  try {
    const { data: me } = await api("GET", "/v1/me", { key: secret });
    if (me.role !== "admin") return refuse("console.signin.not_admin");
  } catch (error) {
    if (error.status === 401) return refuse("console.signin.bad_key");
    signInForm(problemBox(error));
    return;
  }
  setKey(secret);
  await start();
}

function signOut() {
  if (stopScreen) stopScreen();
  stopScreen = null;
  clearKey();
  sessionStorage.removeItem(EVENT_ITEM);
  signInForm();
}

async function start() {
  try {
    ctx.events = await apiAll("/v1/events");
  } catch (error) {
    if (error.status === 401) return signOut();
    root.replaceChildren(problemBox(error));
    return;
  }
  const chosen = sessionStorage.getItem(EVENT_ITEM);
  ctx.event = ctx.events.find((e) => e.id === chosen) || ctx.events[0] || null;
  ctx.participants = null;
  if (!location.hash) history.replaceState(null, "", "#today");
  show();
}

function header() {
  const select = h(
    "select",
    {
      id: "event",
      onchange: () => {
        sessionStorage.setItem(EVENT_ITEM, select.value);
        ctx.event = ctx.events.find((e) => e.id === select.value);
        ctx.participants = null;
        show();
      },
    },
    ctx.events.map((e) =>
      h("option", { value: e.id, selected: ctx.event && e.id === ctx.event.id }, `${e.name_zh} · ${e.date}`),
    ),
  );
  const current = (location.hash.slice(1).split("/")[0] || "today");
  const nav = h(
    "nav",
    { "aria-label": label("console.nav") },
    h(
      "ul",
      {},
      Object.keys(SCREENS).map((name) =>
        h(
          "li",
          {},
          h(
            "a",
            { href: `#${name}`, "aria-current": name === current ? "page" : false },
            msg("span", `console.nav.${name}`),
          ),
        ),
      ),
    ),
  );
  return h(
    "header",
    { class: "console-header" },
    h(
      "div",
      { class: "bar" },
      msg("p", "console.title", {}, "brand"),
      h("label", { for: "event", class: "event-label" }, msg("span", "console.event")),
      select,
      h("button", { type: "button", id: "signout", onclick: signOut }, msg("span", "common.signout")),
    ),
    nav,
  );
}

function show() {
  if (stopScreen) stopScreen();
  stopScreen = null;
  const [name, ...rest] = location.hash.slice(1).split("/");
  const screen = SCREENS[name] || today;
  const main = h("main", { id: "screen", tabindex: "-1" });
  root.replaceChildren(header(), main);
  if (!ctx.event) {
    main.append(msg("p", "console.no_event"));
    return;
  }
  document.title = `${label(`console.nav.${SCREENS[name] ? name : "today"}`)} · ${label("console.title")}`;
  stopScreen = screen.render(ctx, main, rest.map(decodeURIComponent)) || null;
}

window.addEventListener("hashchange", () => {
  if (getKey()) show();
});

translate();
if (getKey()) start();
else signInForm();
