import math
import os
from decimal import Decimal
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo import Command, fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common import LoyaltyClubCase

# 2,000 random sequences in the test command; LOYALTY_FUZZ_EXAMPLES=10000 ./scripts/test.sh
# --tags /loyalty_club:TestGiftCardFuzz runs more (the same variable as the points fuzz).
EXAMPLES = int(os.environ.get("LOYALTY_FUZZ_EXAMPLES", "2000"))

AMOUNTS = st.one_of(
    st.integers(min_value=-60, max_value=60),
    st.floats(min_value=-500, max_value=500),
    st.integers(min_value=-500, max_value=500),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),  # beyond any float: 10**400 must be refused, not overflow
    st.sampled_from([0, 0.0, -0.0, 0.004, 0.005, -0.005, 1e-320, 1e12, 1e12 + 1, -1e12, 10**12, 10**13]),
    st.sampled_from([math.nan, math.inf, -math.inf, True, False, None, "10", "nan", b"5", [5], 1j]),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.fractions(),
    st.sampled_from([10**400, -(10**400), Fraction(10**400, 3), Decimal("sNaN"), Decimal("1e999999")]),
)
KINDS = ["load", "redeem", "refund", "expire", "adjust"]
# Sign each kind takes when the example asks for a well-signed amount.
NATURAL_SIGN = {"load": 1, "refund": 1, "refund_of": 1, "redeem": -1, "expire": -1, "load_fx": 1, "redeem_fx": -1}
# Operations and how often they come (out of 100); the first and last, which Hypothesis draws
# more often, are the common ones.
WEIGHTS = {
    "load": 18,
    "refund": 5,
    "expire": 5,
    "adjust": 8,
    "block": 4,
    "refund_of": 14,
    "unblock": 4,
    "adjust_of": 6,
    "replay": 8,
    "replay_other": 6,
    "redeem": 22,
    # an amount of another currency (rate 0.3, whole units) converted to the card's at today's rate
    "load_fx": 4,
    "redeem_fx": 4,
}
OPERATION_NAMES = [name for name, weight in WEIGHTS.items() for _i in range(weight)]
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(OPERATION_NAMES),
        AMOUNTS,
        st.integers(min_value=0, max_value=20),
        st.booleans(),
    ),
    min_size=1,
    max_size=12,
)
# The fuzzed card before the operations: (loaded, spent); a new card in one example of four.
OPENINGS = [(1000, 250), (0, 0), (100, 0), (500, 500), (250.5, 0.5)]
SNAPSHOT_COLUMNS = "id, gift_card_id, kind, amount, balance_after, posting_key, reversed_entry_id, date"


@tagged("post_install", "-at_install")
class TestGiftCardFuzz(LoyaltyClubCase):
    """Property-based: random sequences of gift card postings (load, redeem, refund, expire, adjust,
    replays, blocking) with random, also absurd, amounts never break the gift card ledger, and
    refused postings change nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        GiftCard = cls.env["loyalty.club.gift.card"]
        cls.gift = GiftCard.create({"club_id": cls.club.id})
        cls.spare = GiftCard.create({"club_id": cls.club.id})
        cls.Posting._post_gift_card(cls.spare, 50.0, "load", "fuzz-gift:spare")
        cls.cards = cls.gift | cls.spare
        cls.Entry = cls.env["loyalty.club.gift.card.entry"]
        Currency = cls.env["res.currency"].with_context(active_test=False)
        cls.second = Currency.search([("name", "=", "XTS")]) or Currency.create({"name": "XTS", "symbol": "X"})
        cls.second.write(
            {
                "active": True,
                "rounding": 1.0,
                "rate_ids": [
                    Command.clear(),
                    Command.create({"name": "2000-01-01", "rate": 0.3, "company_id": cls.company.id}),
                ],
            }
        )

    def _snapshot(self):
        """The booked entries and the cards' rows, read from the database."""
        self.env.flush_all()
        cr = self.env.cr
        cr.execute(
            f"SELECT {SNAPSHOT_COLUMNS} FROM loyalty_club_gift_card_entry WHERE gift_card_id IN %s ORDER BY id",
            [tuple(self.cards.ids)],
        )
        entries = cr.fetchall()
        cr.execute(
            "SELECT id, balance, state, date_expiry FROM loyalty_club_gift_card WHERE id IN %s ORDER BY id",
            [tuple(self.cards.ids)],
        )
        return entries, cr.fetchall()

    def _check_invariants(self, before):
        entries_before, _cards_before = before
        after = self._snapshot()
        entries, cards = after
        self.assertEqual(entries[: len(entries_before)], entries_before, "booked entries are never edited or deleted")
        self.assertFalse(self.Posting._audit_gift_cards(self.cards), "balance = sum of the entries")
        for card_id, balance, state, _date_expiry in cards:
            self.assertGreaterEqual(balance, 0, "a gift card never goes below zero")
            card_entries = [entry for entry in entries if entry[1] == card_id]
            if card_entries:
                self.assertEqual(card_entries[-1][4], balance, "the last entry's balance after is the balance")
            if state == "active":
                self.assertGreater(balance, 0, "an active card holds money")
            if state == "used":
                self.assertEqual(balance, 0, "a used-up card holds nothing")
        by_id = {entry[0]: entry for entry in entries}
        reversed_totals = {}
        for entry in entries:
            if entry[6]:
                original = by_id[entry[6]]
                self.assertEqual(original[1], entry[1], "a correction stays on its card")
                self.assertLess(original[3] * entry[3], 0, "a correction goes the other way")
                reversed_totals[original[0]] = reversed_totals.get(original[0], 0) + entry[3]
        for original_id, total in reversed_totals.items():
            self.assertLessEqual(abs(total), abs(by_id[original_id][3]), "refunds never exceed their original")
        return after

    def _pick(self, pick, kinds=None):
        """An entry of the fuzzed card, or now and then one of the other card."""
        card = self.spare if pick >= 18 else self.gift
        domain = [("gift_card_id", "=", card.id)] + ([("kind", "in", kinds)] if kinds else [])
        entries = self.Entry.search(domain, order="id")
        return entries[pick % len(entries)] if entries else None

    def _apply(self, operation, amount, pick, well_signed, step):
        card = self.gift
        key = f"fuzz-gift:{step}:{operation}"
        Posting = self.Posting
        if well_signed and operation in NATURAL_SIGN and isinstance(amount, (int, float)):
            amount = NATURAL_SIGN[operation] * abs(amount)
        if operation in KINDS:
            return Posting._post_gift_card(card, amount, operation, key)
        if operation in ("load_fx", "redeem_fx"):
            if isinstance(amount, (int, float)) and not isinstance(amount, bool) and abs(amount) < 1e12:
                amount = self.env["loyalty.club"]._convert_amount(
                    amount, self.second, card.currency_id, self.company, fields.Date.today()
                )
            return Posting._post_gift_card(card, amount, operation[:-3], key)
        if operation in ("refund_of", "adjust_of"):
            # a correction of a booked movement: a refund of a redemption, an adjustment of anything
            original = self._pick(pick, ["redeem", "expire"] if operation == "refund_of" else None)
            if original is None:
                return None
            kind = "refund" if operation == "refund_of" else "adjust"
            return Posting._post_gift_card(card, amount, kind, key, reversed_entry=original)
        if operation in ("replay", "replay_other"):
            # the same key again returns the booked entry; with another amount it is refused
            entry = self._pick(pick)
            if entry is None:
                return None
            replayed = entry.amount if operation == "replay" else amount
            result = Posting._post_gift_card(entry.gift_card_id, replayed, entry.kind, entry.posting_key)
            self.assertEqual(result, entry, "a replayed key returns its entry")
            return result
        if operation == "block":
            return card.action_block()
        return card.action_unblock()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(opening=st.sampled_from(OPENINGS), operations=OPERATIONS)
    def test_random_gift_card_postings_keep_the_ledger_true(self, opening, operations):
        with self.env.cr.savepoint() as example:
            loaded, spent = opening
            if loaded:
                self.Posting._post_gift_card(self.gift, loaded, "load", "fuzz-gift:opening")
            if spent:
                self.Posting._post_gift_card(self.gift, -spent, "redeem", "fuzz-gift:opening-spent")
            before = self._snapshot()
            for step, (operation, amount, pick, well_signed) in enumerate(operations):
                try:
                    with self.env.cr.savepoint():
                        self._apply(operation, amount, pick, well_signed, step)
                except (UserError, ValidationError):
                    self.env.invalidate_all(flush=False)
                    after = self._snapshot()
                    self.assertEqual(after, before, f"a refused {operation} of {amount!r} changed something")
                before = self._check_invariants(before)
            self.env.flush_all()
            example.rollback()
            self.env.invalidate_all(flush=False)


@tagged("post_install", "-at_install")
class TestGiftCardPostingCorrections(LoyaltyClubCase):
    """What the gift card fuzzing found: amounts beyond any float and corrections larger than
    (or on another card than, or the same way as) the movement they correct."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        GiftCard = cls.env["loyalty.club.gift.card"]
        cls.gift = GiftCard.create({"club_id": cls.club.id})
        cls.other = GiftCard.create({"club_id": cls.club.id})
        cls.load = cls.Posting._post_gift_card(cls.gift, 100.0, "load", "corr:load")
        cls.spend = cls.Posting._post_gift_card(cls.gift, -40.0, "redeem", "corr:redeem")
        cls.Posting._post_gift_card(cls.other, 10.0, "load", "corr:other-load")
        cls.other_spend = cls.Posting._post_gift_card(cls.other, -10.0, "redeem", "corr:other-redeem")

    def post(self, amount, kind, key, reversed_entry=None, card=None):
        return self.Posting._post_gift_card(card or self.gift, amount, kind, key, reversed_entry=reversed_entry)

    def entry_count(self):
        return self.env["loyalty.club.gift.card.entry"].search_count([("gift_card_id", "=", self.gift.id)])

    def test_amounts_beyond_any_float_are_refused_cleanly(self):
        for amount in (10**400, -(10**400), Fraction(10**400, 3)):
            with self.subTest(amount=str(amount)[:20]), self.assertRaises(ValidationError):
                self.post(amount, "load" if amount > 0 else "redeem", "corr:huge")
        self.assertEqual(self.entry_count(), 2)
        self.assertEqual(self.gift.balance, 60.0)

    def test_refunds_of_a_redemption_never_exceed_it(self):
        self.post(30.0, "refund", "corr:refund-1", reversed_entry=self.spend)
        with self.assertRaisesRegex(UserError, "cannot move more than"):
            self.post(10.01, "refund", "corr:refund-2", reversed_entry=self.spend)
        self.post(10.0, "refund", "corr:refund-2", reversed_entry=self.spend)
        with self.assertRaisesRegex(UserError, "cannot move more than"):
            self.post(0.01, "refund", "corr:refund-3", reversed_entry=self.spend)
        self.assertEqual(self.entry_count(), 4)
        self.assertEqual(self.gift.balance, 100.0)
        # A replay of a booked refund is not a new refund.
        self.assertTrue(self.post(10.0, "refund", "corr:refund-2", reversed_entry=self.spend))

    def test_corrections_stay_on_their_card_and_go_the_other_way(self):
        with self.assertRaisesRegex(ValidationError, "same card"):
            self.post(5.0, "refund", "corr:wrong-card", reversed_entry=self.other_spend)
        with self.assertRaisesRegex(ValidationError, "same card"):
            self.post(5.0, "refund", "corr:not-an-entry", reversed_entry=self.gift)
        with self.assertRaisesRegex(ValidationError, "the other way"):
            self.post(5.0, "adjust", "corr:same-way", reversed_entry=self.load)
        with self.assertRaisesRegex(ValidationError, "the other way"):
            self.post(-5.0, "adjust", "corr:same-way", reversed_entry=self.spend)
        self.assertEqual(self.entry_count(), 2)
        correction = self.post(-5.0, "adjust", "corr:load-corrected", reversed_entry=self.load)
        self.assertEqual((correction.reversed_entry_id, self.gift.balance), (self.load, 55.0))
