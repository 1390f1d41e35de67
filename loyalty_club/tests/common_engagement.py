from contextlib import contextmanager
from unittest.mock import patch

from odoo.addons.mail.tests.common import MailCase
from odoo.addons.sms.tests.common import SMSCase

from .common import LoyaltyClubCase


class EngagementCase(LoyaltyClubCase, SMSCase, MailCase):
    """The test club without messages (tests switch them on) and helpers for rules."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.club.write({"notify_channel": "none", "notify_cap_per_week": 0})
        cls.Rule = cls.env["loyalty.club.bonus.rule"]
        cls.Notification = cls.env["loyalty.club.notification"]

    def rule(self, kind, points=10, **values):
        return self.Rule.create(
            {"name": f"{kind} bonus", "club_id": self.club.id, "kind": kind, "points": points, **values}
        )

    def purchase(self, card=None, amount=100.0, points=10):
        return self.post(points, "earn", card=card, amount=amount, purchase_count=1)

    def bonuses(self, card=None, key_prefix="bonus:"):
        return self.env["loyalty.club.entry"].search(
            [
                ("card_id", "=", (card or self.card).id),
                ("kind", "=", "bonus"),
                ("posting_key", "=like", f"{key_prefix}%"),
            ],
            order="id",
        )

    @contextmanager
    def progress_reports(self):
        """The (done, remaining) pairs a cron reports to the scheduler."""
        reports = []

        def record(cron, *, done, remaining, deactivate=False):
            reports.append((done, remaining))

        with patch.object(type(self.env["ir.cron"]), "_notify_progress", record):
            yield reports

    def assertNothingCached(self, records):
        """None of ``records`` has a value in the ORM cache (the cron freed its batch)."""
        cached = [
            record
            for recordset in records
            for record in recordset
            for field in record._fields.values()
            if field.store and self.env.cache.contains(record, field)
        ]
        self.assertFalse(cached, "records of the batch are still in the ORM cache")

    def new_member(self, name, **values):
        partner = self.env["res.partner"].create({"name": name, **values})
        card = self.env["loyalty.club.card"].create({"partner_id": partner.id, "club_id": self.club.id})
        return partner, card

    @contextmanager
    def refused(self, exception, pattern):
        """assertRaisesRegex that also rolls the failed write back (assertRaises' savepoint)."""
        with self.assertRaises(exception) as caught:
            yield
        self.assertRegex(str(caught.exception), pattern)

    def logs(self, partner=None, kind=None):
        domain = [("partner_id", "=", (partner or self.member).id)]
        if kind:
            domain.append(("kind", "=", kind))
        return self.Notification.search(domain, order="id")
