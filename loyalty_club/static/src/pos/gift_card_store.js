import {_t} from "@web/core/l10n/translation";
import {patch} from "@web/core/utils/patch";
import {AlertDialog} from "@web/core/confirmation_dialog/confirmation_dialog";
import {PosStore} from "@point_of_sale/app/store/pos_store";
import {makeAwaitable} from "@point_of_sale/app/store/make_awaitable_dialog";
import {TextInputPopup} from "@point_of_sale/app/utils/input_popups/text_input_popup";

/**
 * Gift cards at the till. Cards are looked up by code on the server; the PIN is checked by the
 * server, which returns a signed token; the till never keeps a PIN.
 */
patch(PosStore.prototype, {
    loyaltyGiftCardAlert(body) {
        this.dialog.add(AlertDialog, {title: _t("Gift card"), body});
    },

    /** Ask the cashier for a code; returns the server's card summary or null. */
    async loyaltyGiftCardAsk({forSale = false} = {}) {
        const code = await makeAwaitable(this.dialog, TextInputPopup, {
            title: _t("Gift card"),
            placeholder: forSale
                ? _t("Scan a pre-printed card, or leave empty for a new card")
                : _t("Scan or type the gift card code"),
        });
        if (code === undefined || code === null) {
            return null;
        }
        if (!code.trim()) {
            return forSale ? {code: "", newCard: true} : null;
        }
        try {
            const card = await this.data.call("pos.config", "loyalty_gift_card_find", [
                [this.config.id],
                code.trim(),
                forSale,
            ]);
            return {...card, code: code.trim()};
        } catch (error) {
            this.loyaltyGiftCardAlert(error.data?.message || _t("The gift card could not be checked."));
            return null;
        }
    },

    async addLineToCurrentOrder(vals, opts = {}, configure = true) {
        const product =
            typeof vals.product_id === "number"
                ? this.models["product.product"].get(vals.product_id)
                : vals.product_id;
        if (!product?.loyalty_gift_card) {
            return super.addLineToCurrentOrder(...arguments);
        }
        const card = await this.loyaltyGiftCardAsk({forSale: true});
        if (!card) {
            return false;
        }
        const line = await super.addLineToCurrentOrder(vals, opts, configure);
        if (line) {
            line.setLoyaltyGiftCard(card.newCard ? null : card);
        }
        return line;
    },
});
