from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from odoo.addons.account.tests.common import AccountTestInvoicingCommon


@tagged("post_install", "-at_install")
class TestSaleEarning(AccountTestInvoicingCommon):
    """Sales: earning at confirmation, reversal on cancellation and credit notes."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the accounting test user also runs the club
        cls.env.user.groups_id |= cls.env.ref("loyalty_club.group_loyalty_club_manager")
        cls.club = cls.env["loyalty.club"].create(
            {
                "name": "Sales Club",
                "company_id": cls.env.company.id,
                "earn_amount": 10,
                "earn_points": 1,
                "expiry_months": 0,
            }
        )
        Tier = cls.env["loyalty.club.tier"]
        cls.bronze = Tier.create({"name": "Bronze", "club_id": cls.club.id, "threshold": 0})
        cls.silver = Tier.create(
            {"name": "Silver", "club_id": cls.club.id, "threshold": 100000, "earn_multiplier": 1.25}
        )
        cls.member = cls.env["res.partner"].create({"name": "Club Member"})
        cls.card = cls.env["loyalty.club.card"].create({"partner_id": cls.member.id, "club_id": cls.club.id})
        cls.product = cls._create_product(name="Shirt", lst_price=100.0, invoice_policy="order")
        cls.gift_card = cls._create_product(
            name="Gift card", lst_price=50.0, invoice_policy="order", loyalty_club_no_earn=True
        )
        cls.excluded_category = cls.env["product.category"].create({"name": "Tobacco"})
        cls.excluded_product = cls._create_product(
            name="Cigars", lst_price=30.0, invoice_policy="order", categ_id=cls.excluded_category.id
        )
        cls.Posting = cls.env["loyalty.club.posting"]

    def _order(self, lines=None, partner=None, user=None):
        lines = lines or [(self.product, 5)]
        return (
            self.env["sale.order"]
            .with_user(user or self.env.user)
            .create(
                {
                    "partner_id": (partner or self.member).id,
                    "order_line": [
                        Command.create({"product_id": product.id, "product_uom_qty": qty}) for product, qty in lines
                    ],
                }
            )
        )

    def _entries(self, card=None):
        return self.env["loyalty.club.entry"].search([("card_id", "=", (card or self.card).id)], order="id")

    def _credit(self, invoice, quantity):
        refund = invoice._reverse_moves()
        refund.write(
            {"invoice_line_ids": [Command.update(line.id, {"quantity": quantity}) for line in refund.invoice_line_ids]}
        )
        refund.action_post()
        return refund

    def test_order_uses_the_members_card_and_estimates(self):
        order = self._order()
        self.assertEqual(order.loyalty_card_id, self.card)
        self.assertEqual(order.loyalty_points_estimate, 50)  # 5 x 100 untaxed, 1 point per 10

    def test_confirm_earns_once_with_the_tier_multiplier(self):
        order = self._order()
        order.action_confirm()
        earned = self._entries()
        self.assertEqual(earned.mapped("points"), [50])
        self.assertEqual(earned.origin_model, "sale.order")
        self.assertEqual(earned.origin_id, order.id)
        self.assertEqual(earned.amount, 500)
        self.assertEqual(sum(order.order_line.mapped("loyalty_points")), 50)

        self.card.sudo()._change_tier(self.silver, "upgrade")
        second = self._order()
        second.action_confirm()
        self.assertEqual(self._entries().mapped("points"), [50, 62])  # 50 x 1.25, rounded down
        self.assertEqual(self.card.balance, 112)

    def test_confirm_cancel_draft_confirm_earns_once_net(self):
        order = self._order()
        order.action_confirm()
        order._action_cancel()
        order.action_draft()
        order.action_confirm()
        entries = self._entries()
        self.assertEqual(entries.mapped("kind"), ["earn", "reverse", "earn"])
        self.assertEqual(sum(entries.mapped("points")), 50)
        self.assertEqual(len(set(entries.mapped("posting_key"))), 3)
        self.assertEqual(self.card.balance, 50)
        self.assertEqual(order.loyalty_points_net, 50)

    def test_cancel_reverses_and_restores_the_balance(self):
        self.Posting._post(self.card, 30, "adjust", "seed")
        order = self._order()
        order.action_confirm()
        self.assertEqual(self.card.balance, 80)
        order._action_cancel()
        self.assertEqual(self.card.balance, 30)
        reversal = self._entries()[-1]
        self.assertEqual(reversal.kind, "reverse")
        self.assertEqual(reversal.reversed_entry_id.origin_id, order.id)
        self.assertEqual(len(self._entries()), 3, "history stays: nothing deleted")
        self.assertFalse(self.Posting._audit_balances(self.card))

    def test_partial_credit_notes_reverse_in_proportion_and_never_more(self):
        order = self._order()
        order.action_confirm()
        invoice = order._create_invoices()
        invoice.action_post()
        first = self._credit(invoice, 2)  # 2 of 5 units
        self.assertEqual(self._entries().filtered(lambda e: e.origin_id == first.id).mapped("points"), [-20])
        self.assertEqual(self.card.balance, 30)
        second = self._credit(invoice, 3)  # the rest
        self.assertEqual(self._entries().filtered(lambda e: e.origin_id == second.id).mapped("points"), [-30])
        self.assertEqual(self.card.balance, 0)
        third = self._credit(invoice, 1)  # more than was sold
        self.assertFalse(self._entries().filtered(lambda e: e.origin_id == third.id))
        self.assertEqual(self.card.balance, 0)
        self.assertEqual(order.loyalty_points_net, 0)
        self.assertEqual(self.card._tier_metric_values()[self.card.id], 0, "credited spend does not count for tiers")

    def test_negative_balance_allowed_records_the_debt(self):
        order = self._order()
        order.action_confirm()
        self.Posting._post(self.card, -40, "redeem", "spent")
        order._action_cancel()
        self.assertEqual(self.card.balance, -40)
        self.assertFalse(order.loyalty_shortfall)

    def test_negative_balance_refused_reverses_what_is_left(self):
        self.club.negative_balance_policy = "partial"
        order = self._order()
        order.action_confirm()
        self.Posting._post(self.card, -40, "redeem", "spent")
        order._action_cancel()
        self.assertEqual(self.card.balance, 0)
        self.assertEqual(order.loyalty_shortfall, 40)
        self.assertIn("40 points could not be taken back", order.message_ids[0].body)

    def test_excluded_products_and_categories_earn_nothing(self):
        self.club.earn_excluded_categ_ids = self.excluded_category
        order = self._order([(self.product, 1), (self.gift_card, 4), (self.excluded_product, 10)])
        self.assertEqual(order.loyalty_points_estimate, 10)
        order.action_confirm()
        self.assertEqual(self._entries().mapped("points"), [10])
        gift_only = self._order([(self.gift_card, 2)])
        gift_only.action_confirm()
        self.assertEqual(len(self._entries()), 1)

    def test_taxed_amounts_when_the_club_says_so(self):
        self.club.earn_on_tax_included = True
        order = self._order()
        self.assertEqual(order.loyalty_points_estimate, int(order.amount_total // 10))

    def test_salesman_without_club_rights_confirms_and_earns_but_cannot_adjust(self):
        salesman = new_test_user(
            self.env,
            "club_salesman",
            groups="sales_team.group_sale_salesman",
            company_id=self.env.company.id,
            company_ids=[self.env.company.id],
        )
        order = self._order(user=salesman)
        order.action_confirm()
        self.assertEqual(self.card.balance, 50)
        with self.assertRaises(AccessError):
            self.env["loyalty.club.adjust.wizard"].with_user(salesman).create(
                {"card_id": self.card.id, "delta": 10, "reason": "Friend"}
            )

    def test_confirmation_queries_do_not_grow_with_the_ledger(self):
        small = self.card
        big = self.env["loyalty.club.card"].create(
            {"partner_id": self.env["res.partner"].create({"name": "Heavy member"}).id, "club_id": self.club.id}
        )
        for index in range(10):
            self.Posting._post(small, 1, "adjust", f"small:{index}")
        for index in range(1000):
            self.Posting._post(big, 1, "adjust", f"big:{index}")

        def queries_to_confirm(card):
            order = self._order(partner=card.partner_id)
            self.assertEqual(order.loyalty_card_id, card)
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            order.action_confirm()
            self.env.flush_all()
            return self.env.cr.sql_log_count - before

        queries_to_confirm(small)  # warm the caches for both members
        queries_to_confirm(big)
        small_count = queries_to_confirm(small)
        big_count = queries_to_confirm(big)
        self.assertEqual(small_count, big_count, "confirming must not read the member's whole ledger")
        self.assertEqual(big.balance, 1000 + 2 * 50)
        self.assertEqual(small.balance, 10 + 2 * 50)
