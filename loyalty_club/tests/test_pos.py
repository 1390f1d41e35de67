import importlib.util
import json
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import file_path

from odoo.addons.point_of_sale.models.pos_config import PosConfig as StandardPosConfig

from .common_pos import PIN, PosClubCase


@tagged("post_install", "-at_install")
class TestPosEarning(PosClubCase):
    """Points are computed by the server from the synced lines, once per order."""

    def test_paid_order_earns_on_the_server(self):
        data = self.order_data([(self.shirt, 2), (self.cap, 1)])
        # Whatever the till claims is ignored: the server computes.
        data["loyalty_points_earned"] = 999
        data["loyalty_balance_after"] = 999
        order = self.sync(data)
        self.assertEqual(order.loyalty_card_id, self.card)
        self.assertEqual(order.loyalty_points_earned, 30)
        self.assertEqual(order.loyalty_balance_after, 30)
        self.assertEqual(order.loyalty_card_display, "•••• " + self.card.number[-4:])
        self.assertEqual(self.card.balance, 30)
        self.assertEqual(sorted(order.lines.mapped("loyalty_points")), [10, 20])
        entry = self.entries()
        self.assertEqual(entry.kind, "earn")
        self.assertEqual((entry.origin_model, entry.origin_id), ("pos.order", order.id))
        self.assertEqual(entry.pos_config_id, self.config)
        self.assertEqual(entry.posting_key, f"pos.order:{order.uuid}:earn")

    def test_products_that_earn_nothing_are_left_out(self):
        self.cap.loyalty_club_no_earn = True
        order = self.sync(self.order_data([(self.shirt, 1), (self.cap, 1)]))
        self.assertEqual(order.loyalty_points_earned, 10)

    def test_order_without_card_books_nothing(self):
        order = self.sync(self.order_data([(self.shirt, 1)], card=False))
        self.assertFalse(order.loyalty_card_id)
        self.assertFalse(self.entries())

    def test_sending_the_same_order_twice_posts_once(self):
        data = self.order_data([(self.shirt, 1)])
        first = self.sync(dict(data))
        second = self.sync(dict(data))
        self.assertEqual(first, second)
        self.assertEqual(self.env["pos.order"].search_count([("uuid", "=", data["uuid"])]), 1)
        self.assertEqual(self.entries().mapped("points"), [10])
        self.assertEqual(self.card.balance, 10)

    def test_draft_then_paid_sync_posts_once_when_paid(self):
        data = self.order_data([(self.shirt, 1)])
        self.sync(dict(data, state="draft", payment_ids=[], amount_paid=0))
        order = self.env["pos.order"].search([("uuid", "=", data["uuid"])])
        self.assertEqual((order.state, order.loyalty_card_id), ("draft", self.card))
        self.assertFalse(self.entries(), "a draft order earns nothing yet")
        # The till sends the paid order again (existing lines are not re-sent).
        self.sync(dict(data, id=order.id, lines=[]))
        self.assertEqual(order.state, "paid")
        self.assertEqual(self.entries().mapped("points"), [10])

    def test_card_of_another_club_is_saved_for_review(self):
        other_company = self.env["res.company"].create({"name": "Other chain"})
        other_club = self.env["loyalty.club"].create({"name": "Other", "company_id": other_company.id})
        stranger = self.env["loyalty.club.card"].create({"partner_id": self.customer.id, "club_id": other_club.id})
        order = self.sync(self.order_data([(self.shirt, 1)], card=stranger))
        self.assertEqual(order.state, "paid", "a paid order is never refused")
        self.assertFlagged(order, "unknown or of another club")
        self.assertFalse(order.loyalty_card_id)
        self.assertEqual(stranger.balance, 0)
        self.assertFalse(self.entries(stranger))

    def test_blocked_card_is_saved_for_review(self):
        self.card.action_block()
        order = self.sync(self.order_data([(self.shirt, 1)]))
        self.assertFlagged(order, "not usable when the order was paid")
        self.assertFalse(self.entries())


@tagged("post_install", "-at_install")
class TestPosPointsPayment(PosClubCase):
    """Paying with points: held at the till after the PIN check, captured once at the sync."""

    def test_pay_partly_with_points(self):
        self.seed_points(100)
        data = self.order_data([(self.shirt, 1)], payments=[(self.points_method, 20.0), (self.cash_method, 80.0)])
        hold = self.holds()
        self.assertEqual((hold.state, hold.points, hold.amount), ("held", 40, 20.0))
        self.assertEqual((self.card.points_held, self.card.points_available), (40, 60))
        order = self.sync(data)
        self.assertFalse(order.loyalty_review_state)
        self.assertEqual(order.loyalty_points_redeemed, 40)
        self.assertEqual(order.loyalty_points_earned, 8, "the 80.00 paid in cash earn, not the points share")
        self.assertEqual(self.card.balance, 100 - 40 + 8)
        self.assertEqual(order.loyalty_balance_after, 68)
        redeem = self.entries().filtered(lambda e: e.kind == "redeem")
        self.assertEqual(redeem.points, -40)
        self.assertEqual(redeem.posting_key, f"pos.order:{order.uuid}:redeem")
        self.assertEqual((hold.state, hold.pos_order_id), ("captured", order))
        self.assertEqual((self.card.points_held, self.card.points_available), (0, 68))

    def test_points_payment_without_a_hold_is_flagged(self):
        self.seed_points(100)
        data = self.order_data(
            [(self.shirt, 1)], payments=[(self.points_method, 20.0), (self.cash_method, 80.0)], hold=False
        )
        order = self.sync(data)
        self.assertFlagged(order, "has no hold")
        self.assertEqual(self.card.balance, 100)
        self.assertEqual(len(self.entries()), 1)

    def test_overdraft_is_refused_when_holding(self):
        self.seed_points(30)
        with self.assertRefused("Not enough points"):
            self.order_data([(self.shirt, 1)], payments=[(self.points_method, 20.0), (self.cash_method, 80.0)])
        self.assertEqual(self.card.balance, 30)
        self.assertFalse(self.holds())

    def test_points_payment_must_match_its_hold(self):
        self.seed_points(100)
        data = self.order_data([(self.shirt, 1)], payments=[(self.points_method, 20.0), (self.cash_method, 80.0)])
        # a till modified in the browser pays more than it held
        data["payment_ids"][0][2]["amount"] = 30.0
        data["payment_ids"][1][2]["amount"] = 70.0
        order = self.sync(data)
        self.assertFlagged(order, "differs from the")
        self.assertEqual(self.card.balance, 100)

    def test_minimum_balance_to_redeem(self):
        self.club.redeem_min_points = 150
        self.seed_points(100)
        with self.assertRefused("at least 150 points"):
            self.order_data([(self.shirt, 1)], payments=[(self.points_method, 10.0), (self.cash_method, 90.0)])

    def test_points_payment_of_a_till_that_lost_the_card_books_on_the_held_card(self):
        self.seed_points(100)
        data = self.order_data([(self.shirt, 1)], payments=[(self.points_method, 10.0), (self.cash_method, 90.0)])
        data["loyalty_club_card_id"] = False  # the till was reloaded offline and forgot the member
        order = self.sync(data)
        self.assertFalse(order.loyalty_review_state)
        self.assertEqual((order.loyalty_card_id, order.loyalty_points_redeemed), (self.card, 20))
        self.assertEqual(self.holds().state, "captured")

    def test_points_payment_without_card_nor_hold_is_flagged(self):
        self.seed_points(100)
        data = self.order_data(
            [(self.shirt, 1)], payments=[(self.points_method, 10.0), (self.cash_method, 90.0)], hold=False
        )
        data["loyalty_club_card_id"] = False
        order = self.sync(data)
        self.assertFlagged(order, "without a member's club card")
        self.assertEqual(self.card.balance, 100)


@tagged("post_install", "-at_install")
class TestPosRefund(PosClubCase):
    """Refunds take back the earned points of the refunded lines and give back paid points,
    in proportion, at most once."""

    def setUp(self):
        super().setUp()
        # refunds are measured on what the lines earned: here the whole order earns (the club
        # setting; the default, earning on the part paid in money, is TestTillEarningBase's)
        self.club.earn_on_points_paid = True
        self.seed_points(100)
        self.sale = self.sync(
            self.order_data(
                [(self.shirt, 2), (self.cap, 1)],
                payments=[(self.points_method, 30.0), (self.cash_method, 270.0)],
            )
        )
        # 300 spent: 30 earned; 60 points paid.
        self.assertEqual((self.sale.loyalty_points_earned, self.sale.loyalty_points_redeemed), (30, 60))
        self.assertEqual(self.card.balance, 70)

    def test_refund_reverses_in_proportion_and_returns_paid_points(self):
        # One shirt of two (100 of 300): a third of the paid points (20) comes back as points.
        refund = self.sync(
            self.refund_data(self.sale, {self.shirt: 1}, [(self.points_method, -10.0), (self.cash_method, -90.0)])
        )
        self.assertEqual(refund.loyalty_card_id, self.card, "a refund belongs to the card of the refunded order")
        self.assertEqual(refund.loyalty_points_reversed, 10)
        self.assertEqual(refund.loyalty_points_returned, 20)
        self.assertEqual(self.card.balance, 70 - 10 + 20)
        self.assertEqual(refund.loyalty_balance_after, 80)
        shirt_line = self.sale.lines.filtered(lambda line: line.product_id == self.shirt)
        self.assertEqual(shirt_line.loyalty_points_reversed, 10)
        kinds = self.entries().mapped("kind")
        self.assertEqual(kinds, ["earn", "redeem", "earn", "reverse", "reverse"])

    def test_refunding_the_same_line_twice_is_impossible(self):
        self.sync(self.refund_data(self.sale, {self.cap: 1}, [(self.cash_method, -100.0)]))
        balance = self.card.balance
        again = self.sync(self.refund_data(self.sale, {self.cap: 1}, [(self.cash_method, -100.0)]))
        self.assertFlagged(again, "already refunded")
        self.assertEqual(self.card.balance, balance)

    def test_refund_cannot_return_more_points_than_its_share(self):
        refund = self.sync(
            self.refund_data(self.sale, {self.cap: 1}, [(self.points_method, -30.0), (self.cash_method, -70.0)])
        )
        self.assertFlagged(refund, "At most 20 points")
        self.assertEqual(self.card.balance, 70)

    def test_full_refund_in_two_steps_takes_back_everything_once(self):
        self.sync(
            self.refund_data(self.sale, {self.shirt: 2}, [(self.points_method, -20.0), (self.cash_method, -180.0)])
        )
        self.sync(self.refund_data(self.sale, {self.cap: 1}, [(self.points_method, -10.0), (self.cash_method, -90.0)]))
        self.assertEqual(self.card.balance, 100, "back to the balance before the sale")
        self.assertEqual(sum(self.sale.lines.mapped("loyalty_points_reversed")), 30)


@tagged("post_install", "-at_install")
class TestPosRpc(PosClubCase):
    """The till's RPCs: lookup by number or phone, PIN check, company isolation."""

    def test_find_card_by_number_and_by_local_phone(self):
        by_number = self.config.loyalty_club_find_card(self.card.number)
        self.assertEqual([c["id"] for c in by_number], [self.card.id])
        spaced = " ".join(self.card.number[i : i + 4] for i in range(0, 16, 4))
        self.assertEqual(self.config.loyalty_club_find_card(spaced)[0]["id"], self.card.id)
        by_phone = self.config.loyalty_club_find_card("09121112233")
        self.assertEqual([c["id"] for c in by_phone], [self.card.id])
        summary = by_phone[0]
        self.assertEqual(summary["partner_name"], "Nima Member")
        self.assertNotIn(self.card.number, json.dumps(summary), "the till gets the number masked")
        self.assertFalse([key for key in summary if "pin" in key and key != "pin_set"])

    def test_find_card_by_legacy_number(self):
        """A card imported with a number of another system (no valid check digit) is found by that
        exact number, whatever its length; other numbers without a check digit still find nothing."""
        member = self.env["res.partner"].create({"name": "Legacy Member", "phone": "+98 912 444 5566"})
        legacy = self.env["loyalty.club.card"].create(
            {"partner_id": member.id, "club_id": self.club.id, "number": "100234", "legacy_number": True}
        )
        self.assertTrue(legacy.legacy_number)
        self.assertEqual([c["id"] for c in self.config.loyalty_club_find_card("100234")], [legacy.id])
        self.assertEqual([c["id"] for c in self.config.loyalty_club_find_card("۱۰۰۲۳۴")], [legacy.id])
        with self.assertRefused("No active club card"):
            self.config.loyalty_club_find_card("100235")
        # a phone number still finds its member
        self.assertEqual([c["id"] for c in self.config.loyalty_club_find_card("09124445566")], [legacy.id])

    def test_number_search_only_for_card_numbers_or_in_a_club_with_legacy_numbers(self):
        """Digits that are no club number are searched as a legacy number only in a club that
        keeps legacy numbers; elsewhere the phone lookup answers at once (one query less)."""
        other = self.env["res.partner"].create({"name": "Number Holder"})
        legacy = self.env["loyalty.club.card"].create(
            {"partner_id": other.id, "club_id": self.club.id, "number": "09121112233", "legacy_number": True}
        )
        self.assertEqual([c["id"] for c in self.config.loyalty_club_find_card("09121112233")], [legacy.id])
        self.club.sudo().has_legacy_numbers = False
        self.assertEqual([c["id"] for c in self.config.loyalty_club_find_card("09121112233")], [self.card.id])

    def test_unknown_or_blocked_card_is_not_found(self):
        with self.assertRefused("No active club card"):
            self.config.loyalty_club_find_card("0000000000000000")
        self.card.action_block()
        with self.assertRefused("No active club card"):
            self.config.loyalty_club_find_card(self.card.number)

    def test_pin_lock_and_uniform_errors(self):
        messages = []
        for _attempt in range(3):
            try:
                self.config.loyalty_club_verify_pin(self.card.id, "0000")
            except UserError as error:
                messages.append(str(error))
        self.assertEqual(len(messages), 3)
        self.assertTrue(self.card.pin_locked, "locked after the club's number of failures")
        try:
            self.config.loyalty_club_verify_pin(self.card.id, PIN)
        except UserError as error:
            messages.append(str(error))
        try:
            self.config.loyalty_club_verify_pin(999_999_999, PIN)
        except UserError as error:
            messages.append(str(error))
        self.assertEqual(len(messages), 5, "the right PIN of a locked card and an unknown card fail too")
        self.assertEqual(len(set(messages)), 1, "one message for wrong PIN, locked card and unknown card")

    def test_right_pin_gives_a_token_not_the_pin(self):
        result = self.config.loyalty_club_verify_pin(self.card.id, PIN, "order-0001-0001")
        self.assertNotIn(PIN, json.dumps(result).replace(str(self.card.id), ""))
        self.assertFalse(self.config._loyalty_club_check_pin_token(self.card, result["token"], "order-0001-0002"))
        self.assertTrue(self.config._loyalty_club_check_pin_token(self.card, result["token"], "order-0001-0001"))
        self.assertFalse(self.config.loyalty_club_verify_pin(self.card.id, PIN)["token"], "no order, no token")

    def test_rpcs_refuse_a_card_of_another_company(self):
        other_company = self.env["res.company"].create({"name": "Other chain"})
        other_club = self.env["loyalty.club"].create(
            {"name": "Other", "company_id": other_company.id, "pin_max_attempts": 3}
        )
        stranger = self.env["loyalty.club.card"].create({"partner_id": self.customer.id, "club_id": other_club.id})
        stranger._set_pin(PIN)
        with self.assertRefused("No active club card"):
            self.config.loyalty_club_find_card(stranger.number)
        with self.assertRaises(UserError) as caught:
            self.config.loyalty_club_verify_pin(stranger.id, PIN)
        self.assertEqual(str(caught.exception), str(self.env["loyalty.club.card"]._uniform_auth_error()))

    def test_rpcs_need_a_pos_user_of_the_shop_company(self):
        outsider = new_test_user(self.env, "club_outsider", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.config.with_user(outsider).loyalty_club_find_card(self.card.number)
        other_company = self.env["res.company"].create({"name": "Other chain"})
        cashier = new_test_user(
            self.env,
            "other_cashier",
            groups="base.group_user,point_of_sale.group_pos_user",
            company_id=other_company.id,
            company_ids=[other_company.id],
        )
        with self.assertRaises(AccessError):
            self.config.with_user(cashier).loyalty_club_find_card(self.card.number)

    def test_card_barcode_rule_follows_the_prefix(self):
        rule = self.club.barcode_rule_id
        self.assertEqual((rule.type, rule.pattern), ("loyalty_club_card", "7711"))
        self.club.card_prefix = "7722"
        self.assertEqual(rule.pattern, "7722")


@tagged("post_install", "-at_install")
class TestPosSessionLoad(PosClubCase):
    """Opening a till loads the club's settings, never its cards or members."""

    def test_session_load_has_no_cards_with_a_thousand_members(self):
        partners = self.env["res.partner"].create([{"name": f"Member {i}"} for i in range(1000)])
        cards = self.env["loyalty.club.card"].create(
            [{"partner_id": partner.id, "club_id": self.club.id} for partner in partners]
        )
        data = self.pos_session.load_data([])
        self.assertNotIn("loyalty.club.card", data)
        self.assertEqual([club["id"] for club in data["loyalty.club"]["data"]], [self.club.id])
        dump = json.dumps(data, default=str)
        leaked = [card.number for card in cards | self.card if card.number in dump]
        self.assertFalse(leaked, "no card number may reach the till at session start")
        loaded_partners = {partner["id"] for partner in data["res.partner"]["data"]}
        self.assertLess(len(loaded_partners & set(partners.ids)), len(partners))

    def test_till_knows_when_the_club_keeps_legacy_numbers(self):
        """Tills try unknown scanned barcodes as cards only in a club with legacy numbers."""

        def flag():
            return self.pos_session.load_data([])["loyalty.club"]["data"][0]["has_legacy_numbers"]

        Card = self.env["loyalty.club.card"]
        Card.create({"partner_id": self.env["res.partner"].create({"name": "New"}).id, "club_id": self.club.id})
        self.assertFalse(flag(), "cards numbered by the club set nothing")
        legacy = Card.create(
            {
                "partner_id": self.env["res.partner"].create({"name": "Old"}).id,
                "club_id": self.club.id,
                "number": "55501234",
                "legacy_number": True,
            }
        )
        self.assertTrue(legacy.legacy_number)
        self.assertTrue(self.club.has_legacy_numbers)
        self.assertTrue(flag())
        found = self.config.loyalty_club_find_card("55501234")
        self.assertEqual([card["id"] for card in found], [legacy.id])

    def test_upgrade_marks_clubs_that_imported_legacy_numbers_before(self):
        """The 18.0.1.1.0 migration sets the flag of a club whose legacy cards predate it."""
        spec = importlib.util.spec_from_file_location(
            "loyalty_club_migration_18_0_1_1_0", file_path("loyalty_club/migrations/18.0.1.1.0/post-migration.py")
        )
        migration = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(migration)
        other_company = self.env["res.company"].create({"name": "No legacy chain"})
        other_club = self.env["loyalty.club"].create(
            {"name": "No legacy", "company_id": other_company.id, "card_prefix": "7790"}
        )
        self.env["loyalty.club.card"].create(
            {
                "partner_id": self.env["res.partner"].create({"name": "Old"}).id,
                "club_id": self.club.id,
                "number": "55501234",
                "legacy_number": True,
            }
        )
        self.env.flush_all()
        self.env.cr.execute("UPDATE loyalty_club SET has_legacy_numbers = FALSE")  # as before the field
        self.env.invalidate_all()
        migration.migrate(self.env.cr, "18.0.1.0.0")
        self.env.invalidate_all()
        self.assertTrue(self.club.has_legacy_numbers)
        self.assertFalse(other_club.has_legacy_numbers)

    def test_preloaded_customers_are_the_standard_ones(self):
        """The till preloads the same customers as point_of_sale does (most POS orders first,
        then by name), without sorting every partner of the database."""
        partners = self.env["res.partner"].create([{"name": f"Preloaded {index:03d}"} for index in range(150)])
        for partner, count in ((partners[120], 3), (partners[7], 1), (partners[140], 1)):
            for _order in range(count):
                self.sync(self.create_ui_order_data([(self.shirt, 1)], customer=partner))
        ours = self.config.get_limited_partners_loading()
        standard = StandardPosConfig.get_limited_partners_loading(self.config)
        self.assertEqual(len(ours), 100)
        self.assertEqual(ours[:3], standard[:3])
        self.assertEqual(ours[0][0], partners[120].id)
        self.assertEqual(sorted(ours), sorted(standard))

    def test_till_gets_the_review_state_but_not_the_activities(self):
        fields_list = self.env["pos.order"]._load_pos_data_fields(self.config.id)
        self.assertIn("loyalty_review_state", fields_list)
        self.assertIn("amount_total", fields_list)
        self.assertFalse([name for name in fields_list if name.startswith("activity_")])
        cashier = new_test_user(self.env, "review_cashier", groups="point_of_sale.group_pos_user")
        self.assertNotIn(
            "loyalty_club_client_data", self.env["pos.order"].with_user(cashier)._load_pos_data_fields(self.config.id)
        )

    def test_query_count_of_a_synced_order_does_not_grow_with_the_ledger(self):
        small = self.env["loyalty.club.card"].create({"partner_id": self.customer.id, "club_id": self.club.id})
        large = self.env["loyalty.club.card"].create({"partner_id": self.other_customer.id, "club_id": self.club.id})
        for index in range(10):
            self.seed_points(1, card=small, key=f"s{index}")
        for index in range(1000):
            self.seed_points(1, card=large, key=f"l{index}")
        for card in (small, large, False):  # warm the caches the same way for each card
            self.sync(self.order_data([(self.shirt, 1)], card=card))

        def count_queries(card):
            data = self.order_data([(self.shirt, 1)], card=card)
            self.env.flush_all()
            self.env.invalidate_all()
            self.env.cr.flush()
            before = self.env.cr.sql_log_count
            self.sync(data)
            # what the transaction runs before its commit (ORM flush, precommit hooks such as the
            # bus notification): the club's savepoint runs them earlier, they count either way
            self.env.cr.flush()
            return self.env.cr.sql_log_count - before

        def count_without_card():
            data = self.order_data([(self.shirt, 1)], card=False)
            self.env.flush_all()
            self.env.invalidate_all()
            self.env.cr.flush()
            before = self.env.cr.sql_log_count
            self.sync(data)
            # what the transaction runs before its commit (ORM flush, precommit hooks such as the
            # bus notification): the club's savepoint runs them earlier, they count either way
            self.env.cr.flush()
            return self.env.cr.sql_log_count - before

        counts = [count_queries(small), count_queries(large), count_queries(small), count_queries(large)]
        with_small, with_large, without = counts[2], counts[3], count_without_card()
        self.assertEqual(with_small, with_large, f"the ledger size must not change the number of queries {counts}")
        # 6, plus the savepoint that keeps a paid order whose club part fails (its 2 statements
        # and the flush of the transaction it makes before the booking)
        self.assertLessEqual(with_small - without, 9, f"club overhead: {with_small - without} queries")


@tagged("post_install", "-at_install")
class TestPosMemberDiscounts(PosClubCase):
    """Tier and window discounts applied by the till are checked again by the server."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gold = cls.env["loyalty.club.tier"].create(
            {"name": "Gold", "club_id": cls.club.id, "threshold": 0, "discount_percent": 5}
        )
        cls.card._change_tier(cls.gold, "upgrade")
        cls.Window = cls.env["loyalty.club.discount.window"]

    def window(self, **values):
        now = fields.Datetime.now()
        return self.Window.create(
            {
                "name": "Happy hours",
                "club_id": self.club.id,
                "discount_percent": 10,
                "date_from": now - timedelta(hours=1),
                "date_to": now + timedelta(hours=1),
                **values,
            }
        )

    def discounted_order(self, percent):
        data = self.order_data([{"product": self.shirt, "quantity": 1, "discount": percent}])
        line = data["lines"][0][2]
        line["price_subtotal"] = line["price_subtotal_incl"] = 100.0 * (100 - percent) / 100
        line["loyalty_club_member_discount"] = percent
        data["lines"][0][2]["loyalty_club_window_id"] = 1
        return data

    def test_open_window_discount_is_accepted_and_recorded(self):
        window = self.window()
        order = self.sync(self.discounted_order(10))
        line = order.lines
        self.assertEqual(line.loyalty_member_discount, 10)
        self.assertEqual(line.loyalty_discount_window_id, window, "the server names the window, not the till")
        self.assertEqual(line.loyalty_window_discount_amount, 10.0)
        self.assertEqual(order.loyalty_points_earned, 9, "points on what the member paid")
        self.env.flush_all()
        row = self.env["loyalty.club.discount.window.report"].search([("pos_order_id", "=", order.id)])
        self.assertEqual(
            (row.window_id, row.channel, row.discount_amount),
            (window, "pos", 10.0),
        )

    def test_tier_discount_alone_is_accepted(self):
        order = self.sync(self.discounted_order(5))
        self.assertEqual(order.lines.loyalty_member_discount, 5)
        self.assertFalse(order.lines.loyalty_discount_window_id)

    def test_window_closed_before_payment_is_flagged(self):
        now = fields.Datetime.now()
        self.window(date_from=now - timedelta(hours=2), date_to=now - timedelta(minutes=1))
        order = self.sync(self.discounted_order(10))
        self.assertFlagged(order, "not valid when the order was paid", booked=True)
        self.assertFalse(order.lines.loyalty_member_discount, "the club does not record a discount it did not give")
        self.assertEqual(order.loyalty_points_earned, 9, "points on what the member paid")
        self.assertEqual(self.card.balance, 9)

    def test_window_of_another_branch_is_flagged(self):
        branch_b = self.env["res.company"].create({"name": "Branch B", "parent_id": self.company.id})
        self.window(branch_ids=[(6, 0, branch_b.ids)])
        order = self.sync(self.discounted_order(10))
        self.assertFlagged(order, "not valid when the order was paid", booked=True)

    def test_member_discount_needs_the_card(self):
        self.window()
        data = self.discounted_order(10)
        data["loyalty_club_card_id"] = False
        order = self.sync(data)
        self.assertFlagged(order, "without a member's club card", booked=True)
        self.assertFalse(self.entries())

    def test_shop_receives_only_its_windows_through_rpc(self):
        window = self.window()
        branch_b = self.env["res.company"].create({"name": "Branch B", "parent_id": self.company.id})
        self.window(name="B only", branch_ids=[(6, 0, branch_b.ids)])
        payload = self.config.loyalty_club_discount_windows()
        self.assertEqual([w["id"] for w in payload], [window.id])


@tagged("post_install", "-at_install")
class TestPosSetup(PosClubCase):
    """The club's button that lets members pay with points in the shops."""

    def points_methods(self):
        return self.env["pos.payment.method"].search(
            [("loyalty_club_points", "=", True), ("company_id", "=", self.company.id)]
        )

    def test_setup_creates_the_points_method_and_adds_it_to_closed_shops(self):
        # (an open session forbids editing its methods through the ORM)
        self.env.cr.execute(
            "UPDATE pos_payment_method SET loyalty_club_points = FALSE WHERE id = %s", [self.points_method.id]
        )
        self.points_method.invalidate_recordset(["loyalty_club_points"])
        self.club.action_setup_pos_payment_method()
        method = self.points_methods()
        self.assertEqual(len(method), 1)
        self.assertEqual(method.type, "bank")
        self.assertEqual(method.outstanding_account_id.account_type, "expense")
        self.assertIn(method, self.other_currency_config.payment_method_ids)
        self.assertNotIn(method, self.config.payment_method_ids, "an open till is left alone")

    def test_the_setup_button_shows_until_every_shop_has_the_method(self):
        """*Set up paying with points* disappears once done and comes back for a new shop (issue 25:
        it stayed after the setup)."""
        self.club.action_setup_pos_payment_method()
        self.club.invalidate_recordset(["pos_points_ready"])
        self.assertTrue(self.club.pos_points_ready)
        shop = self.other_currency_config
        shop.payment_method_ids -= self.points_methods()
        self.club.invalidate_recordset(["pos_points_ready"])
        self.assertFalse(self.club.pos_points_ready, "a shop without the method")
        self.club.action_setup_pos_payment_method()
        self.club.invalidate_recordset(["pos_points_ready"])
        self.assertIn(self.points_methods(), shop.payment_method_ids)
        self.assertTrue(self.club.pos_points_ready)
        arch = self.env["loyalty.club"].get_view(view_type="form")["arch"]
        self.assertRegex(arch, r'name="action_setup_pos_payment_method"[^>]*invisible="pos_points_ready"')

    def test_setup_reuses_the_existing_method(self):
        self.club.action_setup_pos_payment_method()
        self.club.action_setup_pos_payment_method()
        self.assertEqual(self.points_methods(), self.points_method)
        self.assertIn(self.points_method, self.other_currency_config.payment_method_ids)

    def test_gift_card_setup_adds_its_method_to_closed_shops(self):
        action = self.club.action_setup_gift_cards()
        self.assertEqual(action["params"]["type"], "success")
        method = self.club._setup_gift_cards()
        self.assertIn(method, self.other_currency_config.payment_method_ids)
        self.assertNotIn(method, self.config.payment_method_ids, "an open till is left alone")
