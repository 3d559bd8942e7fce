"""Button labels. Each is matched against what a member taps, in the member's language."""

from aiogram.utils.i18n import lazy_gettext as __

BACK = __("⬅️ Back")
CANCEL = __("✖️ Cancel")
SKIP = __("Skip ➡️")
CONTINUE_SIGNUP = __("▶️ Continue signing up")

ROLE_RESIDENT = __("🙋 I need help")
ROLE_VOLUNTEER = __("🤝 I want to help")
ROLE_BOTH = __("💞 Both")

SHARE_PHONE = __("📞 Share my phone number")
SHARE_LOCATION = __("📍 Share my location")
CHOOSE_AREA = __("🏘 Choose my neighbourhood")

MENU_MY_DETAILS = __("👤 My details")
MENU_LANGUAGE = __("🌐 Language")
MENU_HELP = __("❓ Help")
