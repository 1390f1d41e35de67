import {_t} from "@web/core/l10n/translation";
import {patch} from "@web/core/utils/patch";
import {AlertDialog} from "@web/core/confirmation_dialog/confirmation_dialog";
import {PosStore} from "@point_of_sale/app/store/pos_store";
import {makeAwaitable} from "@point_of_sale/app/store/make_awaitable_dialog";
import {NumberPopup} from "@point_of_sale/app/utils/input_popups/number_popup";
import {SelectionPopup} from "@point_of_sale/app/utils/input_popups/selection_popup";
import {TextInputPopup} from "@point_of_sale/app/utils/input_popups/text_input_popup";

/**
 * Club features of the till. Cards are never preloaded: the till asks the server for one card
 * when the cashier scans, types or searches it. PINs are checked by the server and never kept.
 */
patch(PosStore.prototype, {
    get loyaltyClub() {
        return this.models["loyalty.club"]?.getFirst() || null;
    },

    loyaltyClubAlert(body) {
        this.dialog.add(AlertDialog, {title: _t("Customer club"), body});
    },

    async loyaltyClubAskCard() {
        const query = await makeAwaitable(this.dialog, TextInputPopup, {
            title: _t("Club card"),
            placeholder: _t("Scan the card, or type its number or the member's phone"),
        });
        if (query && query.trim()) {
            await this.loyaltyClubIdentify(query.trim());
        }
    },

    /**
     * Find the card for a scanned or typed number or phone and attach it to the current order.
     * With ``quiet``, a refusal is not shown (the caller tells the cashier); returns whether a
     * card was attached.
     */
    async loyaltyClubIdentify(query, {quiet = false} = {}) {
        const order = this.get_order();
        if (!order || !this.loyaltyClub) {
            return false;
        }
        let cards;
        try {
            cards = await this.data.call("pos.config", "loyalty_club_find_card", [[this.config.id], query]);
        } catch (error) {
            if (!quiet) {
                this.loyaltyClubAlert(error.data?.message || _t("The club card could not be checked."));
            }
            return false;
        }
        let card = cards[0];
        if (cards.length > 1) {
            card = await makeAwaitable(this.dialog, SelectionPopup, {
                title: _t("Several members have this phone"),
                list: cards.map((c) => ({
                    id: c.id,
                    label: `${c.partner_name} (${c.number_masked})`,
                    item: c,
                })),
            });
            if (!card) {
                return false;
            }
        }
        await this.loyaltyClubAttachCard(order, card);
        return true;
    },

    async loyaltyClubAttachCard(order, card) {
        let partner = this.models["res.partner"].get(card.partner_id);
        if (!partner) {
            const records = await this.data.read("res.partner", [card.partner_id]);
            partner = records?.[0] || this.models["res.partner"].get(card.partner_id);
        }
        if (partner && order.get_partner()?.id !== partner.id) {
            order.set_partner(partner);
        }
        order.setLoyaltyCard(card);
        await this.loyaltyClubRefreshDiscounts(order);
    },

    /** Fetch the branch's discount windows open now or later today and apply them. */
    async loyaltyClubRefreshDiscounts(order) {
        if (!order.uiState.loyaltyClub?.card) {
            return order.loyaltyClubApplyDiscounts();
        }
        try {
            const windows = await this.data.call("pos.config", "loyalty_club_discount_windows", [
                [this.config.id],
            ]);
            order.setLoyaltyWindows(windows);
        } catch {
            // Offline: keep the windows fetched earlier, still checked against the clock.
        }
        return order.loyaltyClubApplyDiscounts();
    },

    async addLineToCurrentOrder() {
        const line = await super.addLineToCurrentOrder(...arguments);
        const order = this.get_order();
        if (order?.uiState?.loyaltyClub?.card) {
            order.loyaltyClubApplyDiscounts();
        }
        return line;
    },

    /** Ask the member's PIN and have the server check it; true when the order may use points. */
    async loyaltyClubVerifyPin(order) {
        const card = order.getLoyaltyCard();
        if (!card) {
            return false;
        }
        if (order.uiState.loyaltyClub?.pinVerified) {
            return true;
        }
        const pin = await makeAwaitable(this.dialog, NumberPopup, {
            title: _t("Member's PIN"),
            subtitle: _t("Let the member type their PIN"),
            formatDisplayedValue: (value) => "•".repeat(String(value || "").length),
            placeholder: "",
        });
        if (!pin) {
            return false;
        }
        try {
            const result = await this.data.call("pos.config", "loyalty_club_verify_pin", [
                [this.config.id],
                card.id,
                String(pin),
            ]);
            order.setLoyaltyPinToken(result.token, result.card);
            return true;
        } catch (error) {
            this.loyaltyClubAlert(error.data?.message || _t("The PIN could not be checked."));
            return false;
        }
    },
});
