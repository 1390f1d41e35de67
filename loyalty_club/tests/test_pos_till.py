from datetime import timedelta
from decimal import Decimal
from uuid import uuid4

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common_pos import GIFT_PIN, PIN, PosClubCase


class TillCase(PosClubCase):
    """A shop with club points and gift cards as tenders; helpers that do what the till does."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gift_method = cls.club._setup_gift_cards()
        cls.config.payment_method_ids |= cls.gift_method
        cls.gift_product = cls.club.gift_card_product_id
        cls.GiftCard = cls.env["loyalty.club.gift.card"]
        cls.Hold = cls.env["loyalty.club.hold"]

    def new_member(self, name, points=0):
        partner = self.env["res.partner"].create({"name": name})
        card = self.env["loyalty.club.card"].create({"partner_id": partner.id, "club_id": self.club.id})
        card._set_pin(PIN)
        if points:
            self.seed_points(points, card=card)
        return card

    def new_gift_card(self, amount):
        card = self.GiftCard.create({"club_id": self.club.id, "currency_id": self.company.currency_id.id})
        card._set_pin(GIFT_PIN)
        self.Posting._post_gift_card(card, amount, "load", f"test:{card.id}:seed")
        return card

    def till_order(self, lines, card=False, points=0, gift=None, when=None):
        """UI data of an order paid as the till does it: ``points`` held on ``card`` after its
        PIN, ``gift`` = (gift card, amount) held after the card's PIN, the rest in cash."""
        data = self.order_data(lines, payments=[], card=card or False)
        data["partner_id"] = card.partner_id.id if card else False
        total = data["amount_total"]
        paid = 0.0
        if points:
            paid += self.points_payment(data, points, card=card)["amount"]
        if gift:
            gift_card, amount = gift
            payment_uuid = str(uuid4())
            self.hold_gift_card(data["uuid"], payment_uuid, gift_card, amount)
            data["payment_ids"].append(
                (
                    0,
                    0,
                    {
                        "amount": amount,
                        "name": fields.Datetime.now(),
                        "payment_method_id": self.gift_method.id,
                        "uuid": payment_uuid,
                        "loyalty_gift_card_id": gift_card.id,
                    },
                )
            )
            paid += amount
        if self.currency.compare_amounts(total - paid, 0) > 0:
            data["payment_ids"].append(
                (
                    0,
                    0,
                    {"amount": total - paid, "name": fields.Datetime.now(), "payment_method_id": self.cash_method.id},
                )
            )
        data["amount_paid"] = total
        if when:
            data["date_order"] = fields.Datetime.to_string(when)
        return data

    def open_window_capped_at(self, cap):
        """A 10 % discount window of the club, open now, capped at ``cap`` (club currency)."""
        now = fields.Datetime.now()
        return self.env["loyalty.club.discount.window"].create(
            {
                "name": "Capped hours",
                "club_id": self.club.id,
                "discount_percent": 10,
                "max_discount_amount": cap,
                "date_from": now - timedelta(hours=1),
                "date_to": now + timedelta(hours=1),
            }
        )

    def window_caps(self, till):
        """{window id: cap in the till's currency} of the windows the till loads."""
        return {w["id"]: w["max_discount_amount"] for w in till.loyalty_club_discount_windows()}

    def order_of(self, data):
        return self.env["pos.order"].search([("uuid", "=", data["uuid"])])

    def gift_entries(self, gift_card):
        return self.env["loyalty.club.gift.card.entry"].search([("gift_card_id", "=", gift_card.id)], order="id")

    def assertLedgerTrue(self, *cards):
        for card in cards:
            card.invalidate_recordset(["balance"])
            self.assertEqual(card.balance, sum(self.entries(card).mapped("points")), card.number)
        self.assertFalse(self.Posting._audit_balances(self.env["loyalty.club.card"].browse([c.id for c in cards])))


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


@tagged("post_install", "-at_install")
class TestTillRefundTenders(TillCase):
    """What was paid with points or gift cards goes back as points and to the gift cards, never
    as cash."""

    def test_points_share_paid_out_in_cash_is_flagged_and_not_given_back(self):
        self.seed_points(200)
        sale = self.sync(self.till_order([(self.shirt, 1)], card=self.card, points=100))
        # 100 points paid 50.00: the 50.00 paid in cash earned 5 points
        self.assertEqual((sale.loyalty_points_redeemed, self.card.balance), (100, 200 - 100 + 5))
        refund = self.sync(self.refund_data(sale, {self.shirt: 1}, [(self.cash_method, -100.0)]))
        self.assertFlagged(refund, "pays out 100.0 in money while only 50.0", booked=True)
        self.assertEqual((refund.loyalty_points_returned, refund.loyalty_points_reversed), (0, 5))
        self.assertEqual(self.card.balance, 200 - 100)

    def test_points_share_given_back_as_points_is_not_flagged(self):
        self.seed_points(200)
        sale = self.sync(self.till_order([(self.shirt, 1)], card=self.card, points=100))
        refund = self.sync(
            self.refund_data(sale, {self.shirt: 1}, [(self.points_method, -50.0), (self.cash_method, -50.0)])
        )
        self.assertFalse(refund.loyalty_review_state)
        self.assertEqual((refund.loyalty_points_returned, refund.loyalty_points_reversed), (100, 5))
        self.assertEqual(self.card.balance, 200)

    def test_gift_card_share_paid_out_in_cash_is_flagged(self):
        gift = self.new_gift_card(100.0)
        sale = self.sync(self.till_order([(self.shirt, 1)], gift=(gift, 50.0)))
        refund = self.sync(self.refund_data(sale, {self.shirt: 1}, [(self.cash_method, -100.0)]))
        self.assertFlagged(refund, "pays out 100.0 in money", booked=True)
        self.assertEqual(gift.balance, 50.0)
        refund_ok = self.sync(
            self.refund_data(sale, {self.shirt: 1}, [(self.gift_method, -50.0), (self.cash_method, -50.0)])
        )
        # the shirt was refunded already: this second refund is refused as a whole and flagged
        self.assertFlagged(refund_ok, "already refunded")

    def test_gift_card_share_given_back_to_the_card(self):
        gift = self.new_gift_card(100.0)
        sale = self.sync(self.till_order([(self.shirt, 1)], gift=(gift, 50.0)))
        refund = self.sync(
            self.refund_data(sale, {self.shirt: 1}, [(self.gift_method, -50.0), (self.cash_method, -50.0)])
        )
        self.assertFalse(refund.loyalty_review_state)
        self.assertEqual(gift.balance, 100.0)


@tagged("post_install", "-at_install")
class TestTillEarningBase(TillCase):
    """The server computes what earns from unit price, quantity, discount and taxes; negative
    lines lower it as in Sales."""

    def test_a_global_discount_line_lowers_the_points(self):
        discount = self.env["product.product"].create(
            {"name": "Global discount", "type": "service", "available_in_pos": True, "taxes_id": False}
        )
        data = self.till_order([(self.shirt, 3), {"product": discount, "quantity": 1}], card=self.card)
        line = data["lines"][1][2]
        line["price_unit"] = line["price_subtotal"] = line["price_subtotal_incl"] = -100.0
        data["amount_total"] = data["amount_paid"] = 200.0
        data["payment_ids"][0][2]["amount"] = 200.0
        order = self.sync(data)
        self.assertFalse(order.loyalty_review_state)
        self.assertEqual(order.loyalty_points_earned, 20, "300 of goods less a 100 discount earn on 200")

    def test_the_part_paid_with_points_earns_only_when_the_club_says_so(self):
        """Issue 22: by default points are earned on what the member pays in money (gift cards
        count as money); the club setting makes the part paid with points earn too."""
        self.seed_points(400)
        order = self.sync(self.till_order([(self.shirt, 3)], card=self.card, points=200))
        self.assertEqual(order.amount_total, 300.0)
        self.assertEqual(order.loyalty_points_earned, 20, "200 points paid 100.00: 200.00 paid in money earn")
        gift = self.new_gift_card(100.0)
        order = self.sync(self.till_order([(self.shirt, 3)], card=self.card, gift=(gift, 100.0)))
        self.assertEqual(order.loyalty_points_earned, 30, "a gift card is money")
        self.club.earn_on_points_paid = True
        order = self.sync(self.till_order([(self.shirt, 3)], card=self.card, points=200))
        self.assertEqual(order.loyalty_points_earned, 30)

    def test_pos_and_sales_earn_and_reverse_the_same_points(self):
        """Issue 27, item 6 (and issue 22): the same lines, a taxed line with a discount and a
        negative line included, earn the same points at the till and on a quotation, and a refund
        of one unit takes back the same points as a credit note of that unit."""
        tax = self.env["account.tax"].create(
            {"name": "VAT 9", "amount": 9, "amount_type": "percent", "company_id": self.company.id}
        )

        def product(name, price, taxes):
            return self.env["product.product"].create(
                {
                    "name": name,
                    "type": "service",
                    "available_in_pos": True,
                    "lst_price": price,
                    "taxes_id": [(6, 0, taxes.ids)],
                    "invoice_policy": "order",
                }
            )

        lamp, vase = product("Lamp", 99.99, tax), product("Vase", 45.5, tax.browse())
        coupon = product("Coupon", -50, tax.browse())
        lines = [(lamp, 3, 10.0), (vase, 1, 0.0), (coupon, 1, 0.0)]
        # the till
        data = self.order_data([{"product": p, "quantity": q, "discount": d} for p, q, d in lines])
        data["partner_id"] = self.member.id
        order = self.sync(data)
        self.assertFalse(order.loyalty_review_state)
        pos_points = order.loyalty_points_earned
        self.assertEqual(pos_points, 26, "3 x 89.991 + 45.50 - 50 = 265.47 untaxed: 26 points")
        lamp_line = order.lines.filtered(lambda line: line.product_id == lamp)
        refund = self.order_data(
            [{"product": lamp, "quantity": -1, "discount": 10.0, "refunded_orderline_id": lamp_line.id}], card=False
        )
        refund["partner_id"] = self.member.id
        self.sync(refund)
        pos_taken = pos_points - self.card.balance
        # a quotation of another member, with the same lines, confirmed, invoiced, one lamp credited
        sales_card = self.new_member("Sales Member")
        sale = self.env["sale.order"].create(
            {
                "partner_id": sales_card.partner_id.id,
                "order_line": [
                    (
                        0,
                        0,
                        {
                            "product_id": p.id,
                            "product_uom_qty": q,
                            "price_unit": p.lst_price,
                            "discount": d,
                            "tax_id": [(6, 0, p.taxes_id.ids)],
                        },
                    )
                    for p, q, d in lines
                ],
            }
        )
        sale.action_confirm()
        self.assertEqual(sales_card.balance, pos_points, "Sales earn what the till earns")
        self.assertEqual(sale.order_line.mapped("loyalty_points"), order.lines.mapped("loyalty_points"))
        invoice = sale._create_invoices()
        invoice.action_post()
        credit_note = invoice._reverse_moves()
        credit_note.write(
            {
                "invoice_line_ids": [
                    (1, line.id, {"quantity": 1}) if line.product_id == lamp else (2, line.id)
                    for line in credit_note.invoice_line_ids
                    if line.display_type == "product"
                ]
            }
        )
        credit_note.action_post()
        self.assertEqual(pos_points - sales_card.balance, pos_taken, "a credit note takes back what a refund does")
        self.assertEqual(
            pos_taken,
            self.club._points_to_reverse(lamp_line.loyalty_points, 0, Decimal(1) / 3),
            "one of three lamps: a third of the lamps' points, half up",
        )
        self.assertLedgerTrue(self.card, sales_card)


@tagged("post_install", "-at_install")
class TestTillSecondCurrency(TillCase):
    """Issue 22, item 1: a till in another currency than the club's (Odoo's test shop in EUR at
    0.5 per unit of the company's currency) gets club values converted, and the server books
    them converted back."""

    def setUp(self):
        super().setUp()
        self.till = self.other_currency_config
        self.till.payment_method_ids |= self.points_method

    def test_points_pay_their_value_in_the_till_currency(self):
        self.seed_points(100)
        token = self.till.loyalty_club_verify_pin(self.card.id, PIN, "order-eur-00001")["token"]
        answer = self.till.loyalty_club_verify_pin(self.card.id, PIN, "order-eur-00002")
        self.assertEqual(answer["point_value"], 0.25, "a point worth 0.50 is worth 0.25 at this till")
        held = self.till.loyalty_club_hold_points(self.card.id, 40, "order-eur-00001", "pay-eur-00001", token)
        self.assertEqual((held["points"], held["amount"]), (40, 10.0), "40 points pay 10.00 EUR, not 20.00")

    def test_discount_window_cap_in_the_till_currency(self):
        window = self.open_window_capped_at(30.0)
        self.assertEqual(self.window_caps(self.till)[window.id], 15.0, "a cap of 30.00 is 15.00 EUR at this till")
        self.assertEqual(self.window_caps(self.config)[window.id], 30.0)


@tagged("post_install", "-at_install")
class TestTillGiftCardOtherCurrency(TillCase):
    """Issue 22, item 1 at the till: a gift card holding the club's currency pays at a till in
    another currency (Odoo's test shop in EUR, 0.5 per unit of the company's currency) with its
    money converted at the day's rate, the server re-checking what the till says; refunds give
    the card back its own money at the sale's rate; pre-printed cards sold there are loaded with
    the price converted."""

    def setUp(self):
        super().setUp()
        self.config = self.other_currency_config
        self.config.payment_method_ids |= self.gift_method | self.points_method
        self.cash_method = self.config.payment_method_ids.filtered("is_cash_count")[:1]
        self.open_new_session()
        self.euro = self.config.currency_id

    def set_rate(self, rate):
        self.other_currency.rate_ids.write({"rate": rate})
        self.env.invalidate_all()

    def paid_back_like_the_sale(self, order, quantities, payments):
        """UI data of a refund of ``order`` at the prices it was sold at (whatever today's rate)."""
        data = self.refund_data(order, quantities, payments)
        for command in data["lines"]:
            line = command[2]
            sold = self.env["pos.order.line"].browse(line["refunded_orderline_id"])
            line["price_unit"] = sold.price_unit
            line["price_subtotal"] = line["price_subtotal_incl"] = sold.price_unit * line["qty"]
        data["amount_total"] = data["amount_paid"] = sum(c[2]["price_subtotal_incl"] for c in data["lines"])
        return data

    def test_card_pays_its_value_in_the_till_currency(self):
        gift = self.new_gift_card(100.0)
        self.assertNotEqual(gift.currency_id, self.euro)
        answer = self.config.loyalty_gift_card_verify_pin(gift.id, GIFT_PIN, "order-eur-gift-01")
        card = answer["card"]
        self.assertEqual((card["balance_available"], card["currency_id"]), (50.0, self.euro.id))
        self.assertEqual((card["card_balance"], card["card_currency"]), (100.0, gift.currency_id.name))
        with self.assertRefused(r"Not enough money .*: 50\.0 EUR can be spent"):
            self.config.loyalty_gift_card_hold(gift.id, 50.5, "order-eur-gift-01", "pay-eur-gift-0001", answer["token"])
        self.assertFalse(self.Hold.search([("gift_card_id", "=", gift.id)]))

        data = self.till_order([(self.shirt, 1)], gift=(gift, 20.0))
        self.assertEqual(data["amount_total"], 50.0, "the shirt of 100.00 costs 50.00 EUR here")
        order = self.sync(data)
        self.assertFalse(order.loyalty_review_state)
        self.assertEqual(gift.balance, 60.0, "20.00 EUR take 40.00 of the card, not 20.00")
        hold = self.Hold.search([("gift_card_id", "=", gift.id)])
        self.assertEqual((hold.state, hold.amount, hold.payment_amount), ("captured", 40.0, 20.0))
        self.assertEqual((hold.currency_id, hold.payment_currency_id), (gift.currency_id, self.euro))
        payment = order.payment_ids.filtered("payment_method_id.loyalty_gift_card")
        self.assertEqual(payment.loyalty_gift_card_balance, 30.0, "the receipt shows what is left in EUR")
        self.sync(data)
        self.assertEqual(self.gift_entries(gift).mapped("amount"), [100.0, -40.0], "booked once")

    def test_toman_till_points_caps_and_gift_cards(self):
        """A Toman till of a Rial company (0.1 per company unit): points, window caps and gift
        cards at a tenth of their value; the card gives ten times what the till takes."""
        self.set_rate(0.1)
        self.seed_points(100)
        gift = self.new_gift_card(100.0)
        window = self.open_window_capped_at(30.0)
        self.assertEqual(self.window_caps(self.config)[window.id], 3.0)
        answer = self.config.loyalty_club_verify_pin(self.card.id, PIN, "order-irt-check")
        self.assertEqual(answer["point_value"], 0.05)
        data = self.till_order([(self.shirt, 1)], card=self.card, points=20, gift=(gift, 9.0))
        self.assertEqual(data["amount_total"], 10.0, "the shirt of 100 rials is 10 Toman")
        order = self.sync(data)
        self.assertFalse(order.loyalty_review_state)
        entries = self.entries().filtered(lambda entry: entry.origin_id == order.id)
        self.assertEqual(
            sorted(entries.mapped(lambda entry: (entry.kind, entry.points))),
            [("earn", 9), ("redeem", -20)],
            "20 points pay 1.0 Toman (10 rials), not 10 Toman; the 90 rials paid in money earn 9 points",
        )
        self.assertEqual(gift.balance, 10.0, "9 Toman take 90 rials of the card")
        payment = order.payment_ids.filtered("payment_method_id.loyalty_gift_card")
        self.assertEqual(payment.loyalty_gift_card_balance, 1.0)

    def test_server_recomputes_what_the_till_claims(self):
        gift = self.new_gift_card(100.0)
        data = self.till_order([(self.shirt, 1)], gift=(gift, 20.0))
        payments = [command[2] for command in data["payment_ids"]]
        gift_payment = next(p for p in payments if p["payment_method_id"] == self.gift_method.id)
        cash_payment = next(p for p in payments if p["payment_method_id"] == self.cash_method.id)
        # a till claiming 40.00 EUR from a hold of 20.00 EUR (the card's own amount)
        gift_payment["amount"], cash_payment["amount"] = 40.0, 10.0
        order = self.sync(data)
        self.assertFlagged(order, "differs from the 20.0 held")
        self.assertEqual(gift.balance, 100.0, "nothing taken from the card")

    def test_rate_that_does_not_divide_evenly(self):
        self.set_rate(0.37)
        self.assertEqual(self.euro.rounding, 0.001, "Odoo's test EUR has three decimals")
        gift = self.new_gift_card(100.0)
        first = self.sync(self.till_order([(self.shirt, 1)], gift=(gift, 10.0)))
        self.assertEqual(first.amount_total, 37.0)
        self.assertEqual(gift.balance, 72.97, "10.000 EUR at 0.37 are 27.027...: 27.03 of the card")
        token = self.config.loyalty_gift_card_verify_pin(gift.id, GIFT_PIN, "order-eur-gift-02")
        self.assertEqual(
            token["card"]["balance_available"], 26.998, "72.97 are 26.9989 EUR: rounded down, never more than the card"
        )
        # paying all of it takes the card to zero, never below
        self.sync(self.till_order([(self.shirt, 1)], gift=(gift, 26.998)))
        self.assertEqual((gift.balance, gift.state), (0.0, "used"))
        self.assertEqual(self.gift_entries(gift).mapped("amount"), [100.0, -27.03, -72.97])

    def test_refund_gives_back_the_card_money_at_the_sale_rate(self):
        gift = self.new_gift_card(100.0)
        sold = self.sync(self.till_order([(self.shirt, 2)], gift=(gift, 40.0)))
        self.assertEqual((sold.amount_total, gift.balance), (100.0, 20.0))
        self.set_rate(0.4)
        first = self.paid_back_like_the_sale(
            sold, {self.shirt: 1}, [(self.gift_method, -20.0), (self.cash_method, -30.0)]
        )
        self.sync(first)
        self.assertEqual(gift.balance, 60.0, "20.00 EUR paid back are the 40.00 they took, not 50.00 at today's rate")
        # the rest: what the card paid is given back once; the refund's excess goes to a new card
        # that holds the club's currency, loaded at the refund's rate (10.000 EUR at 0.4: 25.00)
        second = self.paid_back_like_the_sale(
            sold, {self.shirt: 1}, [(self.gift_method, -30.0), (self.cash_method, -20.0)]
        )
        refund = self.sync(second)
        self.assertEqual(gift.balance, 100.0, "never more than the card paid")
        new_card = refund.payment_ids.loyalty_gift_card_id - gift
        self.assertEqual((new_card.currency_id, new_card.balance), (self.club.currency_id, 25.0))
        self.assertEqual(refund.payment_ids.filtered("loyalty_gift_card_id").loyalty_gift_card_balance, 10.0)
        self.sync(second)
        self.assertEqual((gift.balance, new_card.balance), (100.0, 25.0), "the refund synced again gives nothing more")

    def test_preprinted_card_sold_here_is_loaded_with_the_price_converted(self):
        shelf = self.GiftCard.create({"club_id": self.club.id, "currency_id": self.company.currency_id.id})
        line = {"product": self.gift_product, "quantity": 1, "uuid": "eur-gift-line-1"}
        line["loyalty_gift_card_code"] = shelf.sudo().code
        data = self.order_data([line], card=False)
        price = data["amount_total"]
        self.assertEqual(price, self.gift_product.lst_price / 2, "the gift card product costs half in EUR")
        self.sync(data)
        self.assertEqual((shelf.state, shelf.balance), ("active", self.gift_product.lst_price))
        # a new card (nothing scanned) holds the club's currency too, like the cards Sales issues
        order = self.sync(self.order_data([{"product": self.gift_product, "quantity": 1}], card=False))
        new_card = order.lines.loyalty_gift_card_ids
        self.assertEqual((new_card.currency_id, new_card.balance), (self.club.currency_id, self.gift_product.lst_price))
