import {_t} from "@web/core/l10n/translation";
import {patch} from "@web/core/utils/patch";
import {PosOrderline} from "@point_of_sale/app/models/pos_order_line";
import {Orderline} from "@point_of_sale/app/generic_components/orderline/orderline";

Orderline.props.line.shape.loyaltyWindow = {type: String, optional: true};

patch(PosOrderline.prototype, {
    /** Member discount the till applied on this line: {percent, windowId, windowName}. */
    getLoyaltyDiscount() {
        return this.uiState?.loyaltyClub || null;
    },
    setLoyaltyDiscount(discount) {
        this.uiState.loyaltyClub = discount;
    },
    serialize(options = {}) {
        const data = super.serialize(...arguments);
        if (options.orm) {
            const discount = this.getLoyaltyDiscount();
            data.loyalty_club_member_discount = discount?.percent || 0;
            data.loyalty_club_window_id = discount?.windowId || false;
        }
        return data;
    },
    getDisplayData() {
        const data = super.getDisplayData(...arguments);
        // Once synced, the server's record of the window wins over the till's.
        const discount = this.loyalty_discount_window_name
            ? {windowName: this.loyalty_discount_window_name, percent: this.loyalty_member_discount}
            : this.getLoyaltyDiscount();
        if (discount?.windowName) {
            data.loyaltyWindow = _t("Member discount: %(window)s (%(percent)s%)", {
                window: discount.windowName,
                percent: discount.percent,
            });
        }
        return data;
    },
});
