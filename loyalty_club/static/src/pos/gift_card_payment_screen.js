import {_t} from "@web/core/l10n/translation";
import {patch} from "@web/core/utils/patch";
import {floatIsZero} from "@web/core/utils/numbers";
import {parseFloat} from "@web/views/fields/parsers";
import {PaymentScreen} from "@point_of_sale/app/screens/payment_screen/payment_screen";
import {makeAwaitable} from "@point_of_sale/app/store/make_awaitable_dialog";
import {NumberPopup} from "@point_of_sale/app/utils/input_popups/number_popup";

patch(PaymentScreen.prototype, {
    async addNewPaymentLine(paymentMethod) {
        if (!paymentMethod.loyalty_gift_card) {
            return super.addNewPaymentLine(...arguments);
        }
        const order = this.currentOrder;
        const decimals = this.pos.currency.decimal_places;
        const due = order.get_due();
        if (due < 0 && !floatIsZero(due, decimals)) {
            // A refund: the server credits the card(s) that paid the refunded order, or a new card.
            return super.addNewPaymentLine(...arguments);
        }
        if (floatIsZero(due, decimals)) {
            return false;
        }
        const spend = await this.loyaltyGiftCardSpend(due);
        if (!spend) {
            return false;
        }
        const result = await super.addNewPaymentLine(...arguments);
        return this.loyaltyClubHoldPaymentLine(result, {
            method: "loyalty_gift_card_hold",
            args: [spend.card.id, spend.amount],
            token: spend.token,
            onHeld: (line, held) => line.setLoyaltyGiftCard(held.card),
            alert: (message) => this.pos.loyaltyGiftCardAlert(message),
            offlineMessage: _t(
                "The gift card amount could not be set aside: the till must be online to pay with a gift card."
            ),
        });
    },

    /** Code, PIN (checked by the server) and amount: {card, token, amount} or null. */
    async loyaltyGiftCardSpend(due) {
        const pos = this.pos;
        const found = await pos.loyaltyGiftCardAsk();
        if (!found) {
            return null;
        }
        const pin = await pos.loyaltyAskPin(_t("Gift card PIN"), _t("Let the customer type the card's PIN"));
        if (!pin) {
            return null;
        }
        let verified;
        try {
            verified = await pos.data.call("pos.config", "loyalty_gift_card_verify_pin", [
                [pos.config.id],
                found.id,
                String(pin),
                this.currentOrder.uuid,
            ]);
        } catch (error) {
            pos.loyaltyGiftCardAlert(error.data?.message || _t("The PIN could not be checked."));
            return null;
        }
        const card = verified.card;
        const decimals = pos.currency.decimal_places;
        const fmt = (value) => this.env.utils.formatCurrency(value);
        // What other payment lines of this order already take from the same card.
        const used = this.currentOrder.payment_ids
            .filter((p) => p.getLoyaltyGiftCard?.()?.id === card.id)
            .reduce((sum, p) => sum + p.get_amount(), 0);
        const available = Math.max((card.balance_available ?? card.balance) - used, 0);
        const max = Number(Math.min(due, available).toFixed(decimals));
        if (!(max > 0)) {
            pos.loyaltyGiftCardAlert(_t("This gift card has nothing left to spend."));
            return null;
        }
        const entered = await makeAwaitable(this.dialog, NumberPopup, {
            title: _t("Pay with gift card"),
            subtitle: _t("Available %(balance)s: up to %(max)s", {
                balance: fmt(card.balance_available ?? card.balance),
                max: fmt(max),
            }),
            startingValue: String(max),
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
        if (!(amount > 0) || amount - max > Math.pow(10, -decimals) / 2) {
            pos.loyaltyGiftCardAlert(_t("Enter an amount of at most %(max)s.", {max: fmt(max)}));
            return null;
        }
        return {card, token: verified.token, amount: Number(amount.toFixed(decimals))};
    },
});
