import {_t} from "@web/core/l10n/translation";
import {patch} from "@web/core/utils/patch";
import {floatIsZero, roundDecimals} from "@web/core/utils/numbers";
import {onMounted} from "@odoo/owl";
import {PaymentScreen} from "@point_of_sale/app/screens/payment_screen/payment_screen";
import {makeAwaitable} from "@point_of_sale/app/store/make_awaitable_dialog";
import {NumberPopup} from "@point_of_sale/app/utils/input_popups/number_popup";
import {BACKSPACE, EMPTY, ZERO, getButtons} from "@point_of_sale/app/generic_components/numpad/numpad";
import {PaymentScreenPaymentLines} from "@point_of_sale/app/screens/payment_screen/payment_lines/payment_lines";

/** Whether a payment line spends club points or gift card money held on the server. */
function isHeldClubPayment(line) {
    const method = line?.payment_method_id;
    return Boolean(method && (method.loyalty_club_points || method.loyalty_gift_card) && line.amount > 0);
}

/** Whether a payment line spends club points held on the server. */
function isHeldPointsPayment(line) {
    return Boolean(line?.payment_method_id?.loyalty_club_points && line.amount > 0);
}

/** A whole, positive number of points typed on a keypad, else NaN. */
function parsePoints(buffer) {
    const text = String(buffer ?? "").trim();
    return /^\d+$/.test(text) ? Number(text) : NaN;
}

PaymentScreenPaymentLines.props.changeLoyaltyPoints = {type: Function, optional: true};

patch(PaymentScreenPaymentLines.prototype, {
    /** On small screens Odoo asks a tapped line's new amount in money: a points line asks its
     * points instead, a gift card line keeps what its card holds. */
    async selectLine(paymentline) {
        if (this.ui.isSmall && isHeldClubPayment(paymentline)) {
            this.props.selectLine(paymentline.uuid);
            if (isHeldPointsPayment(paymentline)) {
                await this.props.changeLoyaltyPoints?.(paymentline);
            }
            return;
        }
        return super.selectLine(...arguments);
    },
});

patch(PaymentScreen.prototype, {
    setup() {
        super.setup(...arguments);
        onMounted(() => this.loyaltyClubProposeRefundTenders());
    },

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
        const refused = this.loyaltyClubRefundTenderError();
        if (refused) {
            this.pos.loyaltyClubAlert(refused);
            return;
        }
        return super.validateOrder(...arguments);
    },

    async addNewPaymentLine(paymentMethod) {
        if (!paymentMethod.loyalty_club_points) {
            return super.addNewPaymentLine(...arguments);
        }
        const order = this.currentOrder;
        if (order.getLoyaltyCard()?.refund) {
            const amount = this.loyaltyClubRefundPointsAmount();
            if (amount === null) {
                return false;
            }
            const result = await super.addNewPaymentLine(...arguments);
            if (result) {
                const line = order.get_selected_paymentline();
                line.set_amount(amount);
                line.setLoyaltyPointsBack(-this.loyaltyClubRefundShares(order).pointsBack, amount);
            }
            return result;
        }
        return this.loyaltyClubPayWithPoints(paymentMethod);
    },

    /**
     * Pay with points: the member's PIN is checked by the server for this order, the cashier
     * enters a number of points, the server holds them and answers the money they pay. With
     * ``replacing``, the points line the cashier changes: its points are freed first and the
     * new line takes its place (an unchanged number keeps it as it is).
     */
    async loyaltyClubPayWithPoints(paymentMethod, {replacing = null} = {}) {
        const order = this.currentOrder;
        const spend = await this.loyaltyClubAskPoints({replacing});
        if (!spend) {
            return false;
        }
        if (replacing) {
            if (spend.points === replacing.getLoyaltyHold()?.points) {
                return false;
            }
            order.remove_paymentline(replacing);
            await this.loyaltyClubFreeLine(replacing, order);
        }
        const result = await super.addNewPaymentLine(paymentMethod);
        return this.loyaltyClubHoldPaymentLine(result, {
            method: "loyalty_club_hold_points",
            args: [spend.card.id, spend.points],
            token: spend.token,
            onHeld: (line, held) => {
                line.setLoyaltyHold({points: held.points, amount: held.amount});
                order.updateLoyaltyCard(held.card);
            },
            alert: (message) => this.pos.loyaltyClubAlert(message),
            offlineMessage: _t(
                "The points could not be set aside: the till must be online to pay with points."
            ),
        });
    },

    /**
     * Let the server hold what the payment line just added (``result`` of addNewPaymentLine)
     * pays: ``method`` of pos.config is called with ``args``, the order and line uuids and
     * ``token``; the line pays the amount the server answers and ``onHeld(line, held)`` keeps
     * the rest of the answer. Nothing else is paid while the server answers; a refusal removes
     * the line and shows the server's reason (``offlineMessage`` when it gave none).
     */
    async loyaltyClubHoldPaymentLine(result, {method, args, token, onHeld, alert, offlineMessage}) {
        if (!result) {
            return result;
        }
        const order = this.currentOrder;
        const line = order.get_selected_paymentline();
        line.set_amount(0);
        this.env.services.ui.block();
        try {
            const held = await this.pos.data.call("pos.config", method, [
                [this.pos.config.id],
                ...args,
                order.uuid,
                line.uuid,
                token,
            ]);
            line.set_amount(held.amount);
            onHeld(line, held);
            return result;
        } catch (error) {
            order.remove_paymentline(line);
            alert(error.data?.message || offlineMessage);
            return false;
        } finally {
            this.env.services.ui.unblock();
        }
    },

    deletePaymentLine(uuid) {
        const order = this.currentOrder;
        const line = this.paymentLines.find((l) => l.uuid === uuid);
        const held = isHeldClubPayment(line);
        const result = super.deletePaymentLine(...arguments);
        if (held && !order.payment_ids.some((l) => l.uuid === uuid)) {
            this.loyaltyClubFreeLine(line, order);
        }
        return result;
    },

    /** Free on the server what the removed line ``line`` of ``order`` held; once freed, its
     * points count again in the member's available points the till shows. */
    async loyaltyClubFreeLine(line, order) {
        const points = line.getLoyaltyHold?.()?.points || 0;
        const freed = await this.pos.loyaltyClubReleaseHolds([line.uuid]);
        if (freed && points) {
            order.loyaltyClubPointsFreed(points);
        }
    },

    /** The cashier changes the points of a held points line (typed on the numpad, or the line
     * tapped on a small screen): the new number is entered in points, the PIN asked again. */
    async loyaltyClubChangePoints(line) {
        if (this.loyaltyClubChanging) {
            return false;
        }
        this.loyaltyClubChanging = true;
        try {
            return await this.loyaltyClubPayWithPoints(line.payment_method_id, {replacing: line});
        } finally {
            this.loyaltyClubChanging = false;
        }
    },

    updateSelectedPaymentline(amount = false) {
        const line = this.selectedPaymentLine;
        if (isHeldClubPayment(line) && amount !== null && this.numberBuffer.get() !== null) {
            this.numberBuffer.reset();
            if (isHeldPointsPayment(line)) {
                // A points line is changed in points, on the points keypad (the PIN asked again).
                this.loyaltyClubChangePoints(line);
                return;
            }
            // What the server holds is what the line pays: change it by removing the line.
            this.pos.loyaltyClubAlert(_t("To change a gift card payment, remove it and add it again."));
            return;
        }
        return super.updateSelectedPaymentline(...arguments);
    },

    /**
     * Points to pay with: the member's PIN is checked by the server for this order, then the
     * cashier enters a whole number of points on a keypad of digits, the money they pay shown
     * beside (the server's rule: points times the point value, rounded by the currency; the
     * line pays what the server answers). ``replacing``: the points line being changed, whose
     * points and amount are available again. Returns {card, token, points} or null.
     */
    async loyaltyClubAskPoints({replacing = null} = {}) {
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
        const decimals = this.pos.currency.decimal_places;
        const due = order.get_due() + (replacing ? replacing.get_amount() : 0);
        if (due <= 0 || floatIsZero(due, decimals)) {
            return null;
        }
        const checked = await this.pos.loyaltyClubCheckPin(order);
        if (!checked) {
            return null;
        }
        const replaced = replacing?.getLoyaltyHold()?.points || 0;
        const available = (checked.card.points_available ?? checked.card.balance ?? 0) + replaced;
        const minimum = Math.max(club.redeem_min_points || 0, 1);
        if (available < minimum) {
            this.pos.loyaltyClubAlert(
                _t("The card has %(balance)s points available; at least %(minimum)s are needed to pay.", {
                    balance: available,
                    minimum,
                })
            );
            return null;
        }
        const value = checked.pointValue;
        const maxPoints = Math.floor(Math.min(due / value, available) + 1e-9);
        const fmt = (amount) => this.env.utils.formatCurrency(amount);
        const worth = (points) => fmt(roundDecimals(points * value, decimals));
        const isValid = (buffer) => {
            const points = parsePoints(buffer);
            return points > 0 && points <= maxPoints;
        };
        const entered = await makeAwaitable(this.dialog, NumberPopup, {
            title: _t("Pay with points"),
            subtitle: _t(
                "%(available)s points available, one point is worth %(value)s: up to %(max)s points (%(money)s)",
                {available, value: fmt(value), max: maxPoints, money: worth(maxPoints)}
            ),
            buttons: getButtons([{...EMPTY, disabled: true, class: "invisible"}, ZERO, BACKSPACE]),
            startingValue: String(Math.min(replaced, maxPoints) || maxPoints),
            formatDisplayedValue: (buffer) => (buffer ? _t("%(points)s pts", {points: buffer}) : ""),
            feedback: (buffer) =>
                isValid(buffer)
                    ? _t("Pays %(money)s", {money: worth(parsePoints(buffer))})
                    : _t("Enter a whole number of points, at most %(max)s.", {max: maxPoints}),
            isValid,
            confirmButtonLabel: _t("Pay"),
        });
        if (entered === undefined || entered === null || entered === "") {
            return null;
        }
        const points = parsePoints(entered);
        if (!isValid(entered)) {
            this.pos.loyaltyClubAlert(
                _t("Enter a whole number of points, at most %(max)s.", {max: maxPoints})
            );
            return null;
        }
        return {card: checked.card, token: checked.token, points};
    },

    /** Money the refund gives back as points: the refunded order's points in proportion. */
    loyaltyClubRefundPointsAmount() {
        const order = this.currentOrder;
        const shares = this.loyaltyClubRefundShares(order);
        if (!shares?.points) {
            this.pos.loyaltyClubAlert(_t("The refunded order was not paid with points."));
            return null;
        }
        return shares.points;
    },

    /**
     * What a refund gives back per tender, in proportion to the refunded order's payments:
     * {points, gift, money} (negative amounts) and pointsBack (the points given back), or null
     * when this is no refund.
     */
    loyaltyClubRefundShares(order) {
        const refunded = order.getLoyaltyRefundedOrder();
        if (!refunded) {
            return null;
        }
        const decimals = this.pos.currency.decimal_places;
        const total = Math.abs(refunded.amount_total) || 1;
        const share = Math.min(1, Math.abs(order.get_total_with_tax()) / total);
        const payments = refunded.payment_ids || [];
        const sum = (filter) => payments.filter(filter).reduce((s, p) => s + p.amount, 0);
        const pointsPaid = sum((p) => p.payment_method_id?.loyalty_club_points);
        const giftPaid = sum((p) => p.payment_method_id?.loyalty_gift_card);
        const moneyPaid = sum(
            (p) => !p.payment_method_id?.loyalty_club_points && !p.payment_method_id?.loyalty_gift_card
        );
        let points = 0;
        let pointsBack = 0;
        const redeemed = refunded.loyalty_points_redeemed || 0;
        if (redeemed && pointsPaid > 0) {
            pointsBack = Math.round(share * redeemed);
            points = -roundDecimals((pointsBack * pointsPaid) / redeemed, decimals);
        }
        return {
            points,
            pointsBack,
            gift: giftPaid > 0 ? -roundDecimals(share * giftPaid, decimals) : 0,
            money: roundDecimals(share * moneyPaid, decimals),
        };
    },

    /** A refund of an order paid with points or gift cards gives those shares back the same way:
     * the payment lines are proposed when the payment screen opens. */
    loyaltyClubProposeRefundTenders() {
        const order = this.currentOrder;
        if (!order || order.uiState.loyaltyClubTendersProposed || order.payment_ids.length) {
            return;
        }
        const shares = this.loyaltyClubRefundShares(order);
        if (!shares || (!shares.points && !shares.gift)) {
            return;
        }
        order.uiState.loyaltyClubTendersProposed = true;
        const methods = this.payment_methods_from_config;
        const pointsMethod = methods.find((m) => m.loyalty_club_points);
        const giftMethod = methods.find((m) => m.loyalty_gift_card);
        for (const [method, amount] of [
            [pointsMethod, shares.points],
            [giftMethod, shares.gift],
        ]) {
            if (method && amount) {
                const line = order.add_paymentline(method);
                line?.set_amount(amount);
                if (line && method === pointsMethod) {
                    line.setLoyaltyPointsBack(-shares.pointsBack, amount);
                }
            }
        }
    },

    /** Why this refund cannot be validated as it is (money paid out beyond the refunded order's
     * money share), or null. */
    loyaltyClubRefundTenderError() {
        const order = this.currentOrder;
        const shares = this.loyaltyClubRefundShares(order);
        if (!shares || (!shares.points && !shares.gift)) {
            return null;
        }
        const decimals = this.pos.currency.decimal_places;
        const paidOut = -order.payment_ids
            .filter((p) => !p.payment_method_id.loyalty_club_points && !p.payment_method_id.loyalty_gift_card)
            .reduce((s, p) => s + p.get_amount(), 0);
        if (paidOut - shares.money <= Math.pow(10, -decimals) / 2) {
            return null;
        }
        const fmt = (amount) => this.env.utils.formatCurrency(amount);
        return _t(
            "The refunded order was paid partly with club points or gift cards: give back %(points)s as points and %(gift)s to gift cards; at most %(money)s may be paid out in cash or by bank.",
            {points: fmt(-shares.points), gift: fmt(-shares.gift), money: fmt(shares.money)}
        );
    },
});
