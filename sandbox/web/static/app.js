/* Sandbox web chat: several personas talk to the bot side by side through the control API.
 *
 * Safety: every user or bot text is inserted with textContent / text nodes. Bot messages sent
 * with parse_mode HTML are parsed by an inert DOMParser and copied through a whitelist of
 * Telegram's tags (b, i, u, s, code, pre, blockquote, spoiler, a with http/https/tg links).
 */
"use strict";

(() => {
  const ROLE_COLORS = {
    resident: "#d9822b",
    volunteer: "#2e9e5b",
    coordinator: "#6a4fb3",
  };
  const SAFE_URL = /^(https?:\/\/|tg:\/\/)/i;
  const state = {
    panes: new Map(), seq: 0, bot: null, languages: [], polling: false, guide: null,
  };
  const words = window.pageLanguage;
  const T = words.text;

  // ---------------------------------------------------------------- helpers
  async function api(method, path, body) {
    const options = { method, headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    let data;
    try {
      data = await response.json();
    } catch (error) {
      throw new Error(`${response.status} ${response.statusText}`);
    }
    if (!data.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function langTag(code) {
    if (!code) return "en";
    const [base, script] = String(code).split(/[-_]/);
    if (script && script.length === 4) {
      return `${base.toLowerCase()}-${script[0].toUpperCase()}${script.slice(1).toLowerCase()}`;
    }
    return String(code);
  }

  /** Put the page's words into a part of it: data-i18n is the text, data-i18n-label the
   * title and accessible name. */
  function translate(root) {
    for (const node of root.querySelectorAll("[data-i18n]")) {
      node.textContent = T(node.dataset.i18n);
    }
    for (const node of root.querySelectorAll("[data-i18n-label]")) {
      const label = T(node.dataset.i18nLabel);
      if (node.title) node.title = label;
      node.setAttribute("aria-label", label);
    }
  }

  function formatTime(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function formatDuration(seconds) {
    const s = Math.max(0, seconds | 0);
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }

  function safeLink(href, children) {
    const url = String(href || "").trim();
    if (!SAFE_URL.test(url)) return null;
    const link = document.createElement("a");
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    if (children) link.appendChild(children);
    return link;
  }

  function spoiler() {
    const node = el("span", "spoiler");
    node.title = T("spoiler");
    node.addEventListener("click", () => node.classList.add("revealed"));
    return node;
  }

  // ---------------------------------------------------------------- rich text
  const HTML_TAGS = {
    b: "b", strong: "b", i: "i", em: "i", u: "u", ins: "u", s: "s", strike: "s", del: "s",
    code: "code", pre: "pre", blockquote: "blockquote", a: "a", span: "spoiler",
    "tg-spoiler": "spoiler", "tg-emoji": "emoji",
  };

  const DROP_WITH_CONTENT = new Set(["script", "style", "template", "noscript", "iframe",
    "object", "embed", "svg", "math", "textarea", "title"]);

  /** Telegram-HTML to DOM through a whitelist (the parser's document is inert). */
  function renderHtml(source) {
    const doc = new DOMParser().parseFromString(String(source), "text/html");
    const fragment = document.createDocumentFragment();
    copyAllowed(doc.body, fragment);
    return fragment;
  }

  function copyAllowed(from, to) {
    for (const node of Array.from(from.childNodes)) {
      if (node.nodeType === Node.TEXT_NODE) {
        to.appendChild(document.createTextNode(node.nodeValue));
        continue;
      }
      if (node.nodeType !== Node.ELEMENT_NODE) continue;
      const tag = node.tagName.toLowerCase();
      if (DROP_WITH_CONTENT.has(tag)) continue;
      const kind = HTML_TAGS[tag];
      let target = null;
      if (kind === "a") {
        target = safeLink(node.getAttribute("href"));
      } else if (kind === "spoiler") {
        if (tag === "tg-spoiler" || node.getAttribute("class") === "tg-spoiler") target = spoiler();
      } else if (kind === "emoji") {
        target = el("span", "custom-emoji");
      } else if (kind) {
        target = document.createElement(kind);
      }
      if (target) {
        copyAllowed(node, target);
        to.appendChild(target);
      } else {
        copyAllowed(node, to); // drop the tag, keep its text
      }
    }
  }

  function wrapEntity(node, entity, text) {
    let wrapper;
    switch (entity.type) {
      case "bold": wrapper = document.createElement("b"); break;
      case "italic": wrapper = document.createElement("i"); break;
      case "underline": wrapper = document.createElement("u"); break;
      case "strikethrough": wrapper = document.createElement("s"); break;
      case "code": wrapper = document.createElement("code"); break;
      case "pre": wrapper = document.createElement("pre"); break;
      case "blockquote":
      case "expandable_blockquote": wrapper = document.createElement("blockquote"); break;
      case "spoiler": wrapper = spoiler(); break;
      case "text_link": wrapper = safeLink(entity.url); break;
      case "url": {
        const raw = text.slice(entity.offset, entity.offset + entity.length);
        wrapper = safeLink(/^www\./i.test(raw) ? `http://${raw}` : raw);
        break;
      }
      default: wrapper = null;
    }
    if (!wrapper) return node;
    wrapper.appendChild(node);
    return wrapper;
  }

  /** Plain text plus entities (UTF-16 offsets, as JavaScript strings count). */
  function renderEntities(text, entities) {
    const fragment = document.createDocumentFragment();
    if (!text) return fragment;
    const list = Array.isArray(entities) ? entities : [];
    const cuts = new Set([0, text.length]);
    for (const entity of list) {
      cuts.add(Math.max(0, Math.min(text.length, entity.offset)));
      cuts.add(Math.max(0, Math.min(text.length, entity.offset + entity.length)));
    }
    const points = Array.from(cuts).sort((a, b) => a - b);
    for (let i = 0; i < points.length - 1; i += 1) {
      const start = points[i];
      const end = points[i + 1];
      if (end <= start) continue;
      let node = document.createTextNode(text.slice(start, end));
      for (const entity of list) {
        if (entity.offset <= start && entity.offset + entity.length >= end) {
          node = wrapEntity(node, entity, text);
        }
      }
      fragment.appendChild(node);
    }
    return fragment;
  }

  function renderRichText(entry) {
    if (entry.parse_mode === "HTML" && entry.raw_text && entry.from === "bot") {
      return renderHtml(entry.raw_text);
    }
    return renderEntities(entry.text || "", entry.entities);
  }

  // ---------------------------------------------------------------- one persona
  class Pane {
    constructor(persona, user) {
      this.persona = persona;
      this.user = user;
      this.id = user.id;
      this.messages = new Map();
      this.rows = new Map();
      this.commands = [];
      this.started = false;
      this.blocked = false;
      this.typingTimer = null;
      this.keyboardOpen = true;
      const template = document.getElementById("pane-template");
      this.root = template.content.firstElementChild.cloneNode(true);
      this.root.dataset.persona = persona.key || persona.role || String(user.id);
      this.root.dataset.chatId = String(user.id);
      this.q = (selector) => this.root.querySelector(selector);
      this.build();
    }

    build() {
      const p = this.persona;
      const color = ROLE_COLORS[p.role] || "#2a7ab8";
      const avatar = this.q(".avatar");
      avatar.textContent = (this.user.first_name || "?").slice(0, 1);
      avatar.style.background = color;
      this.q(".name").textContent = [this.user.first_name, this.user.last_name]
        .filter(Boolean).join(" ");
      this.q(".role").dataset.i18n = p.role || "";
      translate(this.root);
      this.setLanguage(this.user.language_code);

      const select = this.q(".lang-select");
      const codes = state.languages.map((l) => l.code);
      const options = state.languages.slice();
      if (this.user.language_code && !codes.includes(this.user.language_code)) {
        options.push({ code: this.user.language_code, label: this.user.language_code });
      }
      for (const language of options) {
        const option = el("option", null, language.label || language.code);
        option.value = language.code;
        option.lang = langTag(language.code);
        select.appendChild(option);
      }
      select.value = this.user.language_code || "";
      select.addEventListener("change", () => this.changeLanguage(select.value));

      this.q(".composer").addEventListener("submit", (event) => {
        event.preventDefault();
        const input = this.q(".text-input");
        const text = input.value.trim();
        if (!text) return;
        input.value = "";
        this.sendText(text);
      });
      this.q(".start-button").addEventListener("click", () => this.act("command", { command: "/start" }));
      this.q(".unblock-button").addEventListener("click", () => this.act("unblock", {}));
      this.q(".block-toggle").addEventListener("click", () =>
        this.act(this.blocked ? "unblock" : "block", {}));
      this.q(".share-location").addEventListener("click", () => this.shareLocation());
      this.q(".share-contact").addEventListener("click", () => this.shareContact());
      this.q(".send-voice").addEventListener("click", () => this.act("voice", { duration: 3 }));
      this.q(".send-sticker").addEventListener("click", () => this.act("sticker", { emoji: "👍" }));
      this.q(".menu-button").addEventListener("click", () => this.toggleCommands());
      this.q(".keyboard-toggle").addEventListener("click", () => {
        this.keyboardOpen = !this.keyboardOpen;
        this.refreshChrome();
        this.scrollDown();
      });
      this.q(".modal-ok").addEventListener("click", () => { this.q(".modal").hidden = true; });
    }

    setLanguage(code) {
      this.root.lang = langTag(code);
      const select = this.q(".lang-select");
      if (select && code && Array.from(select.options).some((o) => o.value === code)) {
        select.value = code;
      }
    }

    load(transcript) {
      this.started = transcript.started;
      this.commands = transcript.commands || [];
      this.messages.clear();
      this.rows.clear();
      this.q(".messages").replaceChildren();
      for (const message of transcript.messages) this.upsert(message, false);
      this.setBlocked(transcript.blocked);
      this.refreshChrome();
      this.scrollDown();
    }

    // -- actions
    async act(action, body) {
      try {
        const result = await api("POST", `/sandbox/chats/${this.id}/${action}`, body);
        if (result.message) this.upsert(result.message, true);
        return result;
      } catch (error) {
        this.toast(error.message);
        return null;
      }
    }

    sendText(text) {
      if (text.startsWith("/")) return this.act("command", { command: text });
      return this.act("messages", { text });
    }

    shareLocation() {
      const location = this.persona.location || { latitude: 31.2304, longitude: 121.4737 };
      return this.act("location", location);
    }

    shareContact() {
      const phone = this.persona.phone_number || this.user.phone_number || `+1555${this.id}`;
      return this.act("contact", { phone_number: phone });
    }

    async changeLanguage(code) {
      try {
        const result = await api("POST", `/sandbox/users/${this.id}/language`, {
          language_code: code,
        });
        this.user = result.user;
        this.setLanguage(code);
        if (result.message) this.upsert(result.message, true);
        const transcript = await api("GET", `/sandbox/chats/${this.id}`);
        this.commands = transcript.commands || [];
      } catch (error) {
        this.toast(error.message);
      }
    }

    // A Mini App opens in a new tab with initData the sandbox signs for this user, as
    // Telegram does for a web_app button or menu button.
    async openWebApp(url) {
      try {
        const opened = await api("POST", `/sandbox/chats/${this.id}/web_app`, { url });
        window.open(opened.url, "_blank", "noopener");
      } catch (error) {
        this.toast(error.message);
      }
    }

    async press(message, button, node) {
      if (button.web_app) {
        this.openWebApp(button.web_app.url);
        return;
      }
      if (button.url !== undefined) {
        if (SAFE_URL.test(button.url)) window.open(button.url, "_blank", "noopener");
        return;
      }
      if (button.callback_data === undefined) {
        this.toast(T("unsupportedButton"));
        return;
      }
      node.classList.add("pending");
      try {
        const pressed = await api("POST", `/sandbox/chats/${this.id}/press`, {
          message_id: message.message_id,
          callback_data: button.callback_data,
        });
        const result = await api(
          "GET", `/sandbox/callbacks/${pressed.callback_query_id}?timeout=15`);
        if (!result.callback.answered) this.toast(T("noAnswer"));
      } catch (error) {
        this.toast(error.message);
      } finally {
        node.classList.remove("pending");
      }
    }

    async toggleCommands() {
      const menu = this.q(".commands-menu");
      if (!menu.hidden) {
        menu.hidden = true;
        return;
      }
      try {
        const transcript = await api("GET", `/sandbox/chats/${this.id}`);
        this.commands = transcript.commands || [];
        const button = transcript.menu_button || {};
        if (button.type === "web_app" && button.web_app) {
          this.openWebApp(button.web_app.url);
          return;
        }
      } catch (error) {
        // keep the last known commands
      }
      menu.replaceChildren();
      const commands = this.commands.length ? this.commands
        : [{ command: "start", description: "" }];
      for (const item of commands) {
        const row = el("button", "command-item");
        row.type = "button";
        row.appendChild(el("span", "cmd", `/${item.command}`));
        row.appendChild(el("span", "desc", item.description));
        row.addEventListener("click", () => {
          menu.hidden = true;
          this.act("command", { command: `/${item.command}` });
        });
        menu.appendChild(row);
      }
      menu.hidden = false;
    }

    // -- events
    apply(event) {
      switch (event.type) {
        case "message":
        case "edit":
        case "delete":
          if (event.message) this.upsert(event.message, true);
          if (event.by === "bot") this.setStatus("");
          break;
        case "callback_answer": {
          const answer = (event.callback && event.callback.answer) || {};
          if (answer.text) {
            if (answer.show_alert) this.alert(answer.text);
            else this.toast(answer.text);
          }
          if (answer.url) this.toast(answer.url);
          break;
        }
        case "chat_action":
          this.setStatus(event.action === "typing" ? T("typing") : `${event.action}…`);
          clearTimeout(this.typingTimer);
          this.typingTimer = setTimeout(() => this.setStatus(""), 5000);
          break;
        case "block":
          this.setBlocked(true);
          break;
        case "unblock":
          this.setBlocked(false);
          break;
        case "user":
          if (event.user) {
            this.user = event.user;
            this.setLanguage(event.user.language_code);
          }
          break;
        default:
          break;
      }
    }

    setStatus(text) {
      this.q(".status").textContent = text;
    }

    setBlocked(blocked) {
      this.blocked = Boolean(blocked);
      this.root.classList.toggle("is-blocked", this.blocked);
      this.refreshChrome();
    }

    // -- rendering
    upsert(message, scroll) {
      const markup = message.reply_markup;
      if (!this.messages.has(message.message_id) && markup && Array.isArray(markup.keyboard)) {
        this.keyboardOpen = true; // a new keyboard shows itself, as in Telegram
      }
      this.messages.set(message.message_id, message);
      if (message.from === "user") this.started = true;
      let row = this.rows.get(message.message_id);
      if (!row) {
        row = el("div", "bubble-row");
        row.dataset.messageId = String(message.message_id);
        this.rows.set(message.message_id, row);
        this.insertRow(row, message.message_id);
      }
      this.renderRow(row, message);
      this.refreshChrome();
      if (scroll) this.scrollDown();
    }

    insertRow(row, messageId) {
      const list = this.q(".messages");
      const later = Array.from(list.children).find((child) =>
        Number(child.dataset.messageId) > messageId);
      list.insertBefore(row, later || null);
    }

    renderRow(row, message) {
      row.className = `bubble-row from-${message.from}`;
      const bubble = el("div", "bubble");
      bubble.dataset.kind = message.kind;
      if (message.deleted) {
        bubble.classList.add("deleted");
        bubble.appendChild(el("span", "text", T("deleted")));
      } else {
        this.renderContent(bubble, message);
      }
      const meta = el("span", "meta");
      meta.textContent = (message.edited && !message.deleted ? `${T("edited")} ` : "")
        + formatTime(message.edit_date || message.date);
      bubble.appendChild(meta);
      const parts = [bubble];
      const markup = message.reply_markup;
      if (!message.deleted && markup && Array.isArray(markup.inline_keyboard)) {
        parts.push(this.renderInline(message, markup.inline_keyboard));
      }
      row.replaceChildren(...parts);
    }

    renderContent(bubble, message) {
      const add = (node) => bubble.appendChild(node);
      if (message.photo && message.photo.length) {
        const image = document.createElement("img");
        image.className = "photo media";
        image.alt = "photo";
        image.src = message.file_url;
        add(image);
      }
      if (message.sticker) {
        add(el("span", "sticker media", message.sticker.emoji || ""));
        add(el("span", "media-label", T("sticker")));
      }
      if (message.voice) {
        add(el("span", "media voice",
          `♪ ${T("voiceMessage")} · ${formatDuration(message.voice.duration)}`));
      }
      if (message.location) {
        const { latitude, longitude } = message.location;
        add(el("span", "media-label", T("location")));
        add(el("span", "media location",
          `${Number(latitude).toFixed(4)}, ${Number(longitude).toFixed(4)}`));
      }
      if (message.contact) {
        const c = message.contact;
        add(el("span", "media-label", T("contact")));
        add(el("span", "media contact",
          `${[c.first_name, c.last_name].filter(Boolean).join(" ")} · ${c.phone_number}`));
      }
      if (message.document) {
        const link = document.createElement("a");
        link.className = "media document";
        link.href = message.file_url;
        link.download = message.document.file_name || "file";
        link.textContent = `${T("file")}: ${message.document.file_name || "file"}`;
        add(link);
      }
      if (message.text) {
        const text = el("span", "text");
        text.appendChild(renderRichText(message));
        add(text);
      }
    }

    renderInline(message, rows) {
      const box = el("div", "inline-keyboard");
      for (const row of rows) {
        const line = el("div", "inline-row");
        for (const button of row) {
          const node = el("button", "inline-button", button.text);
          node.type = "button";
          if (button.url !== undefined) node.classList.add("is-url");
          node.addEventListener("click", () => this.press(message, button, node));
          line.appendChild(node);
        }
        box.appendChild(line);
      }
      return box;
    }

    currentKeyboard() {
      let keyboard = null;
      const ids = Array.from(this.messages.keys()).sort((a, b) => a - b);
      for (const id of ids) {
        const message = this.messages.get(id);
        const markup = message.reply_markup;
        if (message.from !== "bot" || !markup) continue;
        if (Array.isArray(markup.keyboard)) keyboard = markup;
        else if (markup.remove_keyboard) keyboard = null;
      }
      return keyboard;
    }

    refreshChrome() {
      const keyboard = this.currentKeyboard();
      const box = this.q(".keyboard");
      const toggle = this.q(".keyboard-toggle");
      box.replaceChildren();
      const shown = Boolean(keyboard && this.started && !this.blocked);
      toggle.hidden = !shown;
      toggle.setAttribute("aria-expanded", String(shown && this.keyboardOpen));
      toggle.classList.toggle("is-open", shown && this.keyboardOpen);
      if (shown) {
        for (const row of keyboard.keyboard) {
          const line = el("div", "kb-row");
          for (const button of row) {
            const node = el("button", "kb-button", button.text);
            node.type = "button";
            node.addEventListener("click", () => {
              if (button.request_contact) this.shareContact();
              else if (button.request_location) this.shareLocation();
              else if (button.web_app) this.openWebApp(button.web_app.url);
              else this.act("messages", { text: button.text });
            });
            line.appendChild(node);
          }
          box.appendChild(line);
        }
        box.hidden = !this.keyboardOpen;
        const placeholder = keyboard.input_field_placeholder;
        this.q(".text-input").placeholder = placeholder || T("message");
      } else {
        box.hidden = true;
        this.q(".text-input").placeholder = T("message");
      }
      this.q(".start-bar").hidden = this.started || this.blocked;
      this.q(".blocked-bar").hidden = !this.blocked;
      this.q(".composer").hidden = !this.started || this.blocked;
      this.q(".extras").hidden = !this.started || this.blocked;
    }

    scrollDown() {
      const list = this.q(".messages");
      list.scrollTop = list.scrollHeight;
    }

    toast(text) {
      const node = el("div", "toast", text);
      this.q(".toasts").appendChild(node);
      setTimeout(() => node.remove(), 3500);
    }

    alert(text) {
      this.q(".modal-text").textContent = text;
      this.q(".modal").hidden = false;
      this.q(".modal-ok").focus();
    }
  }

  // ---------------------------------------------------------------- page
  async function createPane(persona) {
    const body = {
      first_name: persona.first_name,
      last_name: persona.last_name,
      username: persona.username || (persona.user_id || persona.id ? undefined
        : `demo_${persona.key || persona.role}`),
      language_code: persona.language_code,
      phone_number: persona.phone_number,
      reuse: true,
    };
    const id = persona.user_id !== undefined ? persona.user_id : persona.id;
    if (id !== undefined) body.id = id;
    const created = await api("POST", "/sandbox/users", body);
    const pane = new Pane(persona, created.user);
    const transcript = await api("GET", `/sandbox/chats/${created.user.id}`);
    pane.load(transcript);
    pane.loadedSeq = transcript.last_seq;
    return pane;
  }

  function dispatch(event) {
    if (event.type === "reset") {
      window.location.reload();
      return;
    }
    if (state.bot && event.bot_id !== null && event.bot_id !== state.bot.id) return;
    const pane = state.panes.get(event.chat_id);
    if (pane) pane.apply(event);
  }

  async function pollEvents() {
    if (state.polling) return;
    state.polling = true;
    for (;;) {
      try {
        const data = await api("GET", `/sandbox/events?after=${state.seq}&timeout=25`);
        if (data.last_seq < state.seq) {
          window.location.reload(); // the sandbox restarted without its state
          return;
        }
        for (const event of data.events) {
          state.seq = Math.max(state.seq, event.seq);
          dispatch(event);
        }
      } catch (error) {
        await sleep(1000);
      }
    }
  }

  /** The page-language selector; a change re-words the page in place. */
  function setupPageLanguage() {
    const select = document.getElementById("page-language");
    for (const [code, label] of Object.entries(words.labels)) {
      const option = el("option", null, label);
      option.value = code;
      option.lang = langTag(code);
      select.appendChild(option);
    }
    select.value = words.page.code;
    select.addEventListener("change", () => {
      words.choose(select.value);
      applyPageLanguage();
    });
    applyPageLanguage();
  }

  function applyPageLanguage() {
    document.documentElement.lang = langTag(words.page.code);
    translate(document.body);
    document.title = T("title");
    renderGuide();
    for (const pane of state.panes.values()) {
      translate(pane.root);
      pane.refreshChrome();
    }
  }

  /** The demo's "try this" steps, each naming the persona whose pane it happens in. */
  function renderGuide() {
    const box = document.getElementById("guide");
    const guide = state.guide;
    if (!guide || !Array.isArray(guide.steps) || !guide.steps.length) {
      box.hidden = true;
      return;
    }
    const names = {};
    for (const persona of state.personas || []) {
      names[persona.key] = [persona.first_name, persona.last_name].filter(Boolean).join(" ");
    }
    const list = box.querySelector(".guide-steps");
    list.replaceChildren();
    for (const step of guide.steps) {
      const item = el("li", "guide-step");
      const text = words.pick(step.text).replace(/\{(\w+)\}/g,
        (whole, key) => (key in names ? names[key] : whole));
      item.textContent = text;
      if (step.persona) item.dataset.persona = step.persona;
      list.appendChild(item);
    }
    box.hidden = false;
  }

  function setupGuide() {
    const box = document.getElementById("guide");
    // Open at first on a wide window; a phone-sized one needs the room for the chats.
    let saved = null;
    try {
      saved = window.localStorage.getItem("sandbox-guide-closed");
    } catch (error) {
      saved = null;
    }
    const narrow = window.matchMedia("(max-width: 40rem)");
    let byPage = false;
    box.open = saved === null ? !narrow.matches : saved !== "1";
    // Turned into a phone-sized window, the page folds the guide (not a choice to remember).
    narrow.addEventListener("change", () => {
      if (narrow.matches && box.open) {
        byPage = true;
        box.open = false;
      }
    });
    box.addEventListener("toggle", () => {
      if (byPage) {
        byPage = false;
        return;
      }
      try {
        window.localStorage.setItem("sandbox-guide-closed", box.open ? "0" : "1");
      } catch (error) {
        // private mode: the guide opens again next time
      }
    });
  }

  function setupFontScale() {
    const input = document.getElementById("font-scale");
    const apply = (value) => document.documentElement.style.setProperty("--scale", value / 100);
    let saved = 100;
    try {
      saved = Number(window.localStorage.getItem("sandbox-font-scale")) || 100;
    } catch (error) {
      saved = 100;
    }
    input.value = String(saved);
    apply(saved);
    input.addEventListener("input", () => {
      apply(Number(input.value));
      for (const pane of state.panes.values()) pane.scrollDown();
      try {
        window.localStorage.setItem("sandbox-font-scale", input.value);
      } catch (error) {
        // private mode: the size is not remembered
      }
    });
  }

  async function main() {
    setupFontScale();
    setupPageLanguage();
    setupGuide();
    const main = document.getElementById("personas");
    try {
      const config = await api("GET", "/sandbox/demo/personas");
      state.bot = config.bot;
      state.languages = config.languages || [];
      state.personas = config.personas || [];
      state.guide = config.guide || null;
      renderGuide();
      if (config.bot) {
        document.getElementById("bot-name").textContent = `@${config.bot.username}`;
      }
      const panes = [];
      const seqs = [];
      for (const persona of config.personas) {
        const pane = await createPane(persona);
        panes.push(pane);
        seqs.push(pane.loadedSeq);
      }
      // Replay from the oldest snapshot: applying an event twice is harmless.
      if (seqs.length) state.seq = Math.min(...seqs);
      main.replaceChildren();
      for (const pane of panes) {
        state.panes.set(pane.id, pane);
        main.appendChild(pane.root);
        pane.scrollDown();
      }
      document.body.dataset.ready = "true";
      pollEvents();
    } catch (error) {
      main.replaceChildren(el("p", "fatal", `${T("unreachable")}${error.message}`));
    }
  }

  window.sandboxChat = { renderHtml, renderEntities, state };
  main();
})();
