import {registry} from "@web/core/registry";

registry.category("web_tour.tours").add("LoyaltyClubDashboardTour", {
    steps: () => [
        {
            content: "the dashboard opens on its key figures",
            trigger: ".o_loyalty_club_dashboard .o_field_widget[name=points_issued]",
        },
        {
            content: "open the points activity chart",
            trigger: "button[name=action_open_activity]",
            run: "click",
        },
        {
            content: "the chart of points activity is shown",
            trigger: ".o_action_manager .o_graph_view",
        },
        {
            content: "switch to the pivot",
            trigger: ".o_switch_view.o_pivot",
            run: "click",
        },
        {
            content: "the pivot shows the measures",
            trigger: ".o_pivot_view .o_pivot_measure_row",
        },
    ],
});
