import hashlib
import json

import psycopg2.errors
from freezegun import freeze_time

from odoo.tests import tagged
from odoo.tools import SQL, mute_logger

from odoo.addons.loyalty_club.tools.ledger_chain import backfill_sql

from .common import LoyaltyClubCase


@tagged("post_install", "-at_install")
class TestLedgerChain(LoyaltyClubCase):
    """Issue 20: tamper-evident ledgers. Every point and gift card entry stores a hash of its booked
    columns chained to the previous entry of its card, whatever inserted it (the ORM, the batch
    INSERTs, the expiry SQL); the audits find the first altered entry of each card."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_card = cls.env["loyalty.club.card"].create({"partner_id": cls.member2.id, "club_id": cls.club.id})
        cls.gift = cls.env["loyalty.club.gift.card"].create({"club_id": cls.club.id})
        cls.Posting._post_gift_card(cls.gift, 50.0, "load", "chain:gift:load")
        cls.Posting._post_gift_card(cls.gift, -20.0, "redeem", "chain:gift:redeem")
        cls.Posting._post_gift_card(cls.gift, 5.0, "refund", "chain:gift:refund")

    def entries(self, card=None):
        self.env.invalidate_all()
        return self.env["loyalty.club.entry"].search([("card_id", "=", (card or self.card).id)], order="id")

    def tamper(self, table, entry_id, **values):
        """Alter a booked row as someone with the database would: the append-only trigger off."""
        self.env.flush_all()
        trigger = SQL.identifier(f"{table}_append_only_row")
        self.env.cr.execute(SQL("ALTER TABLE %s DISABLE TRIGGER %s", SQL.identifier(table), trigger))
        self.env.cr.execute(
            SQL(
                "UPDATE %s SET %s WHERE id = %s",
                SQL.identifier(table),
                SQL(", ").join(SQL("%s = %s", SQL.identifier(name), value) for name, value in values.items()),
                entry_id,
            )
        )
        self.env.cr.execute(SQL("ALTER TABLE %s ENABLE TRIGGER %s", SQL.identifier(table), trigger))
        self.env.invalidate_all()

    def test_every_insert_path_chains_its_entries(self):
        with freeze_time("2020-01-10 10:00:00"):
            self.post(100)  # a lot long expired
            self.post(-30, kind="redeem")
        self.Posting._post_credits(  # the batch INSERT
            [{"card": self.card, "points": 7, "kind": "bonus", "posting_key": "chain:bonus", "reason": "b"}]
        )
        self.Posting._post_openings(  # the import's batch INSERT
            [{"card": self.other_card, "points": 40, "key": "chain:opening", "reason": "o", "branch": self.company}]
        )
        self.Posting._cron_expire_points()  # the expiry SQL
        entries = self.entries()
        self.assertIn("expire", entries.mapped("kind"))
        previous = ""
        for entry in entries:
            self.assertRegex(entry.chain_digest, r"^[0-9a-f]{64}$")
            self.env.cr.execute(
                "SELECT loyalty_club_entry_chain_payload(e) FROM loyalty_club_entry e WHERE id = %s", [entry.id]
            )
            payload = self.env.cr.fetchone()[0]
            self.assertEqual(json.loads(payload)[:2], [entry.id, self.card.id], "id and card come first")
            expected = hashlib.sha256(f"{previous}|{payload}".encode()).hexdigest()
            self.assertEqual(entry.chain_digest, expected, "sha256 of the previous hash and the booked columns")
            previous = entry.chain_digest
        self.assertTrue(self.entries(self.other_card).chain_digest)
        self.assertFalse(self.Posting._audit_chains())
        self.assertFalse(self.Posting._audit_gift_card_chains())

    def test_the_audit_finds_an_altered_entry(self):
        first, second, third = (self.post(points) for points in (100, 50, 25))
        self.post(10, card=self.other_card)
        self.assertFalse(self.Posting._audit_chains())
        self.tamper("loyalty_club_entry", second.id, points=500)
        self.assertEqual(self.Posting._audit_chains(), {self.card.id: second.id})
        self.assertEqual(self.Posting._audit_chains(self.card), {self.card.id: second.id})
        self.assertFalse(self.Posting._audit_chains(self.other_card))
        # recomputing the altered row's own hash does not hide it: the next link breaks
        self.env.cr.execute(
            """SELECT loyalty_club_chain_step(
                      (SELECT chain_digest FROM loyalty_club_entry WHERE id = %s), loyalty_club_entry_chain_payload(e))
                 FROM loyalty_club_entry e WHERE id = %s""",
            [first.id, second.id],
        )
        self.tamper("loyalty_club_entry", second.id, chain_digest=self.env.cr.fetchone()[0])
        self.assertEqual(self.Posting._audit_chains(), {self.card.id: third.id})

    def test_the_audit_finds_an_altered_gift_card_entry_and_the_nightly_job_reports_it(self):
        entries = self.env["loyalty.club.gift.card.entry"].search([("gift_card_id", "=", self.gift.id)], order="id")
        self.assertEqual(len(entries), 3)
        self.assertTrue(all(entries.mapped("chain_digest")))
        self.assertFalse(self.Posting._audit_gift_card_chains())
        self.tamper("loyalty_club_gift_card_entry", entries[1].id, amount=-2.0, balance_after=48.0)
        self.assertEqual(self.Posting._audit_gift_card_chains(), {self.gift.id: entries[1].id})
        entry = self.post(12)
        self.tamper("loyalty_club_entry", entry.id, reason="edited")
        result = self.Posting._cron_audit_ledgers()
        self.assertEqual(result["gift_chains"], {self.gift.id: entries[1].id})
        self.assertEqual(result["chains"], {self.card.id: entry.id})
        self.assertEqual(result["gift_balances"], {self.gift.id: (35.0, 53.0)})
        self.assertIn(f"entry #{entry.id}", self.club.ledger_audit_result)
        self.assertIn(f"entry #{entries[1].id}", self.club.ledger_audit_result)
        self.assertTrue(self.club.ledger_audit_date)
        self.assertIn(f"#{entry.id}", self.card.message_ids[:1].body)
        action = self.club.with_user(self.club_manager).action_audit_ledgers()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn(f"entry #{entry.id}", action["params"]["message"])
        self.assertEqual(self.other_card.action_audit_chain()["params"]["type"], "success")
        self.assertIn(f"#{entries[1].id}", self.gift.action_audit_chain()["params"]["message"])

    @mute_logger("odoo.sql_db")
    def test_backfill_of_an_upgrade_gives_the_hashes_the_trigger_gives(self):
        for points in (30, 20, -5):
            self.post(points, kind="earn" if points > 0 else "redeem")
        entries = self.entries()
        hashes = entries.mapped("chain_digest")
        gift_hashes = (
            self.env["loyalty.club.gift.card.entry"]
            .search([("gift_card_id", "=", self.gift.id)])
            .mapped("chain_digest")
        )
        # entries booked before the chain existed have none (the column is new): the upgrade fills them
        self.env.cr.execute(
            """ALTER TABLE loyalty_club_entry DISABLE TRIGGER loyalty_club_entry_append_only_row;
               UPDATE loyalty_club_entry SET chain_digest = NULL WHERE card_id = %(card)s;
               ALTER TABLE loyalty_club_entry ENABLE TRIGGER loyalty_club_entry_append_only_row;
               ALTER TABLE loyalty_club_gift_card_entry DISABLE TRIGGER loyalty_club_gift_card_entry_append_only_row;
               UPDATE loyalty_club_gift_card_entry SET chain_digest = NULL WHERE gift_card_id = %(gift)s;
               ALTER TABLE loyalty_club_gift_card_entry ENABLE TRIGGER loyalty_club_gift_card_entry_append_only_row""",
            {"card": self.card.id, "gift": self.gift.id},
        )
        self.assertEqual(self.Posting._audit_chains(self.card), {self.card.id: entries[0].id})
        self.assertEqual(self.Posting._backfill_chains(), len(entries) + len(gift_hashes))
        self.assertEqual(self.entries().mapped("chain_digest"), hashes)
        self.assertFalse(self.Posting._audit_chains())
        self.assertFalse(self.Posting._audit_gift_card_chains())
        # once filled, a hash can never change (the append-only trigger)
        with self.assertRaises(psycopg2.errors.IntegrityConstraintViolation), self.env.cr.savepoint():
            self.env.cr.execute("UPDATE loyalty_club_entry SET chain_digest = 'x' WHERE id = %s", [entries[0].id])
        # the migration's statement is the same backfill
        self.env.cr.execute(backfill_sql("loyalty_club_entry", "card_id"))
        self.assertEqual(self.env.cr.rowcount, 0, "nothing left to fill")
