import {registry} from "@web/core/registry";

// A partner restaurant's user: find the member by phone, check the PIN, redeem 40 points
// (worth 20.00 at 0.50 a point) of a 50.00 purchase.
registry.category("web_tour.tours").add("loyalty_club_partner_tour", {
    url: "/my/club/partner",
    steps: () => [
        {
            content: "Type the member's phone number",
            trigger: ".o_loyalty_partner_lookup input[name='query']",
            run: "edit 0912 345 6789",
        },
        {
            content: "Find the member",
            trigger: ".o_loyalty_partner_lookup_submit",
            run: "click",
        },
        {
            content: "The member types the PIN",
            trigger: ".o_loyalty_partner_card input[name='pin']",
            run: "edit 1357",
        },
        {
            content: "Check the PIN",
            trigger: ".o_loyalty_partner_pin_submit",
            run: "click",
        },
        {
            content: "The member and the available points are shown",
            trigger: ".o_loyalty_partner_available:contains('1,000')",
        },
        {
            content: "Points to redeem",
            trigger: ".o_loyalty_partner_redeem input[name='points']",
            run: "edit 40",
        },
        {
            content: "Amount of the purchase",
            trigger: ".o_loyalty_partner_redeem input[name='amount']",
            run: "edit 50",
        },
        {
            content: "Redeem",
            trigger: ".o_loyalty_partner_redeem_submit",
            run: "click",
        },
        {
            content: "The redemption is confirmed",
            trigger: ".o_loyalty_partner_done .o_loyalty_partner_done_points:contains('40')",
        },
        {
            content: "It is in the partner's transactions",
            trigger: ".o_loyalty_partner_transaction",
        },
    ],
});
