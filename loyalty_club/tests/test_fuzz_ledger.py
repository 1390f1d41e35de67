import math
import os
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged

from .common import LoyaltyClubCase

# 2,000 random sequences in the test command; LOYALTY_FUZZ_EXAMPLES=10000 ./scripts/test.sh
# --tags /loyalty_club:TestLedgerFuzz runs more.
EXAMPLES = int(os.environ.get("LOYALTY_FUZZ_EXAMPLES", "2000"))

AMOUNTS = st.one_of(
    st.integers(min_value=-200, max_value=200),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from([0, 1, -1, 100_000_000, 100_000_001, -100_000_001]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 2.5, -0.5, True, None, "10"]),
)
OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "earn",
                "bonus",
                "redeem",
                "expire",
                "adjust",
                "reverse",
                "transfer",
                "replay",
                # a document's reversal and its undo (credit note posted, reset to draft), on the
                # card that carries the points now; a lost card replaced
                "doc_reverse",
                "doc_restore",
                "purchase",
                "spend",
                "give_back",
                "replace",
            ]
        ),
        AMOUNTS,
        st.integers(min_value=0, max_value=20),
    ),
    min_size=1,
    max_size=10,
)


@tagged("post_install", "-at_install")
class TestLedgerFuzz(LoyaltyClubCase):
    """Property-based: random sequences of postings with random (also absurd) amounts, card
    replacements and points given back never break the ledger's invariants, and refused postings
    change nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.spare = cls.env["loyalty.club.card"].create({"partner_id": cls.member2.id, "club_id": cls.club.id})
        # every sequence starts from a card with history: two lots of different ages, one
        # redemption spread over both (so give-backs have lots to return to)
        start = fields.Datetime.now() - timedelta(days=200)
        cls.Posting._post(cls.card, 300, "earn", "fuzz:seed:old", date=start, purchase_count=1)
        cls.Posting._post(cls.card, 200, "earn", "fuzz:seed:new", date=start + timedelta(days=100), purchase_count=1)
        cls.Posting._post(cls.card, -350, "redeem", "fuzz:seed:redeem", date=start + timedelta(days=150))

    def _cards(self):
        """The fuzzed cards: the card, its replacements and the spare card."""
        return self.env["loyalty.club.card"].search([("club_id", "=", self.club.id)])

    def _snapshot(self):
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT id, card_id, kind, points, posting_key FROM loyalty_club_entry WHERE club_id = %s ORDER BY id",
            [self.club.id],
        )
        return self.env.cr.fetchall()

    def _check_invariants(self, before):
        after = self._snapshot()
        self.assertEqual(after[: len(before)], before, "booked entries are never edited or deleted")
        for card in self._cards():
            self.assertBalanceIsLedgerSum(card)
        # every reversal takes back at most what its credit gave, every give-back returns at most
        # what its debit took (with the earlier ones)
        self.env.cr.execute(
            """SELECT o.id FROM loyalty_club_entry o
                 JOIN loyalty_club_entry c ON c.reversed_entry_id = o.id
                WHERE o.club_id = %s
             GROUP BY o.id, o.points
               HAVING SUM(c.points) * SIGN(o.points) > 0 OR ABS(SUM(c.points)) > ABS(o.points)""",
            [self.club.id],
        )
        self.assertFalse(self.env.cr.fetchall(), "corrections go the other way and never exceed their original")
        # lots stay consistent with what was taken from them and given back
        self.env.cr.execute(
            """SELECT l.id FROM loyalty_club_entry l
                 JOIN loyalty_club_lot_consumption c ON c.lot_id = l.id
                WHERE l.club_id = %s
             GROUP BY l.id, l.points, l.points_remaining
               HAVING SUM(c.points - COALESCE(c.points_returned, 0)) > l.points - l.points_remaining""",
            [self.club.id],
        )
        self.assertFalse(self.env.cr.fetchall(), "a lot holds back no more than its open consumptions allow")
        return after

    def _apply_document(self, operation, amount, pick, key):
        """A credit of the member taken back (a credit note posted) or given back (reset to draft)
        on the card that carries the points now."""
        credit_entries = self.env["loyalty.club.entry"].search(
            [("partner_id", "=", self.member.id), ("kind", "in", ("earn", "bonus"))], order="id"
        )
        if not credit_entries:
            return None
        original = credit_entries[pick % len(credit_entries)]
        if operation == "doc_reverse":
            return self.Posting._post_document_reversal(original, amount, key)
        return self.Posting._post_document_restoration(original, amount, key)

    def _apply(self, operation, amount, pick, step):
        card = self.current
        key = f"fuzz:{step}:{operation}"
        Posting = self.Posting
        if operation in ("doc_reverse", "doc_restore"):
            return self._apply_document(operation, amount, pick, key)
        if operation in ("earn", "bonus", "redeem", "expire", "adjust"):
            return Posting._post(card, amount, operation, key)
        if operation in ("purchase", "spend") and isinstance(amount, int) and not isinstance(amount, bool):
            # amounts a shop really books: a purchase earns 1 to 200 points, a redemption spends
            # up to one point more than the balance (refused) or nothing (refused)
            if operation == "purchase":
                return Posting._post(card, abs(amount) % 200 + 1, "earn", key, purchase_count=1)
            return Posting._post(card, -(abs(amount) % (max(card.balance, 0) + 2)), "redeem", key)
        if operation in ("purchase", "spend"):
            return Posting._post(card, amount, "earn" if operation == "purchase" else "redeem", key)
        if operation == "reverse":
            credit_entries = self.env["loyalty.club.entry"].search(
                [("card_id", "=", card.id), ("kind", "in", ("earn", "bonus"))], order="id"
            )
            if not credit_entries:
                return None
            original = credit_entries[pick % len(credit_entries)]
            return Posting._post_reversal(card, amount, key, original)
        if operation == "give_back":
            # points of a debit of this card or of a card it replaced come back (a cancelled order)
            debits = self.env["loyalty.club.entry"].search(
                [
                    ("card_id", "in", self._cards().filtered(lambda c: c.partner_id == self.member).ids),
                    ("kind", "in", ("redeem", "adjust", "reverse")),
                    ("points", "<", 0),
                ],
                order="id",
            )
            if not debits:
                return None
            debit = debits[pick % len(debits)]
            if isinstance(amount, int) and not isinstance(amount, bool) and abs(amount) <= 200:
                # around the edge: what is left to give back, one less or one more
                given = sum(
                    self.env["loyalty.club.entry"].search([("reversed_entry_id", "=", debit.id)]).mapped("points")
                )
                amount = -debit.points - given + amount % 3 - 1
            return Posting._post(card, amount, "reverse", key, reversed_entry=debit)
        if operation == "replace":
            if pick % 3:
                return None
            wizard = self.env["loyalty.club.card.replace.wizard"].create({"card_id": card.id})
            self.current = self.env["loyalty.club.card"].browse(wizard.action_replace()["res_id"])
            return self.current
        if operation == "transfer":
            return Posting._transfer_balance(card, self.spare) if pick % 5 == 0 else None
        # replay: the same key again must return the booked entry or be refused, never post twice
        entries = self.env["loyalty.club.entry"].search([("card_id", "=", card.id)], order="id")
        if entries:
            entry = entries[pick % len(entries)]
            Posting._post(card, entry.points, entry.kind, entry.posting_key)
        return None

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(operations=OPERATIONS)
    def test_random_postings_keep_the_ledger_true(self, operations):
        self.current = self.card
        with self.env.cr.savepoint() as example:
            before = self._snapshot()
            for step, (operation, amount, pick) in enumerate(operations):
                try:
                    with self.env.cr.savepoint():
                        self._apply(operation, amount, pick, step)
                except (UserError, ValidationError):
                    self.env.invalidate_all(flush=False)
                    self.current = self.current.exists() or self.card
                    after = self._snapshot()
                    self.assertEqual(after, before, f"a refused {operation} of {amount!r} changed the ledger")
                before = self._check_invariants(before)
            self.env.flush_all()
            example.rollback()
            self.env.invalidate_all(flush=False)
