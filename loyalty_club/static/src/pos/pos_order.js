import {_t} from "@web/core/l10n/translation";
import {patch} from "@web/core/utils/patch";
import {PosOrder} from "@point_of_sale/app/models/pos_order";
import {user} from "@web/core/user";

/**
 * The order's date in the Solar Hijri calendar when the till speaks Persian (receipts are read
 * by Persian-speaking customers), else null. Storage stays Gregorian/UTC.
 */
function formatJalaliDateTime(utcString, club) {
    if (!utcString || !user.lang?.startsWith("fa")) {
        return null;
    }
    const digits = club?.customer_persian_digits ? "arabext" : "latn";
    const formatter = new Intl.DateTimeFormat(`fa-IR-u-ca-persian-nu-${digits}`, {
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        hour12: false,
    });
    return formatter.format(luxon.DateTime.fromSQL(utcString, {zone: "utc"}).toJSDate());
}

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
        this.uiState.loyaltyClub = {card};
    },
    /** The server's newer summary of the attached card (available points after a hold...). */
    updateLoyaltyCard(card) {
        const state = this.uiState.loyaltyClub;
        if (state?.card && card && state.card.id === card.id) {
            state.card = {...state.card, ...card};
        }
    },
    /** Points of the attached card the member can spend now: balance less live holds, as the
     * server last said (after this till's holds and releases). */
    getLoyaltyPointsAvailable() {
        const card = this.getLoyaltyCard();
        return card ? (card.points_available ?? card.balance ?? 0) : 0;
    },
    /** ``points`` held for a removed payment line were freed on the server: the member has
     * them available again (as the server's next summary will say). */
    loyaltyClubPointsFreed(points) {
        const card = this.uiState.loyaltyClub?.card;
        if (card && typeof card.points_available === "number") {
            card.points_available += points;
            card.points_held = Math.max((card.points_held || 0) - points, 0);
        }
    },
    clearLoyaltyCard() {
        this.uiState.loyaltyClub = null;
        this.loyaltyClubApplyDiscounts();
        const pointsLines = this.payment_ids.filter((p) => p.payment_method_id.loyalty_club_points);
        for (const line of pointsLines) {
            this.remove_paymentline(line);
        }
        return pointsLines.filter((line) => line.amount > 0).map((line) => line.uuid);
    },
    set_partner(partner) {
        const card = this.uiState?.loyaltyClub?.card;
        const result = super.set_partner(...arguments);
        if (card && partner?.id !== card.partner_id) {
            this.uiState.loyaltyClub = null;
            this.loyaltyClubApplyDiscounts();
        }
        return result;
    },
    /** Display estimate of the points this order earns; the server computes the real ones. */
    getLoyaltyPointsEstimate() {
        const club = this.models["loyalty.club"].getFirst();
        const card = this.getLoyaltyCard();
        if (!club || !card || card.refund || !club.earn_amount || !club.earn_points) {
            return 0;
        }
        let spend = 0;
        for (const line of this.lines) {
            if (!this.loyaltyClubLineEligible(line, club)) {
                continue;
            }
            spend += club.earn_on_tax_included ? line.get_price_with_tax() : line.get_price_without_tax();
        }
        if (spend <= 0) {
            return 0;
        }
        // the part paid with club points earns only when the club says so (as on the server)
        const total = this.get_total_with_tax();
        const pointsPaid = this.payment_ids
            .filter((p) => p.payment_method_id.loyalty_club_points && p.amount > 0)
            .reduce((paid, p) => paid + p.amount, 0);
        if (!club.earn_on_points_paid && pointsPaid > 0 && total > 0) {
            spend *= Math.max(0, total - pointsPaid) / total;
        }
        const tier = this.models["loyalty.club.tier"].get(card.tier_id);
        const multiplier = tier?.earn_multiplier || 1;
        return roundPoints((spend / club.earn_amount) * club.earn_points * multiplier, club.earn_rounding);
    },
    /** Whether a line earns points and gets member discounts (same rule as the server). */
    loyaltyClubLineEligible(line, club) {
        const product = line.get_product();
        const tipProduct = this.config.tip_product_id;
        if (
            line.qty <= 0 ||
            line.refunded_orderline_id ||
            !product ||
            (tipProduct && product.id === tipProduct.id) ||
            product.loyalty_club_no_earn
        ) {
            return false;
        }
        const excluded = club.earn_excluded_categ_ids || [];
        let categ = product.categ_id;
        while (categ) {
            if (excluded.some((c) => c.id === categ.id)) {
                return false;
            }
            categ = categ.parent_id;
        }
        return true;
    },
    setLoyaltyWindows(windows) {
        if (this.uiState.loyaltyClub) {
            this.uiState.loyaltyClub.windows = windows || [];
        }
    },
    /**
     * Apply the member's tier discount and the best discount window open now on each eligible
     * line, per the club's stacking rule and each window's cap; restore lines when the member
     * or the window goes. The server checks the result again when the order is paid.
     * Returns true when a line's discount changed.
     */
    loyaltyClubApplyDiscounts() {
        const club = this.models["loyalty.club"].getFirst();
        const state = this.uiState.loyaltyClub;
        const card = state?.card;
        const now = luxon.DateTime.utc().toFormat("yyyy-MM-dd HH:mm:ss");
        const tier = card && this.models["loyalty.club.tier"].get(card.tier_id);
        const tierPercent = tier?.discount_percent || 0;
        const windows = (state?.windows || []).filter(
            (w) =>
                w.intervals.some((i) => i.start <= now && now < i.end) &&
                (!w.tier_ids.length || w.tier_ids.includes(card.tier_id)) &&
                (!w.partner_category_ids.length ||
                    w.partner_category_ids.some((id) => (card.partner_category_ids || []).includes(id)))
        );
        const wanted = new Map();
        const capped = new Map();
        for (const line of this.lines) {
            if (!club || !card || card.refund || !this.loyaltyClubLineEligible(line, club)) {
                continue;
            }
            const categId = line.get_product().categ_id?.id;
            let best = null;
            for (const w of windows) {
                const covers = !w.product_category_ids.length || w.product_category_ids.includes(categId);
                if (covers && w.discount_percent > (best?.discount_percent || 0)) {
                    best = w;
                }
            }
            const windowPercent = best?.discount_percent || 0;
            let percent = tierPercent;
            let windowPart = 0;
            if (club.discount_stacking === "additive") {
                percent = Math.max(
                    tierPercent,
                    Math.min(tierPercent + windowPercent, club.discount_stacking_max)
                );
                windowPart = percent - tierPercent;
            } else if (windowPercent > tierPercent) {
                percent = windowPercent;
                windowPart = windowPercent;
            }
            if (!percent) {
                continue;
            }
            const entry = {percent, window: windowPart ? best : null, windowPart};
            wanted.set(line, entry);
            if (entry.window?.max_discount_amount) {
                const gross = line.getUnitDisplayPriceBeforeDiscount() * line.get_quantity();
                capped.set(entry.window, [...(capped.get(entry.window) || []), [entry, gross]]);
            }
        }
        for (const [window, entries] of capped) {
            const savings = entries.reduce(
                (sum, [entry, gross]) => sum + (gross * entry.windowPart) / 100,
                0
            );
            if (savings <= window.max_discount_amount) {
                continue;
            }
            const factor = window.max_discount_amount / savings;
            for (const [entry] of entries) {
                const part = Math.floor(entry.windowPart * factor * 100) / 100;
                if (club.discount_stacking === "additive") {
                    entry.percent = entry.percent - entry.windowPart + part;
                    entry.windowPart = part;
                } else if (part > tierPercent) {
                    Object.assign(entry, {percent: part, windowPart: part});
                } else {
                    Object.assign(entry, {percent: tierPercent, window: null, windowPart: 0});
                }
            }
        }
        let changed = false;
        for (const line of this.lines) {
            const previous = line.getLoyaltyDiscount();
            let base = line.get_discount();
            if (previous) {
                // A discount the cashier typed over the member's one is kept as the base.
                base = Math.abs(base - previous.percent) < 0.001 ? previous.base : base;
            }
            const entry = wanted.get(line);
            const next =
                entry && entry.percent > base
                    ? {
                          percent: Math.round(entry.percent * 100) / 100,
                          windowId: entry.window?.id || false,
                          windowName: entry.window?.name || "",
                          base,
                      }
                    : null;
            const target = next ? next.percent : base;
            if (Math.abs(line.get_discount() - target) > 0.001) {
                line.set_discount(target);
                changed = true;
            }
            if (JSON.stringify(previous || null) !== JSON.stringify(next)) {
                changed = true;
            }
            line.setLoyaltyDiscount(next);
        }
        return changed;
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
            data.loyalty_club_card_id = this.uiState?.loyaltyClub?.card?.id || false;
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
            review: this.loyalty_review_state === "to_review" && !this.loyalty_review_booked,
            estimateLabel: _t("(estimate)"),
        };
    },
    export_for_printing() {
        const result = super.export_for_printing(...arguments);
        result.loyaltyClub = this.getLoyaltyReceiptData();
        const jalali = formatJalaliDateTime(this.date_order, this.models["loyalty.club"].getFirst());
        if (jalali) {
            result.date = jalali;
        }
        return result;
    },
});
