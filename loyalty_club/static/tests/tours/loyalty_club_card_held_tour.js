import {registry} from "@web/core/registry";

// A card with 100 points of which a till holds 40 for a payment it has not sent yet.
registry.category("web_tour.tours").add("LoyaltyClubCardHeldTour", {
    steps: () => [
        {
            content: "the card shows what tills hold",
            trigger: ".o_field_widget[name=points_held]:contains(40)",
        },
        {
            content: "and what is available",
            trigger: ".o_field_widget[name=points_available]:contains(60)",
        },
        {
            content: "open the holds",
            trigger: ".o_notebook a[name=holds]",
            run: "click",
        },
        {
            content: "the hold is listed with its till",
            trigger: ".o_field_widget[name=hold_ids] .o_data_row:contains(40)",
        },
    ],
});
