import {registry} from "@web/core/registry";

const openClub = {
    content: "Open the club from the portal home",
    trigger: "a[href='/my/club']",
    run: "click",
};

const showsQrCode = {
    content: "The card shows its QR code",
    trigger: ".o_loyalty_portal_card img.o_loyalty_portal_qr[src^='data:image/png;base64,']",
};

const openHistory = {
    content: "Open the history",
    trigger: ".o_loyalty_portal_card a.o_loyalty_portal_history_link",
    run: "click",
};

// From the history back to the club page, then change the PIN 4821 -> 7391.
const changePinSteps = [
    {
        content: "Back to the club page",
        trigger: ".o_portal_submenu a[href='/my/club']",
        run: "click",
    },
    {
        content: "Open the PIN change",
        trigger: ".o_loyalty_portal_card a.o_loyalty_portal_pin_link",
        run: "click",
    },
    {
        content: "Type the current PIN",
        trigger: "input[name='current_pin']",
        run: "edit 4821",
    },
    {
        content: "Type the new PIN",
        trigger: "input[name='new_pin']",
        run: "edit 7391",
    },
    {
        content: "Repeat the new PIN",
        trigger: "input[name='new_pin_confirm']",
        run: "edit 7391",
    },
    {
        content: "Change the PIN",
        trigger: "button.o_loyalty_portal_pin_submit",
        run: "click",
    },
    {
        content: "The club page confirms the change",
        trigger: ".o_loyalty_portal_message.alert-success",
    },
];

registry.category("web_tour.tours").add("loyalty_club_portal_tour", {
    url: "/my",
    steps: () => [
        openClub,
        showsQrCode,
        {
            content: "The card shows its balance",
            trigger: ".o_loyalty_portal_card .o_loyalty_portal_balance:contains('1,200')",
        },
        {
            content: "The card shows the progress to the next tier",
            trigger: ".o_loyalty_portal_progress:contains('500 more points to Gold')",
        },
        openHistory,
        {
            content: "The history lists the redemption",
            trigger: ".o_loyalty_portal_entry .o_loyalty_portal_points:contains('-300')",
        },
        ...changePinSteps,
    ],
});

// The same flow for a Persian-speaking member: language-independent selectors, Persian page.
registry.category("web_tour.tours").add("loyalty_club_portal_persian_tour", {
    url: "/my",
    steps: () => [
        {
            content: "The portal is right-to-left",
            trigger: ".o_rtl",
        },
        openClub,
        showsQrCode,
        {
            content: "The card shows its balance",
            trigger: ".o_loyalty_portal_card .o_loyalty_portal_balance",
        },
        openHistory,
        {
            content: "Dates are in the Solar Hijri calendar",
            trigger: ".o_loyalty_portal_entry td:first-child:contains('140')",
        },
        ...changePinSteps,
    ],
});
