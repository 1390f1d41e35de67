import hmac
import logging

from odoo.http import Controller, request, route

_logger = logging.getLogger(__name__)


class LoyaltyClubSmsGateway(Controller):
    """Delivery reports of the SMS gateways (issue 21).

    Kavenegar calls the URL set in its panel, ``/loyalty_club/sms/status/kavenegar/<token>``, with
    ``messageid`` and ``status`` (GET or POST). The token is the secret shown in the settings,
    compared in constant time; a wrong token gets a 403 and changes nothing.
    """

    @route(
        "/loyalty_club/sms/status/<string:provider>/<string:token>",
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
    )
    def loyalty_sms_status(self, provider, token, **params):
        expected = request.env["ir.config_parameter"].sudo().get_param("loyalty_club.sms_callback_token") or ""
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()) or provider != "kavenegar":
            _logger.warning("SMS delivery report refused (provider %s)", provider)
            return request.make_response("Forbidden", status=403)
        ref, status = params.get("messageid"), params.get("status")
        if not ref or not status or not str(ref).isdigit() or not str(status).isdigit():
            return request.make_response("Bad parameters", status=400)
        request.env["sms.sms"].sudo()._loyalty_update_statuses(provider, {str(ref): str(status)})
        return request.make_response("OK")
