from odoo import api, fields, models
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
        order, card, reward = self.order_id, self.card_id.sudo(), self.reward_id
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
        order._loyalty_add_reward(card, reward, self.available_points)
        return {"type": "ir.actions.act_window_close"}
