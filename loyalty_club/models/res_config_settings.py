import secrets

from odoo import api, fields, models

from ..tools.sms_gateway import GatewayError
from .sms_sms import PARAM, PROVIDERS


class ResConfigSettings(models.TransientModel):
    """SMS gateway of the database (issue 21): Odoo IAP or a local gateway, its API key and sender
    line (system parameters, read and written by system administrators only), the sending rate and
    the secret of the delivery report URL; a test send and the account's credit on demand."""

    _inherit = "res.config.settings"

    loyalty_sms_provider = fields.Selection(
        PROVIDERS, "SMS gateway", default="iap", required=True, config_parameter=PARAM + "provider"
    )
    loyalty_sms_kavenegar_api_key = fields.Char(
        "Kavenegar API key", config_parameter=PARAM + "kavenegar_api_key", groups="base.group_system"
    )
    loyalty_sms_kavenegar_sender = fields.Char("Kavenegar sender line", config_parameter=PARAM + "kavenegar_sender")
    loyalty_sms_smsir_api_key = fields.Char(
        "SMS.ir API key", config_parameter=PARAM + "smsir_api_key", groups="base.group_system"
    )
    loyalty_sms_smsir_sender = fields.Char("SMS.ir line number", config_parameter=PARAM + "smsir_sender")
    loyalty_sms_rate = fields.Float(
        "SMS per second", config_parameter=PARAM + "rate", help="Sending rate the gateway allows (0: no limit)."
    )
    loyalty_sms_callback_token = fields.Char(
        "Delivery report token", config_parameter=PARAM + "callback_token", groups="base.group_system"
    )
    loyalty_sms_test_number = fields.Char("Test number")

    @api.model
    def get_values(self):
        values = super().get_values()
        if self.env.user.has_group("base.group_system") and not values.get("loyalty_sms_callback_token"):
            token = secrets.token_urlsafe(24)
            self.env["ir.config_parameter"].sudo().set_param(PARAM + "callback_token", token)
            values["loyalty_sms_callback_token"] = token
        return values

    def _loyalty_notify(self, message, kind):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": message, "type": kind, "sticky": kind != "success"},
        }

    def action_loyalty_sms_test(self):
        """Send one SMS to the test number through the configured gateway and say what it answered."""
        self.ensure_one()
        if not self.env.user.has_group("base.group_system"):
            return self._loyalty_notify(self.env._("Only administrators can send a test SMS."), "danger")
        if not self.loyalty_sms_test_number:
            return self._loyalty_notify(self.env._("Enter the number to send the test SMS to."), "warning")
        self.execute()
        sms = (
            self.env["sms.sms"]
            .sudo()
            .create(
                {
                    "number": self.loyalty_sms_test_number,
                    "body": self.env._("Test message of the customer club: the SMS gateway works."),
                }
            )
        )
        sms._send(unlink_failed=False, unlink_sent=False)
        if sms.state == "error":
            failure = dict(sms._fields["failure_type"]._description_selection(self.env)).get(sms.failure_type)
            return self._loyalty_notify(self.env._("The test SMS was not sent: %(reason)s", reason=failure), "danger")
        return self._loyalty_notify(
            self.env._(
                "The test SMS was sent (gateway id %(ref)s, %(segments)s segment(s)).",
                ref=sms.loyalty_gateway_ref or "-",
                segments=sms.loyalty_sms_segments,
            ),
            "success",
        )

    def action_loyalty_sms_credit(self):
        """The remaining credit of the gateway account, asked now."""
        self.ensure_one()
        if not self.env.user.has_group("base.group_system"):
            return self._loyalty_notify(self.env._("Only administrators can read the SMS credit."), "danger")
        self.execute()
        gateway = self.env["sms.sms"]._loyalty_sms_gateway()
        if gateway is None:
            return self._loyalty_notify(self.env._("Odoo IAP: see the credit in the IAP account."), "info")
        try:
            amount, unit = gateway.credit()
        except GatewayError as error:
            return self._loyalty_notify(self.env._("The credit could not be read: %(error)s", error=error), "danger")
        amount_text = f"{amount:,.0f}"
        return self._loyalty_notify(
            self.env._(
                "Credit of the %(gateway)s account: %(amount)s %(unit)s",
                gateway=gateway.name,
                amount=amount_text,
                unit=unit,
            ),
            "success",
        )
