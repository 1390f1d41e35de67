from datetime import timedelta

from odoo import api, fields, models

# A PIN typed in a back-office wizard authorises that wizard for a short while only.
PIN_CHECK_VALIDITY_MINUTES = 15


class LoyaltyClubPinCheck(models.Model):
    """A PIN verified by the server, bound to the user who typed it, the card (member card or gift
    card) and the document it authorises (a wizard). Wizards derive "PIN verified" and "which card"
    from these rows, never from a field a client could write; only the server creates them."""

    _name = "loyalty.club.pin.check"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Verified PIN Check"
    _order = "id desc"
    _log_access = False

    date = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now, index=True)
    user_id = fields.Many2one("res.users", required=True, readonly=True, ondelete="cascade", index=True)
    card_model = fields.Char(required=True, readonly=True)
    card_id = fields.Many2oneReference("Card record", model_field="card_model", required=True, readonly=True)
    res_model = fields.Char("Authorised model", required=True, readonly=True)
    res_id = fields.Many2oneReference("Authorised record", model_field="res_model", required=True, readonly=True)

    _loyalty_protected_fields = frozenset({"date", "user_id", "card_model", "card_id", "res_model", "res_id"})

    @api.model
    def _record(self, card, record):
        """Remember that the PIN of ``card`` was verified by the current user for ``record``."""
        card.ensure_one()
        record.ensure_one()
        return self.sudo().create(
            {
                "user_id": self.env.uid,
                "card_model": card._name,
                "card_id": card.id,
                "res_model": record._name,
                "res_id": record.id,
            }
        )

    @api.model
    def _verified_card(self, record, card_model):
        """The card of ``card_model`` whose PIN the current user verified for ``record`` in the last
        minutes (the latest), else an empty recordset."""
        if not record.id or isinstance(record.id, models.NewId):
            return self.env[card_model].browse()
        check = self.sudo().search(
            [
                ("res_model", "=", record._name),
                ("res_id", "=", record.id),
                ("card_model", "=", card_model),
                ("user_id", "=", self.env.uid),
                ("date", ">", fields.Datetime.now() - timedelta(minutes=PIN_CHECK_VALIDITY_MINUTES)),
            ],
            limit=1,
        )
        return self.env[card_model].browse(check.card_id) if check else self.env[card_model].browse()

    @api.autovacuum
    def _gc_old_checks(self):
        """Checks older than their validity authorise nothing: forget them."""
        cutoff = fields.Datetime.now() - timedelta(minutes=PIN_CHECK_VALIDITY_MINUTES)
        self.sudo().search([("date", "<", cutoff)]).unlink()
