import {registry} from "@web/core/registry";

// The name of a month in Persian in a calendar, as Intl writes it in a date (luxon's "MMMM").
function monthName(calendar, date) {
    const parts = new Intl.DateTimeFormat(`fa-IR-u-ca-${calendar}`, {month: "long", day: "numeric"});
    return parts.formatToParts(date).find((part) => part.type === "month").value;
}

function jalaliMonthNames() {
    const names = new Set();
    for (let day = 0; day < 366; day++) {
        names.add(monthName("persian", new Date(2026, 0, 1 + day)));
    }
    return names;
}

function checkMonthLabels(labels) {
    const gregorian = monthName("gregory", new Date());
    if (!labels.some((label) => label.includes(gregorian))) {
        throw new Error(`the current month is not named ${gregorian}: ${labels.join(" | ")}`);
    }
    const jalali = jalaliMonthNames();
    const mixed = labels.filter((label) => label.split(/\s+/).some((word) => jalali.has(word)));
    if (mixed.length) {
        throw new Error(`a Gregorian month is named in the Jalali calendar: ${mixed.join(" | ")}`);
    }
}

registry.category("web_tour.tours").add("LoyaltyClubPersianDateFilterTour", {
    steps: () => [
        {
            content: "the default filter on the current month names a Gregorian month",
            trigger: ".o_searchview_facet .o_facet_value",
            run() {
                checkMonthLabels([this.anchor.textContent.trim()]);
            },
        },
        {
            content: "open the filters",
            trigger: ".o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "open the date filter's periods",
            trigger: ".o_filter_menu .o_accordion_toggle",
            run: "click",
        },
        {
            content: "the months offered are named in the Gregorian calendar they cover",
            trigger: ".o_filter_menu .o_accordion_values .o_item_option",
            run() {
                const options = document.querySelectorAll(
                    ".o_filter_menu .o_accordion_values .o_item_option"
                );
                const labels = [...options].map((option) => option.textContent.trim());
                checkMonthLabels(labels);
            },
        },
    ],
});
