import hashlib
import hmac
import secrets
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

CODE_LENGTH = 6
CODE_VALID_MINUTES = 10
MAX_TRIES = 5
MAX_CODES_PER_HOUR = 5


class LoyaltyClubPhoneVerification(models.Model):
    """A one-time code sent by SMS to prove a customer holds a mobile number before the club
    records it (portal join, portal phone change). Only a keyed hash of the code is stored; it
    expires, allows a few tries, and a user may ask for a few codes an hour. The SMS goes through
    Odoo's queue (``sms.sms``), so whichever gateway is configured delivers it."""

    _name = "loyalty.club.phone.verification"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Mobile Number Verification"
    _order = "id desc"

    user_id = fields.Many2one("res.users", required=True, readonly=True, ondelete="cascade", index=True)
    partner_id = fields.Many2one("res.partner", "Contact to update", required=True, readonly=True, ondelete="cascade")
    phone = fields.Char("Mobile (E.164)", required=True, readonly=True)
    purpose = fields.Selection(
        [("join", "Join the club"), ("phone", "Change the mobile number")], required=True, readonly=True
    )
    target_field = fields.Selection(
        [("mobile", "Mobile"), ("phone", "Phone")],
        "Field to update",
        default="mobile",
        required=True,
        readonly=True,
    )
    state = fields.Selection(
        [("pending", "Sent"), ("verified", "Verified"), ("failed", "Too many tries"), ("cancelled", "Replaced")],
        default="pending",
        required=True,
        readonly=True,
    )
    expires_at = fields.Datetime(required=True, readonly=True)
    tries = fields.Integer(readonly=True)
    code_hash = fields.Char(readonly=True, groups=".")
    sms_id = fields.Many2one("sms.sms", "SMS", readonly=True, ondelete="set null")

    def _code_digest(self, code):
        self.ensure_one()
        secret = self.env["loyalty.club.card"]._pin_secret()
        return hmac.new(secret, f"loyalty_club.phone:{self.id}:{code}".encode(), hashlib.sha256).hexdigest()

    @api.model
    def _send(self, partner, phone, purpose, target_field="mobile"):
        """Send a new code to ``phone`` (E.164) for the current user, to write it on ``partner``'s
        ``target_field`` once typed back; earlier codes of the same purpose stop working. Returns
        the verification.

        :raises UserError: too many codes asked for in the last hour
        """
        Verification = self.sudo()
        since = fields.Datetime.now() - timedelta(hours=1)
        if Verification.search_count([("user_id", "=", self.env.uid), ("create_date", ">", since)]) >= (
            MAX_CODES_PER_HOUR
        ):
            raise UserError(self.env._("Too many codes were sent to you. Please try again in an hour."))
        Verification.search(
            [("user_id", "=", self.env.uid), ("purpose", "=", purpose), ("state", "=", "pending")]
        ).write({"state": "cancelled"})
        code = "".join(secrets.choice("0123456789") for _index in range(CODE_LENGTH))
        verification = Verification.create(
            {
                "user_id": self.env.uid,
                "partner_id": partner.id,
                "phone": phone,
                "purpose": purpose,
                "target_field": target_field,
                "expires_at": fields.Datetime.now() + timedelta(minutes=CODE_VALID_MINUTES),
            }
        )
        lang = partner.lang or self.env.user.lang or self.env.lang
        body = self.with_context(lang=lang).env._(
            "Your club verification code is %(code)s. It expires in %(minutes)s minutes.",
            code=code,
            minutes=CODE_VALID_MINUTES,
        )
        sms = self.env["sms.sms"].sudo().create({"number": phone, "body": body, "partner_id": partner.id})
        verification.write({"code_hash": verification._code_digest(code), "sms_id": sms.id})
        cron = self.env.ref("sms.ir_cron_sms_scheduler_action", raise_if_not_found=False)
        if cron:
            cron.sudo()._trigger()
        return verification

    @api.model
    def _pending(self, purpose):
        """The current user's code of ``purpose`` still waiting to be typed, if any."""
        return self.sudo().search(
            [("user_id", "=", self.env.uid), ("purpose", "=", purpose), ("state", "=", "pending")], limit=1
        )

    @api.model
    def _check(self, purpose, code):
        """The current user's verification of ``purpose`` if ``code`` is its code (it is then
        verified), else False: wrong, expired or exhausted codes alike. Every try is counted; the
        caller must not roll the count back (answer, do not raise)."""
        verification = self._pending(purpose)
        if not verification or verification.expires_at < fields.Datetime.now():
            return False
        tries = verification.tries + 1
        values = {"tries": tries}
        ok = isinstance(code, str) and hmac.compare_digest(
            verification.code_hash or "", verification._code_digest(code.strip())
        )
        if ok:
            values["state"] = "verified"
        elif tries >= MAX_TRIES:
            values["state"] = "failed"
        verification.write(values)
        return verification if ok else False

    def _apply(self):
        """Write the verified number on the contact (sudo: the customer proved they hold it) and
        leave a note of the change in the contact's chatter."""
        self.ensure_one()
        partner = self.partner_id.sudo()
        previous = partner[self.target_field]
        partner.write({self.target_field: self.phone})
        partner.message_post(
            body=self.env._(
                "%(field)s changed from %(old)s to %(new)s from the customer portal, verified by an SMS code.",
                field=partner._fields[self.target_field]._description_string(self.env),
                old=previous or "-",
                new=self.phone,
            )
        )

    @api.autovacuum
    def _gc_old_verifications(self):
        """Forget verifications after a day (the rate limit looks back an hour)."""
        self.sudo().search([("create_date", "<", fields.Datetime.now() - timedelta(days=1))]).unlink()
