from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import CommittedClubMixin


@tagged("post_install", "-at_install")
class TestGiftCardConcurrency(CommittedClubMixin, TransactionCase):
    """Two tills spending one gift card at the same time, each in its own thread and cursor
    inside ``retrying`` as Odoo runs an RPC: the row lock serialises them, so the card is never
    overdrawn and a key posted twice books once (acceptance 1: concurrent redemption)."""

    def setUp(self):
        super().setUp()
        self.ids = self.make_committed_card(tag="gift")
        with self.committed_env() as env:
            club = env["loyalty.club"].browse(self.ids["club"])
            card = env["loyalty.club.gift.card"].create({"club_id": club.id})
            env["loyalty.club.posting"]._post_gift_card(card, 100.0, "load", f"committed-gift:{card.id}:seed")
            self.gift_id = card.id
        self.addCleanup(self._cleanup_gift)

    def _cleanup_gift(self):
        with self.committed_env() as env:
            env.cr.execute("SET LOCAL session_replication_role = replica")
            env.cr.execute("DELETE FROM loyalty_club_gift_card_entry WHERE gift_card_id = %s", [self.gift_id])
            env.cr.execute("DELETE FROM loyalty_club_gift_card WHERE id = %s", [self.gift_id])

    def _gift_state(self):
        with self.committed_env() as env:
            card = env["loyalty.club.gift.card"].browse(self.gift_id)
            kinds = env["loyalty.club.gift.card.entry"].search([("gift_card_id", "=", card.id)]).mapped("kind")
            return card.balance, sorted(kinds), env["loyalty.club.posting"]._audit_gift_cards(card)

    @mute_logger("odoo.service.model")
    def test_thirty_two_tills_on_one_gift_card(self):
        """32 tills spend 30.00 each from a card holding 100.00 at once: three are paid, the 29
        others get the business error "not enough money" (no traceback, no ERROR log line: the
        lock's serialization conflicts are retried quietly by Odoo). A spend that wins commits
        once, so a caller meets at most three conflicts and never runs out of Odoo's five tries."""
        messages = []

        def spend(env, index):
            card = env["loyalty.club.gift.card"].browse(self.gift_id)
            try:
                env["loyalty.club.posting"]._post_gift_card(card, -30.0, "redeem", f"scale:{self.gift_id}:{index}")
            except UserError as error:
                messages.append(str(error))
                raise

        with self._error_log_lines() as errors:
            outcomes = self._run_threads(32, spend)
        unexpected = [outcome for outcome in outcomes if outcome not in ("ok", "refused")]
        self.assertFalse(unexpected, "no traceback may reach a till:\n" + "\n".join(map(str, unexpected)))
        self.assertEqual((outcomes.count("ok"), outcomes.count("refused")), (3, 29))
        self.assertEqual(len(messages), 29)
        self.assertTrue(all(message.startswith("Not enough money on gift card") for message in messages), messages)
        self.assertFalse(errors, "no ERROR log line:\n" + "\n".join(errors))
        balance, kinds, mismatches = self._gift_state()
        self.assertEqual((balance, kinds), (10.0, ["load", "redeem", "redeem", "redeem"]))
        self.assertFalse(mismatches)

    @mute_logger("odoo.service.model", "odoo.sql_db")
    def test_two_tills_cannot_overdraw_a_gift_card(self):
        def spend(env, index):
            card = env["loyalty.club.gift.card"].browse(self.gift_id)
            env["loyalty.club.posting"]._post_gift_card(card, -60.0, "redeem", f"race:{self.gift_id}:{index}")

        outcomes = self._run_threads(2, spend)
        self.assertEqual(sorted(outcomes), ["ok", "refused"], outcomes)
        balance, kinds, mismatches = self._gift_state()
        self.assertEqual((balance, kinds), (40.0, ["load", "redeem"]))
        self.assertFalse(mismatches)

    @mute_logger("odoo.service.model", "odoo.sql_db")
    def test_same_redemption_sent_twice_at_once_books_once(self):
        def spend(env, index):
            card = env["loyalty.club.gift.card"].browse(self.gift_id)
            env["loyalty.club.posting"]._post_gift_card(card, -30.0, "redeem", f"race:{self.gift_id}:same")

        outcomes = self._run_threads(2, spend)
        self.assertEqual(outcomes, ["ok", "ok"], outcomes)
        balance, kinds, mismatches = self._gift_state()
        self.assertEqual((balance, kinds), (70.0, ["load", "redeem"]))
        self.assertFalse(mismatches)

    @mute_logger("odoo.service.model", "odoo.sql_db")
    def test_many_small_redemptions_never_go_below_zero(self):
        def spend(env, index):
            card = env["loyalty.club.gift.card"].browse(self.gift_id)
            env["loyalty.club.posting"]._post_gift_card(card, -30.0, "redeem", f"race:{self.gift_id}:{index}")

        outcomes = self._run_threads(4, spend)
        self.assertEqual(sorted(outcomes), ["ok", "ok", "ok", "refused"], outcomes)
        balance, _kinds, mismatches = self._gift_state()
        self.assertEqual(balance, 10.0)
        self.assertFalse(mismatches)
