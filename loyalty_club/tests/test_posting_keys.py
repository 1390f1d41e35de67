from datetime import date
from types import SimpleNamespace as Record

from odoo.tests import TransactionCase, tagged
from odoo.tools import SQL

from ..tools import posting_keys as keys


@tagged("post_install", "-at_install")
class TestPostingKeys(TransactionCase):
    """Every posting key format, pinned to the exact string databases already hold: a changed
    format would post the same movement again on a replay."""

    def test_points_ledger_keys(self):
        order, move = Record(id=12, _name="sale.order"), Record(id=34, _name="account.move")
        self.assertEqual(
            keys.record(Record(id=5, _name="loyalty.club.adjust.wizard"), "adjust"),
            "loyalty.club.adjust.wizard:5:0:adjust",
        )
        self.assertEqual(keys.record(Record(id=5, _name="x.model"), "earn", line=3), "x.model:5:3:earn")
        self.assertEqual(keys.record(Record(id=5, _name="x.model"), "earn", line=0), "x.model:5:0:earn")
        for kind in ("earn", "redeem", "unredeem", "reverse"):
            self.assertEqual(keys.sale_order(order, 2, kind), f"sale.order:12:2:{kind}")
        self.assertEqual(keys.credit_note(move, order, 1, "reverse"), "account.move:34:12:1:reverse")
        self.assertEqual(keys.credit_note(move, order, 1, "restore"), "account.move:34:12:1:restore")
        self.assertEqual(keys.pos_order(Record(id=7, uuid="ab-cd"), "earn"), "pos.order:ab-cd:earn")
        self.assertEqual(keys.pos_order(Record(id=7, uuid=False), "redeem"), "pos.order:7:redeem")
        source, target, lot = Record(id=1), Record(id=2), Record(id=99, points_returned=0)
        self.assertEqual(keys.transfer_lot(source, target, lot, "out"), "transfer:1:2:99:out")
        self.assertEqual(keys.transfer_lot(source, target, lot, "in"), "transfer:1:2:99:in")
        self.assertEqual(keys.transfer_debt(source, target, "out"), "transfer:1:2:debt:out")
        self.assertEqual(keys.transfer_debt(source, target, "in"), "transfer:1:2:debt:in")
        self.assertEqual(keys.lot_expiry(lot), "loyalty.club.entry:99:0:expire")
        self.assertEqual(keys.lot_expiry(Record(id=99, points_returned=False)), "loyalty.club.entry:99:0:expire")
        self.assertEqual(keys.lot_expiry(Record(id=99, points_returned=15)), "loyalty.club.entry:99:15:expire")

    def test_bonus_and_migration_keys(self):
        rule, partner = Record(id=3), Record(id=44)
        self.assertEqual(keys.bonus("visit", rule, partner, date(2026, 3, 1)), "bonus:visit:3:44:2026-03-01")
        self.assertEqual(keys.bonus("nth", rule, partner, 5), "bonus:nth:3:44:5")
        self.assertEqual(keys.bonus("mission", rule, partner, "2026-03"), "bonus:mission:3:44:2026-03")
        self.assertEqual(keys.bonus("referral", rule, partner, "referrer"), "bonus:referral:3:44:referrer")
        self.assertEqual(keys.bonus("referral", rule, partner, "referred"), "bonus:referral:3:44:referred")
        self.assertEqual(keys.bonus("join", rule, partner), "bonus:join:3:44")
        self.assertEqual(keys.bonus("profile", rule, partner), "bonus:profile:3:44")
        self.assertEqual(keys.bonus("birthday", rule, partner, 2026), "bonus:birthday:3:44:2026")
        self.assertEqual(keys.bonus("anniversary", rule, partner, 2026), "bonus:anniversary:3:44:2026")
        self.assertEqual(keys.reversal_of(Record(posting_key="bonus:join:3:44")), "bonus:join:3:44:reverse")
        self.assertEqual(keys.import_opening(8), "import:opening:8")
        self.assertEqual(keys.native_opening(9), "native:loyalty.card:9:opening")
        self.assertEqual(keys.native_gift_load(9), "native:loyalty.card:9:gift_load")

    def test_gift_card_ledger_keys(self):
        wizard = Record(id=6, _name="loyalty.club.gift.card.refund.wizard")
        self.assertEqual(
            keys.record(Record(id=6, _name="loyalty.club.gift.card.issue.wizard"), "load", 21),
            "loyalty.club.gift.card.issue.wizard:6:21:load",
        )
        self.assertEqual(keys.wizard(wizard, "refund"), "loyalty.club.gift.card.refund.wizard:6:refund")
        self.assertEqual(keys.wizard(wizard, "refund", 2), "loyalty.club.gift.card.refund.wizard:6:refund:2")
        payment = Record(id=6, _name="loyalty.club.gift.card.payment.wizard")
        self.assertEqual(keys.wizard(payment, "redeem"), "loyalty.club.gift.card.payment.wizard:6:redeem")
        line = Record(id=13)
        self.assertEqual(keys.sale_gift_load(line, 0), "sale.order.line:13:0:gift_load")
        self.assertEqual(keys.sale_gift_load(line, 1, 2), "sale.order.line:13:1:gift_load:reload2")
        self.assertEqual(keys.sale_gift_load_like(line), "sale.order.line:13:%:gift_load%")
        self.assertEqual(keys.sale_gift_load_like(line, 1), "sale.order.line:13:1:gift_load%")
        self.assertEqual(keys.sale_gift_load_unit("sale.order.line:13:4:gift_load:reload1"), 4)
        self.assertEqual(
            keys.unload_of(Record(posting_key="sale.order.line:13:0:gift_load")),
            "sale.order.line:13:0:gift_load:unload",
        )
        order, card = Record(id=7, uuid="ab-cd"), Record(id=31)
        self.assertEqual(keys.pos_order(order, keys.pos_gift_redeem(card)), "pos.order:ab-cd:gift_redeem:31")
        self.assertEqual(keys.pos_order(order, keys.pos_gift_refund(card)), "pos.order:ab-cd:gift_refund:31")
        self.assertEqual(keys.pos_order(order, keys.POS_GIFT_REFUND_NEW), "pos.order:ab-cd:gift_refund_new")
        pos_line = Record(id=8, uuid="ef")
        self.assertEqual(keys.pos_order(order, keys.pos_gift_load(pos_line, 1)), "pos.order:ab-cd:gift_load:ef:1")
        self.assertEqual(keys.pos_gift_load(Record(id=8, uuid=False), 0), "gift_load:8:0")

    def test_web_shop_keys(self):
        order = Record(id=12)
        for what in ("redeem", "unredeem", "gift_card_redeem", "gift_card_unredeem"):
            key = keys.web_payment(order, 3, what)
            self.assertEqual(key, f"sale.order:12:payment:3:{what}")
            self.assertEqual(keys.web_payment_attempt(key), "3")

    def test_sql_keys(self):
        """The SQL expressions give the strings of their Python builders."""
        self.env.cr.execute(
            SQL(
                "SELECT %s, %s FROM (VALUES (99, NULL::int), (98, 15)) AS t(id, points_returned)",
                keys.LOT_EXPIRY_SQL,
                keys.GIFT_CARD_EXPIRY_SQL,
            )
        )
        self.assertEqual(
            self.env.cr.fetchall(),
            [
                ("loyalty.club.entry:99:0:expire", "loyalty.club.gift.card:99:expire"),
                ("loyalty.club.entry:98:15:expire", "loyalty.club.gift.card:98:expire"),
            ],
        )
        self.env.cr.execute(
            SQL(
                "SELECT %s FROM (VALUES ('birthday', 3, 44, 2026)) AS due(kind, rule_id, partner_id, local_year)",
                keys.DUE_BONUS_SQL,
            )
        )
        self.assertEqual(self.env.cr.fetchone()[0], "bonus:birthday:3:44:2026")

    def test_posting_service_make_key(self):
        """The posting service's documented key builder is the record() format."""
        partner = self.env.ref("base.main_partner")
        self.assertEqual(
            self.env["loyalty.club.posting"]._make_key(partner, "earn", line=3), f"res.partner:{partner.id}:3:earn"
        )
