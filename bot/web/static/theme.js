// Telegram's Mini App context without telegram-web-app.js: Telegram passes the signed
// initData and the theme in the page's hash (#tgWebAppData=...&tgWebAppThemeParams=...);
// inside the Telegram app window.Telegram.WebApp has them too, when its script is present.
"use strict";
window.miniApp = (() => {
  const hash = new URLSearchParams(location.hash.slice(1));
  const app = window.Telegram && window.Telegram.WebApp;
  let theme = (app && app.themeParams) || {};
  if (!Object.keys(theme).length && hash.get("tgWebAppThemeParams")) {
    try { theme = JSON.parse(hash.get("tgWebAppThemeParams")); } catch (e) { theme = {}; }
  }
  const vars = {
    bg_color: "--bg", text_color: "--text", hint_color: "--hint", link_color: "--link",
    button_color: "--button", button_text_color: "--button-text",
    secondary_bg_color: "--secondary-bg",
  };
  for (const [key, name] of Object.entries(vars)) {
    if (typeof theme[key] === "string" && /^#[0-9a-fA-F]{3,8}$/.test(theme[key])) {
      document.documentElement.style.setProperty(name, theme[key]);
    }
  }
  if (app && app.ready) { app.ready(); if (app.expand) app.expand(); }
  return { initData: (app && app.initData) || hash.get("tgWebAppData") || "" };
})();
