// Meetings: the request queue, building the schedule (at once, or as a job to watch), the
// grid of slots × tables, moving and cancelling a meeting with every conflict explained,
// publishing, and printing agendas.
import { api, apiAll, newNonce } from "/static/common/api.js";
import { register } from "/static/common/i18n.js";
import { agendaHtml, combine, showHtml } from "/static/console/print.js";
import { clock, h, label, msg, partyLabel, problemBox } from "/static/console/view.js";

const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
const JOB_POLL_MS = 1000;
const SOLVER_STATUS = {
  optimal: { zh: "已证明最优", en: "proven optimal" },
  feasible: { zh: "可行（未证明最优）", en: "feasible, not proven optimal" },
  infeasible: { zh: "无可行方案", en: "infeasible" },
  unknown: { zh: "未找到方案", en: "no solution found" },
};

register({
  "meetings.requests": { zh: "会谈申请", en: "Meeting requests" },
  "meetings.requests.none": { zh: "没有待处理的会谈申请。", en: "No pending meeting requests." },
  "meetings.from": { zh: "发起方", en: "From" },
  "meetings.to": { zh: "对方", en: "To" },
  "meetings.message": { zh: "留言", en: "Message" },
  "meetings.state": { zh: "状态", en: "State" },
  "request.pending": { zh: "待回复", en: "Pending" },
  "request.actions": { zh: "代为处理", en: "Act for the party" },
  "request.accept": { zh: "接受", en: "Accept" },
  "request.decline": { zh: "拒绝", en: "Decline" },
  "request.done.accept": {
    zh: "已代对方接受：下次生成日程时会安排这场会谈。",
    en: "Accepted for the recipient: the next build schedules this meeting.",
  },
  "request.done.decline": { zh: "已代对方拒绝。", en: "Declined for the recipient." },
  "request.closed": {
    zh: "这条申请已不是待回复状态（可能对方刚刚处理过），列表已刷新。",
    en: "This request is no longer pending (the party may just have answered); the list is reloaded.",
  },
  "request.accepted": { zh: "已接受", en: "Accepted" },
  "request.declined": { zh: "已拒绝", en: "Declined" },
  "request.withdrawn": { zh: "已撤回", en: "Withdrawn" },
  "meetings.schedule": { zh: "会谈日程", en: "Schedule" },
  "meetings.draft": { zh: "草稿", en: "Draft" },
  "meetings.published": { zh: "已发布", en: "Published" },
  "meetings.none": { zh: "尚未生成", en: "None yet" },
  "meetings.figures": {
    zh: "{meetings} 场会谈，{status_zh}，差距 {gap}，用时 {seconds} 秒",
    en: "{meetings} meetings, {status_en}, gap {gap}, {seconds} s",
  },
  "meetings.unmet": { zh: "未能满足：{count} 项", en: "Could not satisfy: {count}" },
  "meetings.build": { zh: "生成日程", en: "Build the schedule" },
  "meetings.building": { zh: "正在生成日程…", en: "Building the schedule…" },
  "meetings.job": { zh: "生成任务：{state}", en: "Build job: {state}" },
  "meetings.job.cancel": { zh: "停止生成", en: "Stop the build" },
  "build.queued": { zh: "排队中", en: "queued" },
  "build.running": { zh: "计算中", en: "running" },
  "build.succeeded": { zh: "已完成", en: "succeeded" },
  "build.failed": { zh: "失败", en: "failed" },
  "build.cancelled": { zh: "已停止", en: "cancelled" },
  "build.?": { zh: "未知", en: "unknown" },
  "progress.stage": { zh: "阶段", en: "Stage" },
  "progress.elapsed_seconds": { zh: "已用秒数", en: "Seconds so far" },
  "progress.weight": { zh: "当前最佳权重", en: "Best weight so far" },
  "progress.weight_bound": { zh: "权重上界", en: "Weight bound" },
  "progress.gap": { zh: "差距", en: "Gap" },
  "progress.breaks": { zh: "空档数", en: "Idle gaps" },
  "progress.breaks_bound": { zh: "空档下界", en: "Idle gaps bound" },
  "build.in_progress": {
    zh: "本活动已有一次生成在进行：请等它结束，或先停止它。",
    en: "A build of this event is already running: wait for it, or stop it first.",
  },
  "meetings.built": { zh: "草稿已生成：{meetings} 场会谈。", en: "Draft built: {meetings} meetings." },
  "meetings.publish": { zh: "发布日程", en: "Publish the schedule" },
  "meetings.published.done": {
    zh: "日程已发布，参会方的日程单即按此显示。",
    en: "Published: agendas show this schedule from now on.",
  },
  "meetings.grid": { zh: "日程表（场次 × 桌号）", en: "Grid (slots × tables)" },
  "meetings.grid.showing.draft": { zh: "显示：草稿（尚未发布）", en: "Showing: the draft (not published yet)" },
  "meetings.grid.showing.published": { zh: "显示：已发布的日程", en: "Showing: the published schedule" },
  "meetings.slot": { zh: "场次", en: "Slot" },
  "meetings.table": { zh: "桌号", en: "Table" },
  "meetings.table.n": { zh: "{n} 号桌", en: "Table {n}" },
  "meetings.slot.n": { zh: "第 {n} 场", en: "Slot {n}" },
  "meetings.empty": { zh: "空", en: "free" },
  "meetings.move.title": { zh: "调整会谈", en: "Change a meeting" },
  "meetings.move": { zh: "移动", en: "Move" },
  "meetings.cancel": { zh: "取消会谈", en: "Cancel the meeting" },
  "meetings.close": { zh: "关闭", en: "Close" },
  "meetings.moved": { zh: "已移到第 {slot} 场 {table} 号桌。", en: "Moved to slot {slot}, table {table}." },
  "meetings.cancelled": { zh: "会谈已取消。", en: "The meeting is cancelled." },
  "status.scheduled": { zh: "已安排", en: "Scheduled" },
  "status.held": { zh: "已进行", en: "Held" },
  "status.no_show": { zh: "缺席", en: "No-show" },
  "status.cancelled": { zh: "已取消", en: "Cancelled" },
  "conflict.title": { zh: "无法移动：时间或桌位冲突", en: "Cannot move: a clash" },
  "conflict.table": {
    zh: "第 {slot} 场的 {table} 号桌已有会谈：{pair}。",
    en: "Table {table} is taken in slot {slot} by {pair}.",
  },
  "conflict.committee": {
    zh: "{party} 在第 {slot} 场已有会谈（{table} 号桌，与 {other}）。",
    en: "{party} already meets in slot {slot} (table {table}, with {other}).",
  },
  "conflict.unknown": {
    zh: "页面上的日程可能已过时，已重新加载，请再试一次。",
    en: "The grid may be out of date; it has been reloaded, try again.",
  },
  "conflict.stale": {
    zh: "这场会谈刚被别人改过，已重新加载最新内容，请确认后再改。",
    en: "Someone changed this meeting meanwhile; the grid is reloaded, check and try again.",
  },
  "conflict.unavailable": {
    zh: "提示：{party} 报名时说明第 {slot} 场不能参加。",
    en: "Note: {party} said it cannot attend slot {slot}.",
  },
  "publish.no_draft": {
    zh: "没有可发布的草稿：请先生成日程（或草稿已被发布）。",
    en: "No draft to publish: build one first (or it was published already).",
  },
  "publish.stale": {
    zh: "草稿在此期间被重新生成，已重新加载，请确认后再发布。",
    en: "The draft was rebuilt meanwhile; reloaded, check it and publish again.",
  },
  "agendas.title": { zh: "打印日程单", en: "Print agendas" },
  "agendas.pick": { zh: "参会方", en: "Participant" },
  "agendas.open": { zh: "打开日程单", en: "Open the agenda" },
  "agendas.all": { zh: "全部打印（每方一页）", en: "Print all (a page each)" },
  "agendas.fetching": { zh: "正在获取 {done}/{all}…", en: "Fetching {done}/{all}…" },
  "agendas.blocked": {
    zh: "浏览器拦截了新窗口，请允许本站弹出窗口。",
    en: "The browser blocked the new window; allow pop-ups for this site.",
  },
});

function nameOf(participant) {
  return participant ? participant.party : null;
}

function pairText(meeting) {
  const c = meeting.committee;
  return `${c.designation || c.name_zh} × ${meeting.organization.name_zh}`;
}

/** Why the service refused a move, worked out from the grid the organizer is looking at. */
export function explainClash(meetings, moving, slot, table, participants) {
  const reasons = [];
  for (const other of meetings) {
    if (other.id === moving.id || other.status === "cancelled" || other.slot !== slot) continue;
    if (other.table === table) {
      reasons.push(label("conflict.table", { slot, table, pair: pairText(other) }));
    }
    for (const side of ["committee", "organization"]) {
      if (other[side].participant_id === moving[side].participant_id) {
        const party = moving[side].designation || moving[side].name_zh;
        const counterpart = side === "committee" ? other.organization : other.committee;
        reasons.push(
          label("conflict.committee", {
            party,
            slot,
            table: other.table,
            other: counterpart.designation || counterpart.name_zh,
          }),
        );
      }
    }
  }
  for (const side of ["committee", "organization"]) {
    const p = participants.get(moving[side].participant_id);
    if (p && (p.unavailable_slots || []).includes(slot)) {
      reasons.push(label("conflict.unavailable", { party: moving[side].designation || moving[side].name_zh, slot }));
    }
  }
  return reasons;
}

export function render(ctx, main) {
  const event = ctx.event;
  const params = { event_id: event.id };
  const slots = event.slots.length;
  let stopped = false;
  let jobTimer = null;
  let state = { draft: null, published: null };
  let meetings = [];
  let which = "published";

  const requestsBox = h("section", { class: "panel" }, msg("h2", "meetings.requests"));
  const scheduleBox = h("section", { class: "panel" }, msg("h2", "meetings.schedule"));
  const notice = h("div", { class: "notice", role: "status", "aria-live": "polite" });
  const gridBox = h("section", { class: "panel grid-panel" }, msg("h2", "meetings.grid"));
  const agendasBox = h("section", { class: "panel" }, msg("h2", "agendas.title"));
  const dialog = h("dialog", { class: "move-dialog", "aria-labelledby": "move-title" });
  main.append(msg("h1", "meetings.schedule"), scheduleBox, notice, gridBox, requestsBox, agendasBox, dialog);

  function say(node) {
    notice.replaceChildren(node);
  }

  async function loadRequests() {
    const participants = await ctx.loadParticipants();
    const items = await apiAll("/v1/events/{event_id}/meeting-requests", { params, query: { state: "pending" } });
    const body = items.length
      ? h(
          "table",
          {},
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["meetings.from", "meetings.to", "meetings.message", "meetings.state", "request.actions"].map((k) =>
                h("th", { scope: "col" }, msg("span", k)),
              ),
            ),
          ),
          h(
            "tbody",
            {},
            items.map((r) =>
              h(
                "tr",
                {},
                h("td", {}, partyLabel(nameOf(participants.get(r.from_participant_id)), { short: true })),
                h("td", {}, partyLabel(nameOf(participants.get(r.to_participant_id)), { short: true })),
                h("td", {}, r.message || "—"),
                h("td", {}, msg("span", `request.${r.state}`)),
                h(
                  "td",
                  { class: "request-actions" },
                  ["accept", "decline"].map((action) =>
                    h(
                      "button",
                      {
                        type: "button",
                        class: action === "accept" ? "small primary" : "small",
                        dataset: { request: r.id, action },
                        onclick: () => respond(r, action),
                      },
                      msg("span", `request.${action}`),
                    ),
                  ),
                ),
              ),
            ),
          ),
        )
      : msg("p", "meetings.requests.none");
    requestsBox.replaceChildren(requestsBox.firstChild, body);
  }

  /** An organizer answers a request for the recipient (a party that phoned the desk, say). */
  async function respond(request, action) {
    try {
      await api("POST", "/v1/events/{event_id}/meeting-requests/{request_id}:respond", {
        params: { event_id: event.id, request_id: request.id },
        body: { action },
        headers: { "If-Match": `"${request.version}"`, "Idempotency-Key": newNonce("console-respond") },
      });
      say(msg("p", `request.done.${action}`, {}, "ok"));
    } catch (error) {
      const closed = error.code === "request_closed" || error.status === 412;
      say(problemBox(error, closed ? msg("p", "request.closed") : null));
    }
    await loadRequests();
  }

  function figures(schedule) {
    if (!schedule) return msg("span", "meetings.none");
    const node = h(
      "span",
      {},
      msg("span", "meetings.figures", {
        meetings: schedule.meetings,
        status_zh: (SOLVER_STATUS[schedule.status] || {}).zh || schedule.status,
        status_en: (SOLVER_STATUS[schedule.status] || {}).en || schedule.status,
        gap: schedule.gap === null ? "—" : `${(schedule.gap * 100).toFixed(1)}%`,
        seconds: schedule.seconds,
      }),
    );
    if (schedule.unmet && schedule.unmet.length) {
      const list = h(
        "ul",
        { class: "unmet" },
        schedule.unmet.map((u) =>
          h("li", {}, u.participants.map((p) => p.designation || p.name_zh).join(" × "), "：", u.reason),
        ),
      );
      node.append(h("details", {}, h("summary", {}, msg("span", "meetings.unmet", { count: schedule.unmet.length })), list));
    }
    return node;
  }

  function drawSchedule() {
    const build = h("button", { type: "button", class: "primary", id: "build", onclick: buildSchedule }, msg("span", "meetings.build"));
    const publish = h(
      "button",
      { type: "button", id: "publish", disabled: !state.draft, onclick: publishSchedule },
      msg("span", "meetings.publish"),
    );
    scheduleBox.replaceChildren(
      scheduleBox.firstChild,
      h(
        "dl",
        { class: "figures" },
        h("dt", {}, msg("span", "meetings.draft")),
        h("dd", { id: "draft-figures" }, figures(state.draft)),
        h("dt", {}, msg("span", "meetings.published")),
        h("dd", { id: "published-figures" }, figures(state.published)),
      ),
      h("div", { class: "actions" }, build, publish),
    );
  }

  async function loadSchedule() {
    const { data } = await api("GET", "/v1/events/{event_id}/schedule", { params });
    state = { draft: data.draft || null, published: data.published || null };
    which = state.draft ? "draft" : "published";
    drawSchedule();
    meetings = state[which]
      ? await apiAll("/v1/events/{event_id}/meetings", { params, query: { schedule: which } })
      : [];
    drawGrid();
  }

  function drawGrid() {
    const head = h(
      "tr",
      {},
      h("th", { scope: "col" }, msg("span", "meetings.slot")),
      Array.from({ length: event.tables }, (_, i) => h("th", { scope: "col" }, msg("span", "meetings.table.n", { n: i + 1 }))),
    );
    const at = new Map(meetings.filter((m) => m.status !== "cancelled").map((m) => [`${m.slot}:${m.table}`, m]));
    const rows = event.slots.map((slot, i) =>
      h(
        "tr",
        {},
        h(
          "th",
          { scope: "row" },
          msg("span", "meetings.slot.n", { n: i + 1 }),
          h("br"),
          h("span", { class: "time" }, `${clock(slot.start, event.timezone)}–${clock(slot.end, event.timezone)}`),
        ),
        Array.from({ length: event.tables }, (_, t) => {
          const m = at.get(`${i + 1}:${t + 1}`);
          if (!m) return h("td", { class: "free" }, h("span", { class: "visually-hidden" }, label("meetings.empty")));
          return h(
            "td",
            { class: `meeting ${m.status}` },
            h(
              "button",
              {
                type: "button",
                class: "cell",
                dataset: { meeting: m.id, slot: m.slot, table: m.table },
                "aria-label": `${label("meetings.slot.n", { n: m.slot })} ${label("meetings.table.n", { n: m.table })}: ${pairText(m)}`,
                onclick: () => openMove(m),
              },
              h("strong", {}, m.committee.designation || m.committee.name_zh),
              h("span", { class: "org" }, m.organization.name_zh),
              m.status !== "scheduled" ? msg("span", `status.${m.status}`, {}, "status") : null,
            ),
          );
        }),
      ),
    );
    // Which schedule the grid shows, and which version of it: what a test (or a person's
    // screen reader) can wait on after a build or a move.
    gridBox.dataset.schedule = state[which] ? state[which].id : "";
    gridBox.dataset.meetings = String(meetings.length);
    gridBox.replaceChildren(
      gridBox.firstChild,
      msg("p", `meetings.grid.showing.${which}`),
      meetings.length ? h("div", { class: "grid-scroll", tabindex: "0", role: "region", "aria-label": label("meetings.grid") }, h("table", { class: "grid" }, h("thead", {}, head), h("tbody", {}, rows))) : msg("p", "meetings.none"),
    );
  }

  function openMove(meeting) {
    const slotSelect = h(
      "select",
      { id: "move-slot" },
      event.slots.map((s, i) =>
        h("option", { value: i + 1, selected: i + 1 === meeting.slot }, `${label("meetings.slot.n", { n: i + 1 })} ${clock(s.start, event.timezone)}`),
      ),
    );
    const tableSelect = h(
      "select",
      { id: "move-table" },
      Array.from({ length: event.tables }, (_, i) => h("option", { value: i + 1, selected: i + 1 === meeting.table }, label("meetings.table.n", { n: i + 1 }))),
    );
    const result = h("div", { class: "move-result" });
    const close = () => dialog.close();
    dialog.replaceChildren(
      h(
        "form",
        {
          method: "dialog",
          onsubmit: (e) => {
            e.preventDefault();
            patch(meeting, { slot: Number(slotSelect.value), table: Number(tableSelect.value) }, result);
          },
        },
        h("h2", { id: "move-title" }, label("meetings.move.title")),
        h("p", {}, partyLabel(meeting.committee), h("br"), partyLabel(meeting.organization)),
        h("p", {}, msg("span", `status.${meeting.status}`)),
        h("div", { class: "fields" }, h("label", { for: "move-slot" }, msg("span", "meetings.slot")), slotSelect, h("label", { for: "move-table" }, msg("span", "meetings.table")), tableSelect),
        h(
          "div",
          { class: "actions" },
          h("button", { type: "submit", class: "primary", id: "move-submit" }, msg("span", "meetings.move")),
          h("button", { type: "button", id: "move-cancel-meeting", class: "danger", onclick: () => patch(meeting, { status: "cancelled" }, result) }, msg("span", "meetings.cancel")),
          h("button", { type: "button", onclick: close }, msg("span", "meetings.close")),
        ),
        result,
      ),
    );
    dialog.showModal();
    slotSelect.focus();
  }

  async function patch(meeting, change, result) {
    result.replaceChildren();
    try {
      await api("PATCH", "/v1/events/{event_id}/meetings/{meeting_id}", {
        params: { event_id: event.id, meeting_id: meeting.id },
        body: change,
        headers: { "If-Match": `"${meeting.version}"` },
      });
    } catch (error) {
      let explanation = null;
      if (error.status === 409 && error.code === "double_booked") {
        const reasons = explainClash(meetings, meeting, change.slot ?? meeting.slot, change.table ?? meeting.table, await ctx.loadParticipants());
        explanation = h(
          "div",
          { class: "explanation" },
          msg("p", "conflict.title", {}, "explain-title"),
          reasons.length ? h("ul", {}, reasons.map((r) => h("li", {}, r))) : msg("p", "conflict.unknown"),
        );
        if (!reasons.length) await loadSchedule();
      } else if (error.status === 412) {
        explanation = msg("p", "conflict.stale");
        await loadSchedule();
      }
      result.replaceChildren(problemBox(error, explanation));
      return;
    }
    dialog.close();
    say(
      change.status === "cancelled"
        ? msg("p", "meetings.cancelled", {}, "ok")
        : msg("p", "meetings.moved", { slot: change.slot, table: change.table }, "ok"),
    );
    await loadSchedule();
  }

  async function buildSchedule() {
    const button = scheduleBox.querySelector("#build");
    button.disabled = true;
    say(msg("p", "meetings.building", {}, "working"));
    try {
      const response = await api("POST", "/v1/events/{event_id}/schedule", {
        params,
        body: {},
        headers: { "Idempotency-Key": newNonce("console-build") },
        timeout: 180000,
      });
      if (response.status === 202) {
        const ended = await watchJob(response.headers.get("Location"));
        if (ended === "succeeded" && !stopped) {
          await loadSchedule();
          const built = state.draft ? state.draft.meetings : "?";
          notice.append(msg("p", "meetings.built", { meetings: built }, "ok"));
          return;
        }
      } else {
        say(msg("p", "meetings.built", { meetings: response.data.meetings }, "ok"));
      }
    } catch (error) {
      say(problemBox(error, error.code === "build_in_progress" ? msg("p", "build.in_progress") : null));
    }
    if (!stopped) await loadSchedule();
  }

  /** A build answered 202: poll it at its Location until it ends, showing its progress. */
  async function watchJob(location) {
    const progress = h("div", { class: "job", role: "status" });
    const cancel = h(
      "button",
      {
        type: "button",
        id: "build-cancel",
        onclick: () =>
          api("POST", `${location}:cancel`).catch((error) => say(problemBox(error))), // contract: the build's Location
      },
      msg("span", "meetings.job.cancel"),
    );
    say(h("div", {}, progress, cancel));
    for (;;) {
      if (stopped) return "stopped";
      let job;
      try {
        job = (await api("GET", location)).data; // contract: the build's Location
      } catch (error) {
        say(problemBox(error));
        return "unknown";
      }
      const phase = job.state || "?";
      progress.replaceChildren(
        h("p", {}, msg("span", "meetings.job", { state: label(`build.${phase}`) })),
        jobFigures(job.progress || {}),
      );
      if (FINISHED.has(phase)) {
        cancel.remove();
        if (phase !== "succeeded") {
          progress.append(
            problemBox({ status: 409, code: phase, title: label(`build.${phase}`), detail: job.error || "" }),
          );
        }
        return phase;
      }
      await new Promise((resolve) => {
        jobTimer = setTimeout(resolve, JOB_POLL_MS);
      });
    }
  }

  /** The build's progress as the engine reports it: stage, time, best weight and bound, gap. */
  function jobFigures(figures) {
    const shown = Object.entries(figures).filter(([, v]) => v !== null && v !== undefined);
    return h(
      "dl",
      { class: "figures job-figures" },
      shown.flatMap(([name, value]) => [
        h("dt", {}, msg("span", `progress.${name}`)),
        h("dd", { dataset: { figure: name } }, name === "gap" ? `${(value * 100).toFixed(1)}%` : String(value)),
      ]),
    );
  }

  async function publishSchedule() {
    if (!state.draft) return;
    try {
      await api("POST", "/v1/events/{event_id}/schedule:publish", {
        params,
        headers: { "If-Match": `"${state.draft.id}"`, "Idempotency-Key": newNonce("console-publish") },
      });
      say(msg("p", "meetings.published.done", {}, "ok"));
    } catch (error) {
      const explanation =
        error.code === "no_draft" ? msg("p", "publish.no_draft") : error.status === 412 ? msg("p", "publish.stale") : null;
      say(problemBox(error, explanation));
    }
    await loadSchedule();
  }

  async function drawAgendas() {
    const participants = [...(await ctx.loadParticipants()).values()].sort((a, b) =>
      (a.party.designation || a.party.name_zh).localeCompare(b.party.designation || b.party.name_zh, "zh-Hans-CN"),
    );
    const pick = h(
      "select",
      { id: "agenda-participant" },
      participants.map((p) => h("option", { value: p.id }, `${p.party.designation ? `${p.party.designation} ` : ""}${p.party.name_zh}`)),
    );
    const status = h("div", { role: "status", class: "agenda-status" });
    const openOne = async () => {
      const win = window.open("", "_blank");
      try {
        showHtml(await agendaHtml(event.id, pick.value), win);
        status.replaceChildren();
      } catch (error) {
        if (win) win.close();
        status.replaceChildren(error.message === "popup_blocked" ? msg("p", "agendas.blocked") : problemBox(error));
      }
    };
    const openAll = async () => {
      const win = window.open("", "_blank");
      const pages = [];
      try {
        for (const p of participants) {
          status.replaceChildren(msg("p", "agendas.fetching", { done: pages.length, all: participants.length }));
          pages.push(await agendaHtml(event.id, p.id));
        }
        showHtml(combine(pages), win);
        status.replaceChildren();
      } catch (error) {
        if (win) win.close();
        status.replaceChildren(problemBox(error));
      }
    };
    agendasBox.replaceChildren(
      agendasBox.firstChild,
      h(
        "div",
        { class: "fields" },
        h("label", { for: "agenda-participant" }, msg("span", "agendas.pick")),
        pick,
        h("button", { type: "button", id: "agenda-open", onclick: openOne }, msg("span", "agendas.open")),
        h("button", { type: "button", id: "agenda-all", onclick: openAll }, msg("span", "agendas.all")),
      ),
      status,
    );
  }

  Promise.all([loadSchedule(), loadRequests(), drawAgendas()]).catch((error) => say(problemBox(error)));
  return () => {
    stopped = true;
    clearTimeout(jobTimer);
    if (dialog.open) dialog.close();
  };
}

