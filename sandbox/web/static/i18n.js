/* The page's own words (not the bot's) in Chinese, Korean and English, and which of them the
 * page speaks: the visitor's choice if they made one, else the browser's languages (what it
 * sends as Accept-Language), else English.
 */
"use strict";

(() => {
  const TEXTS = {
    "zh-hans": {
      title: "时间银行 — 聊天演示",
      pageLanguage: "页面语言",
      textSize: "字号",
      language: "语言",
      block: "屏蔽或解除屏蔽机器人",
      start: "开始",
      unblock: "解除屏蔽机器人",
      commands: "命令",
      message: "消息",
      send: "发送",
      keyboard: "显示或收起按钮",
      location: "位置",
      phone: "电话",
      voice: "语音",
      sticker: "贴纸",
      ok: "好的",
      loading: "加载中…",
      resident: "居民",
      volunteer: "志愿者",
      coordinator: "协调员",
      typing: "正在输入…",
      deleted: "消息已删除",
      edited: "已编辑",
      voiceMessage: "语音消息",
      contact: "联系人",
      file: "文件",
      spoiler: "点一下显示隐藏的内容",
      noAnswer: "机器人没有回应",
      unsupportedButton: "演示里不能用这种按钮",
      unreachable: "连不上演示服务器：",
      guideTitle: "试一试",
    },
    ko: {
      title: "시간은행 — 채팅 체험",
      pageLanguage: "화면 언어",
      textSize: "글자 크기",
      language: "언어",
      block: "봇 차단 또는 차단 풀기",
      start: "시작",
      unblock: "봇 차단 풀기",
      commands: "명령어",
      message: "메시지",
      send: "보내기",
      keyboard: "버튼 보이기 또는 접기",
      location: "위치",
      phone: "전화번호",
      voice: "음성",
      sticker: "스티커",
      ok: "확인",
      loading: "불러오는 중…",
      resident: "주민",
      volunteer: "봉사자",
      coordinator: "코디네이터",
      typing: "입력 중…",
      deleted: "삭제된 메시지",
      edited: "수정됨",
      voiceMessage: "음성 메시지",
      contact: "연락처",
      file: "파일",
      spoiler: "눌러서 가려진 내용 보기",
      noAnswer: "봇이 답하지 않았어요",
      unsupportedButton: "체험 화면에서는 이 버튼을 쓸 수 없어요",
      unreachable: "체험 서버에 연결할 수 없어요: ",
      guideTitle: "이렇게 해 보세요",
    },
    en: {
      title: "Time bank — chat demo",
      pageLanguage: "Page language",
      textSize: "Text size",
      language: "Language",
      block: "Block or unblock the bot",
      start: "START",
      unblock: "UNBLOCK THE BOT",
      commands: "Commands",
      message: "Message",
      send: "Send",
      keyboard: "Show or hide the buttons",
      location: "Location",
      phone: "Phone",
      voice: "Voice",
      sticker: "Sticker",
      ok: "OK",
      loading: "Loading…",
      resident: "Resident",
      volunteer: "Volunteer",
      coordinator: "Coordinator",
      typing: "typing…",
      deleted: "message deleted",
      edited: "edited",
      voiceMessage: "Voice message",
      contact: "Contact",
      file: "File",
      spoiler: "Spoiler: click to reveal",
      noAnswer: "The bot did not answer",
      unsupportedButton: "This kind of button is not available in the sandbox",
      unreachable: "Cannot reach the sandbox: ",
      guideTitle: "Try this",
    },
  };
  const LABELS = { "zh-hans": "中文", ko: "한국어", en: "English" };
  const STORE = "sandbox-page-language";

  /** The page language closest to a BCP 47 tag (zh-CN → zh-hans), or null. */
  function closest(tag) {
    const lower = String(tag || "").toLowerCase();
    if (lower in TEXTS) return lower;
    const base = lower.split(/[-_]/)[0];
    if (base === "zh") return "zh-hans";
    return base in TEXTS ? base : null;
  }

  function chosen() {
    try {
      const saved = closest(window.localStorage.getItem(STORE));
      if (saved) return saved;
    } catch (error) {
      // private mode: nothing was saved
    }
    for (const tag of navigator.languages || [navigator.language]) {
      const match = closest(tag);
      if (match) return match;
    }
    return "en";
  }

  const page = { code: chosen() };

  function choose(code) {
    page.code = closest(code) || "en";
    try {
      window.localStorage.setItem(STORE, page.code);
    } catch (error) {
      // private mode: the choice lasts until the page is closed
    }
  }

  /** The page's word for `key` in its language (English when a language lacks it). */
  function text(key) {
    return TEXTS[page.code][key] || TEXTS.en[key] || key;
  }

  /** A text given in several languages ({"zh-hans": …, ko: …, en: …}), in the page's. */
  function pick(texts) {
    if (!texts || typeof texts !== "object") return String(texts || "");
    return texts[page.code] || texts.en || Object.values(texts)[0] || "";
  }

  window.pageLanguage = { page, choose, text, pick, closest, labels: LABELS };
})();
