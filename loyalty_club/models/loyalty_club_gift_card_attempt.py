import hashlib
import hmac
from datetime import timedelta

from odoo import api, fields, models

WINDOW_SECONDS = 60
MAX_FAILURES = 10


class LoyaltyClubGiftCardAttempt(models.Model):
    """Failed balance checks on the public page, counted per IP and per code (keyed hash,
    never the code itself) to rate-limit guessing."""

    _name = "loyalty.club.gift.card.attempt"
    _description = "Gift Card Balance Check Failure"
    _log_access = False

    ip = fields.Char(index=True, required=True)
    code_hash = fields.Char(index=True, required=True)
    date = fields.Datetime(required=True, index=True, default=fields.Datetime.now)

    @api.model
    def _code_hash(self, code):
        secret = self.env["loyalty.club.card"]._pin_secret()
        text = (code or "").strip().upper().replace("-", "").replace(" ", "")[:64]
        return hmac.new(secret, f"giftcard-attempt:{text}".encode(), hashlib.sha256).hexdigest()

    @api.model
    def _is_limited(self, ip, code_hash):
        """Whether the IP or the code had too many failures in the last minute."""
        since = fields.Datetime.now() - timedelta(seconds=WINDOW_SECONDS)
        self.env.cr.execute(
            """SELECT count(*) FILTER (WHERE ip = %s), count(*) FILTER (WHERE code_hash = %s)
                 FROM loyalty_club_gift_card_attempt WHERE date > %s AND (ip = %s OR code_hash = %s)""",
            [ip, code_hash, since, ip, code_hash],
        )
        by_ip, by_code = self.env.cr.fetchone()
        return by_ip >= MAX_FAILURES or by_code >= MAX_FAILURES

    @api.model
    def _record_failure(self, ip, code_hash):
        self.create({"ip": ip, "code_hash": code_hash})

    @api.model
    def _clean_old(self):
        self.env.cr.execute(
            "DELETE FROM loyalty_club_gift_card_attempt WHERE date < %s",
            [fields.Datetime.now() - timedelta(hours=1)],
        )
