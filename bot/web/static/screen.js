// The public live screen: aggregates only, refreshed every 30 seconds; names through textContent.
"use strict";
(() => {
  const REFRESH_MS = 30000;
  const lang = new URLSearchParams(location.search).get("lang") || "";
  let texts = {};
  const $ = (id) => document.getElementById(id);

  async function refresh() {
    const response = await fetch(`${location.pathname}/figures?lang=${encodeURIComponent(lang)}`,
                                 { cache: "no-store" });
    if (!response.ok) return;
    const data = await response.json();
    $("branch").textContent = data.branch;
    $("hours").textContent = String(Math.floor(data.minutes / 60));
    $("done").textContent = String(data.done);
    $("volunteers").textContent = String(data.volunteers);
    $("ticker").textContent = data.thanks.join(" · ");
    document.body.dataset.ready = "true";
  }

  async function start() {
    const all = await (await fetch("/dashboard/static/i18n.json")).json();
    texts = all[lang] || all.en;
    document.documentElement.lang = (all[lang] ? lang : "en").replace("_", "-");
    for (const node of document.querySelectorAll("[data-t]")) node.textContent = texts[node.dataset.t];
    await refresh().catch(() => {});
    setInterval(() => refresh().catch(() => {}), REFRESH_MS);
  }
  document.addEventListener("DOMContentLoaded", start);
})();
