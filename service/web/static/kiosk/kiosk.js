// The door kiosk: sign in with a kiosk key, scan or type badges, find people who forgot theirs,
// and keep working when the network or the service is away (see roster.js and queue.js).
//
// Every scan is written to the queue first and uploaded from there, oldest first; the answer
// on screen is the service's (green, amber, red) or, when the service does not answer in time,
// a provisional one from the roster copy that says plainly it is not yet confirmed.

import { ApiError, api, clearKey, getKey, newNonce, setKey } from "/static/common/api.js";
import { bilingual, el, plain, register, t, translate } from "/static/common/i18n.js";
import { cameraAvailable, startCamera } from "/static/kiosk/camera.js";
import { Refusals, ScanQueue } from "/static/kiosk/queue.js";
import { Roster, normalizeCode } from "/static/kiosk/roster.js";
import { beep, setSound, soundOn } from "/static/kiosk/sound.js";

register({
  "kiosk.title": { zh: "签到台", en: "Check-in kiosk" },
  "kiosk.signin.label": { zh: "签到密钥（输入或扫描）", en: "Kiosk key (type or scan it)" },
  "kiosk.signin.hint": {
    zh: "密钥只保存在本标签页，关闭即清除。",
    en: "The key is kept in this tab only and forgotten when it closes.",
  },
  "kiosk.signin.bad": { zh: "密钥无效或已吊销", en: "The key is unknown or revoked" },
  "kiosk.signin.partner": {
    zh: "请使用签到密钥或管理员密钥",
    en: "Use a kiosk key or an admin key",
  },
  "kiosk.signin.event": { zh: "选择活动", en: "Choose the event" },
  "kiosk.signin.noevents": { zh: "没有可签到的活动", en: "No event to check in to" },
  "kiosk.scan.label": { zh: "扫描或输入胸卡号", en: "Scan or type a badge code" },
  "kiosk.scan.submit": { zh: "签到", en: "Check in" },
  "kiosk.idle": { zh: "请扫描胸卡", en: "Please scan a badge" },
  "kiosk.ok": { zh: "签到成功", en: "Checked in" },
  "kiosk.repeat": { zh: "已于 {time} 签到", en: "Already checked in at {time}" },
  "kiosk.unknown": { zh: "无此胸卡", en: "Unknown badge" },
  "kiosk.not_open": { zh: "活动尚未开放签到", en: "The event is not open for check-in" },
  "kiosk.refused": { zh: "签到被拒绝", en: "Check-in refused" },
  "kiosk.unconfirmed": {
    zh: "离线记录 · 尚未经服务器确认",
    en: "Recorded offline, not yet confirmed by the server",
  },
  "kiosk.pending.ok": { zh: "已记录，待确认", en: "Recorded, to be confirmed" },
  "kiosk.pending.repeat": {
    zh: "似已于 {time} 签到（待确认）",
    en: "Seems checked in at {time} already (to be confirmed)",
  },
  "kiosk.pending.unknown": {
    zh: "不在名单上（待确认）",
    en: "Not on the list (to be confirmed)",
  },
  "kiosk.code": { zh: "胸卡号 {code}", en: "Badge {code}" },
  "kiosk.first": { zh: "首场 {time} · {table} 号桌", en: "First meeting {time} at table {table}" },
  "kiosk.agenda": { zh: "今日日程", en: "Today's meetings" },
  "kiosk.agenda.time": { zh: "时间", en: "Time" },
  "kiosk.agenda.table": { zh: "桌号", en: "Table" },
  "kiosk.agenda.counterpart": { zh: "对接方", en: "Counterpart" },
  "kiosk.agenda.none": { zh: "暂无已发布的对接安排", en: "No published meetings yet" },
  "kiosk.online": { zh: "在线", en: "Online" },
  "kiosk.offline": { zh: "离线", en: "Offline" },
  "kiosk.waiting": { zh: "待上传 {n}", en: "{n} waiting to upload" },
  "kiosk.sound.on": { zh: "提示音 开", en: "Sound on" },
  "kiosk.sound.off": { zh: "提示音 关", en: "Sound off" },
  "kiosk.camera": { zh: "摄像头扫描", en: "Camera" },
  "kiosk.camera.stop": { zh: "关闭摄像头", en: "Stop camera" },
  "kiosk.camera.denied": { zh: "无法打开摄像头", en: "The camera could not be opened" },
  "kiosk.search.label": {
    zh: "找人：姓名、拼音、首字母、手机尾号",
    en: "Find: name, pinyin, initials, phone tail",
  },
  "kiosk.search.none": { zh: "未找到", en: "No one found" },
  "kiosk.search.offline": {
    zh: "离线：仅按名单副本中的姓名和单位查找",
    en: "Offline: searching names and organizations in the roster copy only",
  },
  "kiosk.search.checked": { zh: "{time} 已签到", en: "checked in {time}" },
  "kiosk.search.pick": { zh: "签到", en: "Check in" },
  "kiosk.badge.print": { zh: "打印胸卡", en: "Print badge" },
  "kiosk.badge.failed": { zh: "无法打印胸卡", en: "The badge could not be printed" },
  "kiosk.badge.size": { zh: "胸卡尺寸", en: "Badge size" },
  "kiosk.refused.title": { zh: "服务器拒绝的离线签到", en: "Offline scans the server refused" },
  "kiosk.refused.clear": { zh: "知道了", en: "Dismiss" },
  "kiosk.roster": {
    zh: "名单副本 {n} 方，更新于 {time}",
    en: "Roster copy of {n} parties, updated {time}",
  },
  "kiosk.roster.none": { zh: "尚无名单副本", en: "No roster copy yet" },
  "kiosk.storage.full": {
    zh: "本机存储已满，扫描未能保存",
    en: "This device's storage is full: the scan was not kept",
  },
  "kiosk.walkin.open": { zh: "现场登记", en: "Register a walk-in" },
  "kiosk.walkin.close": { zh: "收起现场登记", en: "Close walk-in registration" },
  "kiosk.walkin.hint": {
    zh: "未报名的来宾：登记单位和本人，即发胸卡。已登记的单位按信用代码或名称找到。",
    en: "For guests who did not register: their organization and themselves, then a badge. "
      + "A known organization is found by its credit code or name.",
  },
  "kiosk.walkin.org": { zh: "单位名称（中文）", en: "Organization (Chinese name)" },
  "kiosk.walkin.kind": { zh: "单位类型", en: "Kind of organization" },
  "kiosk.walkin.credit": {
    zh: "统一社会信用代码（选填）",
    en: "Unified social credit code (optional)",
  },
  "kiosk.walkin.name": { zh: "姓名", en: "Name" },
  "kiosk.walkin.role": { zh: "职务（选填）", en: "Title (optional)" },
  "kiosk.walkin.phone": { zh: "手机（选填）", en: "Mobile (optional)" },
  "kiosk.walkin.submit": { zh: "登记并发胸卡", en: "Register and badge" },
  "kiosk.walkin.cancel": { zh: "取消", en: "Cancel" },
  "kiosk.walkin.required": { zh: "必填", en: "Required" },
  "kiosk.walkin.phone.invalid": {
    zh: "手机号只能含数字、空格、+、-、括号",
    en: "Digits, spaces, + - ( ) only",
  },
  "kiosk.walkin.credit.invalid": {
    zh: "不是有效的统一社会信用代码（18 位）",
    en: "Not a valid unified social credit code (18 characters)",
  },
  "kiosk.walkin.offline": {
    zh: "现场登记需要连接服务，请稍后再试",
    en: "Registering a walk-in needs the service: try again when it is back",
  },
  "kiosk.walkin.done": { zh: "已登记", en: "Registered" },
  "kiosk.walkin.known": {
    zh: "此人已在名单上，沿用原胸卡",
    en: "Already on the list: their badge stays the same",
  },
  "kiosk.walkin.checkin": { zh: "签到", en: "Check in" },
  "kiosk.walkin.another": { zh: "再登记一位", en: "Register another" },
  "kind.committee": { zh: "技术委员会", en: "Committee" },
  "kind.enterprise": { zh: "企业", en: "Enterprise" },
  "kind.association": { zh: "协会", en: "Association" },
  "kind.institute": { zh: "研究机构", en: "Institute" },
});

const EVENT_ITEM = "smk.kiosk.event";
const MAY_REGISTER_ITEM = "smk.kiosk.may_register"; // for a reload while the service is away
// Show the roster's answer when the service has not answered within this long.
const PROVISIONAL_AFTER_MS = 1500;
const ROSTER_EVERY_MS = 120_000;
const RETRY_MS = [2_000, 5_000, 10_000, 30_000];

const $ = (id) => document.getElementById(id);

const state = {
  event: null,
  roster: null,
  queue: null,
  refusals: null,
  online: true,
  current: null, // {nonce, guess, shown: "none" | "provisional" | "confirmed", timer}
  flushing: false,
  retries: 0,
  retryTimer: null,
  rosterTimer: null,
  stopCamera: null,
  searchSeq: 0,
  mayRegister: false, // the key may register walk-ins (admin, or a kiosk key with walk_in)
  walkInAttempt: null, // {body, key}: a retry of the same form keeps its Idempotency-Key
};

// --- sign-in ------------------------------------------------------------------------------------

function showSignin(messageKey = null) {
  $("desk").hidden = true;
  $("signin").hidden = false;
  const error = $("signin-error");
  error.replaceChildren();
  if (messageKey) bilingual(error, messageKey);
  $("signin-key").focus();
  performance.mark("kiosk:signin-ready"); // read by bench/kiosk_browser.py
}

async function signIn(event) {
  event.preventDefault();
  const choice = $("event-choice");
  if (!choice.hidden && $("event-select").value) {
    const picked = JSON.parse($("event-select").value);
    await openDesk(picked);
    return;
  }
  const secret = $("signin-key").value.trim();
  if (!secret) return;
  setKey(secret);
  try {
    await chooseEvent();
  } catch (error) {
    clearKey();
    showSignin(error instanceof ApiError && error.status === 401 ? "kiosk.signin.bad" : null);
    if (!(error instanceof ApiError && error.status === 401)) showError(error);
  }
}

function showError(error) {
  const target = $("signin-error");
  const text = error instanceof ApiError ? error.detail || error.title : String(error);
  target.append(" ", text);
}

/** The event the key is bound to, or for an admin key the one picked from the open events. */
async function chooseEvent() {
  const { data: me } = await api("GET", "/v1/me");
  if (me.role === "partner") {
    clearKey();
    showSignin("kiosk.signin.partner");
    return;
  }
  state.mayRegister = me.role === "admin" || (me.permissions || []).includes("walk_in");
  sessionStorage.setItem(MAY_REGISTER_ITEM, String(state.mayRegister));
  if (me.event) {
    await openDesk(me.event);
    return;
  }
  const saved = JSON.parse(sessionStorage.getItem(EVENT_ITEM) || "null");
  if (saved && !me.event_id) {
    await openDesk(saved); // an admin key's choice, kept for this tab
    return;
  }
  const { data } = await api("GET", "/v1/events", { query: { limit: 100 } });
  // Open events first: a draft one cannot check anyone in yet.
  const open = data.items.filter((e) => e.state === "open");
  const events = open.length ? open : data.items.filter((e) => e.state !== "closed");
  if (events.length === 0) {
    showSignin("kiosk.signin.noevents");
    return;
  }
  if (events.length === 1) {
    await openDesk(events[0]);
    return;
  }
  const select = $("event-select");
  select.replaceChildren(
    ...events.map((e) => {
      const option = document.createElement("option");
      option.value = JSON.stringify(e);
      option.textContent = `${e.date} ${e.name_zh}`;
      return option;
    }),
  );
  $("event-choice").hidden = false;
  translate($("event-choice"));
  select.focus();
}

/** The service no longer takes the key (revoked): stop and ask for another. A 401 answered
 * to a request sent with a key this tab no longer uses (signed out while the roster was still
 * loading, say) is not about the key signed in now, and is left alone. */
function keyRefused(error) {
  if (!error.sentKey || error.sentKey !== getKey()) return false;
  resetWalkIn();
  clearInterval(state.rosterTimer);
  clearTimeout(state.retryTimer);
  stopCamera();
  clearKey();
  showSignin("kiosk.signin.bad");
  return true;
}

function signOut() {
  clearKey();
  sessionStorage.removeItem(EVENT_ITEM);
  sessionStorage.removeItem(MAY_REGISTER_ITEM);
  clearInterval(state.rosterTimer);
  clearTimeout(state.retryTimer);
  stopCamera();
  // The queue stays in this browser and uploads at the next sign-in to this event.
  state.event = null;
  state.mayRegister = false;
  resetWalkIn();
  $("signin-key").value = "";
  $("event-choice").hidden = true;
  showSignin();
}

// --- the desk -----------------------------------------------------------------------------------

async function openDesk(event) {
  state.event = {
    id: event.id,
    name_zh: event.name_zh,
    name_en: event.name_en,
    timezone: event.timezone || "Asia/Shanghai",
    state: event.state,
  };
  sessionStorage.setItem(EVENT_ITEM, JSON.stringify(state.event));
  state.roster = new Roster(state.event.id);
  state.queue = new ScanQueue(state.event.id);
  state.refusals = new Refusals(state.event.id);
  const title = $("event-name");
  title.replaceChildren(el("span", "kiosk.title", {}, "desk-title"), " ");
  const name = document.createElement("span");
  name.className = "event-title";
  name.textContent = state.event.name_zh;
  title.append(name);
  $("signin").hidden = true;
  $("desk").hidden = false;
  renderSound();
  $("camera").hidden = !cameraAvailable();
  bilingual($("camera"), "kiosk.camera");
  renderNet();
  renderWaiting();
  renderRefusals();
  renderRoster();
  showIdle();
  $("walkin").hidden = !state.mayRegister;
  resetWalkIn();
  $("scan-input").focus();
  performance.mark("kiosk:desk-ready");
  clearInterval(state.rosterTimer);
  state.rosterTimer = setInterval(refreshRoster, ROSTER_EVERY_MS);
  refreshRoster();
  flush();
}

function localTime(iso) {
  return new Intl.DateTimeFormat("zh-CN", {
    timeZone: state.event.timezone,
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).format(new Date(iso));
}

async function refreshRoster() {
  try {
    await state.roster.refresh();
    performance.mark("kiosk:roster-ready");
    setOnline(true);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.unreachable) setOnline(false);
    if (error.status === 401) keyRefused(error);
  }
  renderRoster();
}

function renderRoster() {
  const note = $("roster-note");
  if (state.roster.fetchedAt) {
    bilingual(note, "kiosk.roster", {
      n: state.roster.size,
      time: localTime(state.roster.fetchedAt),
    });
  } else {
    bilingual(note, "kiosk.roster.none");
  }
}

function setOnline(online) {
  if (state.online === online) return;
  state.online = online;
  renderNet();
}

function renderNet() {
  const pill = $("net");
  const online = state.online && navigator.onLine;
  pill.dataset.online = String(online);
  bilingual(pill, online ? "kiosk.online" : "kiosk.offline");
}

function renderWaiting() {
  const count = state.queue ? state.queue.length : 0;
  const pill = $("waiting");
  pill.dataset.count = String(count);
  bilingual(pill, "kiosk.waiting", { n: count });
}

function renderSound() {
  const button = $("sound");
  button.setAttribute("aria-pressed", String(soundOn()));
  bilingual(button, soundOn() ? "kiosk.sound.on" : "kiosk.sound.off");
}

// --- scanning -----------------------------------------------------------------------------------

/** What the roster copy says about a code, before this scan counts. */
function guess(code) {
  const found = state.roster.find(code);
  if (!found) return { kind: "pending-unknown", code };
  const at = state.roster.checkedInAt(code);
  return {
    kind: at ? "pending-repeat" : "pending-ok",
    code,
    participant: found.participant,
    person: found.person,
    agenda: found.participant.agenda,
    time: at,
  };
}

function scan(text) {
  const code = normalizeCode(text);
  if (!code) return;
  const item = { nonce: newNonce("kiosk"), badge_code: code, scanned_at: new Date().toISOString() };
  try {
    state.queue.add(item);
  } catch {
    showAnswer({ kind: "refused", code, messageKey: "kiosk.storage.full" });
    return;
  }
  const provisional = guess(code);
  if (provisional.participant) state.roster.markLocal(code, item.scanned_at);
  if (state.current) clearTimeout(state.current.timer);
  state.current = { nonce: item.nonce, guess: provisional, shown: "none", timer: null };
  renderWaiting();
  if (!navigator.onLine || !state.online) {
    showProvisional(state.current);
  } else {
    const current = state.current;
    current.timer = setTimeout(() => showProvisional(current), PROVISIONAL_AFTER_MS);
  }
  flush();
}

function showProvisional(current) {
  if (state.current !== current || current.shown !== "none") return;
  current.shown = "provisional";
  showAnswer(current.guess);
}

function scheduleRetry() {
  clearTimeout(state.retryTimer);
  const wait = RETRY_MS[Math.min(state.retries, RETRY_MS.length - 1)];
  state.retries += 1;
  state.retryTimer = setTimeout(flush, wait);
}

/** Upload the queue, oldest first; stop at the first scan the service cannot take yet. */
async function flush() {
  if (state.flushing || !state.event) return;
  state.flushing = true;
  clearTimeout(state.retryTimer);
  const eventId = state.event.id;
  try {
    for (let item = state.queue.first(); item; item = state.queue.first()) {
      let outcome;
      try {
        const { data } = await api("POST", "/v1/events/{event_id}/checkins", {
          params: { event_id: eventId },
          body: { badge_code: item.badge_code, nonce: item.nonce, scanned_at: item.scanned_at },
        });
        const repeat = data.reason === "already_checked_in";
        outcome = {
          kind: repeat ? "repeat" : "ok",
          code: item.badge_code,
          participant: data.participant,
          person: data.person ?? null,
          agenda: data.agenda,
          time: data.checked_in_at,
        };
        state.roster.confirm(item.badge_code, data.participant, data.agenda);
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        if (error.unreachable || error.status === 429) {
          // Not an answer about the scan: keep it, show the roster's guess, try again later.
          setOnline(error.status === 429);
          if (state.current && state.current.shown === "none") showProvisional(state.current);
          scheduleRetry();
          return;
        }
        if (error.status === 401) {
          // The queue stays for the next key; a 401 about a key signed out meanwhile leaves
          // it to the key signed in now, whose own upload may have found this one running.
          if (!keyRefused(error) && getKey()) scheduleRetry();
          return;
        }
        outcome = {
          kind: error.code === "unknown_badge" ? "unknown" : "refused",
          code: item.badge_code,
          problem: error,
          messageKey: error.code === "event_not_open" ? "kiosk.not_open" : null,
        };
      }
      state.queue.remove(item.nonce);
      state.retries = 0;
      setOnline(true);
      settle(item, outcome);
      renderWaiting();
    }
  } finally {
    state.flushing = false;
    renderWaiting();
  }
}

function settle(item, outcome) {
  const current = state.current;
  if (current && current.nonce === item.nonce) {
    clearTimeout(current.timer);
    current.shown = "confirmed";
    showAnswer(outcome);
    return;
  }
  // A scan from earlier (offline): its refusal goes to the list the staff must see.
  if (outcome.kind === "unknown" || outcome.kind === "refused") {
    const found = state.roster.find(item.badge_code);
    state.refusals.add({
      badge_code: item.badge_code,
      scanned_at: item.scanned_at,
      code: outcome.problem?.code ?? "refused",
      detail: outcome.problem?.detail ?? "",
      name: found ? found.participant.party?.name_zh : null,
    });
    renderRefusals();
  }
}

function renderRefusals() {
  const items = state.refusals.items();
  $("refused").hidden = items.length === 0;
  $("refused-list").replaceChildren(
    ...items.map((r) => {
      const li = document.createElement("li");
      const what = r.code === "unknown_badge" ? "kiosk.unknown" : "kiosk.refused";
      li.append(el("strong", what), " ", `${r.badge_code} · ${localTime(r.scanned_at)}`);
      if (r.name) li.append(" · ", r.name);
      if (r.detail) {
        const detail = document.createElement("div");
        detail.className = "detail";
        detail.lang = "en";
        detail.textContent = r.detail;
        li.append(detail);
      }
      return li;
    }),
  );
}

// --- the answer ---------------------------------------------------------------------------------

const SOUNDS = {
  ok: "ok",
  repeat: "repeat",
  unknown: "bad",
  refused: "bad",
  "pending-ok": "pending",
  "pending-repeat": "repeat",
  "pending-unknown": "bad",
};

function showIdle() {
  const answer = $("answer");
  answer.className = "answer idle";
  delete answer.dataset.outcome;
  answer.replaceChildren(el("p", "kiosk.idle", {}, "answer-idle"));
}

function peopleNames(participant, person) {
  const people = person ? [person] : participant.people || [];
  return people.map((p) => p.name).join("、");
}

/** The people's names, large, each with a title in small type. */
function peopleLine(element, participant, person) {
  const people = person ? [person] : participant.people || [];
  people.forEach((p, index) => {
    if (index > 0) element.append("、");
    element.append(p.name);
    if (p.title) {
      const title = document.createElement("span");
      title.className = "title";
      title.textContent = ` ${p.title}`;
      element.append(title);
    }
  });
  return element;
}

function partyBlock(participant, tag = "p") {
  const party = participant.party || {};
  const block = document.createElement(tag);
  block.className = "party";
  const zh = document.createElement("span");
  zh.lang = "zh-Hans";
  zh.textContent = party.designation ? `${party.designation} ${party.name_zh}` : party.name_zh;
  block.append(zh);
  if (party.name_en) {
    const en = document.createElement("span");
    en.className = "en";
    en.lang = "en";
    en.textContent = party.name_en;
    block.append(" ", en);
  }
  if (party.kind) block.append(" ", el("span", `kind.${party.kind}`, {}, "kind"));
  return block;
}

function agendaBlock(agenda) {
  const section = document.createElement("section");
  section.className = "agenda";
  section.append(el("h3", "kiosk.agenda"));
  const meetings = (agenda || []).filter((m) => m.status !== "cancelled");
  if (meetings.length === 0) {
    section.append(el("p", "kiosk.agenda.none", {}, "note"));
    return section;
  }
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  for (const key of ["kiosk.agenda.time", "kiosk.agenda.table", "kiosk.agenda.counterpart"]) {
    const th = document.createElement("th");
    th.scope = "col";
    head.append(bilingual(th, key));
  }
  const body = table.createTBody();
  for (const m of meetings) {
    const row = body.insertRow();
    row.insertCell().textContent = `${localTime(m.start)}–${localTime(m.end)}`;
    row.insertCell().textContent = String(m.table);
    const who = row.insertCell();
    const c = m.counterpart || {};
    who.textContent = c.designation ? `${c.designation} ${c.name_zh}` : c.name_zh;
    if (c.name_en) {
      const en = document.createElement("span");
      en.className = "en";
      en.lang = "en";
      en.textContent = c.name_en;
      who.append(" ", en);
    }
  }
  section.append(table);
  return section;
}

function headline(outcome) {
  const time = outcome.time ? localTime(outcome.time) : "";
  switch (outcome.kind) {
    case "ok":
      return ["kiosk.ok", {}];
    case "repeat":
      return ["kiosk.repeat", { time }];
    case "unknown":
      return ["kiosk.unknown", {}];
    case "pending-ok":
      return ["kiosk.pending.ok", {}];
    case "pending-repeat":
      return ["kiosk.pending.repeat", { time }];
    case "pending-unknown":
      return ["kiosk.pending.unknown", {}];
    default:
      return [outcome.messageKey || "kiosk.refused", {}];
  }
}

const ICONS = { ok: "✓", repeat: "!", unknown: "✕", refused: "✕" };

function showAnswer(outcome) {
  const answer = $("answer");
  const pending = outcome.kind.startsWith("pending-");
  answer.className = `answer on-colour outcome-${outcome.kind}${pending ? " pending" : ""}`;
  answer.dataset.outcome = outcome.kind;
  const [key, vars] = headline(outcome);
  const top = document.createElement("div");
  top.className = "answer-head";
  const icon = document.createElement("span");
  icon.className = "icon";
  icon.setAttribute("aria-hidden", "true");
  icon.textContent = pending ? "?" : ICONS[outcome.kind] || "✕";
  top.append(icon, el("h2", key, vars, "headline"));
  const children = [top];
  if (pending) children.push(el("p", "kiosk.unconfirmed", {}, "unconfirmed"));
  if (outcome.participant) {
    const name = document.createElement("p");
    name.className = "who";
    children.push(peopleLine(name, outcome.participant, outcome.person));
    children.push(partyBlock(outcome.participant));
    const first = (outcome.agenda || []).find((m) => m.status !== "cancelled");
    if (first) {
      children.push(
        el("p", "kiosk.first", { time: localTime(first.start), table: first.table }, "first"),
      );
    }
    children.push(agendaBlock(outcome.agenda));
  } else {
    children.push(el("p", "kiosk.code", { code: outcome.code }, "code"));
    if (outcome.problem?.detail) {
      const detail = document.createElement("p");
      detail.className = "detail";
      detail.lang = "en";
      detail.textContent = outcome.problem.detail;
      children.push(detail);
    }
  }
  answer.replaceChildren(...children);
  const sound = SOUNDS[outcome.kind] || "bad";
  answer.dataset.sound = beep(sound) ? sound : "off";
}

// --- search -------------------------------------------------------------------------------------

async function search(text) {
  const seq = ++state.searchSeq;
  const results = $("search-results");
  const note = $("search-note");
  if (!text.trim()) {
    results.replaceChildren();
    note.replaceChildren();
    return;
  }
  let items;
  let offline = false;
  try {
    const { data } = await api("GET", "/v1/events/{event_id}/participants", {
      params: { event_id: state.event.id },
      query: { q: text.trim(), limit: 8 },
    });
    items = data.items;
    setOnline(true);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (!error.unreachable) {
      if (seq === state.searchSeq) note.textContent = error.detail || error.title;
      return;
    }
    setOnline(false);
    items = state.roster.search(text);
    offline = true;
  }
  if (seq !== state.searchSeq) return;
  note.replaceChildren();
  if (offline) bilingual(note, "kiosk.search.offline");
  if (items.length === 0) note.append(el("span", "kiosk.search.none", {}, "none"));
  results.replaceChildren(...items.map(resultItem));
}

function resultItem(participant) {
  const li = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "result";
  button.dataset.code = participant.badge_code || "";
  const name = document.createElement("span");
  name.className = "result-name";
  name.textContent = peopleNames(participant, null);
  const party = partyBlock(participant, "span");
  const action = el("span", "kiosk.search.pick", {}, "result-action");
  button.append(name, party);
  const at = participant.checked_in_at;
  if (at) button.append(el("span", "kiosk.search.checked", { time: localTime(at) }, "checked"));
  button.append(action);
  button.disabled = !participant.badge_code;
  button.addEventListener("click", () => {
    scan(participant.badge_code);
    $("search-input").value = "";
    $("search-results").replaceChildren();
    $("search-note").replaceChildren();
    $("scan-input").focus();
  });
  li.append(button);
  if (participant.badge_code && participant.id) {
    const print = el("button", "kiosk.badge.print", {}, "print");
    print.type = "button";
    print.addEventListener("click", () => printBadge(participant));
    li.append(print);
  }
  return li;
}

// --- badge printing -----------------------------------------------------------------------------

// Common badge inserts: A6 portrait, 4×3 in and 90×54 mm (business card) landscape.
const BADGE_SIZES = { a6: "105mm 148mm", "4x3": "4in 3in", "90x54": "90mm 54mm" };
const BADGE_SIZE_ITEM = "smk.kiosk.badge_size";

function badgeSize() {
  const chosen = localStorage.getItem(BADGE_SIZE_ITEM);
  return chosen in BADGE_SIZES ? chosen : "a6";
}

/** Set the printed page to the badge's size (CSSOM: the page's CSP allows no inline style). */
function setPageSize(size) {
  const sheet = [...document.styleSheets].find((s) => s.href?.endsWith("/kiosk/kiosk.css"));
  if (!sheet) return;
  for (let i = sheet.cssRules.length - 1; i >= 0; i--) {
    if (sheet.cssRules[i] instanceof CSSPageRule) sheet.deleteRule(i);
  }
  sheet.insertRule(`@page { size: ${BADGE_SIZES[size]}; margin: 0; }`, sheet.cssRules.length);
}

/** The QR code of a party's badge, or of one person's when person is given (SVG text). */
async function badgeSvg(participant, person) {
  const headers = { Accept: "image/svg+xml" };
  const params = { event_id: state.event.id, participant_id: participant.id, person_id: person?.id };
  const { data } = person
    ? await api("GET", "/v1/events/{event_id}/participants/{participant_id}/people/{person_id}/badge.svg", { params, headers })
    : await api("GET", "/v1/events/{event_id}/participants/{participant_id}/badge.svg", { params, headers });
  return data;
}

/** Print a badge: the party's (its first person's), or one person's; a failure is said in note. */
async function printBadge(participant, person = null, note = $("search-note")) {
  let svg;
  try {
    svg = await badgeSvg(participant, person);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    note.replaceChildren(el("span", "kiosk.badge.failed"), " ", error.detail || error.title);
    return;
  }
  const badgeCode = person ? person.badge_code : participant.badge_code;
  const size = badgeSize();
  const card = document.createElement("div");
  card.className = "badge-card";
  card.dataset.size = size;
  const event = document.createElement("p");
  event.className = "badge-event";
  event.textContent = state.event.name_zh;
  const who = document.createElement("p");
  who.className = "badge-name";
  who.textContent = peopleNames(participant, person);
  const qr = document.createElement("img");
  qr.className = "badge-qr";
  qr.alt = badgeCode;
  const old = $("badge-print").querySelector("img")?.src;
  if (old) URL.revokeObjectURL(old);
  qr.src = URL.createObjectURL(new Blob([svg], { type: "image/svg+xml" }));
  const code = document.createElement("p");
  code.className = "badge-code";
  code.textContent = badgeCode;
  const text = document.createElement("div");
  text.className = "badge-text";
  text.append(event, who, partyBlock(participant, "p"), code);
  card.append(qr, text);
  $("badge-print").replaceChildren(card);
  setPageSize(size);
  await qr.decode().catch(() => {});
  window.print();
}

// --- walk-ins -----------------------------------------------------------------------------------

// Each input's name is its field's path in the request, as the service names a refused field
// ("people[0].phone"), so a refusal is shown next to its input.
function walkInInputs() {
  return [...$("walkin-form").querySelectorAll("input[name], select[name]")];
}

function openWalkIn() {
  const form = $("walkin-form");
  if (!form.hidden) {
    closeWalkIn();
    $("scan-input").focus();
    return;
  }
  $("walkin-done").hidden = true;
  clearWalkInErrors();
  form.hidden = false;
  const toggle = $("walkin-open");
  toggle.setAttribute("aria-expanded", "true");
  bilingual(toggle, "kiosk.walkin.close");
  $("walkin-org").focus();
}

function closeWalkIn() {
  const form = $("walkin-form");
  form.reset();
  form.hidden = true;
  clearWalkInErrors();
  state.walkInAttempt = null;
  const toggle = $("walkin-open");
  toggle.setAttribute("aria-expanded", "false");
  bilingual(toggle, "kiosk.walkin.open");
}

/** No form open, no earlier walk-in shown: what the desk shows its next user. */
function resetWalkIn() {
  closeWalkIn();
  const done = $("walkin-done");
  done.hidden = true;
  done.replaceChildren();
}

function clearWalkInErrors() {
  $("walkin-error").replaceChildren();
  for (const input of walkInInputs()) {
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-describedby");
    $(`${input.id}-error`).replaceChildren();
  }
}

/** Mark an input refused: its own bilingual message where it has one, else the given text. */
function fieldError(id, text) {
  const input = $(id);
  input.setAttribute("aria-invalid", "true");
  input.setAttribute("aria-describedby", `${id}-error`);
  const target = $(`${id}-error`);
  if (input.dataset.invalid) bilingual(target, input.dataset.invalid);
  else target.textContent = text;
}

/** The request body from the form; optional fields left empty are not sent. */
function walkInBody() {
  const value = (id) => $(id).value.trim() || undefined;
  return {
    organization: {
      kind: $("walkin-kind").value,
      name_zh: value("walkin-org"),
      credit_code: value("walkin-credit")?.toUpperCase(),
    },
    people: [{ name: value("walkin-name"), title: value("walkin-role"), phone: value("walkin-phone") }],
  };
}

async function submitWalkIn(event) {
  event.preventDefault();
  clearWalkInErrors();
  const body = walkInBody();
  const missing = ["walkin-org", "walkin-name"].filter((id) => !$(id).value.trim());
  if (missing.length) {
    for (const id of missing) fieldError(id, plain("kiosk.walkin.required"));
    $(missing[0]).focus();
    return;
  }
  // The same form sent again (after a timeout, say) is the same request: the service answers
  // it once. A changed form is a new request.
  const text = JSON.stringify(body);
  if (state.walkInAttempt?.body !== text) {
    state.walkInAttempt = { body: text, key: newNonce("walkin") };
  }
  const attempt = state.walkInAttempt;
  const submit = $("walkin-form").querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const { data } = await api("POST", "/v1/events/{event_id}/walk-ins", {
      params: { event_id: state.event.id },
      body,
      headers: { "Idempotency-Key": attempt.key },
    });
    // Shown even if the form was cancelled meanwhile: the registration did happen.
    closeWalkIn();
    showWalkInDone(data);
    refreshRoster(); // so the new badges scan offline too
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    const current = state.walkInAttempt === attempt; // not cancelled while on its way
    // Only a request that got no answer is retried with its key; an answer (a refusal) is
    // final for that key, so the next try is a new request.
    if (!error.unreachable) state.walkInAttempt = null;
    if (current) showWalkInProblem(error);
  } finally {
    submit.disabled = false;
  }
}

function showWalkInProblem(error) {
  const target = $("walkin-error");
  if (error.unreachable) {
    setOnline(false);
    bilingual(target, "kiosk.walkin.offline");
    return;
  }
  if (error.status === 401) {
    keyRefused(error);
    return;
  }
  let placed = 0;
  const inputs = walkInInputs();
  for (const item of error.problem?.errors || []) {
    const field = String(item.field);
    const input = inputs.find((i) => field === i.name || field.startsWith(`${i.name}.`));
    if (!input) continue;
    fieldError(input.id, item.message);
    placed += 1;
  }
  const firstBad = document.querySelector("#walkin-form [aria-invalid=true]");
  if (firstBad) firstBad.focus();
  if (placed === 0 || placed < (error.problem?.errors || []).length) {
    target.textContent = error.detail || error.title;
  }
}

/** Who was registered, each with their badge: check them in, print the badge. */
function showWalkInDone(answer) {
  const done = $("walkin-done");
  const participant = answer.participant;
  const head = el("p", "kiosk.walkin.done", {}, "walkin-done-head");
  const list = document.createElement("ul");
  list.className = "results";
  for (const badge of answer.badges) {
    const person = (participant.people || []).find((p) => p.id === badge.person_id) || {
      id: badge.person_id,
      name: badge.name,
      badge_code: badge.badge_code,
    };
    const li = document.createElement("li");
    li.dataset.code = badge.badge_code;
    const who = document.createElement("p");
    who.className = "result-name";
    who.textContent = `${badge.name} · ${badge.badge_code}`;
    const checkIn = el("button", "kiosk.walkin.checkin", {}, "primary walkin-checkin");
    checkIn.type = "button";
    checkIn.addEventListener("click", () => {
      scan(badge.badge_code);
      $("scan-input").focus();
    });
    const print = el("button", "kiosk.badge.print", {}, "print");
    print.type = "button";
    const failed = document.createElement("p");
    failed.className = "note";
    failed.setAttribute("role", "alert");
    print.addEventListener("click", () => printBadge(participant, person, failed));
    const actions = document.createElement("div");
    actions.className = "walkin-actions";
    actions.append(checkIn, print);
    li.append(who, partyBlock(participant), actions, failed);
    list.append(li);
  }
  const another = el("button", "kiosk.walkin.another", {}, "walkin-another");
  another.type = "button";
  another.addEventListener("click", openWalkIn);
  done.replaceChildren(head);
  if (!answer.participant_created && answer.people_created === 0) {
    done.append(el("p", "kiosk.walkin.known", {}, "note"));
  }
  done.append(list, another);
  done.hidden = false;
  done.querySelector(".walkin-checkin")?.focus();
}

// --- camera -------------------------------------------------------------------------------------

async function toggleCamera() {
  if (state.stopCamera) {
    stopCamera();
    return;
  }
  const panel = $("camera-panel");
  panel.hidden = false;
  $("camera-error").replaceChildren();
  try {
    state.stopCamera = await startCamera($("camera-video"), (code) => scan(code));
    $("camera").setAttribute("aria-pressed", "true");
    bilingual($("camera"), "kiosk.camera.stop");
  } catch {
    bilingual($("camera-error"), "kiosk.camera.denied");
  }
}

function stopCamera() {
  if (state.stopCamera) state.stopCamera();
  state.stopCamera = null;
  $("camera-panel").hidden = true;
  $("camera").setAttribute("aria-pressed", "false");
  bilingual($("camera"), "kiosk.camera");
}

// --- wiring -------------------------------------------------------------------------------------

function debounce(work, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => work(...args), ms);
  };
}

function wire() {
  $("signin-form").addEventListener("submit", signIn);
  $("scan-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("scan-input");
    const text = input.value;
    input.value = "";
    scan(text);
    input.focus();
  });
  const searchNow = debounce((text) => search(text), 250);
  $("search-input").addEventListener("input", (event) => searchNow(event.target.value));
  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    search($("search-input").value);
  });
  $("sound").addEventListener("click", () => {
    setSound(!soundOn());
    renderSound();
  });
  $("camera").addEventListener("click", toggleCamera);
  $("walkin-open").addEventListener("click", openWalkIn);
  $("walkin-form").addEventListener("submit", submitWalkIn);
  $("walkin-cancel").addEventListener("click", () => {
    closeWalkIn();
    $("scan-input").focus();
  });
  for (const option of $("walkin-kind").options) option.textContent = plain(`kind.${option.value}`);
  $("signout").addEventListener("click", signOut);
  const sizes = $("badge-size");
  sizes.value = badgeSize();
  sizes.addEventListener("change", () => localStorage.setItem(BADGE_SIZE_ITEM, sizes.value));
  $("refused-clear").addEventListener("click", () => {
    state.refusals.clear();
    renderRefusals();
    $("scan-input").focus();
  });
  window.addEventListener("online", () => {
    state.retries = 0;
    renderNet();
    flush();
    refreshRoster();
  });
  window.addEventListener("offline", () => setOnline(false) || renderNet());
  // A handheld scanner types into whatever has focus: unless that is a field, send it to the
  // scan field. Escape clears the answer and returns there.
  document.addEventListener("keydown", (event) => {
    if ($("desk").hidden) return;
    const input = $("scan-input");
    if (event.key === "Escape" && $("walkin-form").contains(document.activeElement)) {
      closeWalkIn(); // Escape cancels the registration being typed, as its Cancel button does
      input.focus();
      return;
    }
    if (event.key === "Escape") {
      // Dismissed: what the service later says about that scan goes to the refusals list.
      if (state.current) clearTimeout(state.current.timer);
      state.current = null;
      showIdle();
      input.focus();
      return;
    }
    // Focus on a button counts as nothing typed into: a scan there must not end with its
    // Enter pressing the button (a walk-in's "Check in", a search result).
    // Space stays with a focused button, which it presses (no badge code has a space).
    const field = document.activeElement?.closest("input, select, textarea");
    const printable = event.key.length === 1 && event.key !== " ";
    if (!field && printable && !event.ctrlKey && !event.metaKey && !event.altKey) {
      input.focus();
    }
  });
}

async function start() {
  // Keeps the page for a reload without the network; browsers allow it on https and localhost.
  navigator.serviceWorker?.register("/kiosk-sw.js", { scope: "/kiosk" }).catch(() => {});
  translate();
  wire();
  document.title = plain("kiosk.title");
  if (getKey()) {
    try {
      await chooseEvent();
      return;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const saved = JSON.parse(sessionStorage.getItem(EVENT_ITEM) || "null");
      if (error.unreachable && saved) {
        // The service is away but this tab was signed in: keep the door working.
        state.online = false;
        state.mayRegister = sessionStorage.getItem(MAY_REGISTER_ITEM) === "true";
        await openDesk(saved);
        return;
      }
      if (error.status === 401) clearKey();
    }
  }
  showSignin();
}

start();
