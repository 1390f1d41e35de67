from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import LoyaltyClubCase
from .test_sale import SaleClubCase

# 2026-03-02 is a Monday.
MONDAY = "2026-03-02"
TUESDAY = "2026-03-03"


def at(value):
    return fields.Datetime.to_datetime(value)


@tagged("post_install", "-at_install")
class TestDiscountWindow(LoyaltyClubCase):
    """Discount windows: when, where and for whom they apply, stacking, the POS payload, bad input."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.partner_id.tz = "UTC"
        cls.branch_a = cls.env["res.company"].create({"name": "Branch A", "parent_id": cls.company.id})
        cls.branch_b = cls.env["res.company"].create({"name": "Branch B", "parent_id": cls.company.id})
        (cls.branch_a | cls.branch_b).partner_id.tz = "UTC"
        cls.Window = cls.env["loyalty.club.discount.window"]
        cls.card.sudo()._change_tier(cls.gold, "upgrade")
        Category = cls.env["product.category"]
        cls.food = Category.create({"name": "Food"})
        cls.snacks = Category.create({"name": "Snacks", "parent_id": cls.food.id})
        cls.tools = Category.create({"name": "Tools"})
        Product = cls.env["product.product"]
        cls.chips = Product.create({"name": "Chips", "categ_id": cls.snacks.id, "list_price": 10})
        cls.hammer = Product.create({"name": "Hammer", "categ_id": cls.tools.id, "list_price": 50})
        cls.gift_card = Product.create(
            {"name": "Gift card", "categ_id": cls.food.id, "list_price": 50, "loyalty_club_no_earn": True}
        )

    def window(self, **values):
        return self.Window.create(
            {
                "name": "Window",
                "club_id": self.club.id,
                "discount_percent": 10,
                "date_from": "2026-01-01 00:00:00",
                "date_to": "2027-01-01 00:00:00",
                **values,
            }
        )

    def shop(self, company, name):
        return (
            self.env["pos.config"]
            .with_company(company)
            .create({"name": name, "company_id": company.id, "payment_method_ids": [Command.clear()]})
        )

    def applies(self, window, when, company=None, card=None, **kwargs):
        found = self.Window._applicable_windows(card or self.card, company or self.branch_a, at(when), **kwargs)
        return window in found

    def discounts(self, items, when=f"{MONDAY} 11:00:00", company=None):
        return self.Window._compute_member_discounts(self.card, company or self.branch_a, items, when=at(when))

    def test_new_changed_and_archived_windows_apply_at_once(self):
        """Whether a club has windows is cached between orders; creating, archiving or changing a
        window takes effect for the next order, and a club without windows runs no window query."""
        when = at("2026-03-05 12:00:00")
        self.assertFalse(self.Window._applicable_windows(self.card, self.branch_a, when))
        self.env.flush_all()
        before = self.env.cr.sql_log_count
        self.assertFalse(self.Window._candidate_windows(self.club, when, when))
        self.assertEqual(self.env.cr.sql_log_count, before, "no window query for a club without windows")
        window = self.window()
        self.assertTrue(self.applies(window, "2026-03-05 12:00:00"), "a new window applies at once")
        window.active = False
        self.assertFalse(self.applies(window, "2026-03-05 12:00:00"))
        window.active = True
        window.club_id = self.env["loyalty.club"].create({"name": "Elsewhere", "company_id": self.other_company.id})
        self.assertFalse(self.applies(window, "2026-03-05 12:00:00"), "moved to another club")

    def test_dates_inside_and_outside(self):
        window = self.window(date_from="2026-03-01 08:00:00", date_to="2026-03-10 20:00:00")
        self.assertTrue(self.applies(window, "2026-03-05 12:00:00"))
        self.assertTrue(self.applies(window, "2026-03-01 08:00:00"))
        self.assertTrue(self.applies(window, "2026-03-10 19:59:59"))
        self.assertFalse(self.applies(window, "2026-03-01 07:59:59"))
        self.assertFalse(self.applies(window, "2026-03-10 20:00:00"), "the end is excluded")
        self.assertFalse(self.applies(window, "2026-04-01 12:00:00"))
        open_ended = self.window(date_to=False)
        self.assertTrue(self.applies(open_ended, "2030-06-01 12:00:00"))

    def test_weekdays(self):
        window = self.window(mon=True, tue=True, wed=False, thu=False, fri=False, sat=False, sun=False)
        self.assertTrue(self.applies(window, f"{MONDAY} 12:00:00"))
        self.assertTrue(self.applies(window, f"{TUESDAY} 12:00:00"))
        self.assertFalse(self.applies(window, "2026-03-04 12:00:00"))  # Wednesday
        self.assertFalse(self.applies(window, "2026-03-01 12:00:00"))  # Sunday

    def test_daily_hours(self):
        window = self.window(hour_from=10, hour_to=13.5)
        self.assertFalse(self.applies(window, f"{MONDAY} 09:59:59"))
        self.assertTrue(self.applies(window, f"{MONDAY} 10:00:00"))
        self.assertTrue(self.applies(window, f"{MONDAY} 13:29:59"))
        self.assertFalse(self.applies(window, f"{MONDAY} 13:30:00"))

    def test_hours_crossing_midnight_belong_to_the_previous_day(self):
        window = self.window(hour_from=22, hour_to=2, tue=False, wed=False, thu=False, fri=False, sat=False, sun=False)
        self.assertTrue(self.applies(window, f"{MONDAY} 23:00:00"))
        self.assertTrue(self.applies(window, f"{TUESDAY} 01:30:00"), "Monday's window runs until 02:00 on Tuesday")
        self.assertFalse(self.applies(window, f"{TUESDAY} 02:00:00"))
        self.assertFalse(self.applies(window, f"{MONDAY} 01:00:00"), "belongs to Sunday's window")
        self.assertFalse(self.applies(window, f"{TUESDAY} 22:30:00"))
        self.assertFalse(self.applies(window, f"{MONDAY} 12:00:00"))

    def test_tehran_timezone_of_the_branch(self):
        self.branch_a.partner_id.tz = "Asia/Tehran"  # UTC+3:30, no DST since 2022
        window = self.window(hour_from=10, hour_to=13)
        # 06:30 UTC is 10:00 in Tehran; 10:00 UTC is 13:30 in Tehran
        self.assertTrue(self.applies(window, f"{MONDAY} 06:30:00", company=self.branch_a))
        self.assertFalse(self.applies(window, f"{MONDAY} 06:29:00", company=self.branch_a))
        self.assertFalse(self.applies(window, f"{MONDAY} 10:00:00", company=self.branch_a))
        self.assertFalse(self.applies(window, f"{MONDAY} 06:30:00", company=self.branch_b))
        self.assertTrue(self.applies(window, f"{MONDAY} 10:00:00", company=self.branch_b))
        # the weekday is Tehran's too: Monday 21:00 UTC is Tuesday 00:30 in Tehran
        tuesday = self.window(mon=False, wed=False, thu=False, fri=False, sat=False, sun=False)
        self.assertTrue(self.applies(tuesday, f"{MONDAY} 21:00:00", company=self.branch_a))
        self.assertFalse(self.applies(tuesday, f"{MONDAY} 21:00:00", company=self.branch_b))
        tuesday.tz = "Asia/Tehran"  # the window's own timezone wins over the branch's
        self.assertTrue(self.applies(tuesday, f"{MONDAY} 21:00:00", company=self.branch_b))

    def test_branch_a_vs_branch_b(self):
        only_a = self.window(branch_ids=[Command.set(self.branch_a.ids)])
        everywhere = self.window()
        sub_branch = self.env["res.company"].create({"name": "A North", "parent_id": self.branch_a.id})
        when = f"{MONDAY} 12:00:00"
        self.assertTrue(self.applies(only_a, when, company=self.branch_a))
        self.assertTrue(self.applies(only_a, when, company=sub_branch), "a branch includes its sub-branches")
        self.assertFalse(self.applies(only_a, when, company=self.branch_b))
        self.assertTrue(self.applies(everywhere, when, company=self.branch_b))
        self.assertFalse(self.applies(everywhere, when, company=self.other_company), "another chain's club")

    def test_tier_eligibility(self):
        gold_only = self.window(tier_ids=[Command.set(self.gold.ids)])
        when = f"{MONDAY} 12:00:00"
        self.assertTrue(self.applies(gold_only, when))
        self.card.sudo()._change_tier(self.silver, "downgrade")
        self.assertFalse(self.applies(gold_only, when))
        self.card.sudo().state = "blocked"
        self.assertFalse(self.applies(self.window(), when), "no window for a card that is not active")

    def test_partner_tags(self):
        vip = self.env["res.partner.category"].create({"name": "VIP"})
        tagged_only = self.window(partner_category_ids=[Command.set(vip.ids)])
        when = f"{MONDAY} 12:00:00"
        self.assertFalse(self.applies(tagged_only, when))
        self.member.category_id = vip
        self.assertTrue(self.applies(tagged_only, when))

    def test_category_filter_and_excluded_products(self):
        food = self.window(product_category_ids=[Command.set(self.food.ids)], discount_percent=20)
        result = self.discounts(
            [("chips", self.chips, 100), ("hammer", self.hammer, 100), ("gift", self.gift_card, 50)]
        )
        self.assertEqual(result["chips"]["window"], food, "subcategories are included")
        self.assertEqual(result["chips"]["percent"], 20)
        self.assertNotIn("hammer", result)
        self.assertNotIn("gift", result, "products that earn nothing (gift cards) never get a window")

    def test_stacking_best_of_and_additive_with_cap(self):
        self.gold.discount_percent = 5
        ten = self.window(name="Ten", discount_percent=10)
        self.window(name="Eight", discount_percent=8)
        items = [("chips", self.chips, 100)]
        self.assertEqual(self.discounts(items)["chips"], {"percent": 10, "window": ten, "window_percent": 10})
        self.gold.discount_percent = 15
        self.assertEqual(
            self.discounts(items)["chips"], {"percent": 15, "window": self.Window.browse(), "window_percent": 0}
        )
        self.gold.discount_percent = 5
        self.club.write({"discount_stacking": "additive", "discount_stacking_max": 12})
        self.assertEqual(self.discounts(items)["chips"], {"percent": 12, "window": ten, "window_percent": 7})
        self.club.discount_stacking_max = 100
        self.assertEqual(self.discounts(items)["chips"], {"percent": 15, "window": ten, "window_percent": 10})
        self.club.discount_stacking_max = 4
        self.assertEqual(
            self.discounts(items)["chips"],
            {"percent": 5, "window": self.Window.browse(), "window_percent": 0},
            "the maximum limits stacking, never the tier discount itself",
        )

    def test_cap_per_order(self):
        window = self.window(discount_percent=10, max_discount_amount=30)
        result = self.discounts([("a", self.chips, 200), ("b", self.chips, 300)])
        self.assertEqual({key: value["percent"] for key, value in result.items()}, {"a": 6, "b": 6})
        self.assertEqual(result["a"]["window"], window)
        self.assertEqual(self.discounts([("a", self.chips, 200)])["a"]["percent"], 10, "under the cap")

    def test_pos_payload_contains_only_the_shops_branch_windows(self):
        shop_a = self.shop(self.branch_a, "Shop A")
        shop_b = self.shop(self.branch_b, "Shop B")
        window_a = self.window(name="A", branch_ids=[Command.set(self.branch_a.ids)], hour_from=10, hour_to=13)
        self.window(name="B", branch_ids=[Command.set(self.branch_b.ids)])
        evening = self.window(name="Evening", hour_from=18, hour_to=2)
        self.window(name="Ended", date_to="2026-03-02 10:00:00")
        self.window(name="Sales only", use_in_pos=False)
        self.window(name="Other shop", pos_config_ids=[Command.set(shop_b.ids)])
        self.window(name="Tuesday", mon=False)
        payload = self.Window._pos_windows_for_config(shop_a, now=at(f"{MONDAY} 11:00:00"))
        by_name = {values["name"]: values for values in payload}
        self.assertEqual(set(by_name), {"A", "Evening"})
        self.assertEqual(by_name["A"]["id"], window_a.id)
        self.assertEqual(by_name["A"]["intervals"], [{"start": f"{MONDAY} 11:00:00", "end": f"{MONDAY} 13:00:00"}])
        self.assertEqual(
            by_name["Evening"]["intervals"], [{"start": f"{MONDAY} 18:00:00", "end": f"{TUESDAY} 00:00:00"}]
        )
        self.assertEqual(by_name["Evening"]["id"], evening.id)
        # after 13:00 the morning window is gone for today
        later = self.Window._pos_windows_for_config(shop_a, now=at(f"{MONDAY} 13:00:00"))
        self.assertEqual({values["name"] for values in later}, {"Evening"})

        cashier_a = new_test_user(
            self.env,
            "cashier_a",
            groups="point_of_sale.group_pos_user,loyalty_club.group_loyalty_club_user",
            company_id=self.branch_a.id,
            company_ids=[self.branch_a.id],
        )
        Window = self.Window.with_user(cashier_a)
        self.assertEqual(len(Window._pos_windows_for_config(shop_a.with_user(cashier_a), at(f"{MONDAY} 11:00:00"))), 2)
        with self.assertRaises(AccessError):
            Window._pos_windows_for_config(shop_b.with_user(cashier_a), at(f"{MONDAY} 11:00:00"))
        with self.assertRaises(UserError):
            Window._applicable_windows(self.card, self.branch_a, at(f"{MONDAY} 11:00:00"), pos_config=shop_b)

    def test_pos_categories_include_subcategories(self):
        shop_a = self.shop(self.branch_a, "Shop A")
        self.window(product_category_ids=[Command.set(self.food.ids)])
        payload = self.Window._pos_windows_for_config(shop_a, now=at(f"{MONDAY} 11:00:00"))
        self.assertEqual(set(payload[0]["product_category_ids"]), {self.food.id, self.snacks.id})

    def test_currently_active_filter(self):
        morning = self.window(name="Morning", hour_from=8, hour_to=12)
        evening = self.window(name="Evening", hour_from=18, hour_to=22)
        with freeze_time(f"{MONDAY} 09:00:00"):
            found = self.Window.search([("is_active_now", "=", True), ("club_id", "=", self.club.id)])
            self.assertEqual(found, morning)
            self.assertTrue(morning.is_active_now)
            inactive = self.Window.search([("is_active_now", "=", False), ("club_id", "=", self.club.id)])
            self.assertEqual(inactive, evening)

    def test_duplicate_and_archive(self):
        window = self.window(name="Happy hours")
        copy = window.copy()
        self.assertEqual(copy.name, "Happy hours (copy)")
        copy.action_archive()
        self.assertFalse(self.applies(copy, f"{MONDAY} 12:00:00"))
        self.assertTrue(self.applies(window, f"{MONDAY} 12:00:00"))

    def test_bad_input_gets_clear_errors(self):
        with self.assertRaisesRegex(ValidationError, "must end after it starts"):
            self.window(date_from="2026-03-10 00:00:00", date_to="2026-03-01 00:00:00")
        with self.assertRaisesRegex(ValidationError, "are empty"):
            self.window(hour_from=10, hour_to=10)
        with self.assertRaisesRegex(ValidationError, "between 00:00 and 24:00"):
            self.window(hour_from=-1, hour_to=10)
        for percent in (0, -5, 100.5, 150):
            with self.assertRaisesRegex(ValidationError, "more than 0 and at most 100"):
                self.window(discount_percent=percent)
        with self.assertRaisesRegex(ValidationError, "at least one weekday"):
            self.window(mon=False, tue=False, wed=False, thu=False, fri=False, sat=False, sun=False)
        with self.assertRaisesRegex(ValidationError, "Point of Sale, in Sales or both"):
            self.window(use_in_pos=False, use_in_sales=False)
        with self.assertRaisesRegex(ValidationError, "can only use branches"):
            self.window(branch_ids=[Command.set(self.other_company.ids)])
        with self.assertRaisesRegex(ValidationError, "cap of window"):
            self.window(max_discount_amount=-1)
        with mute_logger("odoo.sql_db"), self.assertRaisesRegex(ValidationError, "maximum combined discount"):
            self.club.discount_stacking_max = 120

    def test_other_company_cannot_see_the_windows(self):
        self.window(name="Secret")
        self.assertFalse(self.Window.with_user(self.other_manager).search([("name", "=", "Secret")]))
        self.assertTrue(self.Window.with_user(self.club_user).search([("name", "=", "Secret")]))


@tagged("post_install", "-at_install")
class TestDiscountWindowSale(SaleClubCase):
    """Discount windows on sale orders: applied on quotations, re-validated at confirmation."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.partner_id.tz = "UTC"
        cls.silver.discount_percent = 10
        cls.card.sudo()._change_tier(cls.silver, "upgrade")
        cls.happy = cls.env["loyalty.club.discount.window"].create(
            {
                "name": "Happy hours",
                "club_id": cls.club.id,
                "discount_percent": 20,
                "date_from": "2026-01-01 00:00:00",
                "date_to": "2027-01-01 00:00:00",
                "hour_from": 10,
                "hour_to": 13,
            }
        )

    def _shirts(self, order):
        return order.order_line.filtered(lambda line: line.product_id == self.product)

    def test_line_mode_window_then_ended_at_confirmation(self):
        with freeze_time(f"{MONDAY} 11:00:00"):
            order = self._order([(self.product, 5), (self.gift_card, 1)])
        shirts = self._shirts(order)
        self.assertEqual((shirts.discount, shirts.loyalty_discount_window_id), (20.0, self.happy))
        self.assertIn("Happy hours: 20.0 % off", order.loyalty_tier_discount_note)
        gift = order.order_line - shirts
        self.assertEqual((gift.discount, gift.loyalty_discount_window_id.id), (0.0, False))
        with freeze_time(f"{MONDAY} 13:05:00"):
            order.action_confirm()
        self.assertEqual(shirts.discount, 10.0, "the window ended: only the tier discount is left")
        self.assertFalse(shirts.loyalty_discount_window_id)
        self.assertEqual(order.loyalty_points_net, 56, "450 x 1.25 / 10: points on what the member pays")

    def test_line_mode_window_still_open_at_confirmation_is_reported(self):
        with freeze_time(f"{MONDAY} 11:00:00"):
            order = self._order([(self.product, 5)])
            order.action_confirm()
        shirts = self._shirts(order)
        self.assertEqual((shirts.discount, shirts.loyalty_discount_window_id), (20.0, self.happy))
        expected = shirts.tax_id.compute_all(100.0, order.currency_id, 5, self.product)["total_included"] * 0.2
        self.assertAlmostEqual(shirts.loyalty_window_discount_amount, expected, places=2)
        self.env.flush_all()
        rows = self.env["loyalty.club.discount.window.report"].search([("sale_order_id", "=", order.id)])
        self.assertEqual(len(rows), 1)
        self.assertEqual((rows.window_id, rows.branch_id, rows.channel), (self.happy, order.company_id, "sale"))
        self.assertAlmostEqual(rows.discount_amount, expected, places=2)

    def test_separate_mode_explains_the_window(self):
        self.club.tier_discount_mode = "separate"
        with freeze_time(f"{MONDAY} 11:00:00"):
            order = self._order([(self.product, 2)])
        shirts = self._shirts(order)
        self.assertEqual(shirts.discount, 0.0)
        discount_line = order.order_line.filtered("loyalty_tier_discount_line")
        self.assertEqual(discount_line.loyalty_discount_window_id, self.happy)
        self.assertEqual(discount_line.name, "Member discount: Happy hours")
        self.assertAlmostEqual(discount_line.price_total, -0.2 * shirts.price_total, places=2)
        with freeze_time(f"{MONDAY} 14:00:00"):
            order.action_confirm()
        discount_line = order.order_line.filtered("loyalty_tier_discount_line")
        self.assertFalse(discount_line.loyalty_discount_window_id, "the ended window's line was replaced")
        self.assertAlmostEqual(discount_line.price_total, -0.1 * shirts.price_total, places=2)

    def test_sales_team_filter(self):
        other_team = self.env["crm.team"].create({"name": "Website"})
        self.happy.team_ids = other_team
        with freeze_time(f"{MONDAY} 11:00:00"):
            order = self._order([(self.product, 1)])
            self.assertEqual(self._shirts(order).discount, 10.0, "the window is for another sales team")
            order.team_id = other_team
            order.write({"order_line": [Command.update(self._shirts(order).id, {"product_uom_qty": 2})]})
            self.assertEqual(self._shirts(order).discount, 20.0)

    def test_removing_the_member_removes_the_discount(self):
        with freeze_time(f"{MONDAY} 11:00:00"):
            order = self._order([(self.product, 1)])
            order.partner_id = self.env["res.partner"].create({"name": "Walk-in"})
        shirts = self._shirts(order)
        self.assertEqual((shirts.discount, shirts.loyalty_discount_window_id.id), (0.0, False))
