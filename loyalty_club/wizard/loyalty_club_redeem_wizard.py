from odoo import Command, api, fields, models
from odoo.exceptions import UserError


class LoyaltyClubRedeemWizard(models.TransientModel):
    """Use a member's points on a quotation: pick a reward, confirm with the PIN.

    The reward lines reserve the points; confirming the order spends them (under the card
    lock), cancelling it gives them back. The PIN field is not stored: it is checked when the
    wizard is saved, and failures count towards the card's lock like any other PIN check.
    """

    _name = "loyalty.club.redeem.wizard"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Use Club Points"
    # The order and the card are fixed once the wizard exists: a PIN checked for one card never
    # authorises another (the check is bound to the wizard and the card, see pin_verified).
    _loyalty_create_only_fields = frozenset({"order_id", "card_id"})

    order_id = fields.Many2one("sale.order", required=True, ondelete="cascade")
    card_id = fields.Many2one("loyalty.club.card", required=True, ondelete="cascade")
    club_id = fields.Many2one(related="card_id.club_id")
    balance = fields.Integer(related="card_id.balance")
    available_points = fields.Integer("Points available", compute="_compute_available_points")
    reward_id = fields.Many2one(
        "loyalty.club.reward", domain="[('club_id', '=', club_id)]", required=True, ondelete="cascade"
    )
    points_cost = fields.Integer(related="reward_id.points_cost")
    pin_required = fields.Boolean(related="club_id.redeem_pin_required")
    pin = fields.Char("Member PIN", compute="_compute_pin", inverse="_inverse_pin")
    pin_verified = fields.Boolean(compute="_compute_pin_verified")

    @api.depends("card_id")
    @api.depends_context("uid")
    def _compute_pin_verified(self):
        """Only a server-side record of the check says the PIN was verified: by this user, for this
        wizard and this very card, a few minutes ago."""
        Check = self.env["loyalty.club.pin.check"]
        for wizard in self:
            card = Check._verified_card(wizard, "loyalty.club.card")
            wizard.pin_verified = bool(card) and card == wizard.card_id

    @api.depends("card_id", "order_id")
    def _compute_available_points(self):
        for wizard in self:
            reserved = wizard.order_id._loyalty_open_reservations(wizard.card_id)
            wizard.available_points = wizard.card_id.points_available - reserved

    def _compute_pin(self):
        for wizard in self:
            wizard.pin = False

    def _inverse_pin(self):
        """Check the member's PIN (never stored); failures count towards the user's limit of
        failed card checks (``loyalty.club.attempt``)."""
        Attempt = self.env["loyalty.club.attempt"].sudo()
        for wizard in self:
            if wizard.pin:
                # a PIN is checked only for a card the user may see (not any card id sent over RPC)
                wizard.card_id.check_access("read")
                scope = Attempt._scope("backoffice", code=Attempt._card_key(wizard.card_id))
                Attempt._check_limit(scope)
                if wizard.card_id.sudo()._verify_pin(wizard.pin):
                    Attempt._record_success(scope)
                    self.env["loyalty.club.pin.check"]._record(wizard.card_id, wizard)
                else:
                    Attempt._record_failure(scope)
                wizard.invalidate_recordset(["pin_verified"])

    def action_apply(self):
        """Add the reward lines to the quotation, after every check; nothing is written on refusal."""
        self.ensure_one()
        order, card, reward, club = self.order_id, self.card_id.sudo(), self.reward_id, self.club_id
        order.check_access("write")  # an order and a card of the user's companies only
        self.card_id.check_access("read")
        if order.state not in ("draft", "sent"):
            raise UserError(self.env._("Points can be used on quotations only."))
        if order.sudo().loyalty_card_id != card or card.state != "active":
            raise UserError(self.env._("Use the active club card of the order's customer."))
        self.invalidate_recordset(["pin_verified"])  # the server's record of the check, read now
        if self.pin_required and not self.pin_verified:
            # the card is the order's, picked by staff: say what is wrong with the PIN
            raise card._pin_refusal_error()
        if reward not in reward._available_for(card):
            raise UserError(self.env._("The reward %s is not available to this member's tier.", reward.name))
        if card.balance < club.redeem_min_points:
            raise UserError(
                self.env._(
                    "Members can use points from %(minimum)s points on; this card has %(balance)s.",
                    minimum=club._format_points(club.redeem_min_points),
                    balance=club._format_points(card.balance),
                )
            )
        if self.available_points < reward.points_cost:
            raise UserError(
                self.env._(
                    "Not enough points: %(reward)s costs %(cost)s points, %(available)s are available "
                    "(balance less points reserved on open quotations and held at tills).",
                    reward=reward.name,
                    cost=club._format_points(reward.points_cost),
                    available=club._format_points(self.available_points),
                )
            )
        lines = self._reward_line_values(order, reward)
        if not lines:
            raise UserError(self.env._("This order has nothing the reward could apply to."))
        lines[0]["loyalty_reward_points"] = reward.points_cost
        for values in lines:
            values["loyalty_reward_card_id"] = card.id
        order.sudo().write({"order_line": [Command.create(values) for values in lines]})
        return {"type": "ir.actions.act_window_close"}

    @api.model
    def _reward_line_values(self, order, reward):
        """Values of the order lines that give ``reward``: for discounts and credits, one line per
        tax combination of the eligible lines, so each line carries the taxes of what it discounts.
        A credit in the club's currency is converted to the order's at the order's date rate."""
        common = {"loyalty_reward_id": reward.id}
        if reward.reward_type == "product":
            return [
                {
                    **common,
                    "product_id": reward.product_id.id,
                    "product_uom_qty": 1.0,
                    "discount": 100.0,
                    "sequence": 9999,
                }
            ]
        # the lines that earn points and get member discounts: never gift cards or excluded categories
        totals_by_taxes = order._loyalty_eligible_totals_by_taxes(order.loyalty_card_id.sudo().club_id)
        order_total = sum(totals_by_taxes.values())
        if not order_total:
            return []
        if reward.reward_type == "discount":
            shares = {taxes: total * reward.discount_percent / 100.0 for taxes, total in totals_by_taxes.items()}
        else:
            # the credit is worth its amount in the club's currency, at the order's date rate
            club = order.loyalty_card_id.sudo().club_id
            value = club._from_club_currency(
                reward.credit_amount, order.currency_id, order.company_id, order.date_order
            )
            credit = min(value, order_total)
            shares = {taxes: credit * total / order_total for taxes, total in totals_by_taxes.items()}
        label = self.env._(
            "%(reward)s (%(points)s points)",
            reward=reward.name,
            points=self.env["loyalty.club"]._format_points(reward.points_cost),
        )
        return order._loyalty_discount_line_values(shares, label, common)
