from odoo import fields
from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common_pos import GIFT_PIN, PIN, PosClubCase


@tagged("post_install", "-at_install")
class TestGiftCardSales(PosClubCase):
    """Gift cards sold and redeemed in Sales, on invoices and at the POS, with their accounting
    (acceptance 1: sale activates once, partial and refused redemptions, refund once,
    liability postings, isolation)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gift_method = cls.club._setup_gift_cards()
        cls.config.payment_method_ids |= cls.gift_method
        cls.gift_product = cls.club.gift_card_product_id
        cls.liability = cls.club.gift_card_account_id
        cls.GiftCard = cls.env["loyalty.club.gift.card"]

    def new_card(self, amount=0.0, key="seed"):
        card = self.GiftCard.create({"club_id": self.club.id, "currency_id": self.company.currency_id.id})
        card._set_pin(GIFT_PIN)
        if amount:
            self.Posting._post_gift_card(card, amount, "load", f"test:{card.id}:{key}")
        return card

    def gift_order(self, lines, payments, gift_cards=None, **kwargs):
        """UI data; ``gift_cards``: {index of payment: gift card}, each held at the till as it does."""
        data = self.order_data(lines, payments=payments, card=False, **kwargs)
        for index, card in (gift_cards or {}).items():
            payment = data["payment_ids"][index][2]
            payment["loyalty_gift_card_id"] = card.id
            self.hold_gift_card(data["uuid"], payment["uuid"], card, payment["amount"])
        return data

    def credit_note(self, invoice, quantity=None, post=True):
        """A credit note of ``invoice`` (of ``quantity`` on its first line when given)."""
        reversal = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"journal_id": invoice.journal_id.id, "reason": "returned"})
        )
        refund = self.env["account.move"].browse(reversal.refund_moves()["res_id"])
        if quantity is not None:
            with Form(refund) as form, form.invoice_line_ids.edit(0) as line:
                line.quantity = quantity
        if post:
            refund.action_post()
        return refund

    def shirt_invoice(self):
        """A posted invoice of one shirt sold to the member."""
        order = self.env["sale.order"].create(
            {"partner_id": self.member.id, "order_line": [(0, 0, {"product_id": self.shirt.id, "product_uom_qty": 1})]}
        )
        order.action_confirm()
        invoice = order._create_invoices()
        invoice.action_post()
        return invoice

    def liability_balance(self):
        self.env.flush_all()
        lines = self.env["account.move.line"].search(
            [("account_id", "=", self.liability.id), ("parent_state", "=", "posted")]
        )
        return sum(lines.mapped("balance"))

    # ------------------------------------------------------------------
    # Setup and accounting configuration
    # ------------------------------------------------------------------
    def test_setup_in_a_company_whose_earlier_club_had_gift_cards(self):
        """A new club of a company whose earlier club moved away (or was archived) after setting
        up gift cards: the journal code was taken and the setup failed."""
        company = self.club.company_id
        self.club.company_id = self.env["res.company"].create({"name": "Elsewhere Retail"})
        self.club.flush_recordset()
        second = self.env["loyalty.club"].create({"name": "Second club", "company_id": company.id})
        second._setup_gift_cards()
        self.assertEqual(second.gift_card_account_id, self.club.gift_card_account_id)
        self.assertEqual(second.gift_card_journal_id.default_account_id, second.gift_card_account_id)

    def test_setup_makes_the_sale_a_liability(self):
        self.assertEqual(self.liability.account_type, "liability_current")
        self.assertEqual(self.gift_product.property_account_income_id, self.liability)
        self.assertEqual(self.gift_product.product_tmpl_id._get_product_accounts()["income"], self.liability)
        self.assertTrue(self.gift_product.loyalty_gift_card)
        self.assertFalse(self.club._product_earns(self.gift_product), "gift cards earn no points")
        self.assertEqual(self.gift_method.outstanding_account_id, self.liability)
        self.assertEqual(
            self.club.gift_card_journal_id.inbound_payment_method_line_ids[:1].payment_account_id, self.liability
        )
        self.assertEqual(
            self.club.gift_card_journal_id.outbound_payment_method_line_ids[:1].payment_account_id, self.liability
        )
        self.assertEqual(self.club._setup_gift_cards(), self.gift_method, "setting up twice creates nothing new")

    # ------------------------------------------------------------------
    # Sales
    # ------------------------------------------------------------------
    def _gift_sale_order(self, code=False):
        lines = [(0, 0, {"product_id": self.gift_product.id, "product_uom_qty": 2, "price_unit": 50.0})]
        if code:
            lines.append(
                (
                    0,
                    0,
                    {
                        "product_id": self.gift_product.id,
                        "product_uom_qty": 1,
                        "price_unit": 30.0,
                        "loyalty_gift_card_code": code,
                    },
                )
            )
        return self.env["sale.order"].create({"partner_id": self.member.id, "order_line": lines})

    def test_sale_order_activates_cards_exactly_once(self):
        preprinted = self.new_card()
        order = self._gift_sale_order(code=preprinted.sudo().code_display.lower())
        order.action_confirm()
        cards = order.order_line.loyalty_gift_card_ids
        self.assertEqual(len(cards), 3)
        self.assertIn(preprinted, cards)
        self.assertEqual(sorted(cards.mapped("balance")), [30.0, 50.0, 50.0])
        self.assertEqual(set(cards.mapped("state")), {"active"})
        self.assertEqual(self.card.balance, 0, "gift cards earn no club points")
        order._loyalty_gift_card_load_sold_cards()
        entries = self.env["loyalty.club.gift.card.entry"].search([("gift_card_id", "in", cards.ids)])
        self.assertEqual(len(entries), 3, "loading again loads nothing twice")

    def test_cancelled_gift_card_sale_takes_the_money_back_and_reconfirming_reloads(self):
        preprinted = self.new_card()
        order = self._gift_sale_order(code=preprinted.sudo().code_display)
        order.action_confirm()
        cards = order.order_line.loyalty_gift_card_ids
        order._action_cancel()
        self.assertEqual(set(cards.mapped("balance")), {0.0}, "a cancelled sale leaves no money on its cards")
        self.assertEqual(set(cards.mapped("state")), {"used"})
        unloads = self.env["loyalty.club.gift.card.entry"].search(
            [("gift_card_id", "in", cards.ids), ("kind", "=", "adjust")]
        )
        self.assertEqual(sorted(unloads.mapped("amount")), [-50.0, -50.0, -30.0])
        self.assertEqual(unloads.reversed_entry_id.mapped("kind"), ["load"] * 3)
        order._action_cancel()
        self.assertEqual(
            self.env["loyalty.club.gift.card.entry"].search_count([("gift_card_id", "in", cards.ids)]),
            6,
            "cancelling twice takes the money back once",
        )
        order.action_draft()
        order.action_confirm()
        order._loyalty_gift_card_load_sold_cards()
        self.assertEqual(order.order_line.loyalty_gift_card_ids, cards, "the same cards are loaded again")
        self.assertEqual(sorted(cards.mapped("balance")), [30.0, 50.0, 50.0])
        self.assertEqual(set(cards.mapped("state")), {"active"})
        self.assertEqual(self.env["loyalty.club.gift.card.entry"].search_count([("gift_card_id", "in", cards.ids)]), 9)
        self.assertFalse(self.Posting._audit_gift_cards(cards))

    def test_cancelling_the_sale_of_a_used_gift_card_is_refused(self):
        order = self._gift_sale_order()
        order.action_confirm()
        used, untouched = order.order_line.loyalty_gift_card_ids
        self.Posting._post_gift_card(used, -10.0, "redeem", "test:spent")
        count = self.env["loyalty.club.gift.card.entry"].search_count([])
        with self.assertRaisesRegex(UserError, "already used"):
            order._action_cancel()
        self.assertEqual(self.env["loyalty.club.gift.card.entry"].search_count([]), count, "nothing posted")
        self.assertEqual((used.balance, untouched.balance), (40.0, 50.0))

    def test_credit_note_takes_back_the_credited_gift_cards(self):
        order = self._gift_sale_order()
        order.action_confirm()
        first, second = order.order_line.loyalty_gift_card_ids
        self.Posting._post_gift_card(first, -10.0, "redeem", "test:spent")
        invoice = order._create_invoices()
        invoice.action_post()

        self.credit_note(invoice, quantity=1)
        self.assertEqual(second.balance, 0.0, "the credited unit takes back a card still full")
        self.assertEqual(first.balance, 40.0, "the used card keeps its money")
        refund = self.credit_note(invoice, quantity=1, post=False)
        with self.assertRaisesRegex(UserError, "already used"):
            refund.action_post()
        self.assertEqual(first.balance, 40.0)

    def test_credit_note_undone_loads_the_cards_again(self):
        order = self._gift_sale_order()
        order.action_confirm()
        cards = order.order_line.loyalty_gift_card_ids
        invoice = order._create_invoices()
        invoice.action_post()
        refund = self.credit_note(invoice, quantity=1)
        self.assertEqual(sorted(cards.mapped("balance")), [0.0, 50.0])
        refund.button_draft()
        self.assertEqual(cards.mapped("balance"), [50.0, 50.0], "a credit note back to draft takes back nothing")
        self.assertEqual(set(cards.mapped("state")), {"active"})
        refund.action_post()
        self.assertEqual(sorted(cards.mapped("balance")), [0.0, 50.0], "posted again, it takes back one card again")
        refund.button_cancel()
        self.assertEqual(cards.mapped("balance"), [50.0, 50.0])
        self.assertEqual(len(order.order_line._loyalty_gift_card_loads_in_force()), 2)
        self.credit_note(invoice)
        self.assertEqual(cards.mapped("balance"), [0.0, 0.0], "a later credit note of both units takes both")
        self.assertFalse(self.Posting._audit_gift_cards(cards))

    def test_price_only_credit_note_of_a_gift_card_sale(self):
        order = self._gift_sale_order()
        order.action_confirm()
        cards = order.order_line.loyalty_gift_card_ids
        invoice = order._create_invoices()
        invoice.action_post()
        refund = self.credit_note(invoice, post=False)
        with Form(refund) as form, form.invoice_line_ids.edit(0) as line:
            line.quantity = 1
            line.price_unit = 20.0
        refund.action_post()
        self.assertEqual(cards.mapped("balance"), [50.0, 50.0], "20 credited of a 100 line: not a whole card")
        refund = self.credit_note(invoice, post=False)
        with Form(refund) as form, form.invoice_line_ids.edit(0) as line:
            line.quantity = 1
            line.price_unit = 30.0
        refund.action_post()
        self.assertEqual(sorted(cards.mapped("balance")), [0.0, 50.0], "50 credited in all: one card")

    def test_cancelling_an_invoiced_gift_card_sale_keeps_the_cards_loaded(self):
        order = self._gift_sale_order()
        order.action_confirm()
        cards = order.order_line.loyalty_gift_card_ids
        order._create_invoices().action_post()
        order._action_cancel()
        self.assertEqual(cards.mapped("balance"), [50.0, 50.0], "the invoice stands: so do the cards it sold")

    def test_sale_invoice_credits_liability_and_gift_card_payment_debits_it(self):
        order = self._gift_sale_order()
        order.action_confirm()
        invoice = order._create_invoices()
        invoice.action_post()
        self.assertEqual(self.liability_balance(), -100.0, "selling gift cards credits the liability")
        income = invoice.line_ids.filtered(lambda line: line.product_id == self.gift_product)
        self.assertEqual(income.account_id, self.liability)

        card = order.order_line.loyalty_gift_card_ids[0]
        card._set_pin(GIFT_PIN)
        shirt_invoice = self.shirt_invoice()
        Wizard = self.env["loyalty.club.gift.card.payment.wizard"]
        with self.assertRaisesRegex(UserError, "Unknown gift card"):
            Wizard.create({"move_id": shirt_invoice.id, "code": card.sudo().code, "pin": "000000", "amount": 30.0})
        wizard = Wizard.create({"move_id": shirt_invoice.id, "code": card.sudo().code, "pin": GIFT_PIN, "amount": 80.0})
        with self.assertRaisesRegex(UserError, "Not enough money"):
            wizard.action_pay()
        wizard = Wizard.create({"move_id": shirt_invoice.id, "code": card.sudo().code, "pin": GIFT_PIN, "amount": 30.0})
        wizard.action_pay()
        with self.assertRaisesRegex(UserError, "already"):
            wizard.action_pay()
        self.assertEqual(card.balance, 20.0, "partial redemption keeps the rest")
        self.assertEqual(shirt_invoice.amount_residual, 70.0)
        self.assertEqual(self.liability_balance(), -70.0, "paying with a gift card debits the liability")
        self.assertEqual(
            self.env["loyalty.club.gift.card.entry"]
            .search([("gift_card_id", "=", card.id), ("kind", "=", "redeem")])
            .origin_id,
            shirt_invoice.id,
        )

    def test_liability_as_of_reconciles_gift_cards_with_their_account(self):
        """The reconciliation of *Liability as of* puts the gift card account beside the cards' balances."""
        order = self._gift_sale_order()
        order.action_confirm()
        order._create_invoices().action_post()
        card = order.order_line.loyalty_gift_card_ids[0]
        card._set_pin(GIFT_PIN)
        shirt_invoice = self.shirt_invoice()
        self.env["loyalty.club.gift.card.payment.wizard"].create(
            {"move_id": shirt_invoice.id, "code": card.sudo().code, "pin": GIFT_PIN, "amount": 30.0}
        ).action_pay()
        Report = self.env["loyalty.club.liability.report"].sudo()
        today = fields.Date.today()
        rows = Report._add_booked_as_of(today, Report._liability_as_of(today, self.company))
        gift = [row for row in rows if row["source"] == "gift_card"]
        self.assertEqual(len(gift), 1)
        self.assertEqual((gift[0]["value"], gift[0]["account_balance"], gift[0]["difference"]), (70.0, 70.0, 0.0))
        self.assertTrue(gift[0]["booked"])
        self.assertFalse(
            [row for row in rows if row["source"] == "points" and row["booked"]],
            "a club that does not book its points reconciles nothing for them",
        )

    def test_credit_note_of_an_invoice_paid_by_gift_card_refunds_the_card(self):
        order = self._gift_sale_order()
        order.action_confirm()
        order._create_invoices().action_post()
        payer, other = order.order_line.loyalty_gift_card_ids
        payer._set_pin(GIFT_PIN)
        invoice = self.shirt_invoice()
        self.env["loyalty.club.gift.card.payment.wizard"].create(
            {"move_id": invoice.id, "code": payer.sudo().code, "pin": GIFT_PIN, "amount": 30.0}
        ).action_pay()
        self.assertEqual((payer.balance, self.liability_balance()), (20.0, -70.0))

        refund = self.credit_note(invoice)
        Wizard = self.env["loyalty.club.gift.card.refund.wizard"].with_context(active_id=refund.id)
        wizard = Wizard.create({})
        self.assertEqual((wizard.gift_card_id, wizard.refundable, wizard.amount), (payer, 30.0, 30.0))
        self.assertEqual(wizard.allowed_gift_card_ids, payer)
        with self.assertRaisesRegex(UserError, "paid the credited invoice"):
            Wizard.create({"gift_card_id": other.id, "amount": 10.0}).action_refund()
        with self.assertRaisesRegex(UserError, "between zero and"):
            Wizard.create({"amount": 31.0}).action_refund()
        with self.assertRaisesRegex(UserError, "between zero and"):
            Wizard.create({"amount": -5.0}).action_refund()
        self.assertEqual(payer.balance, 20.0, "refused refunds change nothing")
        wizard = Wizard.create({"amount": 25.0})
        wizard.action_refund()
        with self.assertRaisesRegex(UserError, "already"):
            wizard.action_refund()
        self.assertEqual(payer.balance, 45.0)
        self.assertEqual(self.liability_balance(), -95.0, "the refunded money is owed on the card again")
        # the credit note first settled the 70.00 the invoice still owed; 30.00 was left to refund
        self.assertEqual(refund.amount_residual, 5.0)
        second = self.credit_note(invoice)
        with self.assertRaisesRegex(UserError, "between zero and 5.0"):
            self.env["loyalty.club.gift.card.refund.wizard"].with_context(active_id=second.id).create(
                {"amount": 6.0}
            ).action_refund()
        self.assertFalse(self.Posting._audit_gift_cards(payer))

    def test_invoice_wizard_form_checks_the_pin_without_storing_it(self):
        card = self.new_card(40.0)
        invoice = self.shirt_invoice()
        action = invoice.action_loyalty_pay_with_gift_card()
        form = Form(self.env[action["res_model"]].with_context(**action["context"]))
        form.code = card.sudo().code_display
        form.pin = GIFT_PIN
        form.amount = 40.0
        wizard = form.save()
        wizard.action_pay()
        self.assertEqual((card.balance, card.state), (0.0, "used"))
        self.assertFalse(self.env["loyalty.club.gift.card.payment.wizard"]._fields["pin"].store)
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
            ["loyalty_club_gift_card_payment_wizard"],
        )
        self.assertNotIn("pin", [row[0] for row in self.env.cr.fetchall()])

    # ------------------------------------------------------------------
    # Point of Sale
    # ------------------------------------------------------------------
    def test_pos_sale_loads_a_preprinted_card_once_and_issues_new_ones(self):
        preprinted = self.new_card()
        lines = [
            {
                "product": self.gift_product,
                "quantity": 1,
                "uuid": "gift-line-1",
                "loyalty_gift_card_code": preprinted.sudo().code.lower(),
            },
            {"product": self.gift_product, "quantity": 1, "uuid": "gift-line-2"},
        ]
        data = self.gift_order(lines, payments=[(self.cash_method, 100.0)])
        order = self.sync(data)
        self.assertEqual(order.state, "paid")
        self.assertEqual((preprinted.state, preprinted.balance), ("active", 50.0))
        new_card = order.lines.loyalty_gift_card_ids - preprinted
        self.assertEqual((new_card.balance, new_card.state), (50.0, "active"))
        self.assertIn(new_card.code_display, order.lines.mapped("loyalty_gift_card_codes"))
        self.assertEqual(order.loyalty_points_earned, 0)
        # The same order sent again books nothing more.
        self.sync(data)
        self.assertEqual(preprinted.balance, 50.0)
        self.assertEqual(
            self.env["loyalty.club.gift.card.entry"].search_count(
                [("origin_id", "=", order.id), ("origin_model", "=", "pos.order")]
            ),
            2,
        )

    def test_pos_redeem_partial_and_refusals(self):
        card = self.new_card(100.0)
        order = self.sync(
            self.gift_order(
                [(self.shirt, 1)],
                payments=[(self.gift_method, 30.0), (self.cash_method, 70.0)],
                gift_cards={0: card},
            )
        )
        self.assertEqual(card.balance, 70.0)
        payment = order.payment_ids.filtered("payment_method_id.loyalty_gift_card")
        self.assertEqual((payment.loyalty_gift_card_id, payment.loyalty_gift_card_balance), (card, 70.0))
        self.assertEqual(payment.loyalty_gift_card_display, card._masked())
        # Over the balance: the till cannot even hold it.
        with self.assertRefused("Not enough money"):
            self.gift_order([(self.shirt, 1)], payments=[(self.gift_method, 100.0)], gift_cards={0: card})
        # No PIN token, or a member card's token: no hold.
        token = self.config.loyalty_club_verify_pin(self.card.id, PIN, "order-gift-0001")["token"]
        for wrong in (False, "garbage", token):
            with self.assertRefused("PIN again"):
                self.config.loyalty_gift_card_hold(card.id, 10.0, "order-gift-0001", "payment-gift-0001", wrong)
        # A gift card payment without a hold: the paid order is saved, nothing is taken from a card.
        data = self.gift_order([(self.shirt, 1)], payments=[(self.gift_method, 10.0), (self.cash_method, 90.0)])
        data["payment_ids"][0][2]["loyalty_gift_card_id"] = card.id
        self.assertFlagged(self.sync(data), "has no hold")
        self.assertEqual(card.balance, 70.0)

    def test_pos_refund_credits_the_card_exactly_once(self):
        card = self.new_card(100.0)
        sold = self.sync(
            self.gift_order(
                [(self.shirt, 1)],
                payments=[(self.gift_method, 60.0), (self.cash_method, 40.0)],
                gift_cards={0: card},
            )
        )
        self.assertEqual(card.balance, 40.0)
        refund_data = self.refund_data(
            sold, {self.shirt: 1}, payments=[(self.gift_method, -60.0), (self.cash_method, -40.0)]
        )
        refund = self.sync(refund_data)
        self.assertEqual(card.balance, 100.0)
        self.sync(refund_data)
        self.assertEqual(card.balance, 100.0, "the same refund synced again gives back nothing more")
        entry = self.env["loyalty.club.gift.card.entry"].search(
            [("gift_card_id", "=", card.id), ("kind", "=", "refund")]
        )
        self.assertEqual((len(entry), entry.amount, entry.origin_id), (1, 60.0, refund.id))
        self.assertEqual(entry.reversed_entry_id.origin_id, sold.id)

    def test_pos_refund_of_an_order_not_paid_by_gift_card_issues_a_new_card(self):
        sold = self.sync(self.gift_order([(self.shirt, 1)], payments=[(self.cash_method, 100.0)]))
        refund = self.sync(self.refund_data(sold, {self.shirt: 1}, payments=[(self.gift_method, -100.0)]))
        payment = refund.payment_ids
        card = payment.loyalty_gift_card_id
        self.assertTrue(card)
        self.assertEqual(
            (card.balance, card.state, payment.loyalty_gift_card_new_code), (100.0, "active", card.sudo().code_display)
        )

    def test_pos_session_accounting_uses_the_liability_account(self):
        card = self.new_card()
        self.sync(
            self.gift_order(
                [
                    {
                        "product": self.gift_product,
                        "quantity": 1,
                        "uuid": "acc-line",
                        "loyalty_gift_card_code": card.sudo().code,
                    }
                ],
                payments=[(self.cash_method, 50.0)],
            )
        )
        self.sync(
            self.gift_order(
                [(self.shirt, 1)],
                payments=[(self.gift_method, 20.0), (self.cash_method, 80.0)],
                gift_cards={0: card},
            )
        )
        self.pos_session.action_pos_session_closing_control()
        self.assertEqual(self.pos_session.state, "closed")
        self.assertEqual(self.liability_balance(), -30.0, "credited 50 by the sale, debited 20 by the redemption")
        self.assertEqual(card.balance, 30.0)

    def test_pos_rpcs_answer_uniformly_and_keep_clubs_apart(self):
        card = self.new_card(10.0)
        summary = self.config.loyalty_gift_card_find(card.sudo().code_display.lower())
        self.assertEqual((summary["id"], summary["balance"]), (card.id, 10.0))
        self.assertNotIn("pin", str(summary).lower().replace("pin_set", ""))
        errors = set()
        for call in [
            lambda: self.config.loyalty_gift_card_find("garbage"),
            lambda: self.config.loyalty_gift_card_find(self.new_card().sudo().code),  # inactive: not for paying
            lambda: self.config.loyalty_gift_card_verify_pin(card.id, "111111"),
            lambda: self.config.loyalty_gift_card_verify_pin(999999, GIFT_PIN),
            lambda: self.config.loyalty_gift_card_verify_pin("x", GIFT_PIN),
        ]:
            try:
                call()
            except UserError as error:
                errors.add(str(error))
            else:
                self.fail("should be refused")
        self.assertEqual(len(errors), 1, errors)
        self.assertEqual(
            self.config.loyalty_gift_card_find(self.new_card().sudo().code, for_sale=True)["state"], "inactive"
        )
        other_company = self.env["res.company"].create({"name": "Other gift chain"})
        other_club = self.env["loyalty.club"].create({"name": "Other", "company_id": other_company.id})
        other_card = self.GiftCard.create({"club_id": other_club.id, "currency_id": other_company.currency_id.id})
        with self.assertRaisesRegex(UserError, "Unknown gift card"):
            self.config.loyalty_gift_card_find(other_card.sudo().code, for_sale=True)
