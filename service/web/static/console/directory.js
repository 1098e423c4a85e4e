// Directory: search committees and organizations, a party's page with its recommendations and
// why, and roster imports (Excel or CSV) with every bad row shown beside its line number.
import { api } from "/static/common/api.js";
import { register } from "/static/common/i18n.js";
import { h, label, msg, partyLabel, problemBox } from "/static/console/view.js";

const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

register({
  "directory.title": { zh: "名录", en: "Directory" },
  "directory.search": { zh: "搜索委员会或单位", en: "Search committees or organizations" },
  "directory.search.button": { zh: "搜索", en: "Search" },
  "directory.committees": { zh: "技术委员会", en: "Committees" },
  "directory.organizations": { zh: "企业、协会与院所", en: "Enterprises, associations and institutes" },
  "directory.none": { zh: "没有找到。", en: "Nothing found." },
  "directory.back": { zh: "返回名录", en: "Back to the directory" },
  "directory.recommendations": { zh: "推荐对接对象", en: "Recommended counterparts" },
  "directory.score": { zh: "匹配度", en: "Score" },
  "directory.counterpart": { zh: "对象", en: "Counterpart" },
  "directory.why": { zh: "理由（领域对应及占比）", en: "Why (domain pairs and their share)" },
  "directory.needs": { zh: "需求", en: "Needs" },
  "directory.scope": { zh: "工作范围", en: "Scope" },
  "directory.domains": { zh: "领域", en: "Domains" },
  "relation.exact": { zh: "相同", en: "same" },
  "relation.parent_child": { zh: "上下位", en: "parent and child" },
  "relation.grandparent": { zh: "隔代上下位", en: "two levels apart" },
  "relation.sibling": { zh: "同属一类", en: "siblings" },
  "relation.text": { zh: "文字相近（工作范围与需求）", en: "shared words (scope and needs)" },
  "import.title": { zh: "导入名单（Excel 或 CSV）", en: "Import a roster (Excel or CSV)" },
  "import.target": { zh: "导入到", en: "Import into" },
  "import.target.organizations": { zh: "单位名录", en: "Organizations" },
  "import.target.committees": { zh: "委员会名录", en: "Committees" },
  "import.target.participants": { zh: "本活动参会名单", en: "This event's participants" },
  "import.file": { zh: "文件", en: "File" },
  "import.submit": { zh: "导入", en: "Import" },
  "import.working": { zh: "正在导入…", en: "Importing…" },
  "import.done": { zh: "导入完成：新增 {created}，更新 {updated}。", en: "Imported: {created} created, {updated} updated." },
  "import.bad": {
    zh: "有 {count} 处错误，整个文件都没有导入。请改正后重新导入：",
    en: "{count} problems: nothing was imported. Fix them and import again:",
  },
  "import.row": { zh: "行号", en: "Row" },
  "import.field": { zh: "列", en: "Column" },
  "import.message": { zh: "问题", en: "Problem" },
  "import.row.n": { zh: "第 {n} 行", en: "row {n}" },
});

function contentType(file) {
  const name = file.name.toLowerCase();
  if (name.endsWith(".xlsx")) return XLSX;
  if (name.endsWith(".csv")) return "text/csv";
  return file.type || "application/octet-stream";
}

function importForm(ctx) {
  const target = h(
    "select",
    { id: "import-target" },
    ["participants", "organizations", "committees"].map((t) => h("option", { value: t }, label(`import.target.${t}`))),
  );
  const file = h("input", { type: "file", id: "import-file", accept: ".xlsx,.csv", required: true });
  const result = h("div", { class: "import-result", "aria-live": "polite" });
  const submit = async (e) => {
    e.preventDefault();
    const chosen = file.files[0];
    if (!chosen) return;
    result.replaceChildren(msg("p", "import.working"));
    const request = {
      body: chosen,
      headers: { "Content-Type": contentType(chosen) },
      timeout: 120000,
    };
    try {
      let response;
      if (target.value === "participants") {
        response = await api("POST", "/v1/events/{event_id}/participants:import", { ...request, params: { event_id: ctx.event.id } });
        ctx.participants = null;
      } else if (target.value === "organizations") {
        response = await api("POST", "/v1/organizations:import", request);
      } else {
        response = await api("POST", "/v1/committees:import", request);
      }
      result.replaceChildren(msg("p", "import.done", response.data, "ok"));
    } catch (error) {
      const rows = error.problem && Array.isArray(error.problem.errors) ? error.problem.errors : [];
      if (error.status === 422 && rows.length && rows.some((r) => "row" in r)) {
        result.replaceChildren(badRows(rows));
      } else {
        result.replaceChildren(problemBox(error));
      }
    }
  };
  return h(
    "form",
    { class: "import", onsubmit: submit },
    h(
      "div",
      { class: "fields" },
      h("label", { for: "import-target" }, msg("span", "import.target")),
      target,
      h("label", { for: "import-file" }, msg("span", "import.file")),
      file,
      h("button", { type: "submit", class: "primary", id: "import-submit" }, msg("span", "import.submit")),
    ),
    result,
  );
}

/** The import's refusal: each bad row by its number as the spreadsheet shows it. */
function badRows(rows) {
  const sorted = [...rows].sort((a, b) => (a.row ?? 0) - (b.row ?? 0));
  return h(
    "div",
    { class: "problem", role: "alert" },
    msg("p", "import.bad", { count: rows.length }),
    h(
      "table",
      { class: "bad-rows" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, msg("span", "import.row")),
          h("th", { scope: "col" }, msg("span", "import.field")),
          h("th", { scope: "col" }, msg("span", "import.message")),
        ),
      ),
      h(
        "tbody",
        {},
        sorted.map((r) =>
          h(
            "tr",
            { dataset: { row: r.row } },
            h("th", { scope: "row" }, msg("span", "import.row.n", { n: r.row })),
            h("td", {}, h("code", {}, r.field || "")),
            h("td", {}, r.message || ""),
          ),
        ),
      ),
    ),
  );
}

function results(kind, items) {
  if (!items.length) return msg("p", "directory.none");
  return h(
    "ul",
    { class: "results" },
    items.map((item) =>
      h("li", {}, h("a", { href: `#directory/${kind}/${item.id}` }, partyLabel(item))),
    ),
  );
}

function searchScreen(ctx, main) {
  const input = h("input", { type: "search", id: "directory-q", name: "q" });
  const found = h("div", { class: "found" });
  const run = async (e) => {
    if (e) e.preventDefault();
    const query = { q: input.value.trim() || undefined, limit: 50 };
    try {
      const [committees, organizations] = await Promise.all([
        api("GET", "/v1/committees", { query }),
        api("GET", "/v1/organizations", { query }),
      ]);
      found.replaceChildren(
        h("section", { class: "panel" }, msg("h2", "directory.committees"), results("committee", committees.data.items)),
        h("section", { class: "panel" }, msg("h2", "directory.organizations"), results("organization", organizations.data.items)),
      );
    } catch (error) {
      found.replaceChildren(problemBox(error));
    }
  };
  main.append(
    msg("h1", "directory.title"),
    h(
      "form",
      { class: "search", role: "search", onsubmit: run },
      h("label", { for: "directory-q" }, msg("span", "directory.search")),
      input,
      h("button", { type: "submit", class: "primary" }, msg("span", "directory.search.button")),
    ),
    found,
    h("section", { class: "panel" }, msg("h2", "import.title"), importForm(ctx)),
  );
  run();
}

function reasonText(reason) {
  if (!reason.organization_domain || !reason.committee_domain) {
    return `${label("relation.text")} ${reason.share}`;
  }
  const a = reason.organization_domain;
  const b = reason.committee_domain;
  const relation = label(`relation.${reason.relation}`);
  return `${a.name_zh_hans} ↔ ${b.name_zh_hans} (${a.name_en} ↔ ${b.name_en}, ${relation}) +${reason.share}`;
}

async function partyScreen(ctx, main, kind, id) {
  main.append(h("p", {}, h("a", { href: "#directory" }, msg("span", "directory.back"))));
  try {
    const query = { limit: 10 };
    const [party, recs] = await Promise.all(
      kind === "committee"
        ? [
            api("GET", "/v1/committees/{committee_id}", { params: { committee_id: id } }),
            api("GET", "/v1/committees/{committee_id}/recommendations", {
              params: { committee_id: id },
              query,
            }),
          ]
        : [
            api("GET", "/v1/organizations/{organization_id}", { params: { organization_id: id } }),
            api("GET", "/v1/organizations/{organization_id}/recommendations", {
              params: { organization_id: id },
              query,
            }),
          ],
    ).then((answers) => answers.map((r) => r.data));
    const other = kind === "committee" ? "organization" : "committee";
    main.append(
      h("h1", {}, partyLabel(party)),
      h(
        "dl",
        { class: "party-facts" },
        h("dt", {}, msg("span", kind === "committee" ? "directory.scope" : "directory.needs")),
        h("dd", {}, (kind === "committee" ? party.scope : party.needs) || "—"),
        h("dt", {}, msg("span", "directory.domains")),
        h("dd", {}, party.domains.map((d) => `${d.domain} ${d.weight}`).join("; ") || "—"),
      ),
      h(
        "section",
        { class: "panel" },
        msg("h2", "directory.recommendations"),
        h(
          "table",
          { class: "recommendations" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "col" }, msg("span", "directory.score")),
              h("th", { scope: "col" }, msg("span", "directory.counterpart")),
              h("th", { scope: "col" }, msg("span", "directory.why")),
            ),
          ),
          h(
            "tbody",
            {},
            recs.items.map((r) =>
              h(
                "tr",
                {},
                h("td", { class: "num" }, r.score.toFixed(1)),
                h("td", {}, h("a", { href: `#directory/${other}/${r[other].id}` }, partyLabel(r[other]))),
                h("td", {}, h("ul", { class: "reasons" }, r.reasons.map((x) => h("li", {}, reasonText(x))))),
              ),
            ),
          ),
        ),
      ),
    );
  } catch (error) {
    main.append(problemBox(error));
  }
}

export function render(ctx, main, path) {
  const [kind, id] = path;
  if ((kind === "committee" || kind === "organization") && id) partyScreen(ctx, main, kind, id);
  else searchScreen(ctx, main);
  return null;
}

