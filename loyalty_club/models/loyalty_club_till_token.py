import hashlib
import secrets
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

# A PIN checked at the till is used at once (the cashier enters the amount to hold).
PIN_CHECK_MINUTES = 30


class LoyaltyClubTillToken(models.Model):
    """A PIN verified at a till: the server-side record behind the token the till gets back.

    The token is a random bearer secret; only its hash is stored, bound to the card, the till
    (POS config), the cashier and the order it was asked for. It is single-use, short-lived,
    and dies with the PIN: changing the card's PIN changes the hash it was issued for.
    """

    _name = "loyalty.club.till.token"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Till PIN Token"
    _order = "id desc"
    _log_access = False

    token_hash = fields.Char("Token (hash)", required=True, readonly=True, index=True)
    card_model = fields.Selection(
        [("loyalty.club.card", "Member card"), ("loyalty.club.gift.card", "Gift card")],
        "Kind of card",
        required=True,
        readonly=True,
    )
    card_res_id = fields.Integer("Card", required=True, readonly=True)
    pos_config_id = fields.Many2one("pos.config", "Point of Sale", required=True, readonly=True, ondelete="cascade")
    company_id = fields.Many2one(related="pos_config_id.company_id", store=True, index=True)
    user_id = fields.Many2one("res.users", "Cashier", required=True, readonly=True, ondelete="cascade")
    order_uuid = fields.Char("Order", required=True, readonly=True)
    pin_fingerprint = fields.Char("PIN (fingerprint of its hash)", required=True, readonly=True)
    date = fields.Datetime("Checked on", required=True, readonly=True, default=fields.Datetime.now)
    date_used = fields.Datetime("Used on", readonly=True)

    _sql_constraints = [("token_unique", "unique(token_hash)", "A token is issued once.")]

    @api.model
    def _digest(self, token):
        return hashlib.sha256(token.encode()).hexdigest()

    @api.model
    def _pin_fingerprint(self, card):
        """Fingerprint of the card's current PIN hash (changes whenever the PIN changes)."""
        self.env.cr.execute(SQL("SELECT pin_hash FROM %s WHERE id = %s", SQL.identifier(card._table), card.id))
        row = self.env.cr.fetchone()
        return hashlib.sha256(((row and row[0]) or "").encode()).hexdigest()

    @api.model
    def _issue(self, config, card, order_uuid):
        """A new token proving that ``card``'s PIN was just verified at ``config`` for the order
        ``order_uuid``; the PIN itself is never kept."""
        token = secrets.token_urlsafe(24)
        self.sudo().create(
            {
                "token_hash": self._digest(token),
                "card_model": card._name,
                "card_res_id": card.id,
                "pos_config_id": config.id,
                "user_id": self.env.uid,
                "order_uuid": order_uuid,
                "pin_fingerprint": self._pin_fingerprint(card),
            }
        )
        return token

    @api.model
    def _consume(self, config, card, order_uuid, token):
        """Use ``token`` once: True when it was issued for ``card`` at ``config`` by this cashier
        for the order ``order_uuid``, recently, for the card's current PIN, and never used.
        Atomic: of two requests with the same token, one wins."""
        if not isinstance(token, str) or not token or len(token) > 128:
            return False
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """UPDATE loyalty_club_till_token SET date_used = %(now)s
                    WHERE token_hash = %(hash)s AND date_used IS NULL AND date > %(since)s
                      AND card_model = %(model)s AND card_res_id = %(card)s AND pos_config_id = %(config)s
                      AND user_id = %(user)s AND order_uuid = %(order)s
                RETURNING pin_fingerprint""",
                now=fields.Datetime.now(),
                hash=self._digest(token),
                since=fields.Datetime.now() - timedelta(minutes=PIN_CHECK_MINUTES),
                model=card._name,
                card=card.id,
                config=config.id,
                user=self.env.uid,
                order=order_uuid or "",
            )
        )
        row = self.env.cr.fetchone()
        self.invalidate_model(["date_used"])
        return bool(row) and row[0] == self._pin_fingerprint(card)

    @api.model
    def _clean_old(self):
        """Forget checks older than a day (called by the hold job)."""
        self.env.cr.execute(
            "DELETE FROM loyalty_club_till_token WHERE date < %s", [fields.Datetime.now() - timedelta(days=1)]
        )
