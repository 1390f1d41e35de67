import {_t} from "@web/core/l10n/translation";
import {patch} from "@web/core/utils/patch";
import {PosOrder} from "@point_of_sale/app/models/pos_order";
import {PosOrderline} from "@point_of_sale/app/models/pos_order_line";
import {PosPayment} from "@point_of_sale/app/models/pos_payment";

patch(PosOrderline.prototype, {
    /** Pre-printed gift card scanned on a gift card line ({code, code_masked}), or null. */
    getLoyaltyGiftCard() {
        return this.uiState?.loyaltyGiftCard || null;
    },
    setLoyaltyGiftCard(card) {
        this.uiState.loyaltyGiftCard = card ? {code: card.code, codeMasked: card.code_masked} : null;
    },
    can_be_merged_with(orderline) {
        // Each gift card is a line of its own (its own card, its own code).
        if (this.get_product()?.loyalty_gift_card || orderline.get_product()?.loyalty_gift_card) {
            return false;
        }
        return super.can_be_merged_with(...arguments);
    },
    serialize(options = {}) {
        const data = super.serialize(...arguments);
        if (options.orm) {
            const card = this.getLoyaltyGiftCard();
            if (card?.code) {
                data.loyalty_gift_card_code = card.code;
            }
        }
        return data;
    },
});

patch(PosPayment.prototype, {
    /** Gift card this payment spends: {id, codeMasked, balance}, or null. */
    getLoyaltyGiftCard() {
        return this.uiState?.loyaltyGiftCard || null;
    },
    /** The gift card whose money this payment holds on the server (its summary after the hold). */
    setLoyaltyGiftCard(card) {
        this.uiState = {
            ...(this.uiState || {}),
            loyaltyGiftCard: {id: card.id, codeMasked: card.code_masked, balance: card.balance},
        };
    },
    /** Points this payment holds on the server ({points, amount}), or null. */
    getLoyaltyHold() {
        return this.uiState?.loyaltyHold || null;
    },
    setLoyaltyHold(hold) {
        this.uiState = {...(this.uiState || {}), loyaltyHold: hold};
    },
    /** Points a refund line gives back (negative) for ``amount``, as the till proposed them. */
    setLoyaltyPointsBack(points, amount) {
        this.uiState = {...(this.uiState || {}), loyaltyPointsBack: {points, amount}};
    },
    /** Points this club points payment spends (or, negative, gives back), or null when the
     * till does not know them (a refund amount the cashier changed). */
    getLoyaltyPoints() {
        if (!this.payment_method_id?.loyalty_club_points) {
            return null;
        }
        const hold = this.getLoyaltyHold();
        if (hold) {
            return hold.points;
        }
        const back = this.uiState?.loyaltyPointsBack;
        return back && Math.abs(back.amount - this.get_amount()) < 1e-6 ? back.points : null;
    },
    serialize(options = {}) {
        const data = super.serialize(...arguments);
        const card = this.getLoyaltyGiftCard();
        if (options.orm && card) {
            data.loyalty_gift_card_id = card.id;
        }
        return data;
    },
});

patch(PosOrder.prototype, {
    /** Gift card lines of the receipt: cards paid with (balance left) and cards sold. */
    getLoyaltyGiftCardReceiptData() {
        const paid = [];
        for (const payment of this.payment_ids) {
            if (!payment.payment_method_id?.loyalty_gift_card) {
                continue;
            }
            const card = payment.getLoyaltyGiftCard();
            const booked = Boolean(payment.loyalty_gift_card_display);
            if (!booked && !card) {
                continue;
            }
            paid.push({
                code: booked ? payment.loyalty_gift_card_display : card.codeMasked,
                newCode: payment.loyalty_gift_card_new_code || "",
                balance: booked
                    ? payment.loyalty_gift_card_balance
                    : Math.max((card.balance || 0) - payment.get_amount(), 0),
                booked,
            });
        }
        const sold = this.lines
            .filter((line) => line.get_product()?.loyalty_gift_card)
            .map((line) => ({
                codes:
                    line.loyalty_gift_card_codes || line.getLoyaltyGiftCard()?.codeMasked || _t("New card"),
                amount: line.get_price_with_tax(),
            }));
        return paid.length || sold.length ? {paid, sold, estimateLabel: _t("(estimate)")} : null;
    },
    export_for_printing() {
        const result = super.export_for_printing(...arguments);
        result.loyaltyGiftCards = this.getLoyaltyGiftCardReceiptData();
        return result;
    },
});
