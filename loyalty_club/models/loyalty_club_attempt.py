import hashlib
import hmac
import logging
from datetime import timedelta

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import UserError
from odoo.http import request
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

CHANNELS = [
    ("balance_page", "Gift card balance page"),
    ("pos", "Point of Sale"),
    ("backoffice", "Back office"),
]
STAFF_CHANNELS = ("pos", "backoffice")
# (channels counted together, or None for all; scope; column; system parameter; default limit)
LIMITS = [
    (("balance_page",), "ip", "ip", "loyalty_club.attempt_limit_page_ip", 10),
    (STAFF_CHANNELS, "ip", "ip", "loyalty_club.attempt_limit_staff_ip", 30),
    (STAFF_CHANNELS, "user", "user_id", "loyalty_club.attempt_limit_user", 10),
    (("pos",), "pos_session", "pos_session_id", "loyalty_club.attempt_limit_pos_session", 10),
    (None, "code", "code_hash", "loyalty_club.attempt_limit_code", 10),
]
WINDOW_PARAM = "loyalty_club.attempt_window_seconds"
WINDOW_DEFAULT = 60
# Failures are kept at least this long (the cleanup runs with the daily gift card job).
KEEP_SECONDS = 3600


class LoyaltyClubAttempt(models.Model):
    """One failed card or gift card lookup or PIN check, kept a short while to limit guessing.

    Failures are counted in a sliding window per IP address (public page and staff apart), per
    user (POS and back office), per POS session and per code (a keyed hash, never the code
    itself). Beyond a
    limit the caller gets one uniform error and nothing is looked up. The limits are system
    parameters (``loyalty_club.attempt_*``, 0 switches a scope off); see the README.
    """

    _name = "loyalty.club.attempt"
    _description = "Failed Card Check"
    _order = "date desc, id desc"
    _log_access = False

    date = fields.Datetime(required=True, index=True, default=fields.Datetime.now, readonly=True)
    channel = fields.Selection(CHANNELS, required=True, readonly=True)
    ip = fields.Char("IP address", index="btree_not_null", readonly=True)
    user_id = fields.Many2one("res.users", index="btree_not_null", ondelete="cascade", readonly=True)
    pos_session_id = fields.Many2one(
        "pos.session", "POS session", index="btree_not_null", ondelete="cascade", readonly=True
    )
    code_hash = fields.Char("Code (keyed hash)", index="btree_not_null", readonly=True)

    # ------------------------------------------------------------------
    # Caller and limits
    # ------------------------------------------------------------------
    @api.model
    def _code_hash(self, code):
        """Keyed hash of a typed code (case, spaces and hyphens ignored): counted, never stored."""
        secret = self.env["loyalty.club.card"]._pin_secret()
        text = code if isinstance(code, str) else str(code or "")
        text = text.strip().upper().replace("-", "").replace(" ", "")[:64]
        return hmac.new(secret, f"giftcard-attempt:{text}".encode(), hashlib.sha256).hexdigest()

    @api.model
    def _request_ip(self):
        """The caller's address when there is an HTTP request (behind a proxy: ``proxy_mode``)."""
        try:
            return (request and request.httprequest.remote_addr) or None
        except RuntimeError:  # no request bound to this thread
            return None

    @api.model
    def _scope(self, channel, code=None, user=None, pos_session=None, ip=None):
        """Who is asking: {column: value} of the scopes that apply to ``channel``."""
        scope = {"channel": channel, "ip": ip if ip is not None else self._request_ip()}
        if channel in STAFF_CHANNELS:
            scope["user_id"] = (user or self.env.user).id
        if channel == "pos":
            scope["pos_session_id"] = pos_session.id if pos_session else None
        if code is not None:
            scope["code_hash"] = self._code_hash(code)
        return scope

    @api.model
    def _param_int(self, key, default):
        """A whole number >= 0 from the system parameter ``key``; ``default`` when unset or invalid."""
        value = self.env["ir.config_parameter"].sudo().get_param(key)
        if value in (None, False, ""):
            return default
        try:
            value = int(value)
        except (TypeError, ValueError):
            return default
        return value if value >= 0 else default

    @api.model
    def _window_start(self):
        return fields.Datetime.now() - timedelta(seconds=self._param_int(WINDOW_PARAM, WINDOW_DEFAULT) or 1)

    @api.model
    def _limits(self, scope):
        """[(column, value, limit, channels or None)] of the scopes of ``scope`` that are limited."""
        limits = []
        for channels, _name, column, param, default in LIMITS:
            if (channels and scope["channel"] not in channels) or not scope.get(column):
                continue
            limit = self._param_int(param, default)
            if limit:
                limits.append((column, scope[column], limit, channels))
        return limits

    @api.model
    def _is_limited(self, scope):
        """Whether any scope of the caller had its limit of failures in the window."""
        limits = self._limits(scope)
        if not limits:
            return False
        self.flush_model()
        counts = []
        matches = []
        for column, value, _limit, channels in limits:
            condition = SQL("%s = %s", SQL.identifier(column), value)
            if channels:
                condition = SQL("%s AND channel IN %s", condition, tuple(channels))
            counts.append(SQL("count(*) FILTER (WHERE %s)", condition))
            matches.append(condition)
        self.env.cr.execute(
            SQL(
                "SELECT %s FROM loyalty_club_attempt WHERE date > %s AND (%s)",
                SQL(", ").join(counts),
                self._window_start(),
                SQL(" OR ").join(matches),
            )
        )
        row = self.env.cr.fetchone()
        return any(count >= limit for count, (_column, _value, limit, _channels) in zip(row, limits, strict=True))

    @api.model
    def _limited_error(self):
        """The one answer to a limited caller, whatever the code or PIN."""
        return UserError(self.env._("Too many failed card or PIN checks. Please wait a moment and try again."))

    @api.model
    def _check_limit(self, scope):
        """Raise the uniform error when the caller is limited (before anything is looked up)."""
        if self._is_limited(scope):
            raise self._limited_error()

    # ------------------------------------------------------------------
    # Recording
    # ------------------------------------------------------------------
    @api.model
    def _record_failure(self, scope):
        """Count a failure of the caller, also when its request is then rolled back.

        The row is inserted in the request's transaction (kept if the request commits, as the
        balance page does) and, should that transaction roll back (an RPC that raises the
        uniform error), inserted again in a transaction of its own right after the rollback.
        """
        values = {
            "date": fields.Datetime.now(),
            "channel": scope["channel"],
            "ip": scope.get("ip"),
            "user_id": scope.get("user_id"),
            "pos_session_id": scope.get("pos_session_id"),
            "code_hash": scope.get("code_hash"),
        }
        self._insert(self.env.cr, values)
        registry = self.env.registry

        def keep_after_rollback():
            try:
                with registry.cursor() as cr:
                    self.with_env(api.Environment(cr, SUPERUSER_ID, {}))._insert(cr, values)
            except Exception:
                _logger.warning("loyalty_club: could not record a failed card check", exc_info=True)

        self.env.cr.postrollback.add(keep_after_rollback)

    @api.model
    def _insert(self, cr, values):
        cr.execute(
            SQL(
                """INSERT INTO loyalty_club_attempt (date, channel, ip, user_id, pos_session_id, code_hash)
                   VALUES (%s, %s, %s, %s, %s, %s)""",
                values["date"],
                values["channel"],
                values["ip"],
                values["user_id"],
                values["pos_session_id"],
                values["code_hash"],
            )
        )

    @api.model
    def _clean_old(self):
        """Forget failures older than the window (at least an hour)."""
        seconds = max(self._param_int(WINDOW_PARAM, WINDOW_DEFAULT), KEEP_SECONDS)
        self.env.cr.execute(
            "DELETE FROM loyalty_club_attempt WHERE date < %s",
            [fields.Datetime.now() - timedelta(seconds=seconds)],
        )
