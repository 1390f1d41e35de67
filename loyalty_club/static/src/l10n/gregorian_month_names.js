import {user} from "@web/core/user";

/**
 * The back office counts in the Gregorian calendar: date filters, pickers and groupings cover
 * Gregorian months and print Gregorian years. For Persian, the browser's default calendar is the
 * Solar Hijri one, so luxon would name those Gregorian months with Jalali names ("آذر 2026" for
 * 1-31 December 2026). Persian users get the Gregorian month names ("دسامبر 2026") instead.
 *
 * Set when the module is evaluated, before the services start and any view renders; Odoo's
 * localization service sets luxon's locale and digits but never its output calendar.
 */
if (user.lang?.startsWith("fa")) {
    luxon.Settings.defaultOutputCalendar = "gregory";
}
