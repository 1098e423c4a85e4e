// Agreements: the cooperation intents and memoranda of the event with their states and every
// transition, and the event report (a printable page with charts) opened without typing a key.
import { api, apiAll } from "/static/common/api.js";
import { register } from "/static/common/i18n.js";
import { reportHtml, showHtml } from "/static/console/print.js";
import { both, clock, h, label, msg, problemBox } from "/static/console/view.js";

register({
  "agreements.title": { zh: "合作成果", en: "Agreements" },
  "agreements.report": { zh: "打开活动报告（含图表）", en: "Open the event report (with charts)" },
  "agreements.intents": { zh: "合作意向", en: "Cooperation intents" },
  "agreements.memoranda": { zh: "合作备忘录", en: "Memoranda of understanding" },
  "agreements.none": { zh: "暂无。", en: "None yet." },
  "agreements.parties": { zh: "双方", en: "Parties" },
  "agreements.summary": { zh: "内容", en: "Summary" },
  "agreements.state": { zh: "状态", en: "State" },
  "agreements.history": { zh: "历程", en: "History" },
  "agreements.show_history": { zh: "查看历程", en: "Show history" },
  "agreements.blocked": {
    zh: "浏览器拦截了新窗口，请允许本站弹出窗口。",
    en: "The browser blocked the new window; allow pop-ups for this site.",
  },
  "state.proposed": { zh: "已提出", en: "Proposed" },
  "state.confirmed": { zh: "已确认", en: "Confirmed" },
  "state.in_progress": { zh: "推进中", en: "In progress" },
  "state.fulfilled": { zh: "已完成", en: "Fulfilled" },
  "state.withdrawn": { zh: "已撤回", en: "Withdrawn" },
  "state.draft": { zh: "草拟", en: "Draft" },
  "state.signed": { zh: "已签署", en: "Signed" },
  "state.active": { zh: "生效中", en: "Active" },
  "state.expired": { zh: "已到期", en: "Expired" },
  "state.terminated": { zh: "已终止", en: "Terminated" },
});

function stateBadge(state) {
  return msg("span", `state.${state}`, {}, `state state-${state}`);
}

function historyList(entries, timeZone) {
  return h(
    "ol",
    { class: "history" },
    entries.map((t) =>
      h(
        "li",
        {},
        `${t.at.slice(0, 10)} ${clock(t.at, timeZone)} `,
        t.from_state ? [stateBadge(t.from_state), " → "] : null,
        stateBadge(t.to_state),
        t.actor && t.actor.name ? ` · ${t.actor.name}` : "",
        t.note ? ` · ${t.note}` : "",
      ),
    ),
  );
}

/** load: () => the history page, a literal call the contract test can check. */
function historyButton(load, timeZone) {
  const holder = h("div", { class: "history-holder" });
  const button = h(
    "button",
    {
      type: "button",
      class: "small",
      "aria-expanded": "false",
      onclick: async () => {
        if (button.getAttribute("aria-expanded") === "true") {
          holder.replaceChildren();
          button.setAttribute("aria-expanded", "false");
          return;
        }
        try {
          const { data } = await load();
          holder.replaceChildren(historyList(data.items ?? data, timeZone));
          button.setAttribute("aria-expanded", "true");
        } catch (error) {
          holder.replaceChildren(problemBox(error));
        }
      },
    },
    msg("span", "agreements.show_history"),
  );
  return [button, holder];
}

function table(headKeys, rows) {
  return h(
    "table",
    { class: "agreements" },
    h("thead", {}, h("tr", {}, headKeys.map((k) => h("th", { scope: "col" }, msg("span", k))))),
    h("tbody", {}, rows),
  );
}

export function render(ctx, main) {
  const event = ctx.event;
  const zone = event.timezone;
  const reportStatus = h("div", { role: "status" });
  const openReport = async () => {
    const win = window.open("", "_blank");
    try {
      showHtml(await reportHtml(event.id), win);
      reportStatus.replaceChildren();
    } catch (error) {
      if (win) win.close();
      reportStatus.replaceChildren(error.message === "popup_blocked" ? msg("p", "agreements.blocked") : problemBox(error));
    }
  };
  const intentsBox = h("section", { class: "panel" }, msg("h2", "agreements.intents"));
  const memorandaBox = h("section", { class: "panel" }, msg("h2", "agreements.memoranda"));
  main.append(
    msg("h1", "agreements.title"),
    h("div", { class: "actions" }, h("button", { type: "button", class: "primary", id: "open-report", onclick: openReport }, msg("span", "agreements.report"))),
    reportStatus,
    intentsBox,
    memorandaBox,
  );

  (async () => {
    const [intents, memoranda, participants] = await Promise.all([
      apiAll("/v1/intents", { query: { event_id: event.id } }),
      apiAll("/v1/memoranda"),
      ctx.loadParticipants(),
    ]);
    // Names of the parties from the event's registrations (committee or organization id → party).
    const parties = new Map([...participants.values()].map((p) => [p.party.id, p.party]));
    const name = (id) => {
      const p = parties.get(id);
      return p ? p.designation || p.name_zh : id.slice(0, 8);
    };
    intentsBox.append(
      intents.length
        ? table(
            ["agreements.parties", "agreements.summary", "agreements.state", "agreements.history"],
            intents.map((i) =>
              h(
                "tr",
                {},
                h("td", {}, `${name(i.committee_id)} × ${name(i.organization_id)}`),
                h("td", {}, i.summary),
                h("td", {}, stateBadge(i.state)),
                h("td", {}, historyButton(
                    () => api("GET", "/v1/intents/{intent_id}/history", { params: { intent_id: i.id } }),
                    zone,
                  )),
              ),
            ),
          )
        : msg("p", "agreements.none"),
    );
    const ofEvent = memoranda.filter((m) => !m.event_id || m.event_id === event.id);
    memorandaBox.append(
      ofEvent.length
        ? table(
            ["agreements.summary", "agreements.parties", "agreements.state", "agreements.history"],
            ofEvent.map((m) =>
              h(
                "tr",
                {},
                h("td", {}, both(m.title, m.title_en)),
                h("td", {}, [...m.committee_ids, ...m.organization_ids].map(name).join("、")),
                h("td", {}, stateBadge(m.state), m.signed_on ? ` ${m.signed_on}` : ""),
                h("td", {}, historyButton(
                    () =>
                      api("GET", "/v1/memoranda/{memorandum_id}/history", {
                        params: { memorandum_id: m.id },
                      }),
                    zone,
                  )),
              ),
            ),
          )
        : msg("p", "agreements.none"),
    );
  })().catch((error) => main.append(problemBox(error)));
  return null;
}
