import {_t} from "@web/core/l10n/translation";
import {patch} from "@web/core/utils/patch";
import {AlertDialog} from "@web/core/confirmation_dialog/confirmation_dialog";
import {PosStore} from "@point_of_sale/app/store/pos_store";
import {makeAwaitable} from "@point_of_sale/app/store/make_awaitable_dialog";
import {NumberPopup} from "@point_of_sale/app/utils/input_popups/number_popup";
import {BACKSPACE, EMPTY, ZERO, getButtons} from "@point_of_sale/app/generic_components/numpad/numpad";
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

    /** A PIN typed on a keypad of digits only (no decimal point), shown as dots. */
    async loyaltyAskPin(title, subtitle) {
        return await makeAwaitable(this.dialog, NumberPopup, {
            title,
            subtitle,
            buttons: getButtons([{...EMPTY, disabled: true, class: "invisible"}, ZERO, BACKSPACE]),
            formatDisplayedValue: (value) => "•".repeat(String(value || "").length),
            placeholder: "",
        });
    },

    /**
     * Ask the member's PIN and have the server check it for this order. Returns
     * {card, token, pointValue}: the card with its available points, a single-use token to hold
     * points for this order, the value of a point in this till's currency; null when refused.
     */
    async loyaltyClubCheckPin(order) {
        const card = order.getLoyaltyCard();
        if (!card) {
            return null;
        }
        const pin = await this.loyaltyAskPin(_t("Member's PIN"), _t("Let the member type their PIN"));
        if (!pin) {
            return null;
        }
        try {
            const result = await this.data.call("pos.config", "loyalty_club_verify_pin", [
                [this.config.id],
                card.id,
                String(pin),
                order.uuid,
            ]);
            order.updateLoyaltyCard(result.card);
            return {card: result.card, token: result.token, pointValue: result.point_value};
        } catch (error) {
            this.loyaltyClubAlert(error.data?.message || _t("The PIN could not be checked."));
            return null;
        }
    },

    /** Free on the server what removed payment lines held (best effort: an unreachable server
     * frees them when they expire). Returns how many holds the server freed. */
    async loyaltyClubReleaseHolds(paymentUuids) {
        if (!paymentUuids.length) {
            return 0;
        }
        try {
            return await this.data.call("pos.config", "loyalty_club_release_holds", [
                [this.config.id],
                paymentUuids,
            ]);
        } catch {
            // offline: the holds expire on their own
            return 0;
        }
    },

    /** Tell the cashier about paid orders whose club part the server flagged for a review. */
    loyaltyClubNotifyReviews(orders) {
        const flagged = (orders || []).filter((order) => order.loyalty_review_state === "to_review");
        for (const order of flagged) {
            this.notification.add(
                _t(
                    "Order %(order)s is saved, but its club points or gift cards wait for a manager's review.",
                    {order: order.pos_reference || order.name}
                ),
                {type: "warning", sticky: true}
            );
        }
    },

    postSyncAllOrders(orders) {
        const result = super.postSyncAllOrders(...arguments);
        this.loyaltyClubNotifyReviews(orders);
        return result;
    },

    /** Take the card off the order; what its points payments held is freed. */
    loyaltyClubClearCard(order) {
        this.loyaltyClubReleaseHolds(order.clearLoyaltyCard());
    },
});
