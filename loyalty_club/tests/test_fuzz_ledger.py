import math
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    """Property-based: random sequences of postings with random (also absurd) amounts never break
    the ledger's invariants, and refused postings change nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.spare = cls.env["loyalty.club.card"].create({"partner_id": cls.member2.id, "club_id": cls.club.id})

    def _cards(self):
        """The fuzzed cards: the card, its replacements and the spare card."""
        return self.env["loyalty.club.card"].search([("club_id", "=", self.club.id)])

    def _snapshot(self):
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT id, card_id, kind, points, posting_key FROM loyalty_club_entry WHERE card_id IN %s ORDER BY id",
            [tuple(self._cards().ids)],
        )
        return self.env.cr.fetchall()

    def _check_invariants(self, before):
        Entry = self.env["loyalty.club.entry"]
        after = self._snapshot()
        self.assertEqual(after[: len(before)], before, "booked entries are never edited or deleted")
        cards = self._cards()
        for card in cards:
            self.assertBalanceIsLedgerSum(card)
        for reversal in Entry.search([("card_id", "in", cards.ids), ("kind", "=", "reverse")]):
            original = reversal.reversed_entry_id
            taken = -sum(Entry.search([("reversed_entry_id", "=", original.id)]).mapped("points"))
            self.assertLessEqual(taken, original.points, "reversals never exceed their original")
            if original.points > 0:
                self.assertGreaterEqual(taken, 0, "an undo never gives back more than was taken")
        return after

    def _apply(self, operation, amount, pick, step):
        card = self.card._active_successor()
        key = f"fuzz:{step}:{operation}"
        Posting = self.Posting
        if operation in ("doc_reverse", "doc_restore"):
            # a credit of the card or of a card it replaced, taken back or given back on the card in use
            credit_entries = self.env["loyalty.club.entry"].search(
                [("partner_id", "=", self.member.id), ("kind", "in", ("earn", "bonus"))], order="id"
            )
            if not credit_entries:
                return None
            original = credit_entries[pick % len(credit_entries)]
            if operation == "doc_reverse":
                return Posting._post_document_reversal(original, amount, key)
            return Posting._post_document_restoration(original, amount, key)
        if operation == "replace":
            if pick % 4:
                return None
            wizard = self.env["loyalty.club.card.replace.wizard"].create({"card_id": card.id})
            return wizard.action_replace()
        if operation in ("earn", "bonus", "redeem", "expire", "adjust"):
            return Posting._post(card, amount, operation, key)
        if operation == "reverse":
            credit_entries = self.env["loyalty.club.entry"].search(
                [("card_id", "=", card.id), ("kind", "in", ("earn", "bonus"))], order="id"
            )
            if not credit_entries:
                return None
            original = credit_entries[pick % len(credit_entries)]
            return Posting._post_reversal(card, amount, key, original)
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
        with self.env.cr.savepoint() as example:
            before = self._snapshot()
            for step, (operation, amount, pick) in enumerate(operations):
                try:
                    with self.env.cr.savepoint():
                        self._apply(operation, amount, pick, step)
                except (UserError, ValidationError):
                    self.env.invalidate_all(flush=False)
                    after = self._snapshot()
                    self.assertEqual(after, before, f"a refused {operation} of {amount!r} changed the ledger")
                before = self._check_invariants(before)
            self.env.flush_all()
            example.rollback()
            self.env.invalidate_all(flush=False)
