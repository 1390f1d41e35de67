import {Component, onWillStart, useState} from "@odoo/owl";
import {DateTimeInput} from "@web/core/datetime/datetime_input";
import {Dropdown} from "@web/core/dropdown/dropdown";
import {DropdownItem} from "@web/core/dropdown/dropdown_item";
import {deserializeDate, serializeDate} from "@web/core/l10n/dates";
import {_t} from "@web/core/l10n/translation";
import {registry} from "@web/core/registry";
import {KeepLast} from "@web/core/utils/concurrency";
import {useService} from "@web/core/utils/hooks";
import {useSetupAction} from "@web/search/action_hook";
import {Layout} from "@web/search/layout";
import {standardActionServiceProps} from "@web/webclient/actions/action_service";

/**
 * The club's key figures for a period and branches, with shortcuts to the reports. No record:
 * one call to loyalty.club.dashboard.get_dashboard_data per change of the filters.
 */
export class LoyaltyClubDashboard extends Component {
    static template = "loyalty_club.Dashboard";
    static components = {Layout, DateTimeInput, Dropdown, DropdownItem};
    static props = {...standardActionServiceProps};

    setup() {
        this.orm = useService("orm");
        this.actionService = useService("action");
        this.keepLast = new KeepLast();
        const pastState = this.props.state || {};
        this.state = useState({
            dateFrom: pastState.dateFrom || false,
            dateTo: pastState.dateTo || false,
            branchIds: pastState.branchIds || [],
            data: null,
        });
        this.reports = [
            {method: "action_open_activity", label: _t("Points activity")},
            {method: "action_open_kpi", label: _t("Sales KPIs")},
            {method: "action_open_members", label: _t("Members")},
            {method: "action_open_liability", label: _t("Outstanding liability")},
        ];
        useSetupAction({
            getLocalState: () => ({
                dateFrom: this.state.dateFrom,
                dateTo: this.state.dateTo,
                branchIds: this.state.branchIds,
            }),
        });
        onWillStart(() => this.load());
    }

    get display() {
        return {controlPanel: {}};
    }

    get filterArgs() {
        return [this.state.dateFrom, this.state.dateTo, this.state.branchIds];
    }

    get dateFrom() {
        return this.state.dateFrom ? deserializeDate(this.state.dateFrom) : false;
    }

    get dateTo() {
        return this.state.dateTo ? deserializeDate(this.state.dateTo) : false;
    }

    get branches() {
        return this.state.data ? this.state.data.branches : [];
    }

    get branchLabel() {
        const branches = this.branches.filter((branch) => this.state.branchIds.includes(branch.id));
        return branches.length ? branches.map((branch) => branch.name).join(", ") : _t("All branches");
    }

    async load() {
        const data = await this.keepLast.add(
            this.orm.call("loyalty.club.dashboard", "get_dashboard_data", this.filterArgs)
        );
        this.state.dateFrom = data.date_from;
        this.state.dateTo = data.date_to;
        this.state.branchIds = data.branch_ids;
        this.state.data = data;
    }

    onDateFromChanged(date) {
        if (date) {
            this.state.dateFrom = serializeDate(date);
            this.load();
        }
    }

    onDateToChanged(date) {
        if (date) {
            this.state.dateTo = serializeDate(date);
            this.load();
        }
    }

    toggleBranch(branchId) {
        const ids = this.state.branchIds;
        this.state.branchIds = ids.includes(branchId)
            ? ids.filter((id) => id !== branchId)
            : [...ids, branchId];
        this.load();
    }

    allBranches() {
        this.state.branchIds = [];
        this.load();
    }

    async openReport(method) {
        const action = await this.orm.call("loyalty.club.dashboard", method, this.filterArgs);
        return this.actionService.doAction(action);
    }
}

registry.category("actions").add("loyalty_club.dashboard", LoyaltyClubDashboard);
