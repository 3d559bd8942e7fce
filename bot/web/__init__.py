"""The bot's web server pieces: the coordinators' dashboard (a Telegram Mini App) and the
branches' public live screens.

    GET  /dashboard                      the page (HTML/CSS/JS, Chart.js vendored, no data)
    GET  /dashboard/static/...           its assets and i18n.json (zh_Hans, ko, en)
    GET  /dashboard/api/me               the coordinator's branch and language
    GET  /dashboard/api/figures          ?period=week|month|year|custom&from=&to=
    GET  /dashboard/api/board            ?list=open|waiting|sponsorship|disputed|unconfirmed
    GET  /dashboard/api/members          ?q=name or last digits of the phone
    GET  /dashboard/api/needs            the needs survey by category, and the needs
    GET  /dashboard/api/export           ?kind=orders|postings|members&format=csv|xlsx&period=...
    GET  /dashboard/api/screen           the live screen's address; POST makes a new one
    GET  /screen/{token}                 the live screen (no login), /screen/{token}/figures

Every /dashboard/api call needs `Authorization: tma <initData>` (bot.web.auth) and answers
only a coordinator of the branch (`?branch=` another branch: 403).
"""
