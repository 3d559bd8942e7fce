// The coordinator's dashboard. Every call carries Telegram's initData; the server decides
// what this member may see. Member-supplied text is only ever set as textContent.
"use strict";
(() => {
  const TOTALS = [
    ["asked", "tot.asked"], ["covered", "tot.covered"], ["done", "tot.done"],
    ["lapsed", "tot.lapsed"], ["disputed", "tot.disputed"], ["minutes", "tot.hours"],
    ["active_volunteers", "tot.volunteers"], ["active_residents", "tot.residents"],
    ["new_members", "tot.new"],
  ];
  const REFRESH_MS = 30000;
  let texts = {};
  let language = "en";
  let period = { period: "month" };
  let chart = null;
  let refresh = null;

  const $ = (selector) => document.querySelector(selector);
  const t = (key) => texts[key] || key;

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function hours(minutes) {
    const h = Math.floor(minutes / 60), m = minutes % 60;
    return m ? `${h} ${t("unit.h")} ${m} ${t("unit.min")}` : `${h} ${t("unit.h")}`;
  }

  function showError(key) {
    const box = $("#error");
    box.textContent = t(key);
    box.hidden = false;
  }

  async function api(path, params = {}) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    const response = await fetch(url, {
      headers: { Authorization: "tma " + window.miniApp.initData },
      cache: "no-store",
    });
    if (response.status === 401) { showError("err.auth"); throw new Error("401"); }
    if (response.status === 403) { showError("err.forbidden"); throw new Error("403"); }
    if (!response.ok) { showError("err.load"); throw new Error(String(response.status)); }
    $("#error").hidden = true;
    return response;
  }

  async function send(path, body) {
    const response = await fetch(new URL(path, location.origin), {
      method: "POST",
      headers: { Authorization: "tma " + window.miniApp.initData, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (response.status === 401) { showError("err.auth"); throw new Error("401"); }
    if (response.status === 403) { showError("err.forbidden"); throw new Error("403"); }
    return response;
  }

  function button(text, onClick, className = "secondary") {
    const node = el("button", text, className);
    node.type = "button";
    node.addEventListener("click", () => { node.disabled = true; onClick().catch(() => {}).finally(() => { node.disabled = false; }); });
    return node;
  }

  function translatePage() {
    document.documentElement.lang = language.replace("_", "-");
    document.title = t("title");
    for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
    for (const node of document.querySelectorAll("[data-t-placeholder]")) {
      node.placeholder = t(node.dataset.tPlaceholder);
    }
  }

  function renderTotals(data) {
    const tiles = $("#tiles");
    tiles.replaceChildren();
    const values = { ...data.totals, ...data };
    for (const [key, label] of TOTALS) {
      const tile = el("div", null, "tile");
      tile.dataset.total = key;
      const value = key === "minutes" ? hours(values.minutes) : values[key];
      tile.append(el("strong", value, "value"), el("span", t(label), "label"));
      tiles.append(tile);
    }
    const { first, last } = data.period;
    $("#shown").textContent = `${first} – ${last}`;
  }

  function renderTable(table, rows, nameOf) {
    table.replaceChildren();
    const head = el("tr");
    for (const key of ["", "col.asked", "col.done", "col.hours"]) head.append(el("th", key ? t(key) : ""));
    table.append(el("thead"));
    table.firstChild.append(head);
    const body = el("tbody");
    for (const row of rows) {
      const tr = el("tr");
      tr.append(el("th", nameOf(row)), el("td", row.asked), el("td", row.done), el("td", hours(row.minutes)));
      body.append(tr);
    }
    table.append(body);
  }

  function renderChart(weeks) {
    const style = getComputedStyle(document.documentElement);
    const colour = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
    const labels = weeks.map((w) => w.week.slice(5));
    const data = {
      labels,
      datasets: [
        { type: "bar", label: t("col.asked"), data: weeks.map((w) => w.asked),
          backgroundColor: colour("--hint", "#999"), yAxisID: "y" },
        { type: "bar", label: t("col.done"), data: weeks.map((w) => w.done),
          backgroundColor: colour("--button", "#2481cc"), yAxisID: "y" },
        { type: "line", label: t("col.hours"), data: weeks.map((w) => Math.round(w.minutes / 6) / 10),
          borderColor: colour("--link", "#168acd"), yAxisID: "h" },
      ],
    };
    if (!window.Chart) return;
    if (chart) { chart.data = data; chart.update(); return; }
    chart = new window.Chart($("#weeks"), {
      data,
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        color: colour("--text", "#000"),
        scales: { y: { beginAtZero: true, position: "left" },
                  h: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false } } },
        plugins: { legend: { labels: { font: { size: 14 } } } },
      },
    });
  }

  async function loadFigures() {
    const data = await (await api("/dashboard/api/figures", period)).json();
    renderTotals(data);
    renderChart(data.by_week);
    renderTable($("#categories"), data.by_category, (row) => row.name);
    renderTable($("#areas"), data.by_neighbourhood, (row) => row.name || t("area.none"));
  }

  async function loadNeeds() {
    const data = await (await api("/dashboard/api/needs")).json();
    const table = $("#needs");
    table.replaceChildren();
    const head = el("tr");
    for (const key of ["", "col.open", "col.planned", "col.done", "col.trend"]) head.append(el("th", key ? t(key) : ""));
    const thead = el("thead");
    thead.append(head);
    const body = el("tbody");
    for (const row of data.categories) {
      const tr = el("tr");
      const trend = row.last_days > row.days_before ? "↑" : row.last_days < row.days_before ? "↓" : "";
      tr.append(el("th", row.name), el("td", row.open), el("td", row.planned), el("td", row.done),
                el("td", `${row.last_days} ${trend}`.trim()));
      body.append(tr);
    }
    table.append(thead, body);
  }

  let boardList = "waiting";

  async function act(body, note) {
    const response = await send("/dashboard/api/board", body);
    note.textContent = t(response.ok ? (body.action === "ask" ? "act.asked" : "act.done") : "act.failed");
    if (body.action !== "ask") await loadBoard(boardList);
  }

  async function findSomeone(row, li, note) {
    const people = await (await api("/dashboard/api/candidates", { order: row.order_id })).json();
    const ul = el("ul", null, "rows");
    for (const person of people.slice(0, 10)) {
      const item = el("li");
      item.append(el("span", `${person.fits ? "✅" : "▫️"} ${person.name} · ${(person.distance_m / 1000).toFixed(1)} km`));
      item.append(button(t("act.ask"), () => act({ action: "ask", order_id: row.order_id, volunteer_id: person.member_id }, note)));
      ul.append(item);
    }
    if (!people.length) ul.append(el("li", t("members.none"), "hint"));
    li.append(ul);
  }

  function boardActions(row, li) {
    const note = el("span", "", "hint");
    note.setAttribute("aria-live", "polite");
    const actions = el("div", null, "actions");
    if (boardList === "waiting" || boardList === "open") {
      actions.append(button(t("act.find"), () => findSomeone(row, li, note)));
    } else if (boardList === "sponsorship") {
      actions.append(button(t("act.pool"), () => act({ action: "sponsor", order_id: row.order_id }, note)));
    } else {
      const minutes = row.actual_minutes || row.estimated_minutes;
      actions.append(button(`${t("act.confirm")} ${hours(minutes)}`, () => act({ action: "credit", order_id: row.order_id, minutes }, note)));
      actions.append(button(t("act.nocredit"), () => act({ action: "no_credit", order_id: row.order_id }, note)));
    }
    li.append(actions, note);
  }

  async function loadBoard(list) {
    boardList = list;
    const rows = await (await api("/dashboard/api/board", { list })).json();
    const ul = $("#board");
    ul.replaceChildren();
    if (!rows.length) ul.append(el("li", t("board.empty"), "hint"));
    for (const row of rows) {
      const li = el("li");
      li.append(el("strong", `#${row.order_id} ${row.category}`));
      li.append(el("span", `${t("board.for")}: ${row.beneficiary}${row.area ? " · " + row.area : ""}`));
      if (row.volunteer) li.append(el("span", `${t("board.volunteer")}: ${row.volunteer}`));
      if (row.description) li.append(el("span", row.description, "hint"));
      li.append(el("span", `${row.created_at.slice(0, 16).replace("T", " ")} · ${hours(row.estimated_minutes)}`, "hint"));
      boardActions(row, li);
      ul.append(li);
    }
  }

  function adjustForm(m, li) {
    const form = el("form", null, "adjust");
    const key = (crypto.randomUUID && crypto.randomUUID()) || String(Date.now()) + Math.random().toString(16).slice(2);
    const minutes = el("input");
    Object.assign(minutes, { type: "number", step: "1", required: true, name: "minutes", placeholder: t("adjust.minutes") });
    const reason = el("input");
    Object.assign(reason, { type: "text", maxLength: 200, required: true, name: "reason", placeholder: t("adjust.reason") });
    const save = el("button", t("adjust.save"));
    save.type = "submit";
    const note = el("span", "", "hint");
    form.append(minutes, reason, save, note);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = { minutes: Number.parseInt(minutes.value, 10), reason: reason.value, key };
      send(`/dashboard/api/members/${m.member_id}/adjust`, body)
        .then((response) => { note.textContent = t(response.ok ? "adjust.saved" : "act.failed"); })
        .catch(() => {});
    });
    li.append(form);
  }

  function memberActions(m, li) {
    const actions = el("div", null, "actions");
    const shown = el("span", "", "hint");
    actions.append(button(t("members.address"), async () => {
      const { address } = await (await api(`/dashboard/api/members/${m.member_id}/address`)).json();
      shown.textContent = address || t("members.noaddress");
    }));
    if (m.is_volunteer && !m.verified) {
      actions.append(button(t("members.verify"), async () => {
        const response = await send(`/dashboard/api/members/${m.member_id}/verify`, {});
        shown.textContent = t(response.ok ? "members.verified" : "act.failed");
      }));
    }
    actions.append(button(t("members.adjust"), async () => { if (!li.querySelector("form")) adjustForm(m, li); }));
    li.append(actions, shown);
  }

  async function search(q) {
    const rows = await (await api("/dashboard/api/members", { q })).json();
    const ul = $("#members");
    ul.replaceChildren();
    if (!rows.length) ul.append(el("li", t("members.none"), "hint"));
    for (const m of rows) {
      const li = el("li");
      const roles = [
        m.is_resident && t("role.resident"), m.is_volunteer && t("role.volunteer"),
        m.is_coordinator && t("role.coordinator"),
      ].filter(Boolean).join(" · ");
      li.append(el("strong", m.name));
      li.append(el("span", `${roles} · ${m.verified ? t("members.verified") : t("members.unverified")}`));
      if (m.phone_end) li.append(el("span", `${t("members.phone")}: ${m.phone_end}`, "hint"));
      li.append(el("span", `${t("members.balance")}: ${hours(m.balance || 0)} · ${t("members.open")}: ${m.open_requests}`));
      memberActions(m, li);
      ul.append(li);
    }
  }

  async function download(kind, format) {
    const response = await api("/dashboard/api/export", { ...period, kind, format });
    await save(response, `${kind}.${format}`);
  }

  async function save(response, fallback) {
    const blob = await response.blob();
    const name = (response.headers.get("Content-Disposition") || "").match(/filename="([^"]+)"/);
    const link = el("a");
    link.href = URL.createObjectURL(blob);
    link.download = name ? name[1] : fallback;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  function renderExports() {
    const box = $("#exports");
    box.replaceChildren();
    for (const kind of ["orders", "postings", "members", "needs"]) {
      const row = el("div", null, "export");
      row.append(el("span", t(`export.${kind}`)));
      for (const format of ["csv", "xlsx"]) {
        const button = el("button", t(`export.${format}`), "secondary");
        button.type = "button";
        button.dataset.export = `${kind}.${format}`;
        button.addEventListener("click", () => download(kind, format).catch(() => {}));
        row.append(button);
      }
      box.append(row);
    }
    const report = el("div", null, "export");
    report.append(el("span", t("report.title")));
    const month = el("input");
    Object.assign(month, { type: "month", name: "month", value: new Date().toISOString().slice(0, 7) });
    report.append(month, button(t("report.get"), async () => {
      const response = await api("/dashboard/api/report", month.value ? { month: month.value } : {});
      save(response, `report-${month.value}.pdf`);
    }));
    box.append(report);
  }

  async function screenAddress(method) {
    const response = method === "POST"
      ? await fetch("/dashboard/api/screen", { method, headers: { Authorization: "tma " + window.miniApp.initData } })
      : await api("/dashboard/api/screen");
    if (!response.ok) return;
    const { path } = await response.json();
    $("#screen-link").href = `${path}?lang=${encodeURIComponent(language)}`;
  }

  function press(group, button) {
    for (const b of group.querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
  }

  function wire() {
    $("#periods").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-period]");
      if (!button) return;
      press($("#periods"), button);
      const custom = button.dataset.period === "custom";
      $("#custom").hidden = !custom;
      if (!custom) { period = { period: button.dataset.period }; loadFigures().catch(() => {}); }
    });
    $("#custom").addEventListener("submit", (event) => {
      event.preventDefault();
      const form = new FormData(event.target);
      period = { period: "custom", from: form.get("from"), to: form.get("to") };
      loadFigures().catch(() => {});
    });
    $("#lists").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-list]");
      if (!button) return;
      press($("#lists"), button);
      loadBoard(button.dataset.list).catch(() => {});
    });
    $("#search").addEventListener("submit", (event) => {
      event.preventDefault();
      search(new FormData(event.target).get("q")).catch(() => {});
    });
    $("#screen-rotate").addEventListener("click", () => screenAddress("POST").catch(() => {}));
  }

  async function start() {
    const allTexts = await (await fetch("/dashboard/static/i18n.json")).json();
    texts = allTexts.en;
    try {
      const me = await (await api("/dashboard/api/me")).json();
      language = me.language in allTexts ? me.language : "en";
      texts = allTexts[language];
      translatePage();
      $("#branch").textContent = me.branch.name;
    } catch (e) {
      translatePage();
      return;
    }
    wire();
    renderExports();
    document.body.dataset.ready = "true";
    await Promise.all([loadFigures(), loadNeeds(), loadBoard("waiting"), screenAddress("GET")])
      .catch(() => {});
    refresh = setInterval(() => loadFigures().catch(() => {}), REFRESH_MS);
  }

  document.addEventListener("DOMContentLoaded", () => { start(); });
  window.addEventListener("beforeunload", () => clearInterval(refresh));
})();
