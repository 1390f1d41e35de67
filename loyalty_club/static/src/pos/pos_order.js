import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";
import { PosOrder } from "@point_of_sale/app/models/pos_order";

function roundPoints(value, rounding) {
    if (rounding === "up") {
        return Math.ceil(value - 1e-9);
    }
    if (rounding === "half_up") {
        return Math.round(value + 1e-9);
    }
    return Math.floor(value + 1e-9);
}

patch(PosOrder.prototype, {
    /** Card attached at the till, or for a refund the card of the refunded order. */
    getLoyaltyCard() {
        const refunded = this.getLoyaltyRefundedOrder();
        if (refunded?.loyalty_card_display) {
            return {
                id: refunded.raw.loyalty_card_id,
                number_masked: refunded.loyalty_card_display,
                partner_name: refunded.partner_id?.name || "",
                tier_name: refunded.loyalty_tier_name || "",
                balance: null,
                refund: true,
            };
        }
        return this.uiState.loyaltyClub?.card || null;
    },
    getLoyaltyRefundedOrder() {
        return this.lines.find((line) => line.refunded_orderline_id)?.refunded_orderline_id.order_id;
    },
    setLoyaltyCard(card) {
        this.uiState.loyaltyClub = { card, pinToken: false, pinVerified: false };
    },
    setLoyaltyPinToken(token, card) {
        this.uiState.loyaltyClub = {
            card: card || this.uiState.loyaltyClub?.card,
            pinToken: token,
            pinVerified: true,
        };
    },
    clearLoyaltyCard() {
        this.uiState.loyaltyClub = null;
        for (const line of this.payment_ids.filter((p) => p.payment_method_id.loyalty_club_points)) {
            this.remove_paymentline(line);
        }
    },
    set_partner(partner) {
        const card = this.uiState?.loyaltyClub?.card;
        if (card && partner?.id !== card.partner_id) {
            this.uiState.loyaltyClub = null;
        }
        return super.set_partner(...arguments);
    },
    /** Display estimate of the points this order earns; the server computes the real ones. */
    getLoyaltyPointsEstimate() {
        const club = this.models["loyalty.club"].getFirst();
        const card = this.getLoyaltyCard();
        if (!club || !card || card.refund || !club.earn_amount || !club.earn_points) {
            return 0;
        }
        const excluded = club.earn_excluded_categ_ids || [];
        const isExcluded = (product) => {
            let categ = product?.categ_id;
            while (categ) {
                if (excluded.some((c) => c.id === categ.id)) {
                    return true;
                }
                categ = categ.parent_id;
            }
            return false;
        };
        const tipProduct = this.config.tip_product_id;
        let spend = 0;
        for (const line of this.lines) {
            const product = line.get_product();
            if (
                line.qty <= 0 ||
                line.refunded_orderline_id ||
                (tipProduct && product?.id === tipProduct.id) ||
                product?.loyalty_club_no_earn ||
                isExcluded(product)
            ) {
                continue;
            }
            spend += club.earn_on_tax_included ? line.get_price_with_tax() : line.get_price_without_tax();
        }
        if (spend <= 0) {
            return 0;
        }
        const tier = this.models["loyalty.club.tier"].get(card.tier_id);
        const multiplier = tier?.earn_multiplier || 1;
        return roundPoints(
            (spend / club.earn_amount) * club.earn_points * multiplier,
            club.earn_rounding
        );
    },
    getLoyaltyPointsPaid() {
        const club = this.models["loyalty.club"].getFirst();
        if (!club?.point_value) {
            return 0;
        }
        const amount = this.payment_ids
            .filter((p) => p.payment_method_id.loyalty_club_points)
            .reduce((sum, p) => sum + p.get_amount(), 0);
        return Math.round(amount / club.point_value);
    },
    serialize(options = {}) {
        const data = super.serialize(...arguments);
        if (options.orm) {
            const state = this.uiState?.loyaltyClub;
            data.loyalty_club_card_id = state?.card?.id || false;
            data.loyalty_club_pin_token = state?.pinToken || false;
        }
        return data;
    },
    /** What the receipt prints about the club: the server's figures once the order is synced. */
    getLoyaltyReceiptData() {
        const card = this.getLoyaltyCard();
        if (!card) {
            return null;
        }
        const booked = Boolean(this.loyalty_card_display);
        return {
            number: booked ? this.loyalty_card_display : card.number_masked,
            member: card.partner_name,
            tier: (booked ? this.loyalty_tier_name : card.tier_name) || "",
            booked,
            earned: booked ? this.loyalty_points_earned : this.getLoyaltyPointsEstimate(),
            redeemed: booked ? this.loyalty_points_redeemed : Math.max(this.getLoyaltyPointsPaid(), 0),
            returned: booked ? this.loyalty_points_returned : 0,
            reversed: booked ? this.loyalty_points_reversed : 0,
            balance: booked ? this.loyalty_balance_after : null,
            estimateLabel: _t("(estimate)"),
        };
    },
    export_for_printing() {
        const result = super.export_for_printing(...arguments);
        result.loyaltyClub = this.getLoyaltyReceiptData();
        return result;
    },
});
