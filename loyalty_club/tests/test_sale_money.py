from freezegun import freeze_time

from odoo import Command
from odoo.tests import tagged

from .test_sale import SaleClubCase


class SaleMoneyCase(SaleClubCase):
    """Helpers for the money paths of Sales and invoices (issue 22)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.untaxed = cls._create_product(name="Carpet", lst_price=100.0, invoice_policy="order", taxes_id=False)

    def _priced_order(self, lines, partner=None, **values):
        """A quotation of ``lines`` [(product, quantity, unit price, discount %)]."""
        return self.env["sale.order"].create(
            {
                "partner_id": (partner or self.member).id,
                "order_line": [
                    Command.create(
                        {"product_id": product.id, "product_uom_qty": qty, "price_unit": price, "discount": discount}
                    )
                    for product, qty, price, discount in lines
                ],
                **values,
            }
        )

    def _invoice(self, order):
        invoice = order._create_invoices()
        invoice.action_post()
        return invoice

    def _refund(self, invoice, changes=None, keep=None, post=True):
        """A credit note of ``invoice``: ``changes`` {index of its product line: values},
        ``keep`` the indexes of the product lines to keep (default: all)."""
        refund = invoice._reverse_moves()
        lines = refund.invoice_line_ids
        commands = [Command.update(lines[index].id, values) for index, values in (changes or {}).items()]
        if keep is not None:
            commands += [Command.delete(line.id) for index, line in enumerate(lines) if index not in keep]
        if commands:
            refund.write({"invoice_line_ids": commands})
        if post:
            refund.action_post()
        return refund

    def _replace(self, card=None):
        wizard = self.env["loyalty.club.card.replace.wizard"].create({"card_id": (card or self.card).id})
        return self.env["loyalty.club.card"].browse(wizard.action_replace()["res_id"])

    def assertLedgerMatches(self, order, net, cards=None):
        """The order's counters, its lines' counters and the ledger agree: ``net`` points earned
        less taken back, each card's balance the sum of its entries."""
        order.invalidate_recordset()
        order.order_line.invalidate_recordset()
        self.assertEqual(order.loyalty_points_net, net)
        earned = order._loyalty_earn_entries()[-1:]
        taken = self.Posting._taken_back(earned) if earned else 0
        self.assertEqual(sum(order.order_line.mapped("loyalty_points_reversed")), taken, "line counters = ledger")
        self.assertEqual((earned.points or 0) - taken, net)
        for line in order.order_line:
            self.assertTrue(0 <= line.loyalty_points_reversed <= line.loyalty_points)
        self.assertFalse(self.Posting._audit_balances(cards or self.card))


@tagged("post_install", "-at_install")
class TestSaleCreditNotes(SaleMoneyCase):
    """Credit notes take back points in proportion to the credited amount (issue 22, items 2, 3
    and 12); undoing one gives back what it took, posting it again books the difference."""

    def test_price_only_credit_note_takes_back_the_credited_share(self):
        order = self._priced_order([(self.untaxed, 1, 1000.0, 0)])
        order.action_confirm()
        self.assertEqual(self.card.balance, 100)
        invoice = self._invoice(order)
        self._refund(invoice, {0: {"quantity": 1, "price_unit": 100.0}})
        self.assertEqual(self.card.balance, 90, "100 of a 1,000 line credited: 10 % of its points")
        self.assertLedgerMatches(order, 90)
        self._refund(invoice, {0: {"quantity": 1, "price_unit": 900.0}})
        self.assertEqual(self.card.balance, 0)
        self.assertLedgerMatches(order, 0)
        self._refund(invoice, {0: {"quantity": 1, "price_unit": 50.0}})
        self.assertEqual(self.card.balance, 0, "never more than the line earned")
        self.assertLedgerMatches(order, 0)

    def test_taxed_earning_base_measures_the_credit_with_taxes(self):
        self.club.earn_on_tax_included = True
        order = self._priced_order([(self.product, 2, 500.0, 0)])
        order.action_confirm()
        earned = self.card.balance
        self.assertEqual(earned, int(order.amount_total // 10))
        invoice = self._invoice(order)
        self._refund(invoice, {0: {"quantity": 1, "price_unit": 250.0}})  # a quarter, taxes and all
        self.assertEqual(self.card.balance, earned - round(earned / 4))
        self.assertLedgerMatches(order, self.card.balance)

    def test_credit_note_reset_to_draft_then_cancelled_gives_back_what_it_took(self):
        order = self._priced_order([(self.untaxed, 5, 100.0, 0)])
        order.action_confirm()
        invoice = self._invoice(order)
        refund = self._refund(invoice, {0: {"quantity": 2}})
        self.assertEqual(self.card.balance, 30)
        self.assertLedgerMatches(order, 30)
        refund.button_draft()
        self.assertEqual(self.card.balance, 50, "a credit note back to draft takes back nothing")
        self.assertLedgerMatches(order, 50)
        refund.button_cancel()
        self.assertEqual(self.card.balance, 50)
        self.assertLedgerMatches(order, 50)
        entries = self._entries()
        self.assertEqual(entries.mapped("points"), [50, -20, 20])
        self.assertEqual(entries[2].reversed_entry_id, entries[0], "the restoration names the earning")
        self.assertEqual(self.card._tier_metric_values()[self.card.id], 50)
        # a later credit note takes back as if the cancelled one had never been
        self._refund(invoice, {0: {"quantity": 5}})
        self.assertEqual(self.card.balance, 0)
        self.assertLedgerMatches(order, 0)

    def test_posted_credit_note_cancelled_directly(self):
        order = self._priced_order([(self.untaxed, 5, 100.0, 0)])
        order.action_confirm()
        refund = self._refund(self._invoice(order))
        self.assertEqual(self.card.balance, 0)
        refund.button_cancel()
        self.assertEqual(self.card.balance, 50)
        self.assertLedgerMatches(order, 50)

    def test_credit_note_reposted_with_a_larger_quantity_books_the_difference(self):
        order = self._priced_order([(self.untaxed, 5, 100.0, 0)])
        order.action_confirm()
        invoice = self._invoice(order)
        refund = self._refund(invoice, {0: {"quantity": 2}})
        self.assertEqual(self.card.balance, 30)
        refund.button_draft()
        self.assertEqual(self.card.balance, 50)
        refund.write({"invoice_line_ids": [Command.update(refund.invoice_line_ids.id, {"quantity": 4})]})
        refund.action_post()
        self.assertEqual(self.card.balance, 10)
        self.assertLedgerMatches(order, 10)
        keys = (
            self._entries()
            .filtered(lambda e: e.origin_model == "account.move" and e.origin_id == refund.id)
            .mapped("posting_key")
        )
        self.assertEqual(
            keys,
            [
                f"account.move:{refund.id}:{order.id}:1:reverse",
                f"account.move:{refund.id}:{order.id}:1:restore",
                f"account.move:{refund.id}:{order.id}:2:reverse",
            ],
            "the keys carry the posting cycle",
        )
        refund.button_draft()
        refund.action_post()
        self.assertEqual(self.card.balance, 10, "each cycle books its own difference, once")
        self.assertLedgerMatches(order, 10)

    def test_undo_of_a_credit_note_whose_points_were_spent(self):
        """Club policy 'reverse only what is left': what the member never gave back is not given
        back either when the credit note is undone."""
        self.club.negative_balance_policy = "partial"
        order = self._priced_order([(self.untaxed, 10, 100.0, 0)])
        order.action_confirm()
        self.Posting._post(self.card, -80, "redeem", "spent")
        refund = self._refund(self._invoice(order))
        self.assertEqual((self.card.balance, order.loyalty_shortfall), (0, 80))
        refund.button_draft()
        self.assertEqual((self.card.balance, order.loyalty_shortfall), (20, 0))
        self.assertLedgerMatches(order, 100)

    def test_half_up_reversal_rule(self):
        order = self._priced_order([(self.untaxed, 2, 15.0, 0)])
        order.action_confirm()
        self.assertEqual(self.card.balance, 3)
        invoice = self._invoice(order)
        self._refund(invoice, {0: {"quantity": 1}})
        self.assertEqual(self.card.balance, 1, "half of 3 points takes back 2 (half up)")
        self._refund(invoice, {0: {"quantity": 1}})
        self.assertEqual(self.card.balance, 0)
        self.assertLedgerMatches(order, 0)

    def test_same_lines_earn_and_reverse_the_same_points(self):
        """One earning base and one reversal rule: crediting every line, in one credit note or one
        per line, takes back exactly what the lines earned; the credit lines' base is the sale
        lines' base."""
        rebate = self._create_product(name="Rebate", lst_price=-50.0, invoice_policy="order", taxes_id=False)
        lines = [
            (self.product, 3, 33.33, 7.5),
            (self.untaxed, 1, 1234.56, 0),
            (self.product, 7, 19.99, 0),
            (rebate, 1, -50.0, 0),
        ]
        for tax_included in (False, True):
            with self.subTest(tax_included=tax_included):
                self.club.earn_on_tax_included = tax_included
                order = self._priced_order(lines)
                order.action_confirm()
                earned = order._loyalty_earn_entries()
                bases = [line.loyalty_earning_base for line in order.order_line]
                self.assertLess(bases[3], 0, "a negative line lowers the base")
                expected = self.club._compute_points_for_amount(sum(bases))
                self.assertEqual(earned.points, expected)
                invoice = self._invoice(order)
                for sale_line in order.order_line:
                    credit_line = invoice.invoice_line_ids.filtered(lambda aml, sl=sale_line: sl in aml.sale_line_ids)
                    self.assertAlmostEqual(
                        sale_line._loyalty_club_base_of(
                            self.club,
                            credit_line.price_unit,
                            credit_line.quantity,
                            credit_line.discount,
                            credit_line.tax_ids,
                            credit_line.currency_id,
                        ),
                        sale_line.loyalty_earning_base,
                        places=2,
                    )
                for index in range(3):  # the rebate alone cannot be credited (a negative credit note)
                    self._refund(invoice, keep=[index])
                self.assertEqual(self.Posting._taken_back(earned), earned.points)
                self.assertLedgerMatches(order, 0)
                whole = self._priced_order(lines)
                whole.action_confirm()
                self._refund(self._invoice(whole))
                self.assertEqual(self.Posting._taken_back(whole._loyalty_earn_entries()), earned.points)
                self.assertLedgerMatches(whole, 0)


@tagged("post_install", "-at_install")
class TestSaleCancelInvoiced(SaleMoneyCase):
    """Cancelling an order that has a posted invoice leaves its points with the invoice (item 4)."""

    def _pay(self, invoice):
        self.env["account.payment.register"].with_context(active_model="account.move", active_ids=invoice.ids).create(
            {}
        )._create_payments()

    def test_cancel_of_an_invoiced_paid_order_keeps_its_points(self):
        order = self._priced_order([(self.untaxed, 5, 100.0, 0)])
        order.action_confirm()
        invoice = self._invoice(order)
        self._pay(invoice)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        wizard = self.env["sale.order.cancel"].create({"order_id": order.id})
        self.assertTrue(wizard.loyalty_points_kept_alert, "the user is told before cancelling")
        wizard.action_cancel()
        self.assertEqual(order.state, "cancel")
        self.assertEqual(self.card.balance, 50, "the invoice stands: so do its points")
        self.assertEqual(self._entries().mapped("kind"), ["earn"])
        self.assertIn("has a posted invoice", order.message_ids[0].body)
        self.assertLedgerMatches(order, 50)
        # the points follow the invoice's credit notes
        self._refund(invoice, {0: {"quantity": 2}})
        self.assertEqual(self.card.balance, 30)
        self.assertLedgerMatches(order, 30)
        # confirmed again, the order books nothing new
        order.action_draft()
        order.action_confirm()
        self.assertEqual(self.card.balance, 30)
        self.assertEqual(self._entries().mapped("kind"), ["earn", "reverse"])
        self.assertLedgerMatches(order, 30)

    def test_cancel_without_a_posted_invoice_still_takes_back(self):
        order = self._priced_order([(self.untaxed, 5, 100.0, 0)])
        order.action_confirm()
        order._create_invoices()  # a draft invoice is cancelled with the order
        self.assertFalse(self.env["sale.order.cancel"].create({"order_id": order.id}).loyalty_points_kept_alert)
        order.with_context(disable_cancel_warning=True).action_cancel()
        self.assertEqual(self.card.balance, 0)
        self.assertLedgerMatches(order, 0)


@tagged("post_install", "-at_install")
class TestSaleReplacedCard(SaleMoneyCase):
    """Later movements of an order of a lost, replaced card book on its active successor (item 6)."""

    def test_cancel_after_replacement_takes_back_from_the_successor(self):
        order = self._priced_order([(self.untaxed, 5, 100.0, 0)])
        order.action_confirm()
        new = self._replace()
        self.assertEqual((self.card.balance, new.balance), (0, 50))
        order._action_cancel()
        self.assertEqual((self.card.balance, new.balance), (0, 0), "no debt left on the dead card")
        reversal = self._entries(new).filtered(lambda e: e.kind == "reverse")
        self.assertEqual(reversal.reversed_entry_id, order._loyalty_earn_entries())
        self.assertLedgerMatches(order, 0, self.card | new)

    def test_the_debt_of_a_reversal_goes_to_the_successor(self):
        order = self._priced_order([(self.untaxed, 5, 100.0, 0)])
        order.action_confirm()
        self.Posting._post(self.card, -40, "redeem", "spent before the loss")
        new = self._replace()
        self.assertEqual(new.balance, 10)
        order._action_cancel()
        self.assertEqual((self.card.balance, new.balance), (0, -40))
        self.Posting._post(new, 60, "adjust", "next purchase")
        self.assertEqual(new.balance, 20, "later earnings repay the debt on the card in use")
        self.assertLedgerMatches(order, 0, self.card | new)

    def test_credit_note_and_its_undo_after_replacement(self):
        order = self._priced_order([(self.untaxed, 5, 100.0, 0)])
        order.action_confirm()
        invoice = self._invoice(order)
        second = self._replace()
        third = self._replace(second)
        refund = self._refund(invoice, {0: {"quantity": 2}})
        self.assertEqual((self.card.balance, second.balance, third.balance), (0, 0, 30))
        refund.button_draft()
        self.assertEqual((self.card.balance, second.balance, third.balance), (0, 0, 50))
        self.assertLedgerMatches(order, 50, self.card | second | third)

    def test_points_spent_come_back_to_the_successor(self):
        self.club.redeem_pin_required = False
        reward = self.env["loyalty.club.reward"].create(
            {"name": "7 % off", "club_id": self.club.id, "points_cost": 100, "discount_percent": 7}
        )
        self.Posting._post(self.card, 200, "adjust", "seed")
        order = self._priced_order([(self.untaxed, 5, 100.0, 0)])
        self.env["loyalty.club.redeem.wizard"].create(
            {"order_id": order.id, "card_id": self.card.id, "reward_id": reward.id}
        ).action_apply()
        order.action_confirm()
        self.assertEqual(self.card.balance, 200 - 100 + 46)
        new = self._replace()
        order._action_cancel()
        self.assertEqual((self.card.balance, new.balance), (0, 200))

    def test_quotation_of_a_replaced_card_earns_on_the_successor(self):
        order = self._priced_order([(self.untaxed, 5, 100.0, 0)])
        new = self._replace()
        order.action_confirm()
        self.assertEqual(order.loyalty_card_id, new)
        self.assertEqual((self.card.balance, new.balance), (0, 50))


@tagged("post_install", "-at_install")
class TestSaleCopy(SaleMoneyCase):
    """A copy of a quotation carries no reward lines nor member discounts of the original (item 5)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.club.redeem_pin_required = False
        cls.seven = cls.env["loyalty.club.reward"].create(
            {"name": "7 % off", "club_id": cls.club.id, "points_cost": 150, "discount_percent": 7}
        )
        cls.env["loyalty.club.posting"]._post(cls.card, 400, "adjust", "copy-seed")

    def test_copy_of_a_quotation_with_points_used_spends_nothing(self):
        order = self._priced_order([(self.untaxed, 5, 100.0, 0)])
        self.env["loyalty.club.redeem.wizard"].create(
            {"order_id": order.id, "card_id": self.card.id, "reward_id": self.seven.id}
        ).action_apply()
        self.assertEqual(order.amount_total, 465.0)
        copy = order.copy()
        self.assertFalse(copy.order_line.filtered(lambda line: line.price_unit < 0), "no free 7 % off")
        self.assertEqual((copy.amount_total, copy.loyalty_points_reserved), (500.0, 0))
        self.assertEqual(order.loyalty_points_reserved, 150)

    def test_copy_in_separate_line_mode_has_one_discount_line(self):
        self.silver.discount_percent = 10
        self.card.sudo()._change_tier(self.silver, "upgrade")
        self.club.tier_discount_mode = "separate"
        order = self._priced_order([(self.untaxed, 2, 100.0, 0)])
        copy = order.copy()
        self.assertEqual(len(copy.order_line.filtered("loyalty_tier_discount_line")), 1)
        self.assertEqual(len(copy.order_line), 2)
        self.assertEqual(copy.amount_total, order.amount_total)

    def test_copy_drops_the_discount_of_a_closed_window(self):
        self.env.company.partner_id.tz = "UTC"
        window = self.env["loyalty.club.discount.window"].create(
            {
                "name": "Happy hours",
                "club_id": self.club.id,
                "discount_percent": 20,
                "date_from": "2026-01-01 00:00:00",
                "date_to": "2027-01-01 00:00:00",
                "hour_from": 10,
                "hour_to": 13,
            }
        )
        with freeze_time("2026-03-02 11:00:00"):
            order = self._priced_order([(self.untaxed, 2, 100.0, 0)])
        self.assertEqual((order.order_line.discount, order.order_line.loyalty_discount_window_id), (20.0, window))
        with freeze_time("2026-03-02 14:00:00"):
            copy = order.copy()
        self.assertEqual(copy.order_line.discount, 0.0, "the window has closed: the copy pays full price")
        self.assertFalse(copy.order_line.loyalty_discount_window_id)
        with freeze_time("2026-03-02 12:00:00"):
            again = order.copy()
        self.assertEqual(again.order_line.discount, 20.0, "a window still open gives the copy its discount")
        with freeze_time("2026-03-02 14:00:00"):
            manual = self._priced_order([(self.untaxed, 1, 100.0, 15.0)])
            self.assertEqual(manual.copy().order_line.discount, 15.0, "a manual discount is copied")


@tagged("post_install", "-at_install")
class TestSaleEarnOnPointsPaid(SaleMoneyCase):
    """Club setting: earn points on the part paid with club points (default off)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.club.redeem_pin_required = False
        Reward = cls.env["loyalty.club.reward"]
        cls.seven = Reward.create(
            {"name": "7 % off", "club_id": cls.club.id, "points_cost": 150, "discount_percent": 7}
        )
        cls.credit = Reward.create(
            {
                "name": "Credit 100",
                "club_id": cls.club.id,
                "reward_type": "credit",
                "points_cost": 200,
                "credit_amount": 100,
            }
        )
        cls.free = Reward.create(
            {
                "name": "Free carpet",
                "club_id": cls.club.id,
                "reward_type": "product",
                "points_cost": 300,
                "product_id": cls.untaxed.id,
            }
        )
        cls.env["loyalty.club.posting"]._post(cls.card, 1000, "adjust", "points-paid-seed")

    def _earned_with(self, reward):
        order = self._priced_order([(self.untaxed, 5, 100.0, 0)])
        self.env["loyalty.club.redeem.wizard"].create(
            {"order_id": order.id, "card_id": self.card.id, "reward_id": reward.id}
        ).action_apply()
        order.action_confirm()
        return order._loyalty_earn_entries().points or 0

    def test_off_points_are_earned_on_what_the_member_pays_in_money(self):
        self.assertFalse(self.club.earn_on_points_paid, "off by default")
        self.assertEqual(self._earned_with(self.seven), 46, "500 less 35 paid with points")
        self.assertEqual(self._earned_with(self.credit), 40, "500 less 100 paid with points")
        self.assertEqual(self._earned_with(self.free), 50, "the free carpet earns nothing")

    def test_on_the_part_paid_with_points_earns_too(self):
        self.club.earn_on_points_paid = True
        self.assertEqual(self._earned_with(self.seven), 50)
        self.assertEqual(self._earned_with(self.credit), 50)
        self.assertEqual(self._earned_with(self.free), 60, "the free carpet earns its value")

    def test_credit_note_of_an_order_paid_partly_with_points(self):
        order = self._priced_order([(self.untaxed, 5, 100.0, 0)])
        self.env["loyalty.club.redeem.wizard"].create(
            {"order_id": order.id, "card_id": self.card.id, "reward_id": self.credit.id}
        ).action_apply()
        order.action_confirm()
        self.assertEqual(order.loyalty_points_net, 40)
        self._refund(self._invoice(order))
        self.assertLedgerMatches(order, 0)

    def test_hook_for_tenders_paid_with_points(self):
        """The hook the POS calls: bases lowered in proportion to what points paid."""
        bases = {"a": 300.0, "b": 100.0, "gift": 0.0}
        self.assertEqual(
            self.club._earning_bases_paid_in_money(bases, 115.0, 460.0, self.env.company.currency_id),
            {"a": 225.0, "b": 75.0, "gift": 0.0},
        )
        self.assertEqual(self.club._earning_bases_paid_in_money(bases, 0.0, 460.0, self.env.company.currency_id), bases)
        self.club.earn_on_points_paid = True
        self.assertEqual(
            self.club._earning_bases_paid_in_money(bases, 115.0, 460.0, self.env.company.currency_id), bases
        )


@tagged("post_install", "-at_install")
class TestSaleSecondCurrency(SaleMoneyCase):
    """A company in rials selling on a Toman pricelist (rate 0.1) and in a currency whose rate does
    not divide evenly (0.3): club values meet the order at its date's rate (item 1)."""

    @classmethod
    def setup_independent_company(cls, **kwargs):
        irr = cls.env.ref("base.IRR")
        irr.write({"active": True, "rounding": 1.0})
        return super().setup_independent_company(currency_id=irr.id, **kwargs)

    @classmethod
    def _currency(cls, name, rate):
        Currency = cls.env["res.currency"].with_context(active_test=False)
        currency = Currency.search([("name", "=", name)]) or Currency.create(
            {"name": name, "symbol": name, "rounding": 1.0}
        )
        currency.write(
            {
                "active": True,
                "rounding": 1.0,
                "rate_ids": [
                    Command.clear(),
                    Command.create({"name": "2000-01-01", "rate": rate, "company_id": cls.env.company.id}),
                ],
            }
        )
        return currency

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.irr = cls.env.company.currency_id
        cls.toman = cls._currency("IRT", 0.1)
        cls.odd = cls._currency("XTS", 0.3)
        cls.club.write({"earn_amount": 10000, "earn_points": 1, "redeem_pin_required": False})
        cls.carpet = cls._create_product(name="Kilim", lst_price=1_000_000, invoice_policy="order", taxes_id=False)
        Pricelist = cls.env["product.pricelist"]
        cls.toman_list = Pricelist.create({"name": "Toman", "currency_id": cls.toman.id})
        cls.odd_list = Pricelist.create({"name": "Odd", "currency_id": cls.odd.id})
        cls.credit = cls.env["loyalty.club.reward"].create(
            {
                "name": "Credit 500,000 rials",
                "club_id": cls.club.id,
                "reward_type": "credit",
                "points_cost": 200,
                "credit_amount": 500_000,
            }
        )
        cls.env["loyalty.club.posting"]._post(cls.card, 1000, "adjust", "toman-seed")

    def _sale(self, pricelist, qty=1, **values):
        order = self.env["sale.order"].create(
            {
                "partner_id": self.member.id,
                "pricelist_id": pricelist.id,
                "order_line": [Command.create({"product_id": self.carpet.id, "product_uom_qty": qty, **values})],
            }
        )
        self.assertEqual(order.currency_id, pricelist.currency_id)
        return order

    def test_toman_sale_earns_the_rial_value(self):
        order = self._sale(self.toman_list, 3)
        self.assertEqual(order.amount_total, 300_000, "the list price in Toman")
        order.action_confirm()
        earned = order._loyalty_earn_entries()
        self.assertEqual((earned.points, earned.amount), (300, 3_000_000))

    def test_fixed_credit_is_worth_its_rial_value(self):
        order = self._sale(self.toman_list, 3)
        self.env["loyalty.club.redeem.wizard"].create(
            {"order_id": order.id, "card_id": self.card.id, "reward_id": self.credit.id}
        ).action_apply()
        self.assertEqual(order.amount_total, 250_000, "500,000 rials are 50,000 Toman")
        order.action_confirm()
        self.assertEqual(order._loyalty_earn_entries().points, 250, "points on what was paid in money")
        odd = self._sale(self.odd_list, 1)
        self.env["loyalty.club.redeem.wizard"].create(
            {"order_id": odd.id, "card_id": self.card.id, "reward_id": self.credit.id}
        ).action_apply()
        self.assertEqual(odd.amount_total, 300_000 - 150_000)

    def test_discount_window_cap_in_the_order_currency(self):
        self.env.company.partner_id.tz = "UTC"
        self.env["loyalty.club.discount.window"].create(
            {
                "name": "Capped",
                "club_id": self.club.id,
                "discount_percent": 20,
                "max_discount_amount": 100_000,
                "date_from": "2020-01-01 00:00:00",
            }
        )
        order = self._sale(self.toman_list, 1)
        self.assertEqual(order.order_line.discount, 10.0, "20 % capped at 100,000 rials = 10,000 Toman")
        self.assertEqual(order.amount_total, 90_000)

    def test_gift_cards_sold_and_paying_in_toman_hold_rials(self):
        self.club._setup_gift_cards()
        gift = self.club.gift_card_product_id
        order = self.env["sale.order"].create(
            {
                "partner_id": self.member.id,
                "pricelist_id": self.toman_list.id,
                "order_line": [Command.create({"product_id": gift.id, "product_uom_qty": 1, "price_unit": 100_000})],
            }
        )
        order.action_confirm()
        card = order.order_line.loyalty_gift_card_ids
        self.assertEqual((card.currency_id, card.balance), (self.irr, 1_000_000))
        card._set_pin("135790")
        sale = self._sale(self.toman_list, 1)
        sale.action_confirm()
        invoice = self._invoice(sale)
        self.assertEqual(invoice.amount_residual, 100_000)
        self.env["loyalty.club.gift.card.payment.wizard"].create(
            {"move_id": invoice.id, "code": card.code, "pin": "135790", "amount": 40_000}
        ).action_pay()
        self.assertEqual(card.balance, 600_000, "40,000 Toman are 400,000 rials")
        self.assertEqual(invoice.amount_residual, 60_000)
        refund = self._refund(invoice)
        wizard = self.env["loyalty.club.gift.card.refund.wizard"].with_context(active_id=refund.id).create({})
        self.assertEqual((wizard.refundable, wizard.amount), (40_000, 40_000))
        wizard.action_refund()
        self.assertEqual(card.balance, 1_000_000)
        self.assertFalse(self.Posting._audit_gift_cards(card))

    def test_rate_that_does_not_divide_evenly(self):
        self.club._setup_gift_cards()
        gift = self.club.gift_card_product_id
        order = self.env["sale.order"].create(
            {
                "partner_id": self.member.id,
                "pricelist_id": self.odd_list.id,
                "order_line": [Command.create({"product_id": gift.id, "product_uom_qty": 1, "price_unit": 1000})],
            }
        )
        order.action_confirm()
        card = order.order_line.loyalty_gift_card_ids
        self.assertEqual(card.balance, 3333, "1,000 at 0.3 per rial: 3,333.33 rials, rounded")
        card._set_pin("135790")
        sold = self._sale(self.odd_list, 1)
        sold.action_confirm()
        invoice = self._invoice(sold)
        Wizard = self.env["loyalty.club.gift.card.payment.wizard"]
        Wizard.create({"move_id": invoice.id, "code": card.code, "pin": "135790", "amount": 500}).action_pay()
        self.assertEqual(card.balance, 3333 - 1667)
        Wizard.create({"move_id": invoice.id, "code": card.code, "pin": "135790", "amount": 500}).action_pay()
        self.assertEqual(card.balance, 0, "the card pays what it was sold for: the last 500 take the 1,666 left")
        self.assertEqual(invoice.amount_residual, 299_000)
        refund = self._refund(invoice)
        Refund = self.env["loyalty.club.gift.card.refund.wizard"].with_context(active_id=refund.id)
        self.assertEqual(Refund.create({}).refundable, 1000)
        Refund.create({"amount": 500}).action_refund()
        self.assertEqual(Refund.create({}).refundable, 500)
        Refund.create({"amount": 500}).action_refund()
        self.assertEqual(card.balance, 3333, "all it paid comes back, not a rial more")
        self.assertFalse(self.Posting._audit_gift_cards(card))
        sale = self._sale(self.odd_list, 1)
        sale.action_confirm()
        self.assertEqual(sale.amount_total, 300_000)
        invoice = self._invoice(sale)
        self._refund(invoice, {0: {"quantity": 1, "price_unit": 100_000}})
        self.assertLedgerMatches(sale, 67)
