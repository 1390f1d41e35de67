from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import TransactionCase, tagged

from .common import CommittedClubMixin, LoyaltyClubCase

PIN = "4821"


@tagged("post_install", "-at_install")
class TestPin(LoyaltyClubCase):
    """Acceptance 6: hashing, lockout, uniform message, unlock by manager."""

    def setUp(self):
        super().setUp()
        self.card._set_pin(PIN)

    def _stored_hash(self):
        self.env.cr.execute("SELECT pin_hash FROM loyalty_club_card WHERE id = %s", [self.card.id])
        return self.env.cr.fetchone()[0]

    def test_pin_is_stored_only_as_a_keyed_slow_hash(self):
        pin_hash = self._stored_hash()
        self.assertTrue(pin_hash.startswith("$pbkdf2-sha512$"))
        self.assertNotIn(PIN, pin_hash)
        # No column of any table holds the clear PIN (a full-database scan of text columns). Columns
        # of digests (hex: four digits appear in one of a thousand by chance) are not scanned.
        self.env.flush_all()
        self.env.cr.execute("""
            SELECT table_name, column_name FROM information_schema.columns
             WHERE table_schema = 'public' AND data_type IN ('character varying', 'text', 'jsonb')
               AND table_name LIKE 'loyalty_club%%'
               AND column_name !~ '(_digest|_hash|_fingerprint)$'
        """)
        for table, column in self.env.cr.fetchall():
            self.env.cr.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE %s', [f"%{PIN}%"])
            self.assertEqual(self.env.cr.fetchone()[0], 0, f"{table}.{column} holds the clear PIN")
        self.env.cr.execute("SELECT count(*) FROM mail_message WHERE body::text LIKE %s", [f"%{PIN}%"])
        self.assertEqual(self.env.cr.fetchone()[0], 0)

    def test_hash_is_keyed_by_card_so_it_cannot_be_reused(self):
        other = self.env["loyalty.club.card"].create({"partner_id": self.member2.id, "club_id": self.club.id})
        other._set_pin(PIN)
        self.env.cr.execute("SELECT pin_hash FROM loyalty_club_card WHERE id = %s", [other.id])
        other_hash = self.env.cr.fetchone()[0]
        self.env.cr.execute("UPDATE loyalty_club_card SET pin_hash = %s WHERE id = %s", [other_hash, self.card.id])
        self.assertFalse(self.card._verify_pin(PIN), "a hash copied from another card must not verify")

    def test_hash_is_not_readable_through_the_orm(self):
        self.assertNotIn("pin_hash", self.env["loyalty.club.card"]._fields)
        data = self.card.read()[0]
        self.assertFalse([key for key in data if "hash" in key])
        exported = self.card.export_data(["number", "pin_set"])["datas"]
        self.assertEqual(exported, [[self.card.number, True]])

    def test_right_pin_authenticates(self):
        self.assertEqual(self.env["loyalty.club.card"]._authenticate(self.card.number, PIN), self.card)

    def _failed_attempt(self, number, pin):
        """Message of a refused authentication.

        Caught without Odoo's assertRaises on purpose: its savepoint would roll back the
        failure count, which for this uncommitted card lives in the test transaction (the
        durable, own-transaction path is covered by TestPinCounterIsDurable).
        """
        try:
            self.env["loyalty.club.card"]._authenticate(number, pin)
        except UserError as error:
            return str(error)
        self.fail(f"authentication of {number!r} with {pin!r} should fail")

    def test_lock_after_max_failures_and_uniform_message(self):
        messages = {self._failed_attempt(self.card.number, "0000") for _attempt in range(3)}
        self.assertTrue(self.card.pin_locked)
        self.assertEqual(self.card.pin_failed_attempts, 3)
        messages.add(self._failed_attempt(self.card.number, PIN))  # right PIN, but locked
        messages.add(self._failed_attempt("7700000000000099", PIN))  # unknown card
        messages.add(self._failed_attempt("not a number", PIN))  # malformed card
        self.card.with_user(self.club_manager).action_unlock_pin()
        self.card.action_block()
        messages.add(self._failed_attempt(self.card.number, PIN))  # blocked card, right PIN
        self.assertEqual(len(messages), 1, f"callers must get one message, got {messages}")

    def test_success_resets_the_counter(self):
        self.assertFalse(self.card._verify_pin("1111"))
        self.assertFalse(self.card._verify_pin("2222"))
        self.assertEqual(self.card.pin_failed_attempts, 2)
        self.assertTrue(self.card._verify_pin(PIN))
        self.assertEqual(self.card.pin_failed_attempts, 0)

    def test_timed_lock_ends(self):
        for _attempt in range(3):
            self.card._verify_pin("9999")
        self.assertTrue(self.card._pin_is_locked())
        self.assertFalse(self.card._verify_pin(PIN))
        with freeze_time(fields.Datetime.now() + timedelta(minutes=16)):
            self.assertFalse(self.card._pin_is_locked())
            self.assertTrue(self.card._verify_pin(PIN))

    def test_manager_unlocks_user_cannot(self):
        for _attempt in range(3):
            self.card._verify_pin("9999")
        with self.assertRaises(AccessError):
            self.card.with_user(self.club_user).action_unlock_pin()
        self.assertTrue(self.card.pin_locked)
        self.card.with_user(self.club_manager).action_unlock_pin()
        self.assertFalse(self.card.pin_locked)
        self.assertTrue(self.card._verify_pin(PIN))

    def test_pin_format_is_checked(self):
        for pin in ("123", "12345", "12a4", "12 4", "", None, 1234, " 123", "\uff11\uff12\uff13\uff14"):
            with self.subTest(pin=pin), self.assertRaises(ValidationError):
                self.card._set_pin(pin)
        self.assertTrue(self.card._verify_pin(PIN), "a refused PIN change keeps the old PIN")

    def test_persian_digits_are_accepted(self):
        self.card._set_pin("۵۶۷۸")
        self.assertTrue(self.card._verify_pin("5678"))
        self.assertTrue(self.card._verify_pin("٥٦٧٨"))

    def test_pin_wizard_never_stores_the_clear_pin(self):
        wizard = (
            self.env["loyalty.club.pin.wizard"]
            .with_user(self.club_user)
            .create(
                {
                    "card_id": self.card.id,
                    "pin": "7351",
                    "pin_confirm": "7351",
                }
            )
        )
        wizard.action_set_pin()
        self.assertTrue(self.card._verify_pin("7351"))
        self.env.flush_all()
        self.env.cr.execute("SELECT count(*) FROM loyalty_club_pin_wizard WHERE id = %s", [wizard.id])
        self.assertEqual(self.env.cr.fetchone()[0], 1)
        self.env.cr.execute("""SELECT column_name FROM information_schema.columns
                                WHERE table_name = 'loyalty_club_pin_wizard' AND column_name LIKE 'pin%%'""")
        self.assertEqual({row[0] for row in self.env.cr.fetchall()}, {"pin_done"})
        with self.assertRaises(ValidationError):
            self.env["loyalty.club.pin.wizard"].create(
                {
                    "card_id": self.card.id,
                    "pin": "7351",
                    "pin_confirm": "7352",
                }
            )


@tagged("post_install", "-at_install")
class TestPinCounterIsDurable(CommittedClubMixin, TransactionCase):
    """The failure counter survives a request that fails and rolls back (checked from a fresh cursor)."""

    def test_counter_persists_after_the_failing_call_rolls_back(self):
        ids = self.make_committed_card(tag="pin")
        with self.committed_env() as env:
            env["loyalty.club.card"].browse(ids["card"])._set_pin(PIN)
        number = None
        with self.committed_env() as env:
            number = env["loyalty.club.card"].browse(ids["card"]).number
        for attempt in (1, 2):
            with self.committed_env() as env:
                with self.assertRaises(UserError):
                    env["loyalty.club.card"]._authenticate(number, "0000")
                env.cr.rollback()  # the request fails: everything it did is rolled back
            with self.committed_env() as env:
                card = env["loyalty.club.card"].browse(ids["card"])
                self.assertEqual(card.pin_failed_attempts, attempt)
        with self.committed_env() as env:
            with self.assertRaises(UserError):
                env["loyalty.club.card"]._authenticate(number, "0000")
            env.cr.rollback()
        with self.committed_env() as env:
            card = env["loyalty.club.card"].browse(ids["card"])
            self.assertTrue(card.pin_locked, "the third failure locks the card for good (lock minutes = 0)")
            self.assertFalse(card.pin_locked_until)
            self.assertFalse(card._verify_pin(PIN))
