import hashlib
import hmac
import logging
from datetime import timedelta

from psycopg2.extensions import ISOLATION_LEVEL_READ_COMMITTED, TRANSACTION_STATUS_IDLE

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import UserError
from odoo.http import request
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

CHANNELS = [
    ("balance_page", "Gift card balance page"),
    ("pos", "Point of Sale"),
    ("backoffice", "Back office"),
    ("partner", "Coalition partner portal"),
]
STAFF_CHANNELS = ("pos", "backoffice")
# Channels limited per user (who typed the code): staff, and the portal users of coalition partners.
USER_CHANNELS = (*STAFF_CHANNELS, "partner")
# (channels counted together, or None for all; scope; column; system parameter; default limit)
LIMITS = [
    (("balance_page",), "ip", "ip", "loyalty_club.attempt_limit_page_ip", 10),
    (STAFF_CHANNELS, "ip", "ip", "loyalty_club.attempt_limit_staff_ip", 30),
    (STAFF_CHANNELS, "user", "user_id", "loyalty_club.attempt_limit_user", 10),
    (("pos",), "pos_session", "pos_session_id", "loyalty_club.attempt_limit_pos_session", 10),
    (("partner",), "ip", "ip", "loyalty_club.attempt_limit_partner_ip", 30),
    (("partner",), "user", "user_id", "loyalty_club.attempt_limit_partner_user", 10),
    (None, "code", "code_hash", "loyalty_club.attempt_limit_code", 10),
]
WINDOW_PARAM = "loyalty_club.attempt_window_seconds"
WINDOW_DEFAULT = 60
# Set on a transaction that counts its caller's failures itself (see _check_limit).
HERE_KEY = "loyalty_club.attempts_in_request"
# Failures are kept at least this long (the cleanup runs with the daily gift card job).
KEEP_SECONDS = 3600


def _read_committed(cr):
    """Let each statement of the fresh cursor ``cr`` see what is committed when it runs (READ
    COMMITTED): the count made after waiting for the lock of a code must include the tries
    committed meanwhile (Odoo's cursors otherwise keep the snapshot of their first statement).
    Left alone when ``cr`` is inside a transaction already (the tests' shared cursor)."""
    connection = getattr(cr, "_cnx", None)
    if connection is not None and connection.info.transaction_status == TRANSACTION_STATUS_IDLE:
        connection.set_isolation_level(ISOLATION_LEVEL_READ_COMMITTED)


class LoyaltyClubAttempt(models.Model):
    """One failed card or gift card lookup or PIN check, kept a short while to limit guessing.

    Failures are counted in a sliding window per IP address (public page and staff apart), per
    user (POS and back office), per POS session and per code (a keyed hash, never the code
    itself). Beyond a
    limit the caller gets one uniform error and nothing is looked up. The limits are system
    parameters (``loyalty_club.attempt_*``, 0 switches a scope off); see docs/configuration.md.
    """

    _name = "loyalty.club.attempt"
    _inherit = ["loyalty.club.protected.mixin"]
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
    def _code_hash(self, key):
        """Keyed hash of a code as its lookup reads it (see :meth:`_card_key`, the cards'
        ``_lookup_key`` and the gift cards' ``_code_key``): counted, never stored."""
        secret = self.env["loyalty.club.card"]._pin_secret()
        text = key if isinstance(key, str) else str(key or "")
        return hmac.new(secret, f"giftcard-attempt:{text[:128]}".encode(), hashlib.sha256).hexdigest()

    @api.model
    def _card_key(self, card):
        """Limiter key of PIN checks of one card (member card or gift card), however it is named."""
        return f"{card._name}:{card.id}"

    @api.model
    def _request_ip(self):
        """The caller's address when there is an HTTP request (behind a proxy: ``proxy_mode``)."""
        try:
            return (request and request.httprequest.remote_addr) or None
        except RuntimeError:  # no request bound to this thread
            return None

    @api.model
    def _scope(self, channel, code=None, user=None, pos_session=None, ip=None):
        """Who is asking: {column: value} of the scopes that apply to ``channel``. ``code`` is the
        code as its lookup reads it (the cards' ``_lookup_key``, the gift cards' ``_code_key``,
        :meth:`_card_key` for PIN checks), so every spelling of one code is one scope."""
        scope = {"channel": channel, "ip": ip if ip is not None else self._request_ip()}
        if channel in USER_CHANNELS:
            # the system user (scheduled jobs, server code) is nobody typing codes: not limited per user
            user_id = (user or self.env.user).id
            scope["user_id"] = user_id if user_id != SUPERUSER_ID else None
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
    def _count_condition(self, limits):
        """(SQL of the failure counts per limited scope, SQL matching any of them)."""
        counts = []
        matches = []
        for column, value, _limit, channels in limits:
            condition = SQL("%s = %s", SQL.identifier(column), value)
            if channels:
                condition = SQL("%s AND channel IN %s", condition, tuple(channels))
            counts.append(SQL("count(*) FILTER (WHERE %s)", condition))
            matches.append(condition)
        return SQL(", ").join(counts), SQL(" OR ").join(matches)

    @api.model
    def _limited_in(self, cr, limits):
        """Whether any scope had its limit of failures in the window, read through ``cr``."""
        counts, matches = self._count_condition(limits)
        cr.execute(
            SQL(
                "SELECT %s FROM loyalty_club_attempt WHERE date > %s AND (%s)",
                counts,
                self._window_start(),
                matches,
            )
        )
        row = cr.fetchone()
        return any(count >= limit for count, (_column, _value, limit, _channels) in zip(row, limits, strict=True))

    @api.model
    def _is_limited(self, scope):
        """Whether any scope of the caller had its limit of failures in the window (a read only:
        :meth:`_check_limit` is the atomic check before a lookup)."""
        limits = self._limits(scope)
        if not limits:
            return False
        self.flush_model()
        return self._limited_in(self.env.cr, limits)

    @api.model
    def _limited_error(self):
        """The one answer to a limited caller, whatever the code or PIN."""
        return UserError(self.env._("Too many failed card or PIN checks. Please wait a moment and try again."))

    @api.model
    def _row_values(self, scope):
        return {
            "date": fields.Datetime.now(),
            "channel": scope["channel"],
            "ip": scope.get("ip"),
            "user_id": scope.get("user_id"),
            "pos_session_id": scope.get("pos_session_id"),
            "code_hash": scope.get("code_hash"),
        }

    @api.model
    def _caller_visible(self, cr, values):
        """Whether ``cr`` sees the caller's user and POS session (committed)."""
        cr.execute(
            SQL(
                """SELECT (%(user)s::int IS NULL OR EXISTS (SELECT 1 FROM res_users WHERE id = %(user)s))
                      AND (%(session)s::int IS NULL OR EXISTS (SELECT 1 FROM pos_session WHERE id = %(session)s))""",
                user=values["user_id"],
                session=values["pos_session_id"],
            )
        )
        return cr.fetchone()[0]

    @api.model
    def _reserve_in(self, cr, limits, values):
        """Under a lock per scope value: count the failures, and when the caller is not limited
        insert a failure row ahead of the lookup. Returns its id, or None when limited."""
        keys = sorted({f"loyalty_club.attempt:{column}:{value}" for column, value, _limit, _channels in limits})
        if keys:
            cr.execute(
                SQL(
                    "SELECT pg_advisory_xact_lock(hashtextextended(key, 0)) FROM unnest(%s::text[]) key ORDER BY key",
                    keys,
                )
            )
            if self._limited_in(cr, limits):
                return None
        return self._insert(cr, values)

    @api.model
    def _check_limit(self, scope):
        """Call before any lookup or PIN check. Raises the uniform error when the caller is limited;
        otherwise counts this attempt as a failure at once, atomically with the check (in its own
        committed transaction, under a lock per scope value), so concurrent callers can never get
        more tries than the limit. :meth:`_record_success` takes it back when the check succeeds.
        """
        limits = self._limits(scope)
        values = self._row_values(scope)
        if limits:
            self.flush_model()
        attempt_id, own = None, False
        here = self.env.cr.precommit.data
        if not here.get(HERE_KEY):
            with self.env.registry.cursor() as cr:
                _read_committed(cr)
                if self._caller_visible(cr, values):
                    attempt_id, own = self._reserve_in(cr, limits, values), True
                    if attempt_id is None:
                        raise self._limited_error()
        if not own:
            # The caller's user or POS session is not committed yet (created by this very
            # transaction): count in the request's transaction, and keep doing so until it ends
            # (its locks would make a transaction of its own wait for it).
            here[HERE_KEY] = True
            attempt_id = self._reserve_in(self.env.cr, limits, values)
            if attempt_id is None:
                raise self._limited_error()
        reservation = {"id": attempt_id, "own": own, "released": False}
        if own:
            self._keep_after_rollback(values, reservation)
        scope["_reservation"] = reservation

    @api.model
    def _keep_after_rollback(self, values, reservation):
        """Should the request's rollback take the counted failure with it (a database where
        "transactions of their own" are savepoints of one transaction, as in tests), count it again."""
        registry = self.env.registry

        def keep():
            if reservation["released"]:
                return
            try:
                with registry.cursor() as cr:
                    cr.execute(SQL("SELECT 1 FROM loyalty_club_attempt WHERE id = %s", reservation["id"]))
                    if not cr.fetchone() and self._caller_visible(cr, values):
                        self._insert(cr, values)
            except Exception:
                _logger.warning("loyalty_club: could not record a failed card check", exc_info=True)

        self.env.cr.postrollback.add(keep)

    @api.model
    def _record_success(self, scope):
        """The lookup or PIN check succeeded: it does not count (undo its reservation)."""
        reservation = scope.pop("_reservation", None)
        if not reservation:
            return
        reservation["released"] = True
        query = SQL("DELETE FROM loyalty_club_attempt WHERE id = %s", reservation["id"])
        if not reservation["own"]:
            self.env.cr.execute(query)
            return
        try:
            with self.env.registry.cursor() as cr:
                cr.execute(query)
        except Exception:
            _logger.warning("loyalty_club: could not forget a successful card check", exc_info=True)

    @api.model
    def _record_failure(self, scope):
        """Count a failure of the caller, also when its request is then rolled back.

        After :meth:`_check_limit` the failure is already counted (committed with the check);
        otherwise it is inserted in a transaction of its own, or in the request's when that one
        alone sees the caller's user or session.
        """
        if scope.pop("_reservation", None):
            return
        values = self._row_values(scope)
        with self.env.registry.cursor() as cr:
            if self._caller_visible(cr, values):
                attempt_id = self._insert(cr, values)
                self._keep_after_rollback(values, {"id": attempt_id, "released": False})
                return
        self._insert(self.env.cr, values)

    @api.model
    def _insert(self, cr, values):
        cr.execute(
            SQL(
                """INSERT INTO loyalty_club_attempt (date, channel, ip, user_id, pos_session_id, code_hash)
                   VALUES (%s, %s, %s, %s, %s, %s) RETURNING id""",
                values["date"],
                values["channel"],
                values["ip"],
                values["user_id"],
                values["pos_session_id"],
                values["code_hash"],
            )
        )
        return cr.fetchone()[0]

    @api.model
    def _clean_old(self):
        """Forget failures older than the window (at least an hour)."""
        seconds = max(self._param_int(WINDOW_PARAM, WINDOW_DEFAULT), KEEP_SECONDS)
        self.env.cr.execute(
            "DELETE FROM loyalty_club_attempt WHERE date < %s",
            [fields.Datetime.now() - timedelta(seconds=seconds)],
        )
