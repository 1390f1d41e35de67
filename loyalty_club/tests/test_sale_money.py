from odoo import Command
from odoo.tests import tagged

from .common_sale_money import SaleMoneyCase


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
