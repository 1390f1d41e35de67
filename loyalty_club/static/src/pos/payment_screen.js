import {_t} from "@web/core/l10n/translation";
import {patch} from "@web/core/utils/patch";
import {floatIsZero} from "@web/core/utils/numbers";
import {parseFloat} from "@web/views/fields/parsers";
import {PaymentScreen} from "@point_of_sale/app/screens/payment_screen/payment_screen";
import {makeAwaitable} from "@point_of_sale/app/store/make_awaitable_dialog";
import {NumberPopup} from "@point_of_sale/app/utils/input_popups/number_popup";

patch(PaymentScreen.prototype, {
    async validateOrder(isForceValidate) {
        const order = this.currentOrder;
        if (order.uiState.loyaltyClub?.card && !order.getLoyaltyCard()?.refund) {
            // A discount window may have closed (or opened) since the lines were entered.
            if (await this.pos.loyaltyClubRefreshDiscounts(order)) {
                this.pos.loyaltyClubAlert(
                    _t(
                        "The member discounts changed (a discount window opened or closed). Check the total and the payments."
                    )
                );
                return;
            }
        }
        return super.validateOrder(...arguments);
    },

    async addNewPaymentLine(paymentMethod) {
        if (!paymentMethod.loyalty_club_points) {
            return super.addNewPaymentLine(...arguments);
        }
        const amount = await this.loyaltyClubPointsAmount();
        if (amount === null) {
            return false;
        }
        const result = await super.addNewPaymentLine(...arguments);
        if (result) {
            this.currentOrder.get_selected_paymentline().set_amount(amount);
        }
        return result;
    },

    /** Amount to pay with points: asked to the cashier after the PIN (sales), or the share of
     * the refunded order's points (refunds). null when nothing can be paid with points. */
    async loyaltyClubPointsAmount() {
        const order = this.currentOrder;
        const club = this.pos.loyaltyClub;
        const card = order.getLoyaltyCard();
        if (!club || !card) {
            this.pos.loyaltyClubAlert(_t("Identify the member's club card first."));
            return null;
        }
        if (!club.point_value) {
            this.pos.loyaltyClubAlert(_t("Points of this club have no money value."));
            return null;
        }
        const due = order.get_due();
        const decimals = this.pos.currency.decimal_places;
        if (card.refund) {
            const refunded = order.getLoyaltyRefundedOrder();
            const total = Math.abs(refunded.amount_total) || 1;
            const share = Math.min(1, Math.abs(order.get_total_with_tax()) / total);
            const points = Math.round(share * (refunded.loyalty_points_redeemed || 0));
            if (!points) {
                this.pos.loyaltyClubAlert(_t("The refunded order was not paid with points."));
                return null;
            }
            return -Number((points * club.point_value).toFixed(decimals));
        }
        if (due <= 0 || floatIsZero(due, decimals)) {
            return null;
        }
        if (!(await this.pos.loyaltyClubVerifyPin(order))) {
            return null;
        }
        const balance = order.getLoyaltyCard().balance || 0;
        if (balance < (club.redeem_min_points || 0) || balance <= 0) {
            this.pos.loyaltyClubAlert(
                _t("The card has %(balance)s points; at least %(minimum)s are needed to pay.", {
                    balance,
                    minimum: Math.max(club.redeem_min_points || 0, 1),
                })
            );
            return null;
        }
        const maxPoints = Math.floor(Math.min(due / club.point_value, balance) + 1e-9);
        const maxAmount = Number((maxPoints * club.point_value).toFixed(decimals));
        const fmt = (value) => this.env.utils.formatCurrency(value);
        const entered = await makeAwaitable(this.dialog, NumberPopup, {
            title: _t("Pay with points"),
            subtitle: _t("%(balance)s points on the card: up to %(max)s", {
                balance,
                max: fmt(maxAmount),
            }),
            startingValue: String(maxAmount),
        });
        if (entered === undefined || entered === null || entered === "") {
            return null;
        }
        let amount = NaN;
        try {
            amount = parseFloat(String(entered));
        } catch {
            amount = NaN;
        }
        const points = Math.round(amount / club.point_value);
        if (
            !(amount > 0) ||
            points > maxPoints ||
            !floatIsZero(points * club.point_value - amount, decimals)
        ) {
            this.pos.loyaltyClubAlert(
                _t(
                    "Enter an amount of at most %(max)s that is a whole number of points (one point is worth %(value)s).",
                    {max: fmt(maxAmount), value: fmt(club.point_value)}
                )
            );
            return null;
        }
        return amount;
    },
});
