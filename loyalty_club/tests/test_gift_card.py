import base64
import importlib.util
import re
from datetime import date

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged, users
from odoo.tools import file_path, mute_logger

from ..tools.gift_card_code import ALPHABET, CODE_LENGTH, check_symbol, format_code, generate_code, normalize_code
from .common import LoyaltyClubCase

PIN = "135790"


@tagged("post_install", "-at_install")
class TestGiftCard(LoyaltyClubCase):
    """Gift cards: codes, PINs, the ledger, expiry, isolation, bad input (acceptance 1)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.GiftCard = cls.env["loyalty.club.gift.card"]
        cls.gift = cls.GiftCard.create({"club_id": cls.club.id})
        cls.gift._set_pin(PIN)

    def load(self, amount, key="load", card=None):
        return self.Posting._post_gift_card(card or self.gift, amount, "load", f"test:{key}")

    def redeem(self, amount, key="redeem", card=None):
        return self.Posting._post_gift_card(card or self.gift, -amount, "redeem", f"test:{key}")

    def assertLedgerSum(self, card=None):
        card = card or self.gift
        card.invalidate_recordset(["balance"])
        entries = self.env["loyalty.club.gift.card.entry"].search([("gift_card_id", "=", card.id)])
        self.assertTrue(card.currency_id.is_zero(card.balance - sum(entries.mapped("amount"))))
        self.assertFalse(self.Posting._audit_gift_cards(card))

    # ------------------------------------------------------------------
    # Codes
    # ------------------------------------------------------------------
    def test_code_format_random_bits_and_check_symbol(self):
        code = self.gift.sudo().code
        self.assertEqual(len(code), CODE_LENGTH)
        self.assertTrue(set(code) <= set(ALPHABET))
        self.assertEqual(check_symbol(code[:-1]), code[-1])
        self.assertRegex(self.gift.sudo().code_display, r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$")
        # 15 random symbols of 32: 75 bits >= 64.
        self.assertGreaterEqual((CODE_LENGTH - 1) * 5, 64)
        codes = {generate_code() for _i in range(2000)}
        self.assertEqual(len(codes), 2000)
        self.assertTrue(all(normalize_code(c) == c for c in codes))

    def test_codes_are_unique_in_the_database(self):
        cards, _pins = self.GiftCard._issue(self.club, count=50, with_pin=False)
        self.assertEqual(len(set(cards.mapped("code"))), 50)
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.env.cr.savepoint():
            self.GiftCard.create({"club_id": self.club.id, "code": self.gift.sudo().code})

    def test_typed_codes_are_read_when_unambiguous(self):
        code = self.gift.sudo().code
        typed = " " + format_code(code).lower().replace("-", " ") + " "
        self.assertEqual(self.GiftCard._find_by_code(typed), self.gift)
        self.assertEqual(self.GiftCard._find_by_code(format_code(code)), self.gift)
        # O is read as 0 and I / L as 1: the alphabet has no such letters.
        body = "0" * 14 + "1"
        ambiguous = normalize_code(body + check_symbol(body))
        self.assertEqual(normalize_code("OOOO-OOOO-OOOO-OOI" + check_symbol(body).lower()), ambiguous)
        self.assertEqual(normalize_code("oooo oooo oooo ool" + check_symbol(body)), ambiguous)

    def test_garbage_codes_are_rejected_cleanly(self):
        code = self.gift.sudo().code
        wrong_check = code[:-1] + next(c for c in ALPHABET if c != code[-1])
        swapped = code[1] + code[0] + code[2:] if code[0] != code[1] else None
        for garbage in ["", "   ", "hello", "1234", code[:-1], code + "0", "U" * 16, wrong_check, None, 42, "💳" * 16]:
            with self.subTest(garbage=garbage), self.assertRaises(ValidationError):
                self.GiftCard._find_by_code(garbage)
        if swapped:
            self.assertIsNone(normalize_code(swapped), "swapping two neighbours is caught by the check symbol")
        with self.assertRaises(ValidationError):
            self.GiftCard.create({"club_id": self.club.id, "code": "not a code"})
        # Authentication turns every bad input into the one uniform error.
        for garbage in ["", "garbage", None, wrong_check]:
            with self.subTest(auth=garbage), self.assertRaisesRegex(UserError, "Unknown gift card"):
                self.GiftCard._authenticate(garbage, PIN)

    # ------------------------------------------------------------------
    # PIN
    # ------------------------------------------------------------------
    def test_pin_is_a_keyed_slow_hash_outside_the_orm(self):
        self.env.cr.execute("SELECT pin_hash FROM loyalty_club_gift_card WHERE id = %s", [self.gift.id])
        pin_hash = self.env.cr.fetchone()[0]
        self.assertTrue(pin_hash.startswith("$pbkdf2-sha512$"))
        self.assertNotIn("pin_hash", self.GiftCard._fields)
        self.assertFalse([key for key in self.gift.read()[0] if "hash" in key])
        self.assertNotEqual(self.gift._pin_digest(PIN), self.card.browse(self.gift.id)._pin_digest(PIN))
        self.assertEqual(self.GiftCard._authenticate(self.gift.sudo().code_display, PIN), self.gift)

    def _failed_attempt(self, code, pin):
        """Message of a refused authentication, caught without assertRaises: its savepoint would
        roll back the failure count of this uncommitted card (see TestPin)."""
        try:
            self.GiftCard._authenticate(code, pin)
        except UserError as error:
            return str(error)
        self.fail(f"authentication of {code!r} should fail")

    def test_wrong_pins_lock_the_card_with_one_message(self):
        messages = {
            self._failed_attempt(self.gift.sudo().code, "000000") for _attempt in range(self.club.pin_max_attempts)
        }
        self.assertTrue(self.gift.pin_locked)
        messages.add(self._failed_attempt(self.gift.sudo().code, PIN))  # right PIN, but locked
        self.gift.action_unlock_pin()
        self.gift.action_block()
        messages.add(self._failed_attempt(self.gift.sudo().code, PIN))  # blocked card
        messages.add(self._failed_attempt(generate_code(), PIN))  # unknown code
        self.assertEqual(len(messages), 1, messages)
        self.gift.action_unblock()
        self.assertEqual(self.GiftCard._authenticate(self.gift.sudo().code, PIN), self.gift)

    def test_pin_format(self):
        for bad in ["12345", "1234567", "abcdef", "", None]:
            with self.subTest(pin=bad), self.assertRaises(ValidationError):
                self.gift._set_pin(bad)

    # ------------------------------------------------------------------
    # Ledger
    # ------------------------------------------------------------------
    def test_load_activates_and_partial_redemption_keeps_the_rest(self):
        self.assertEqual(self.gift.state, "inactive")
        self.load(100)
        self.assertEqual((self.gift.state, self.gift.balance), ("active", 100))
        self.redeem(30.25)
        self.assertEqual((self.gift.state, self.gift.balance), ("active", 69.75))
        self.redeem(69.75, key="rest")
        self.assertEqual((self.gift.state, self.gift.balance), ("used", 0))
        self.load(20, key="reload")
        self.assertEqual((self.gift.state, self.gift.balance), ("active", 20))
        self.assertLedgerSum()

    def test_redeem_over_balance_is_refused_and_writes_nothing(self):
        self.load(50)
        count = self.env["loyalty.club.gift.card.entry"].search_count([])
        with self.assertRaisesRegex(UserError, "Not enough money"):
            self.redeem(50.01)
        self.assertEqual(self.gift.balance, 50)
        self.assertEqual(self.env["loyalty.club.gift.card.entry"].search_count([]), count)
        with self.assertRaisesRegex(UserError, "not active"):
            self.redeem(1, card=self.GiftCard.create({"club_id": self.club.id}))

    def test_postings_happen_once_per_key(self):
        first = self.load(40, key="same")
        self.assertEqual(self.load(40, key="same"), first)
        self.assertEqual(self.gift.balance, 40)
        with self.assertRaises(ValidationError):
            self.load(41, key="same")
        self.assertLedgerSum()

    def test_bad_amounts_are_rejected(self):
        for amount in [0, 0.001, float("nan"), float("inf"), "10", None, True, 1e13]:
            with self.subTest(amount=amount), self.assertRaises(ValidationError):
                self.load(amount, key=f"bad-{amount}")
        with self.assertRaises(ValidationError):
            self.Posting._post_gift_card(self.gift, -5, "load", "test:neg-load")
        with self.assertRaises(ValidationError):
            self.Posting._post_gift_card(self.gift, 5, "redeem", "test:pos-redeem")

    def test_ledger_is_append_only(self):
        entry = self.load(10)
        with self.assertRaises(UserError):
            entry.write({"amount": 20})
        with self.assertRaises(UserError):
            entry.unlink()
        with self.assertRaises(UserError):
            self.env["loyalty.club.gift.card.entry"].create({"gift_card_id": self.gift.id})
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.env.cr.savepoint():
            self.env.cr.execute("UPDATE loyalty_club_gift_card_entry SET amount = 999 WHERE id = %s", [entry.id])
        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError), self.env.cr.savepoint():
            self.env.cr.execute("DELETE FROM loyalty_club_gift_card_entry WHERE id = %s", [entry.id])
        with self.assertRaises(UserError):
            self.gift.with_user(self.club_user).write({"balance": 1000})

    # ------------------------------------------------------------------
    # Expiry
    # ------------------------------------------------------------------
    def test_expiry_never_shorter_than_the_club_minimum(self):
        with self.assertRaises(ValidationError):
            self.GiftCard.create({"club_id": self.club.id, "date_expiry": fields.Date.today()})
        card = self.GiftCard.create({"club_id": self.club.id})
        self.assertFalse(card.date_expiry, "a card on the shelf has no expiry until it is activated")
        self.load(10, key="activate", card=card)
        # the validity starts on the activation day of the user who activates it (their time zone)
        self.assertEqual(card.date_expiry, self.club._gift_card_default_expiry(fields.Date.context_today(card)))

    def test_shelf_cards_never_expire_and_validity_counts_from_activation(self):
        """Issue 22, item 8: pre-printed cards wait on the shelf for years; the daily job leaves
        them alone, and their validity starts the day they are sold."""
        with freeze_time("2025-01-10"):
            cards, _pins = self.GiftCard._issue(self.club, count=2, amount=50.0)
            floor = self.GiftCard.create({"club_id": self.club.id, "date_expiry": "2032-01-01"})
        self.assertEqual(cards.mapped("date_expiry"), [False, False])
        with freeze_time("2028-06-01"):
            self.GiftCard._cron_expire_gift_cards()
            self.assertEqual(cards.mapped("state"), ["inactive", "inactive"])
            self.assertEqual(floor.state, "inactive")
            self.load(50, key="sold", card=cards[0])
            self.Posting._post_gift_card(floor, 20, "adjust", "test:floor-adjust")
        self.assertEqual(cards[0].state, "active")
        self.assertEqual(floor.state, "active", "an adjustment activates the card too")
        self.assertEqual(cards[0].date_expiry, date(2031, 6, 1))
        self.assertEqual(floor.date_expiry, date(2032, 1, 1), "a date given at issue is the least it is valid until")
        with freeze_time("2031-06-02"):
            self.GiftCard._cron_expire_gift_cards()
        self.assertEqual(cards.mapped("state"), ["expired", "inactive"])
        self.assertEqual(floor.state, "active")

    def test_upgrade_puts_shelf_cards_expired_by_the_job_back_on_the_shelf(self):
        """The 18.0.1.2.0 migration: a card the job expired while it was never loaded is inactive
        again; a card expired with money on it stays expired."""
        shelf = self.GiftCard.create({"club_id": self.club.id})
        sold = self.GiftCard.create({"club_id": self.club.id})
        self.load(20, key="sold", card=sold)
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE loyalty_club_gift_card SET state = 'expired', date_expiry = %s WHERE id = ANY(%s)",
            [date(2024, 1, 1), [shelf.id, sold.id]],
        )
        path = file_path("loyalty_club/migrations/18.0.1.2.0/post-migration.py")
        spec = importlib.util.spec_from_file_location("loyalty_club_migration_18_0_1_2_0", path)
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        migration.migrate(self.env.cr, "18.0.1.1.0")
        self.GiftCard.invalidate_model(["state"])
        self.assertEqual((shelf.state, sold.state), ("inactive", "expired"))

    def test_unblocking_a_shelf_card_puts_it_back_on_the_shelf(self):
        card = self.GiftCard.create({"club_id": self.club.id, "date_expiry": "2031-01-01"})
        card.action_block()
        with freeze_time("2032-01-01"):
            card.action_unblock()
        self.assertEqual(card.state, "inactive")

    def test_expiry_cron_is_batched_and_idempotent(self):
        self.load(25)
        other = self.GiftCard.create({"club_id": self.club.id})
        self.load(10, key="other", card=other)
        unsold = self.GiftCard.create({"club_id": self.club.id})
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE loyalty_club_gift_card SET date_expiry = %s WHERE id = ANY(%s)",
            [fields.Date.subtract(fields.Date.today(), days=1), [self.gift.id, other.id, unsold.id]],
        )
        self.GiftCard.invalidate_model()
        self.assertEqual(self.GiftCard._cron_expire_gift_cards(batch_size=2), 2)
        self.GiftCard._cron_expire_gift_cards(batch_size=2)
        self.GiftCard._cron_expire_gift_cards(batch_size=2)
        for card in self.gift | other:
            self.assertEqual((card.state, card.balance), ("expired", 0))
            self.assertLedgerSum(card)
        self.assertEqual(unsold.state, "inactive", "an unsold card on the shelf never expires")
        expiries = self.env["loyalty.club.gift.card.entry"].search([("kind", "=", "expire")])
        self.assertEqual(sorted(expiries.mapped("amount")), [-25, -10])
        with self.assertRaisesRegex(UserError, "expired"):
            self.redeem(1, key="late")

    # ------------------------------------------------------------------
    # Isolation, portal, reports, bulk issue
    # ------------------------------------------------------------------
    def test_other_company_sees_and_spends_nothing(self):
        self.load(30)
        with self.assertRaises(AccessError):
            self.gift.with_user(self.other_manager).read(["balance"])
        with self.assertRaises(AccessError):
            self.gift.with_user(self.other_manager).action_block()
        self.assertFalse(self.GiftCard.with_user(self.other_manager).search([("id", "=", self.gift.id)]))
        other_club = self.env["loyalty.club"].create({"name": "Other club", "company_id": self.other_company.id})
        with self.assertRaisesRegex(UserError, "Unknown gift card"):
            self.GiftCard._authenticate(self.gift.sudo().code, PIN, club=other_club)
        with self.assertRaises(UserError):
            self.gift._check_spendable(self.other_company, self.gift.currency_id)
        self.assertFalse(
            self.env["loyalty.club.gift.card.entry"]
            .with_user(self.other_manager)
            .search([("gift_card_id", "=", self.gift.id)])
        )
        liability = self.GiftCard.with_user(self.other_manager)._liability_by_company()
        self.assertFalse(liability)

    def test_liability_per_company(self):
        self.load(30)
        other = self.GiftCard.create({"club_id": self.club.id})
        self.load(12.5, key="o", card=other)
        liability = self.GiftCard._liability_by_company()
        self.assertEqual(liability[(self.company, self.gift.currency_id)], 42.5)

    def test_portal_owner_sees_own_cards(self):
        self.gift.partner_id = self.member
        self.load(10)
        portal = self.env["res.users"].create(
            {
                "name": "Sara Portal",
                "login": "sara_portal",
                "partner_id": self.member.id,
                "groups_id": [(6, 0, [self.env.ref("base.group_portal").id])],
                "company_id": self.company.id,
                "company_ids": [(6, 0, [self.company.id])],
            }
        )
        self.assertEqual(self.GiftCard.with_user(portal).search([]), self.gift)
        self.assertEqual(self.GiftCard._portal_gift_cards(self.member), self.gift)
        self.assertFalse(self.GiftCard._portal_gift_cards(self.member2))
        with self.assertRaises(AccessError):
            self.gift.with_user(portal).write({"partner_id": self.member2.id})

    @users("club_manager")
    def test_bulk_issue_shows_pins_once_and_exports_csv(self):
        wizard = self.env["loyalty.club.gift.card.issue.wizard"].create(
            {"club_id": self.club.id, "count": 5, "amount": 50.0, "currency_id": self.company.currency_id.id}
        )
        wizard.action_issue()
        self.assertEqual(len(wizard.line_ids), 5)
        rows = base64.b64decode(wizard.csv_file).decode().splitlines()
        self.assertEqual(rows[0], "code,pin,amount,currency,valid_until,qr")
        self.assertEqual(len(rows), 6)
        line = wizard.line_ids[0]
        self.assertTrue(re.fullmatch(r"\d{6}", line.pin))
        self.assertEqual(self.GiftCard._authenticate(line.code, line.pin), line.gift_card_id)
        self.assertEqual(line.gift_card_id.state, "inactive")
        with self.assertRaises(UserError):
            wizard.action_issue()
        wizard.action_done()
        self.assertFalse(wizard.line_ids)
        self.assertFalse(wizard.csv_file)

    def test_bulk_issue_loaded_and_limits(self):
        wizard = self.env["loyalty.club.gift.card.issue.wizard"].create(
            {"club_id": self.club.id, "count": 3, "amount": 20.0, "activate": True}
        )
        wizard.action_issue()
        cards = wizard.line_ids.gift_card_id
        self.assertEqual(cards.mapped("balance"), [20.0] * 3)
        self.assertEqual(set(cards.mapped("state")), {"active"})
        with self.assertRaises(ValidationError):
            self.GiftCard._issue(self.club, count=0)
        with self.assertRaises(UserError):
            self.env["loyalty.club.gift.card.issue.wizard"].with_user(self.club_user).create(
                {"club_id": self.club.id, "count": 1, "amount": 5.0}
            ).action_issue()

    def test_new_pin_is_shown_once(self):
        action = self.gift.action_new_pin()
        wizard = self.env[action["res_model"]].browse(action["res_id"])
        pin = wizard.line_ids.pin
        self.assertEqual(self.GiftCard._authenticate(self.gift.sudo().code, pin), self.gift)
        with self.assertRaises(UserError):
            self.GiftCard._authenticate(self.gift.sudo().code, PIN)

    def test_printable_card(self):
        html = self.env["ir.actions.report"]._render_qweb_html("loyalty_club.report_gift_card", self.gift.ids)[0]
        self.assertIn(self.gift.sudo().code_display.encode(), html)
        self.assertIn(b"data:image/png;base64", html)
