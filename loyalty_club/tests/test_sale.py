from types import SimpleNamespace
from unittest.mock import patch

from lxml import etree

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import format_amount
from odoo.tools.safe_eval import safe_eval

from odoo.addons.account.tests.common import AccountTestInvoicingCommon


class SaleClubCase(AccountTestInvoicingCommon):
    """A company with accounting, a club with two tiers, a member with a card, products."""

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


@tagged("post_install", "-at_install")
class TestSaleEarning(SaleClubCase):
    """Sales: earning at confirmation, reversal on cancellation and credit notes."""

    def test_order_uses_the_members_card_and_estimates(self):
        order = self._order()
        self.assertEqual(order.loyalty_card_id, self.card)
        self.assertEqual(order.loyalty_points_estimate, 50)  # 5 x 100 untaxed, 1 point per 10

    def test_ledger_reason_only_when_it_adds_to_the_origin(self):
        """The ledger's Reason no longer repeats its Origin (issue 25): an order's earning booked
        with the order's name shows no reason; a reason of its own shows."""
        order = self._order()
        order.action_confirm()
        earned = self._entries()[-1:]
        self.assertEqual((earned.origin_reference, earned.reason), (order, order.name))
        self.assertFalse(earned.reason_note)
        Posting = self.env["loyalty.club.posting"]
        goodwill = Posting._post(self.card, 5, "adjust", "reason-note:goodwill", origin=order, reason="Goodwill")
        birthday = Posting._post(self.card, 5, "bonus", "reason-note:birthday", reason="Birthday")
        nothing = Posting._post(self.card, 5, "adjust", "reason-note:nothing")
        self.assertEqual(
            (goodwill | birthday | nothing).with_user(self.salesman_club()).mapped("reason_note"),
            ["Goodwill", "Birthday", False],
        )

    def salesman_club(self):
        return new_test_user(self.env, "reason_reader", groups="base.group_user,loyalty_club.group_loyalty_club_user")

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

    def test_confirmation_computes_each_lines_points_once(self):
        order = self._order([(self.product, 3), (self.product, 2), (self.gift_card, 1)])
        order.invalidate_recordset()
        Club = type(self.club)
        with (
            patch.object(Club, "_earning_base", autospec=True, side_effect=Club._earning_base) as bases,
            patch.object(Club, "_allocate_points", autospec=True, side_effect=Club._allocate_points) as splits,
        ):
            order.action_confirm()
        self.assertEqual(order.order_line.mapped("loyalty_points"), [30, 20, 0])
        self.assertEqual(self._entries().mapped("points"), [50])
        self.assertEqual(splits.call_count, 1, "the order's points are split over its lines once")
        self.assertEqual(bases.call_count, 2, "each line's base is computed once")

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


@tagged("post_install", "-at_install")
class TestSaleRedemption(SaleClubCase):
    """Sales: using points on quotations (acceptance 4) through the reward catalog."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.club.write({"redeem_min_points": 150, "redeem_pin_required": True})
        Reward = cls.env["loyalty.club.reward"]
        cls.seven = Reward.create(
            {"name": "7 % off", "club_id": cls.club.id, "points_cost": 150, "discount_percent": 7}
        )
        cls.credit = Reward.create(
            {
                "name": "Credit 20",
                "club_id": cls.club.id,
                "reward_type": "credit",
                "points_cost": 200,
                "credit_amount": 20,
            }
        )
        cls.gift = Reward.create(
            {
                "name": "Free shirt",
                "club_id": cls.club.id,
                "reward_type": "product",
                "points_cost": 300,
                "product_id": cls.product.id,
            }
        )
        cls.silver_only = Reward.create(
            {
                "name": "Silver 15 %",
                "club_id": cls.club.id,
                "points_cost": 150,
                "discount_percent": 15,
                "tier_ids": [Command.set(cls.silver.ids)],
            }
        )
        cls.card.sudo()._set_pin("2468")
        cls.env["loyalty.club.posting"]._post(cls.card, 400, "adjust", "redemption-seed")

    def _use(self, order, reward, pin="2468"):
        wizard = self.env["loyalty.club.redeem.wizard"].create(
            {"order_id": order.id, "card_id": self.card.id, "reward_id": reward.id, "pin": pin}
        )
        return wizard.action_apply()

    def _reward_lines(self, order):
        return order.order_line.filtered("loyalty_reward_id")

    def test_discount_reserves_then_confirm_spends_and_cancel_returns(self):
        order = self._order()
        total_before = order.amount_total
        self._use(order, self.seven)
        self.assertEqual(order.loyalty_points_reserved, 150)
        self.assertAlmostEqual(order.amount_total, total_before * 0.93, places=2)
        self.assertEqual(self.card.balance, 400, "a quotation only reserves")
        other = self._order()
        wizard = self.env["loyalty.club.redeem.wizard"].create(
            {"order_id": other.id, "card_id": self.card.id, "reward_id": self.seven.id, "pin": "2468"}
        )
        self.assertEqual(wizard.available_points, 250, "points reserved elsewhere are not available")
        order.action_confirm()
        # spent, then earned on the untaxed shirts less the 7 % paid with points (club default)
        self.assertEqual(self.card.balance, 400 - 150 + 46)
        order._action_cancel()
        self.assertEqual(self.card.balance, 400, "points spent on a cancelled order come back")
        kinds = self._entries().mapped("kind")
        self.assertEqual(kinds, ["adjust", "redeem", "earn", "reverse", "reverse"])

    def test_updating_prices_keeps_what_the_points_paid(self):
        """Recomputing prices (the *Update prices* button, a pricelist change, the web shop's
        checkout) reset the reward lines to their product's price: the points stayed reserved
        and then spent, the discount was gone."""
        for reward in (self.seven, self.credit, self.gift):
            with self.subTest(reward=reward.name):
                order = self._order()
                self._use(order, reward)
                total = order.amount_total
                lines = {line: (line.price_unit, line.discount) for line in self._reward_lines(order)}
                order.action_update_prices()
                self.assertEqual({line: (line.price_unit, line.discount) for line in lines}, lines)
                self.assertAlmostEqual(order.amount_total, total)
                order.order_line.unlink()

    def test_points_to_earn_follow_the_reward_lines(self):
        """Points to earn change when a reward line is added or removed (issue 25: they stayed),
        and are what confirming the order posts."""
        cases = [(self.seven, False, 46), (self.credit, False, 48), (self.gift, False, 50), (self.gift, True, 60)]
        for reward, earn_on_points_paid, expected in cases:
            with self.subTest(reward=reward.name, earn_on_points_paid=earn_on_points_paid):
                self.club.earn_on_points_paid = earn_on_points_paid
                order = self._order()
                self.assertEqual(order.loyalty_points_estimate, 50)
                self._use(order, reward)
                self.assertEqual(order.loyalty_points_estimate, expected)
                self._reward_lines(order).unlink()
                self.assertEqual(order.loyalty_points_estimate, 50, "the reward line removed")
                self._use(order, reward)
                self.assertEqual(order.loyalty_points_estimate, expected)
                earned_before = sum(self._entries().filtered(lambda e: e.kind == "earn").mapped("points"))
                order.action_confirm()
                earned = sum(self._entries().filtered(lambda e: e.kind == "earn").mapped("points")) - earned_before
                self.assertEqual(earned, expected, "the estimate is what confirming posts")
                order._action_cancel()

    def test_point_counts_read_as_whole_numbers_with_separators(self):
        """Points in messages and reward lines: "1,500", never "1500" or "1,500.00" (issue 25)."""
        Club = self.env["loyalty.club"]
        self.assertEqual([Club._format_points(n) for n in (0, 660, 1340, -200)], ["0", "660", "1,340", "-200"])
        big = self.env["loyalty.club.reward"].create(
            {"name": "Big 20 %", "club_id": self.club.id, "points_cost": 1500, "discount_percent": 20}
        )
        with self.assertRaisesRegex(UserError, r"costs 1,500 points, 400 are available"):
            self._use(self._order(), big)
        self.env["loyalty.club.posting"]._post(self.card, 1600, "adjust", "format-points:seed")
        order = self._order()
        self._use(order, big)
        self.assertEqual(self._reward_lines(order).name, "Big 20 % (1,500 points)")
        self.club.redeem_min_points = 2500
        with self.assertRaisesRegex(UserError, r"from 2,500 points on; this card has 2,000\."):
            self._use(self._order(), self.seven)

    def test_tier_thresholds_without_decimals_when_counted(self):
        """A club that qualifies by points or purchases shows its tiers' thresholds as whole numbers."""
        for model, name in (("loyalty.club.tier", "club_tier_metric"), ("loyalty.club", "tier_metric")):
            arch = etree.fromstring(self.env[model].get_view(view_type="form")["arch"])
            nodes = arch.xpath("//field[@name='threshold']")
            self.assertEqual(len(nodes), 2, model)
            for metric in ("points", "purchases", "amount", "weighted"):
                values = {name: metric, "parent": SimpleNamespace(tier_metric=metric)}
                shown = [
                    node.get("digits")
                    for node in nodes
                    if not safe_eval(node.get("invisible") or node.get("column_invisible"), values)
                ]
                self.assertEqual(shown, ["[16, 0]"] if metric in ("points", "purchases") else [None], (model, metric))
        self.assertEqual(self.silver.club_tier_metric, "points")

    def test_the_list_of_every_clubs_tiers_says_each_threshold_in_its_unit(self):
        """The stand-alone tier list mixes clubs: each threshold reads in its club's unit."""
        arch = etree.fromstring(self.env["loyalty.club.tier"].get_view(view_type="list")["arch"])
        self.assertEqual(arch.xpath("//field[starts-with(@name, 'threshold')]/@name"), ["threshold_display"])
        tier = self.env["loyalty.club.tier"].create({"name": "Big", "club_id": self.club.id, "threshold": 1340})
        expected = {
            "points": "1,340 points",
            "purchases": "1,340 purchases",
            "amount": format_amount(self.env, 1340, self.club.currency_id),
            "weighted": "1,340.00",
        }
        for metric, text in expected.items():
            self.club.tier_metric = metric
            tier.invalidate_recordset(["threshold_display"])
            self.assertEqual(tier.threshold_display, text, metric)

    def test_a_new_reward_is_for_the_companys_club(self):
        """The reward form preselects the club of the user's company (issue 25: it was empty)."""
        rewards = self.env["loyalty.club.reward"].with_user(self.env.user)
        self.assertEqual(rewards.default_get(["club_id"])["club_id"], self.club.id)
        reward = Form(rewards)
        reward.name = "7 % off"
        reward.points_cost = 150
        reward.discount_percent = 7
        self.assertEqual(reward.save().club_id, self.club)

    def test_reward_lines_carry_the_taxes_of_what_they_discount(self):
        order = self._order()
        self._use(order, self.seven)
        shirt_line = order.order_line.filtered(lambda line: line.product_id == self.product)
        self.assertEqual(self._reward_lines(order).tax_id, shirt_line.tax_id)

    def test_rewards_never_discount_gift_cards_or_excluded_products(self):
        self.club.earn_excluded_categ_ids = self.excluded_category
        order = self._order([(self.product, 5), (self.gift_card, 2), (self.excluded_product, 1)])
        shirts = order.order_line.filtered(lambda line: line.product_id == self.product)
        self._use(order, self.seven)
        self.assertAlmostEqual(sum(self._reward_lines(order).mapped("price_total")), -0.07 * shirts.price_total, 2)

    def test_fixed_credit_lowers_the_total_by_the_credit(self):
        order = self._order()
        total_before = order.amount_total
        self._use(order, self.credit)
        self.assertAlmostEqual(order.amount_total, total_before - 20, places=2)

    def test_free_product(self):
        order = self._order()
        total_before = order.amount_total
        self._use(order, self.gift)
        line = self._reward_lines(order)
        self.assertEqual((line.product_id, line.discount), (self.product, 100.0))
        self.assertAlmostEqual(order.amount_total, total_before, places=2)

    def test_refusals_write_nothing(self):
        order = self._order()
        lines_before, entries_before = len(order.order_line), len(self._entries())
        with self.assertRaisesRegex(UserError, "^Wrong PIN.$"):  # the order's card: no guessing to hide
            self._use(order, self.seven, pin="0000")
        with self.assertRaisesRegex(UserError, "not available to this member's tier"):
            self._use(order, self.silver_only)
        self._use(order, self.gift)  # reserves 300 of 400
        with self.assertRaisesRegex(UserError, "Not enough points"):
            self._use(order, self.credit)
        self.env["loyalty.club.posting"]._post(self.card, -300, "redeem", "spent-elsewhere")
        with self.assertRaisesRegex(UserError, "from 150 points on"):
            self._use(self._order(), self.seven)
        self.assertEqual(len(order.order_line), lines_before + 1)
        self.assertEqual(len(self._entries()), entries_before + 1)

    def test_confirmation_refused_when_the_balance_no_longer_covers_the_reward(self):
        order = self._order()
        self._use(order, self.gift)
        self.env["loyalty.club.posting"]._post(self.card, -200, "redeem", "spent-at-the-till")
        with self.assertRaisesRegex(UserError, "Not enough points"):
            order.action_confirm()

    def test_verified_flag_cannot_be_forged(self):
        values = {"order_id": self._order().id, "card_id": self.card.id, "reward_id": self.seven.id}
        with self.assertRaises(AccessError):
            self.env["loyalty.club.redeem.wizard"].create({**values, "pin_verified": True})
        wizard = self.env["loyalty.club.redeem.wizard"].create(values)
        self.assertFalse(wizard.pin_verified)
        with self.assertRaises(UserError):
            wizard.action_apply()


@tagged("post_install", "-at_install")
class TestSaleTierDiscount(SaleClubCase):
    """Sales: the automatic discount of the member's tier, as line discount or separate line."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.silver.discount_percent = 10
        cls.club.earn_excluded_categ_ids = cls.excluded_category
        cls.card.sudo()._change_tier(cls.silver, "upgrade")

    def test_line_discount_on_eligible_lines_only(self):
        order = self._order([(self.product, 2), (self.excluded_product, 1), (self.gift_card, 1)])
        discounts = {line.product_id: line.discount for line in order.order_line}
        self.assertEqual(discounts, {self.product: 10.0, self.excluded_product: 0.0, self.gift_card: 0.0})
        self.assertEqual(order.loyalty_tier_discount_note, "Silver members: 10.0 % off eligible lines")

    def test_discount_column_shown_to_users_who_do_not_set_discounts(self):
        """Odoo shows the discount column only to users with "Discounts on lines": the others saw
        the member's 10 % nowhere (issue 25). They now see it, read-only, when a line has a discount."""
        discount_group = self.env.ref("sale.group_discount_per_so_line")
        self.env.ref("base.group_user").implied_ids -= discount_group  # the setting may be on
        salesman = new_test_user(self.env, "tier_salesman", groups="sales_team.group_sale_salesman")
        self.assertFalse(salesman.has_group("sale.group_discount_per_so_line"))

        def discount_columns(user):
            views = self.env["sale.order"].with_user(user).get_views([(False, "form")])
            arch = etree.fromstring(views["views"]["form"]["arch"])
            return arch.xpath("//field[@name='order_line']/list/field[@name='discount']")

        def shown(column, has_discount):
            expr = column.get("column_invisible") or "False"
            return not safe_eval(expr, {"parent": SimpleNamespace(loyalty_has_discount=has_discount)})

        [column] = discount_columns(salesman)
        self.assertEqual((shown(column, True), shown(column, False)), (True, False))
        self.assertIn(column.get("readonly"), ("True", "1"), "shown, not set by this user")
        order = self._order([(self.product, 2)])
        self.assertEqual((order.order_line.discount, order.loyalty_has_discount), (10.0, True))
        stranger = self.env["res.partner"].create({"name": "Walk-in"})
        self.assertFalse(self._order(partner=stranger).loyalty_has_discount)
        with Form(self.env["sale.order"]) as form:  # a new quotation shows it before it is saved
            form.partner_id = self.member
            with form.order_line.new() as line:
                line.product_id = self.product
            self.assertTrue(form.loyalty_has_discount)
        salesman.groups_id |= discount_group
        [column] = discount_columns(salesman)
        self.assertEqual((shown(column, True), shown(column, False)), (True, True), "Odoo's own column")
        self.assertNotIn(column.get("readonly"), ("True", "1"))

    def test_updating_prices_keeps_the_member_discounts(self):
        for mode in ("line", "separate"):
            with self.subTest(mode=mode):
                self.club.tier_discount_mode = mode
                order = self._order([(self.product, 2)])
                member_discount = order.order_line.filtered(
                    lambda line: line.discount == 10.0 or line.loyalty_tier_discount_line
                )
                self.assertTrue(member_discount)
                lines = [(line.id, line.price_unit, line.discount) for line in order.order_line]
                total = order.amount_total
                order.action_update_prices()
                self.assertEqual([(line.id, line.price_unit, line.discount) for line in order.order_line], lines)
                self.assertAlmostEqual(order.amount_total, total)

    def test_no_discount_without_a_tier_discount_or_a_card(self):
        self.card.sudo()._change_tier(self.bronze, "downgrade")
        self.assertEqual(self._order().order_line.discount, 0.0)
        stranger = self.env["res.partner"].create({"name": "Walk-in"})
        self.assertEqual(self._order(partner=stranger).order_line.discount, 0.0)

    def test_no_tax_computation_when_no_discount_applies(self):
        """A member without a tier discount nor an open discount window costs the confirmation no
        member-discount computation (the lines' gross totals are not even computed)."""
        self.card.sudo()._change_tier(self.bronze, "downgrade")
        order = self._order()
        Line = type(self.env["sale.order.line"])
        with patch.object(Line, "_loyalty_gross_total", side_effect=AssertionError("computed")):
            order.action_confirm()
        self.assertEqual(order.state, "sale")
        self.card.sudo()._change_tier(self.silver, "upgrade")
        order = self._order()
        with patch.object(Line, "_loyalty_gross_total", autospec=True, side_effect=lambda line: 100.0) as gross:
            order.action_confirm()
        self.assertTrue(gross.called, "with a tier discount the member discounts are checked again")

    def test_separate_line_follows_the_order(self):
        self.club.tier_discount_mode = "separate"
        order = self._order([(self.product, 2), (self.excluded_product, 1)])
        shirts = order.order_line.filtered(lambda line: line.product_id == self.product)
        self.assertEqual(shirts.discount, 0.0)
        discount_line = order.order_line.filtered("loyalty_tier_discount_line")
        self.assertEqual(len(discount_line), 1)
        self.assertEqual(discount_line.tax_id, shirts.tax_id)
        self.assertAlmostEqual(discount_line.price_total, -0.1 * shirts.price_total, places=2)
        order.write({"order_line": [Command.update(shirts.id, {"product_uom_qty": 4})]})
        discount_line = order.order_line.filtered("loyalty_tier_discount_line")
        self.assertAlmostEqual(discount_line.price_total, -0.1 * shirts.price_total, places=2)
        order.action_confirm()
        self.assertEqual(len(order.order_line.filtered("loyalty_tier_discount_line")), 1)
        earned = self._entries().filtered(lambda e: e.kind == "earn")
        self.assertEqual(earned.points, 45, "(400 - 40) x 1.25 / 10: points on what the member pays")

    def test_both_modes_earn_the_same_points(self):
        earned = {}
        for mode in ("line", "separate"):
            self.club.tier_discount_mode = mode
            order = self._order([(self.product, 4)])
            order.action_confirm()
            earned[mode] = order.loyalty_points_net
        self.assertEqual(earned, {"line": 45, "separate": 45})
