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

MENU_ASK = __("🙋 Ask for help")
MENU_ASK_FOR_OTHER = __("🤲 Ask for someone else")
MENU_MY_ORDERS = __("📋 My orders")
MENU_FAMILY = __("👨‍👩‍👧 Family")

SAME_AS_LAST = __("🔁 Same as last time")
NEW_RESIDENT = __("➕ Someone without a phone")
KEEP_SHORTENED = __("✅ Yes, that is fine")
WRITE_AGAIN = __("✏️ Write it again")
ASAP = __("⚡ As soon as possible")
TODAY = __("Today")
TOMORROW = __("Tomorrow")
PICK_DAY = __("📅 Pick a day")
MORNING = __("🌅 Morning")
AFTERNOON = __("☀️ Afternoon")
EVENING = __("🌙 Evening")
MY_HOME = __("🏠 My home")
THEIR_HOME = __("🏠 At their home")
HALF_HOUR = __("30 minutes")
ONE_HOUR = __("1 hour")
TWO_HOURS = __("2 hours")
HALF_DAY = __("Half a day")

REASON_NOT_NEEDED = __("No longer needed")
REASON_FOUND_HELP = __("I found help elsewhere")
REASON_WRONG_TIME = __("The time does not suit me")
REASON_TYPE = __("✏️ Type a reason")
KEEP_ORDER = __("↩️ Keep it")
CANCEL_ORDER = __("✖️ Cancel this request")
ALL_MY_ORDERS = __("⬅️ All my requests")

FAMILY_GIVE_CODE = __("🔑 Give my family a code")
FAMILY_HAVE_CODE = __("⌨️ I have a code")
FAMILY_YES = __("✅ Yes")
FAMILY_NO = __("✖️ No")
FAMILY_UNLINK = __("✖️ Unlink {name}")
FAMILY_UNLINK_YES = __("Yes, unlink")
