import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from passlib.context import CryptContext

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL

from ..tools.card_number import normalize_digits

_logger = logging.getLogger(__name__)

PIN_ROUNDS_PARAM = "loyalty_club.pin_hash_rounds"
PIN_ROUNDS_DEFAULT = 200_000
PIN_SECRET_CONFIG_KEY = "loyalty_club_pin_secret"
_warned_no_secret = False
# One passlib context and one dummy hash per number of rounds, for the life of the process: a
# check of an unknown, locked or blocked card verifies against the cached dummy hash, so it costs
# exactly one PBKDF2 run, like a wrong PIN (building them per call cost a second run).
_CRYPT_CONTEXTS = {}
_DUMMY_HASHES = {}


class LoyaltyClubPinMixin(models.AbstractModel):
    """PIN of a club card or gift card: a keyed slow hash in a column that is not an ORM field,
    failures counted durably, lock after the club's number of attempts, one uniform error.

    The model needs a ``club_id`` (PIN policy) and a ``state``; it may override
    :meth:`_pin_digest_message`, :meth:`_pin_length`, :meth:`_pin_usable` and
    :meth:`_uniform_auth_error`.
    """

    _name = "loyalty.club.pin.mixin"
    _description = "Club PIN (hash, failures, lock)"

    pin_set = fields.Boolean("PIN set", readonly=True, copy=False)
    pin_failed_attempts = fields.Integer(readonly=True, copy=False)
    pin_locked = fields.Boolean("PIN locked", readonly=True, copy=False)
    pin_locked_until = fields.Datetime(readonly=True, copy=False)

    def init(self):
        """Create the PIN hash column outside the ORM: no field, export or RPC can read it."""
        if not self._abstract and self._auto:
            self.env.cr.execute(
                SQL("ALTER TABLE %s ADD COLUMN IF NOT EXISTS pin_hash varchar", SQL.identifier(self._table))
            )

    # ------------------------------------------------------------------
    # Hooks
    # ------------------------------------------------------------------
    def _pin_digest_message(self, pin):
        """What is keyed with the server secret: the record id binds the hash to the record."""
        return f"{self.id}:{pin}"

    def _pin_length(self):
        return self.club_id.pin_length

    def _pin_usable(self):
        """Whether the record may be unlocked by a PIN at all (a blocked one may not)."""
        return self.state == "active"

    @api.model
    def _uniform_auth_error(self):
        return UserError(self.env._("Unknown card, wrong PIN or card not usable."))

    def _pin_refusal_error(self):
        """Why the PIN check of this record failed, for a record staff picked themselves (the
        order's card, not a typed code): wrong PIN, PIN locked, no PIN, card not usable. Typed
        codes and lookups keep :meth:`_uniform_auth_error`, where naming the cause would tell a
        guesser which codes exist; for a record already chosen it tells nothing."""
        self.ensure_one()
        record = self.sudo()
        record.invalidate_recordset(["pin_set", "pin_failed_attempts", "pin_locked", "pin_locked_until"])
        if not record._pin_usable():
            return UserError(self.env._("This card is not active: its PIN cannot be checked."))
        if not record.pin_set:
            return UserError(self.env._("This card has no PIN yet: set one first."))
        if record._pin_is_locked():
            return UserError(self.env._("Too many wrong PINs: this card's PIN is locked for now. Try again later."))
        return UserError(self.env._("Wrong PIN."))

    @api.model
    def _pin_secret(self):
        secret = tools.config.get(PIN_SECRET_CONFIG_KEY)
        if not secret:
            global _warned_no_secret  # noqa: PLW0603 - warn once per process
            if not _warned_no_secret:
                _warned_no_secret = True
                _logger.warning(
                    "loyalty_club: no '%s' in the Odoo configuration file; PIN hashes are keyed "
                    "with the database secret instead. Set a dedicated secret for production.",
                    PIN_SECRET_CONFIG_KEY,
                )
            secret = self.env["ir.config_parameter"].sudo().get_param("database.secret")
        return secret.encode()

    @api.model
    def _pin_rounds(self):
        try:
            rounds = int(self.env["ir.config_parameter"].sudo().get_param(PIN_ROUNDS_PARAM, PIN_ROUNDS_DEFAULT))
        except (TypeError, ValueError):
            rounds = PIN_ROUNDS_DEFAULT
        return max(rounds, 10_000)

    @api.model
    def _pin_crypt_context(self):
        """The passlib context of the configured rounds (built once per process)."""
        rounds = self._pin_rounds()
        context = _CRYPT_CONTEXTS.get(rounds)
        if context is None:
            context = _CRYPT_CONTEXTS[rounds] = CryptContext(["pbkdf2_sha512"], pbkdf2_sha512__rounds=rounds)
        return context

    @api.model
    def _pin_dummy_verify(self):
        """Spend what a real PIN check spends (the keyed digest and one PBKDF2 verification, against
        a dummy hash computed once per process), for a card that is unknown, locked or blocked."""
        rounds = self._pin_rounds()
        context = self._pin_crypt_context()
        dummy = _DUMMY_HASHES.get(rounds)
        if dummy is None:
            dummy = _DUMMY_HASHES[rounds] = context.hash(secrets.token_hex(32))
        digest = hmac.new(self._pin_secret(), b"dummy:0000", hashlib.sha256).hexdigest()
        context.verify(digest, dummy)
        return False

    def _pin_digest(self, pin):
        """Key the PIN with the server secret and the card id before the slow hash."""
        self.ensure_one()
        message = self._pin_digest_message(pin).encode()
        return hmac.new(self._pin_secret(), message, hashlib.sha256).hexdigest()

    def _check_pin_format(self, pin):
        self.ensure_one()
        length = self._pin_length()
        pin = normalize_digits(pin)
        if not isinstance(pin, str) or not pin.isascii() or not pin.isdigit() or len(pin) != length:
            raise ValidationError(self.env._("The PIN must be exactly %s digits.", length))
        return pin

    def _set_pin(self, pin):
        """Store a new PIN (keyed slow hash only) and clear failures and locks."""
        self.ensure_one()
        self.check_access("write")
        pin = self._check_pin_format(pin)
        pin_hash = self._pin_crypt_context().hash(self._pin_digest(pin))
        self.env.cr.execute(
            SQL(
                """UPDATE %s
                      SET pin_hash = %s, pin_set = TRUE, pin_failed_attempts = 0,
                          pin_locked = FALSE, pin_locked_until = NULL,
                          write_uid = %s, write_date = (now() at time zone 'UTC')
                    WHERE id = %s""",
                SQL.identifier(self._table),
                pin_hash,
                self.env.uid,
                self.id,
            )
        )
        self.invalidate_recordset(["pin_set", "pin_failed_attempts", "pin_locked", "pin_locked_until"])
        self.message_post(body=self.env._("The PIN was changed."))

    def _pin_is_locked(self):
        self.ensure_one()
        if not self.pin_locked:
            return False
        return not self.pin_locked_until or self.pin_locked_until > fields.Datetime.now()

    def _verify_pin(self, pin):
        """Check ``pin``; count failures durably and lock after too many. Returns a bool.

        A failure is recorded in its own committed transaction, so it survives even when
        the caller raises and rolls back its request.
        """
        self.ensure_one()
        self.env.cr.execute(SQL("SELECT pin_hash FROM %s WHERE id = %s", SQL.identifier(self._table), self.id))
        row = self.env.cr.fetchone()
        pin_hash = row and row[0]
        if self._pin_is_locked() or not pin_hash or not self._pin_usable():
            return self._pin_dummy_verify()
        pin = normalize_digits(pin)
        # the same work whatever was sent: a PIN that is no text is checked as an empty one
        verified = self._pin_crypt_context().verify(self._pin_digest(pin if isinstance(pin, str) else ""), pin_hash)
        pin_ok = isinstance(pin, str) and verified
        if pin_ok:
            if self.pin_failed_attempts or self.pin_locked:
                self.env.cr.execute(
                    SQL(
                        """UPDATE %s SET pin_failed_attempts = 0, pin_locked = FALSE, pin_locked_until = NULL
                            WHERE id = %s""",
                        SQL.identifier(self._table),
                        self.id,
                    )
                )
                self.invalidate_recordset(["pin_failed_attempts", "pin_locked", "pin_locked_until"])
            return True
        self._register_pin_failure()
        return False

    def _register_pin_failure(self):
        self.ensure_one()
        club = self.club_id
        lock_until = fields.Datetime.now() + timedelta(minutes=club.pin_lock_minutes) if club.pin_lock_minutes else None
        query = SQL(
            """UPDATE %(table)s
                  SET pin_failed_attempts = CASE WHEN pin_locked THEN 1 ELSE pin_failed_attempts + 1 END,
                      pin_locked = (CASE WHEN pin_locked THEN 1 ELSE pin_failed_attempts + 1 END) >= %(max)s,
                      pin_locked_until = CASE
                          WHEN (CASE WHEN pin_locked THEN 1 ELSE pin_failed_attempts + 1 END) >= %(max)s
                          THEN %(until)s::timestamp ELSE NULL END
                WHERE id = %(id)s
            RETURNING pin_failed_attempts""",
            table=SQL.identifier(self._table),
            max=club.pin_max_attempts,
            until=lock_until,
            id=self.id,
        )
        row = None
        try:
            with self.env.registry.cursor() as own_cr:
                own_cr.execute("SET LOCAL lock_timeout = '2s'")
                own_cr.execute(query)
                row = own_cr.fetchone()
        except Exception:
            _logger.warning("loyalty_club: could not record a PIN failure in its own transaction", exc_info=True)
        if not row:
            # The card is not visible outside this transaction (created by it), or the row
            # is locked by it: count the failure here, it lives and dies with the card row.
            self.env.cr.execute(query)
            row = self.env.cr.fetchone()
        self.invalidate_recordset(["pin_failed_attempts", "pin_locked", "pin_locked_until"])
        if row and row[0] >= club.pin_max_attempts:
            _logger.info("loyalty_club: %s id %s locked after repeated wrong PINs", self._name, self.id)

    def action_unlock_pin(self):
        """Clear PIN failures and locks (managers)."""
        if not self.env.user.has_group("loyalty_club.group_loyalty_club_manager"):
            raise AccessError(self.env._("Only club managers can unlock a PIN."))
        self.env.cr.execute(
            SQL(
                """UPDATE %s SET pin_failed_attempts = 0, pin_locked = FALSE, pin_locked_until = NULL
                    WHERE id = ANY(%s)""",
                SQL.identifier(self._table),
                self.ids,
            )
        )
        self.invalidate_recordset(["pin_failed_attempts", "pin_locked", "pin_locked_until"])
        for card in self:
            card.message_post(body=self.env._("PIN unlocked by %s.", self.env.user.name))
