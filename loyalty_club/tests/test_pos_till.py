from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common_pos import PIN
from .common_till import TillCase


@tagged("post_install", "-at_install")
class TestTillHolds(TillCase):
    """Points and gift card money are held when the cashier adds the payment, captured once when
    the paid order arrives, freed when the payment is removed or the hold expires."""

    def test_held_points_cannot_be_spent_elsewhere(self):
        self.seed_points(100)
        held = self.hold_points("order-hold-00001", "pay-hold-00001", 60)
        self.assertEqual((held["points"], held["amount"]), (60, 30.0))
        self.assertEqual((held["card"]["points_held"], held["card"]["points_available"]), (60, 40))
        self.assertEqual((self.card.balance, self.card.points_held, self.card.points_available), (100, 60, 40))
        with self.assertRefused("40 can be spent"):
            self.hold_points("order-hold-00002", "pay-hold-00002", 50)
        # a redemption of another channel (a quotation, the back office) sees only what is available
        with self.assertRefused("60 held for payments at a till"):
            self.Posting._post(self.card, -50, "redeem", "test:sales:redeem")
        self.Posting._post(self.card, -40, "redeem", "test:sales:redeem-ok")
        self.assertEqual((self.card.balance, self.card.points_available), (60, 0))
        summary = self.config.loyalty_club_find_card(self.card.number)[0]
        self.assertEqual((summary["balance"], summary["points_held"], summary["points_available"]), (60, 60, 0))

    def test_pending_points_cannot_be_held(self):
        """Points of a recent purchase (the club's pending period) are in the balance but neither
        available at the till nor holdable."""
        self.club.pending_days = 14
        self.Posting._post(self.card, 30, "bonus", "test:pending:bonus")
        self.Posting._post(self.card, 100, "earn", "test:pending:earn", purchase_count=1)
        self.card.invalidate_recordset(["points_held", "points_available"])
        self.assertEqual((self.card.balance, self.card.points_pending, self.card.points_available), (130, 100, 30))
        with self.assertRefused("30 can be spent"):
            self.hold_points("order-pend-00001", "pay-pend-00001", 31)
        self.assertFalse(self.holds())
        held = self.hold_points("order-pend-00002", "pay-pend-00002", 30)
        self.assertEqual(held["card"]["points_available"], 0)

    def test_released_and_expired_holds_free_the_points(self):
        self.seed_points(100)
        self.hold_points("order-free-00001", "pay-free-00001", 60)
        self.assertEqual(self.config.loyalty_club_release_holds(["pay-free-00001", "pay-unknown-0001"]), 1)
        self.assertEqual((self.holds().state, self.card.points_available), ("released", 100))
        self.hold_points("order-free-00002", "pay-free-00002", 70)
        self.assertEqual(self.card.points_available, 30)
        with freeze_time(fields.Datetime.now() + timedelta(hours=self.club.pos_hold_hours, minutes=1)):
            self.card.invalidate_recordset(["points_held", "points_available"])
            self.assertEqual(self.card.points_available, 100, "an expired hold sets nothing aside")
            self.assertEqual(self.Hold._cron_expire_holds(), 1)
        self.assertEqual(self.holds().mapped("state"), ["released", "expired"])

    def test_pin_token_is_single_use_and_bound_to_card_till_cashier_order_and_pin(self):
        self.seed_points(100)
        other = self.new_member("Other Member", 100)
        check = self.config.loyalty_club_verify_pin
        hold = self.config.loyalty_club_hold_points
        token = check(self.card.id, PIN, "order-token-0001")["token"]
        with self.assertRefused("PIN again"):
            hold(self.card.id, 10, "order-token-0002", "pay-token-0001", token)  # another order
        with self.assertRefused("PIN again"):
            hold(other.id, 10, "order-token-0001", "pay-token-0002", token)  # another card
        cashier = new_test_user(self.env, "till_token_cashier", groups="point_of_sale.group_pos_user")
        with self.assertRefused("PIN again"):
            self.config.with_user(cashier).loyalty_club_hold_points(
                self.card.id, 10, "order-token-0001", "pay-token-0003", token
            )
        other_till = self.config.copy({"name": "Other till"})
        with self.assertRefused("PIN again"):
            other_till.loyalty_club_hold_points(self.card.id, 10, "order-token-0001", "pay-token-0004", token)
        hold(self.card.id, 10, "order-token-0001", "pay-token-0005", token)
        with self.assertRefused("PIN again"):
            hold(self.card.id, 10, "order-token-0001", "pay-token-0006", token)  # used
        token = check(self.card.id, PIN, "order-token-0001")["token"]
        self.card._set_pin("1357")
        with self.assertRefused("PIN again"):
            hold(self.card.id, 10, "order-token-0001", "pay-token-0007", token)  # issued before a PIN change
        token = check(self.card.id, "1357", "order-token-0001")["token"]
        with freeze_time(fields.Datetime.now() + timedelta(minutes=31)), self.assertRefused("PIN again"):
            hold(self.card.id, 10, "order-token-0001", "pay-token-0008", token)  # too old
        self.assertEqual(self.holds().mapped("points"), [10])

    def test_a_hold_asked_again_answers_the_same_hold(self):
        self.seed_points(100)
        first = self.hold_points("order-again-0001", "pay-again-0001", 30)
        # the till did not get the answer and asks again, without a new PIN check
        again = self.config.loyalty_club_hold_points(self.card.id, 30, "order-again-0001", "pay-again-0001", False)
        self.assertEqual((again["points"], again["amount"]), (first["points"], first["amount"]))
        self.assertEqual(len(self.holds()), 1)
        with self.assertRefused("another amount or card"):
            self.config.loyalty_club_hold_points(self.card.id, 40, "order-again-0001", "pay-again-0001", False)

    def test_capture_books_once_and_a_live_hold_never_lacks_points(self):
        tomorrow = fields.Date.today() + timedelta(days=1)
        self.Posting._post(self.card, 100, "earn", "test:expiring", expiry_date=tomorrow)
        data = self.till_order([(self.shirt, 1)], card=self.card, points=100)
        # the points expire after the hold and before the sync
        with freeze_time(fields.Datetime.now() + timedelta(days=2)):
            self.Posting._cron_expire_points()
            self.assertEqual(self.card.balance, 0)
            order = self.sync(data)
            self.sync(data)
        self.assertFalse(order.loyalty_review_state)
        self.assertEqual(order.loyalty_points_redeemed, 100)
        self.assertEqual(self.entries().mapped("kind").count("redeem"), 1, "captured once")
        self.assertEqual(self.holds().state, "captured")
        self.assertLedgerTrue(self.card)

    def test_holds_follow_a_replaced_card(self):
        self.seed_points(100)
        data = self.till_order([(self.shirt, 1)], card=self.card, points=40)
        wizard = self.env["loyalty.club.card.replace.wizard"].create({"card_id": self.card.id})
        new_card = self.env["loyalty.club.card"].browse(wizard.action_replace()["res_id"])
        self.assertEqual(self.holds(new_card).points, 40, "the hold moved with the balance")
        self.assertEqual(new_card.points_available, 60)
        order = self.sync(data)
        self.assertFalse(order.loyalty_review_state)
        self.assertEqual(order.loyalty_card_id, new_card)
        # 40 points paid 20.00 of 100.00: the 80.00 paid in money earn 8 points
        self.assertEqual((new_card.balance, self.card.balance), (100 - 40 + 8, 0))
        self.assertLedgerTrue(self.card, new_card)

    def test_gift_card_money_is_held_and_captured_once(self):
        gift = self.new_gift_card(100.0)
        data = self.till_order([(self.shirt, 1)], gift=(gift, 30.0))
        self.assertEqual((gift.balance, gift.amount_held, gift.balance_available), (100.0, 30.0, 70.0))
        with self.assertRefused("70.0"):
            self.hold_gift_card("order-gift-0002", "pay-gift-0002", gift, 80.0)
        with self.assertRefused("held for payments at a till"):
            self.Posting._post_gift_card(gift, -80.0, "redeem", "test:invoice:redeem")
        order = self.sync(data)
        self.sync(data)
        self.assertFalse(order.loyalty_review_state)
        self.assertEqual((gift.balance, gift.amount_held), (70.0, 0.0))
        self.assertEqual(self.gift_entries(gift).mapped("kind"), ["load", "redeem"])

    def test_a_cancelled_order_frees_what_it_held(self):
        self.seed_points(100)
        data = self.till_order([(self.shirt, 1)], card=self.card, points=40)
        draft = self.sync(dict(data, state="draft", payment_ids=[], amount_paid=0))
        draft.action_pos_order_cancel()
        self.assertEqual((self.holds().state, self.card.points_available), ("released", 100))


@tagged("post_install", "-at_install")
class TestTillNeverRefusesAPaidOrder(TillCase):
    """A batch of a till's pending orders is saved whole: what changed between payment and sync
    is judged at the order's time, and what still cannot be booked is flagged for review."""

    def test_batch_of_ten_orders_each_cause_booked_or_flagged(self):
        now = fields.Datetime.now()
        paid_at = now - timedelta(hours=30)
        self.pos_session.start_at = paid_at - timedelta(hours=1)
        silver = self.env["loyalty.club.tier"].create({"name": "Silver", "club_id": self.club.id, "threshold": 0})
        gold = self.env["loyalty.club.tier"].create(
            {"name": "Gold", "club_id": self.club.id, "threshold": 1000, "discount_percent": 5}
        )
        replaced = self.new_member("Card Replaced", 100)
        offline = self.new_member("Offline For A Day", 100)
        with freeze_time(paid_at - timedelta(days=2)):
            downgraded = self.new_member("Downgraded Overnight", 100)
        spent = self.new_member("Spent Twice", 100)
        plain = self.new_member("Plain Member")
        payer = self.new_member("Points Payer", 100)
        expiring_gift = self.new_gift_card(100.0)
        gift = self.new_gift_card(50.0)
        with freeze_time(paid_at - timedelta(days=1)):
            downgraded._change_tier(gold, "upgrade")
        with freeze_time(paid_at):
            a = self.till_order([(self.shirt, 1)], card=replaced, points=20, when=paid_at)
            b = self.till_order([(self.shirt, 1)], card=offline, points=40, when=paid_at)
            c = self.till_order([{"product": self.shirt, "quantity": 1, "discount": 5}], card=downgraded, when=paid_at)
            c["lines"][0][2]["loyalty_club_member_discount"] = 5
            d = self.till_order([(self.shirt, 1)], gift=(expiring_gift, 30.0), when=paid_at)
            e = self.till_order([(self.shirt, 1)], card=spent, points=60, when=paid_at)
        # Between payment and sync: the card is replaced, the tier goes down overnight, the gift
        # card's validity ends, the hold of the other till's order expires and its points are
        # held and spent by another till.
        wizard = self.env["loyalty.club.card.replace.wizard"].create({"card_id": replaced.id})
        successor = self.env["loyalty.club.card"].browse(wizard.action_replace()["res_id"])
        downgraded._change_tier(silver, "downgrade")
        self.env.cr.execute(
            "UPDATE loyalty_club_gift_card SET date_expiry = %s WHERE id = %s",
            [paid_at.date(), expiring_gift.id],
        )
        expiring_gift.invalidate_recordset(["date_expiry"])
        self.GiftCard._cron_expire_gift_cards()
        self.assertEqual(expiring_gift.state, "active", "a card that paid an order keeps what it holds")
        self.holds(spent).sudo().date_expiry = now - timedelta(minutes=1)
        self.Hold._cron_expire_holds()
        f = self.till_order([(self.shirt, 1)], card=spent, points=80)
        normal = [
            self.till_order([(self.cap, 1)]),
            self.till_order([(self.shirt, 2)], card=plain),
            f,
            self.till_order([{"product": self.gift_product, "quantity": 1}]),
            self.till_order([(self.cap, 1)], card=plain, gift=(gift, 50.0)),
        ]
        batch = [a, b, c, d, e, *normal]
        self.env["pos.order"].sync_from_ui(batch)
        orders = {key: self.order_of(data) for key, data in zip("abcde", batch, strict=False)}
        saved = self.env["pos.order"].search([("uuid", "in", [data["uuid"] for data in batch])])
        self.assertEqual(len(saved), 10, "every paid order is saved")
        self.assertEqual(set(saved.mapped("state")), {"paid"})
        # the card was replaced: the order books on its successor
        self.assertFalse(orders["a"].loyalty_review_state, orders["a"].loyalty_review_reason)
        self.assertEqual(orders["a"].loyalty_card_id, successor)
        # (points are earned on what was paid in money: 20 points paid 10.00 of 100.00)
        self.assertEqual((orders["a"].loyalty_points_redeemed, orders["a"].loyalty_points_earned), (20, 9))
        self.assertEqual(successor.balance, 100 - 20 + 9)
        # held 30 hours before the sync: still captured
        self.assertFalse(orders["b"].loyalty_review_state, orders["b"].loyalty_review_reason)
        self.assertEqual(offline.balance, 100 - 40 + 8)
        # the tier the member had when paying gave the discount, with the tier's name on the order
        self.assertFalse(orders["c"].loyalty_review_state, orders["c"].loyalty_review_reason)
        self.assertEqual(orders["c"].lines.loyalty_member_discount, 5)
        self.assertEqual(orders["c"].loyalty_tier_name, "Gold")
        # the gift card was valid when it paid
        self.assertFalse(orders["d"].loyalty_review_state, orders["d"].loyalty_review_reason)
        self.assertEqual(expiring_gift.balance, 70.0)
        # the other till spent the points once the hold expired: saved, flagged, nothing booked
        self.assertFlagged(orders["e"], "Not enough points")
        self.assertFalse(self.entries(spent).filtered(lambda entry: entry.origin_id == orders["e"].id))
        self.assertEqual(spent.balance, 100 - 80 + 6)
        for data in normal:
            self.assertFalse(self.order_of(data).loyalty_review_state, self.order_of(data).loyalty_review_reason)
        self.assertEqual(plain.balance, 20 + 10)
        self.assertEqual(gift.balance, 0.0)
        new_gift = self.order_of(normal[3]).lines.loyalty_gift_card_ids
        self.assertEqual(new_gift.balance, 50.0)
        cards = replaced | successor | offline | downgraded | spent | plain | payer
        self.assertLedgerTrue(*cards)
        entries, gift_entries = (
            self.env["loyalty.club.entry"].search_count([]),
            self.env["loyalty.club.gift.card.entry"].search_count([]),
        )
        # the till sends the batch again (no answer received): nothing is saved or booked twice
        self.env["pos.order"].sync_from_ui(batch)
        self.assertEqual(self.env["pos.order"].search_count([("uuid", "in", [d["uuid"] for d in batch])]), 10)
        self.assertEqual(self.env["loyalty.club.entry"].search_count([]), entries)
        self.assertEqual(self.env["loyalty.club.gift.card.entry"].search_count([]), gift_entries)
        self.assertLedgerTrue(*cards)

    def test_flagged_order_asks_the_managers_who_book_or_dismiss_it(self):
        self.seed_points(100)
        data = self.till_order([(self.shirt, 1)], card=self.card)
        data["payment_ids"].insert(
            0, (0, 0, {"amount": 20.0, "name": fields.Datetime.now(), "payment_method_id": self.points_method.id})
        )
        data["payment_ids"][-1][2]["amount"] = 80.0
        order = self.sync(data)
        self.assertFlagged(order, "has no hold")
        self.assertEqual(order.loyalty_club_client_data["card_id"], self.card.id)
        self.assertTrue(order.activity_ids, "the club managers have an activity")
        self.assertIn(self.env.user, order.activity_ids.user_id)
        cashier = new_test_user(self.env, "till_review_cashier", groups="point_of_sale.group_pos_user")
        with self.assertRaises(AccessError):
            order.with_user(cashier).action_loyalty_club_book()
        order.action_loyalty_club_book()
        self.assertEqual((order.loyalty_review_state, order.loyalty_review_booked), ("done", True))
        # 40 points paid 20.00: the 80.00 paid in cash earn 8 points
        self.assertEqual((order.loyalty_points_redeemed, order.loyalty_points_earned), (40, 8))
        self.assertEqual(self.card.balance, 100 - 40 + 8)
        self.assertFalse(order.activity_ids)
        self.assertIn("booked after review", order.message_ids[0].body)
        with self.assertRefused("no club part waiting"):
            order.action_loyalty_club_book()
        # another order dismissed: nothing booked, the decision in the chatter
        other_data = self.till_order([(self.shirt, 1)], card=self.card)
        other_data["loyalty_club_card_id"] = 999_999_999
        other = self.sync(other_data)
        self.assertFlagged(other, "unknown or of another club")
        balance = self.card.balance
        other.action_loyalty_club_dismiss()
        self.assertEqual(other.loyalty_review_state, "done")
        self.assertIn("dismissed", other.message_ids[0].body)
        self.assertEqual(self.card.balance, balance)

    def test_a_tampered_till_earns_and_loads_only_what_the_server_computes(self):
        # a gift card sold for 1 whose line claims 1,000,000
        data = self.till_order([{"product": self.gift_product, "quantity": 1}])
        line = data["lines"][0][2]
        line["price_unit"] = 1.0
        line["price_subtotal"] = line["price_subtotal_incl"] = 1_000_000.0
        data["amount_total"] = data["amount_paid"] = 1.0
        data["payment_ids"][0][2]["amount"] = 1.0
        order = self.sync(data)
        self.assertFlagged(order, "the server computes 1.0", booked=True)
        self.assertEqual(order.lines.loyalty_gift_card_ids.balance, 1.0)
        # points minted by a shirt line that claims a total of 100,000
        data = self.till_order([(self.shirt, 1)], card=self.card)
        data["lines"][0][2]["price_subtotal"] = data["lines"][0][2]["price_subtotal_incl"] = 100_000.0
        order = self.sync(data)
        self.assertFlagged(order, "the server computes 100.0", booked=True)
        self.assertEqual(order.loyalty_points_earned, 10)
        self.assertEqual(self.card.balance, 10)
