// Today: who has arrived, by kind of party, arrivals over time, and the scans that failed;
// refreshed every few seconds while the screen is open, without reloading the page.
import { api, apiAll } from "/static/common/api.js";
import { register } from "/static/common/i18n.js";
import { arrivalsChart, progressBar } from "/static/console/chart.js";
import { both, clock, clockSeconds, h, label, msg, partyLabel, problemBox } from "/static/console/view.js";

export const POLL_MS = 5000;

register({
  "today.title": { zh: "今日签到", en: "Check-in today" },
  "today.progress": { zh: "签到进度", en: "Check-in progress" },
  "today.kind": { zh: "类别", en: "Kind of party" },
  "today.registered": { zh: "报名", en: "Registered" },
  "today.checked_in": { zh: "已签到", en: "Checked in" },
  "today.expected": { zh: "未到", en: "Still expected" },
  "today.total": { zh: "合计", en: "Total" },
  "today.bar": { zh: "{kind}：已签到 {done} / {all}", en: "{kind}: {done} of {all} checked in" },
  "today.arrivals": { zh: "到场时间分布", en: "Arrivals over time" },
  "today.arrivals.legend": {
    zh: "柱：每 {minutes} 分钟到场人数；线：累计签到",
    en: "Bars: arrivals per {minutes} minutes; line: checked in so far",
  },
  "today.arrivals.none": { zh: "还没有人签到。", en: "Nobody has checked in yet." },
  "today.missing": { zh: "尚未签到（{count}）", en: "Not checked in yet ({count})" },
  "today.missing.none": { zh: "全部已签到。", en: "Everyone has checked in." },
  "today.party": { zh: "参会方", en: "Party" },
  "today.people": { zh: "人员与电话", en: "People and phones" },
  "today.failed": { zh: "失败的扫码", en: "Failed scans" },
  "today.failed.none": { zh: "没有失败的扫码。", en: "No failed scans." },
  "today.time": { zh: "时间", en: "Time" },
  "today.badge": { zh: "胸牌码", en: "Badge code" },
  "today.outcome": { zh: "结果", en: "Outcome" },
  "today.kiosk": { zh: "签到台", en: "Kiosk" },
  "today.updated": { zh: "更新于 {time}，每 {seconds} 秒自动刷新", en: "Updated {time}, refreshed every {seconds} s" },
  "today.stale": { zh: "连接中断，显示的是 {time} 的数据", en: "Connection lost; showing data from {time}" },
  "kind.committee": { zh: "技术委员会", en: "Committees" },
  "kind.enterprise": { zh: "企业", en: "Enterprises" },
  "kind.association": { zh: "行业协会", en: "Associations" },
  "kind.institute": { zh: "科研院所", en: "Institutes" },
  "outcome.unknown_badge": { zh: "未知胸牌", en: "Unknown badge" },
  "outcome.event_not_open": { zh: "活动未开放签到", en: "Event not open for check-in" },
  "outcome.checked_in": { zh: "签到成功", en: "Checked in" },
  "outcome.already_checked_in": { zh: "重复签到", en: "Already checked in" },
});

const KINDS = ["committee", "enterprise", "association", "institute"];

function statusTable(status) {
  const row = (key, counts, kindLabel) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, msg("span", key)),
      h("td", { class: "num" }, counts.registered),
      h("td", { class: "num" }, counts.checked_in),
      h("td", { class: "num" }, counts.expected),
      h("td", {}, progressBar(counts.checked_in, counts.registered, label("today.bar", { kind: kindLabel, done: counts.checked_in, all: counts.registered }))),
    );
  return h(
    "table",
    { class: "status" },
    h("caption", {}, msg("span", "today.progress")),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, msg("span", "today.kind")),
        h("th", { scope: "col" }, msg("span", "today.registered")),
        h("th", { scope: "col" }, msg("span", "today.checked_in")),
        h("th", { scope: "col" }, msg("span", "today.expected")),
        h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, label("today.progress"))),
      ),
    ),
    h(
      "tbody",
      {},
      KINDS.filter((k) => status.by_kind[k]).map((k) => row(`kind.${k}`, status.by_kind[k], label(`kind.${k}`))),
    ),
    h("tfoot", {}, row("today.total", status.total, label("today.total"))),
  );
}

function failedTable(scans, ctx) {
  if (!scans.length) return msg("p", "today.failed.none");
  return h(
    "table",
    { class: "failed" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, msg("span", "today.time")),
        h("th", { scope: "col" }, msg("span", "today.badge")),
        h("th", { scope: "col" }, msg("span", "today.outcome")),
        h("th", { scope: "col" }, msg("span", "today.kiosk")),
      ),
    ),
    h(
      "tbody",
      {},
      [...scans].reverse().map((scan) =>
        h(
          "tr",
          {},
          h("td", {}, clock(scan.scanned_at, ctx.event.timezone)),
          h("td", {}, h("code", {}, scan.badge_code)),
          h("td", {}, msg("span", `outcome.${scan.outcome}`)),
          h("td", {}, scan.kiosk_name || "—"),
        ),
      ),
    ),
  );
}

function missingTable(participants) {
  const order = (p) => KINDS.indexOf(p.party.kind);
  const missing = participants
    .filter((p) => !p.checked_in_at)
    .sort((a, b) => order(a) - order(b) || (a.party.designation || a.party.name_zh).localeCompare(b.party.designation || b.party.name_zh, "zh-Hans-CN"));
  if (!missing.length) return [msg("p", "today.missing.none", {}, "ok"), 0];
  const table = h(
    "table",
    { class: "missing" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, msg("span", "today.party")),
        h("th", { scope: "col" }, msg("span", "today.kind")),
        h("th", { scope: "col" }, msg("span", "today.people")),
      ),
    ),
    h(
      "tbody",
      {},
      missing.map((p) =>
        h(
          "tr",
          { dataset: { participant: p.id } },
          h("td", {}, partyLabel(p.party, { short: true })),
          h("td", {}, msg("span", `kind.${p.party.kind}`)),
          h(
            "td",
            {},
            p.people.map((person) =>
              h("div", {}, person.name, person.title ? ` · ${person.title}` : "", person.phone ? h("span", { class: "phone" }, ` ${person.phone}`) : ""),
            ),
          ),
        ),
      ),
    ),
  );
  return [table, missing.length];
}

export function render(ctx, main) {
  const zone = ctx.event.timezone;
  const statusBox = h("section", { class: "panel" }, msg("h2", "today.progress"));
  const chartBox = h("section", { class: "panel" }, msg("h2", "today.arrivals"));
  const failedBox = h("section", { class: "panel" }, msg("h2", "today.failed"));
  const missingBox = h("section", { class: "panel" }, h("h2"));
  const stamp = h("p", { class: "stamp", role: "status" });
  main.append(
    h("h1", {}, both(ctx.event.name_zh, ctx.event.name_en)),
    h("p", { class: "event-line" }, `${ctx.event.date} · ${ctx.event.venue}`),
    stamp,
    h("div", { class: "today-grid" }, statusBox, chartBox),
    failedBox,
    missingBox,
  );
  let timer = null;
  let stopped = false;
  let lastGood = null;

  async function refresh() {
    const params = { event_id: ctx.event.id };
    try {
      const [status, scans, failed, participants] = await Promise.all([
        api("GET", "/v1/events/{event_id}/checkins/status", { params }).then((r) => r.data),
        apiAll("/v1/events/{event_id}/scans", { params, query: { failed: false } }),
        apiAll("/v1/events/{event_id}/scans", { params, query: { failed: true } }),
        apiAll("/v1/events/{event_id}/participants", { params }),
      ]);
      if (stopped) return;
      statusBox.replaceChildren(statusBox.firstChild, statusTable(status));
      const arrivals = scans.filter((s) => s.outcome === "checked_in").map((s) => new Date(s.scanned_at));
      const charted = arrivals.length
        ? [
            arrivalsChart(arrivals, { format: (d) => clock(d.toISOString(), zone), title: label("today.arrivals") }),
            msg("p", "today.arrivals.legend", { minutes: 5 }, "legend"),
          ]
        : [msg("p", "today.arrivals.none")];
      chartBox.replaceChildren(chartBox.firstChild, ...charted);
      failedBox.replaceChildren(failedBox.firstChild, failedTable(failed, ctx));
      const [missing, count] = missingTable(participants);
      missingBox.replaceChildren(msg("h2", "today.missing", { count }), missing);
      lastGood = new Date();
      stamp.className = "stamp";
      stamp.replaceChildren(msg("span", "today.updated", { time: clockSeconds(lastGood, zone), seconds: POLL_MS / 1000 }));
    } catch (error) {
      if (stopped) return;
      stamp.className = "stamp stale";
      stamp.replaceChildren(
        lastGood ? msg("span", "today.stale", { time: clockSeconds(lastGood, zone) }) : "",
        problemBox(error),
      );
    } finally {
      if (!stopped) timer = setTimeout(refresh, POLL_MS);
    }
  }
  refresh();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
