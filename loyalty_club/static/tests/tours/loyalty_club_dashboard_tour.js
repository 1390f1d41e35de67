import {registry} from "@web/core/registry";
import {stepUtils} from "@web_tour/tour_service/tour_utils";

function checkNoRecordUrl() {
    const path = window.location.pathname;
    if (path.endsWith("/new") || !path.endsWith("/club-dashboard")) {
        throw new Error(`the dashboard is no record: unexpected URL ${path}`);
    }
}

registry.category("web_tour.tours").add("LoyaltyClubDashboardTour", {
    steps: () => [
        ...stepUtils.goToAppSteps("loyalty_club.menu_loyalty_club_root", "open the club"),
        {
            content: "open the dashboard from its menu",
            trigger: '.o_main_navbar [data-menu-xmlid="loyalty_club.menu_loyalty_club_dashboard"]',
            run: "click",
        },
        {
            content: "the dashboard shows its key figures",
            trigger: ".o_loyalty_club_dashboard .o_loyalty_club_kpi_points_issued .o_loyalty_club_kpi_value",
        },
        {
            content: "points and gift cards are owed apart",
            trigger:
                ".o_loyalty_club_dashboard .o_loyalty_club_kpi_liability_points_value .o_loyalty_club_kpi_value",
        },
        {
            content: "the gift card liability has its own figure",
            trigger:
                ".o_loyalty_club_dashboard .o_loyalty_club_kpi_liability_gift_card_value .o_loyalty_club_kpi_value:contains(25.00)",
        },
        {
            content: "no unsaved record: no save button, the URL is the dashboard's",
            trigger: ".o_loyalty_club_dashboard:not(:has(.o_form_button_save))",
            run: checkNoRecordUrl,
        },
        {
            content: "filter the branches",
            trigger: ".o_loyalty_club_dashboard_branches",
            run: "click",
        },
        {
            content: "all branches are chosen by default",
            trigger: ".o-dropdown-item:has(.fa-check):contains(All branches)",
        },
        {
            content: "close the branch filter",
            trigger: ".o_loyalty_club_dashboard_branches",
            run: "click",
        },
        {
            content: "open the points activity chart",
            trigger: ".o_loyalty_club_dashboard_reports button[name=action_open_activity]",
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
        {
            content: "back to the dashboard",
            trigger: ".o_breadcrumb .breadcrumb-item a",
            run: "click",
        },
        {
            content: "the dashboard is back, still no record",
            trigger: ".o_loyalty_club_dashboard .o_loyalty_club_kpi_points_issued .o_loyalty_club_kpi_value",
            run: checkNoRecordUrl,
        },
    ],
});
