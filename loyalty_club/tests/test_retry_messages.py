from odoo import SUPERUSER_ID, api
from odoo.modules.registry import DummyRLock, Registry
from odoo.service.model import retrying
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import CommittedClubMixin
from .test_reliability import InjectedSerializationFailure


@tagged("post_install", "-at_install")
class TestRetriesNeverDuplicateMessages(CommittedClubMixin, TransactionCase):
    """Odoo's request retry after a serialization failure re-runs the whole transaction: the
    member's e-mail and SMS queued by the failed attempt are rolled back with its posting, and
    the retry queues them once; a gift card movement is booked once too."""

    def setUp(self):
        super().setUp()
        self.patch(Registry, "_lock", DummyRLock())
        self.ids = self.make_committed_card(balance=50, tag="retry-msg")
        with self.committed_env() as env:
            env["loyalty.club"].browse(self.ids["club"]).write(
                {"notify_channel": "both", "notify_earned": True, "notify_cap_per_week": 0}
            )
            env["res.partner"].browse(self.ids["partner"]).write(
                {"email": "retry.member@example.com", "mobile": "+98 912 555 0101", "country_id": env.ref("base.ir").id}
            )
        self.addCleanup(self._cleanup_messages)

    def _cleanup_messages(self):
        with self.committed_env() as env:
            cr = env.cr
            cr.execute("SELECT mail_id, sms_id FROM loyalty_club_notification WHERE card_id = %s", [self.ids["card"]])
            rows = cr.fetchall()
            cr.execute("DELETE FROM loyalty_club_notification WHERE card_id = %s", [self.ids["card"]])
            cr.execute("DELETE FROM mail_mail WHERE id = ANY(%s)", [[row[0] for row in rows if row[0]]])
            cr.execute("DELETE FROM sms_sms WHERE partner_id = %s", [self.ids["partner"]])
            cr.execute("SET LOCAL session_replication_role = replica")
            cr.execute(
                "DELETE FROM loyalty_club_gift_card_entry WHERE gift_card_id IN "
                "(SELECT id FROM loyalty_club_gift_card WHERE club_id = %s)",
                [self.ids["club"]],
            )
            cr.execute("DELETE FROM loyalty_club_gift_card WHERE club_id = %s", [self.ids["club"]])

    def _retry_with_one_conflict(self, work):
        """Run ``work(env)`` inside ``retrying`` as Odoo runs a request; the first attempt fails
        with a serialization failure right after ``work`` did everything. Returns the attempts."""
        attempts = []
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})

            def attempt():
                work(env)
                attempts.append(1)
                if len(attempts) == 1:
                    raise InjectedSerializationFailure("injected: could not serialize access")

            retrying(attempt, env)
        return len(attempts)

    def _messages(self):
        with self.committed_env() as env:
            logs = env["loyalty.club.notification"].search([("card_id", "=", self.ids["card"])])
            mails = env["mail.mail"].search(
                [("model", "=", "loyalty.club.entry"), ("recipient_ids", "in", [self.ids["partner"]])]
            )
            sms = env["sms.sms"].search([("partner_id", "=", self.ids["partner"])])
            entries = env["loyalty.club.entry"].search([("card_id", "=", self.ids["card"])])
            return {
                "logs": [(log.kind, log.state, log.entry_id.kind) for log in logs],
                "mails": [(mail.res_id in entries.ids, mail.state) for mail in mails],
                "sms": [(message.number, "10 points" in message.body) for message in sms],
                "kinds": sorted(entries.mapped("kind")),
            }

    @mute_logger("odoo.service.model")
    def test_purchase_message_is_queued_once_after_a_retried_conflict(self):
        card_id = self.ids["card"]

        def purchase(env):
            card = env["loyalty.club.card"].browse(card_id)
            env["loyalty.club.posting"]._post(card, 10, "earn", f"retry-msg:{card_id}:sale", purchase_count=1)

        self.assertEqual(self._retry_with_one_conflict(purchase), 2, "the first attempt failed and was retried")
        messages = self._messages()
        self.assertEqual(messages["kinds"], ["earn", "earn"], "the seed and one earning")
        self.assertEqual(messages["logs"], [("earned", "queued", "earn")], "one message, not two")
        self.assertEqual(messages["mails"], [(True, "outgoing")], "one e-mail queued, about the booked entry")
        self.assertEqual(messages["sms"], [("+989125550101", True)], "one SMS queued")

    @mute_logger("odoo.service.model")
    def test_gift_card_movement_is_booked_once_after_a_retried_conflict(self):
        with self.committed_env() as env:
            card = env["loyalty.club.gift.card"].create({"club_id": self.ids["club"]})
            env["loyalty.club.posting"]._post_gift_card(card, 100.0, "load", f"retry-gift:{card.id}:load")
            gift_id = card.id

        def spend(env):
            card = env["loyalty.club.gift.card"].browse(gift_id)
            env["loyalty.club.posting"]._post_gift_card(card, -30.0, "redeem", f"retry-gift:{gift_id}:redeem")

        self.assertEqual(self._retry_with_one_conflict(spend), 2)
        with self.committed_env() as env:
            card = env["loyalty.club.gift.card"].browse(gift_id)
            kinds = sorted(env["loyalty.club.gift.card.entry"].search([("gift_card_id", "=", gift_id)]).mapped("kind"))
            self.assertEqual((card.balance, kinds), (70.0, ["load", "redeem"]), "one redemption, not two")
            self.assertFalse(env["loyalty.club.posting"]._audit_gift_cards(card))
