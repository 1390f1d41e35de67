import uuid
from datetime import date, timedelta

import psycopg2

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import LoyaltyClubCase

PIN = "1357"


class CoalitionCase(LoyaltyClubCase):
    """The test club with a partner restaurant (a point is worth 0.50 there) and a partner gym,
    each with a portal user; the member's card has 1,000 points and a PIN."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        env["account.chart.template"].try_loading("generic_coa", cls.company, install_demo=False)
        cls.card._set_pin(PIN)
        cls.Posting._post(cls.card, 1000, "earn", "coalition:seed", branch=cls.company)
        cls.restaurant = env["res.partner"].create({"name": "Gym Restaurant", "is_company": True})
        cls.gym = env["res.partner"].create({"name": "Partner Gym", "is_company": True})
        cls.restaurant_user = cls._partner_user("club_restaurant", cls.restaurant)
        cls.gym_user = cls._partner_user("club_gym", cls.gym)
        Coalition = env["loyalty.club.coalition.partner"]
        cls.coalition = Coalition.create(
            {
                "club_id": cls.club.id,
                "partner_id": cls.restaurant.id,
                "point_rate": 0.5,
                "user_ids": [(6, 0, cls.restaurant_user.ids)],
            }
        )
        cls.gym_coalition = Coalition.create(
            {
                "club_id": cls.club.id,
                "partner_id": cls.gym.id,
                "point_rate": 0.25,
                "allow_earning": True,
                "earn_amount": 10,
                "earn_points": 1,
                "user_ids": [(6, 0, cls.gym_user.ids)],
            }
        )
        cls.Transaction = env["loyalty.club.coalition.transaction"]
        cls.Settlement = env["loyalty.club.coalition.settlement"]

    @classmethod
    def _partner_user(cls, login, business):
        user = new_test_user(
            cls.env,
            login,
            groups="base.group_portal",
            email=f"{login}@example.com",
            company_id=cls.company.id,
            company_ids=[cls.company.id],
        )
        user.partner_id.parent_id = business
        return user

    def book(self, coalition=None, kind="redeem", points=40, amount=50.0, request_uuid=None, card=None):
        return self.Transaction._book(
            coalition or self.coalition, card or self.card, kind, points, amount, request_uuid or str(uuid.uuid4())
        )

    def backdate(self, transactions, when):
        """Move transactions to ``when`` (they happened in a month that is over)."""
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE loyalty_club_coalition_transaction SET date = %s WHERE id = ANY(%s)", [when, transactions.ids]
        )
        transactions.invalidate_recordset(["date"])

    @staticmethod
    def last_month():
        """The last day of last month."""
        return date.today().replace(day=1) - timedelta(days=1)

    def counts(self):
        return self.ledger_count(), self.Transaction.search_count([])


@tagged("post_install", "-at_install")
class TestCoalitionPartner(CoalitionCase):
    """Partners' redemptions and earnings: exactly once, within the available points, booked on
    the ledger with the partner as their origin."""

    def test_redemption_is_booked_once_with_the_partner_as_origin(self):
        request_uuid = str(uuid.uuid4())
        transaction = self.book(points=40, amount=50.0, request_uuid=request_uuid)
        entry = transaction.entry_id
        self.assertEqual((entry.kind, entry.points, entry.card_id), ("redeem", -40, self.card))
        self.assertEqual(entry.posting_key, self.Posting._make_key(transaction, "redeem"))
        self.assertEqual(entry.origin_reference, transaction)
        self.assertEqual(entry.branch_id, self.company, "the branch stays a company of the club")
        self.assertEqual(entry.reason, "Redeemed at Gym Restaurant")
        self.assertIn("Gym Restaurant", transaction.display_name)
        self.assertEqual((transaction.value, transaction.purchase_amount), (20.0, 50.0))
        self.assertEqual(transaction.user_id, self.env.user)
        self.assertEqual(self.card.balance, 960)
        # the same form submitted again: the same transaction, nothing booked again
        before = self.counts()
        self.assertEqual(self.book(points=40, amount=50.0, request_uuid=request_uuid), transaction)
        self.assertEqual(self.counts(), before)
        self.assertEqual(self.card.balance, 960)
        self.assertBalanceIsLedgerSum()

    def test_a_submission_is_never_booked_twice_nor_for_another_card_or_partner(self):
        request_uuid = str(uuid.uuid4())
        self.book(request_uuid=request_uuid)
        card2 = self.env["loyalty.club.card"].create({"partner_id": self.member2.id, "club_id": self.club.id})
        self.Posting._post(card2, 500, "earn", "coalition:card2", branch=self.company)
        before = self.counts()
        with self.assertRaises(UserError):
            self.book(card=card2, request_uuid=request_uuid)
        with self.assertRaises(UserError):
            self.book(coalition=self.gym_coalition, request_uuid=request_uuid)
        self.assertEqual(self.counts(), before)
        # and the database refuses a second transaction of the submission whatever the code does
        transaction = self.Transaction.search([("request_uuid", "=", request_uuid)])
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError), self.env.cr.savepoint():
            transaction.copy({"request_uuid": request_uuid})

    def test_redemption_beyond_the_available_points_is_refused_and_books_nothing(self):
        # a till holds 900 of the 1,000 points for an order not synced yet
        self.env["loyalty.club.hold"].sudo().create(
            {
                "card_id": self.card.id,
                "company_id": self.company.id,
                "order_uuid": "coalition-held-order",
                "payment_uuid": "coalition-held-payment",
                "points": 900,
                "amount": 450.0,
                "currency_id": self.company.currency_id.id,
                "date_expiry": fields.Datetime.now() + timedelta(hours=1),
            }
        )
        before = self.counts()
        with self.assertRaisesRegex(UserError, "Not enough points"):
            self.book(points=101, amount=100.0)
        self.assertEqual(self.counts(), before)
        self.assertEqual(self.card.balance, 1000)
        self.book(points=100, amount=100.0)
        self.assertEqual(self.card.balance, 900)

    def test_posting_service_refuses_what_the_holds_keep_even_past_the_first_check(self):
        """The posting service checks the balance less the holds under the lock, whatever the
        partner page checked before."""
        self.env["loyalty.club.hold"].sudo().create(
            {
                "card_id": self.card.id,
                "company_id": self.company.id,
                "order_uuid": "coalition-held-order-2",
                "payment_uuid": "coalition-held-payment-2",
                "points": 950,
                "amount": 475.0,
                "currency_id": self.company.currency_id.id,
                "date_expiry": fields.Datetime.now() + timedelta(hours=1),
            }
        )
        self.patch(type(self.Transaction), "_check_redemption", lambda *args: None)
        before = self.counts()
        with self.assertRaisesRegex(UserError, "held for payments at a till"), self.env.cr.savepoint():
            self.book(points=60, amount=100.0)
        self.assertEqual(self.counts(), before)

    def test_redemption_worth_more_than_the_purchase_or_below_the_minimum_is_refused(self):
        before = self.counts()
        with self.assertRaisesRegex(UserError, "at most 20 points"):
            self.book(points=21, amount=10.0)
        self.club.redeem_min_points = 2000
        with self.assertRaisesRegex(UserError, "needs at least"):
            self.book(points=10, amount=10.0)
        self.assertEqual(self.counts(), before)

    def test_bad_input_is_refused_and_changes_nothing(self):
        before = self.counts()
        for points, amount, request_uuid in [
            (0, 10.0, None),
            (-5, 10.0, None),
            ("abc", 10.0, None),
            (True, 10.0, None),
            (2.5, 10.0, None),
            (10, "ten", None),
            (10, float("nan"), None),
            (10, float("inf"), None),
            (10, -3.0, None),
            (10, 0, None),
            (10, None, None),
            (10, 10.0, "short"),
            (10, 10.0, "not a uuid; drop table"),
            (10, 10.0, 12345678),
        ]:
            with self.subTest(points=points, amount=amount, request_uuid=request_uuid):
                with self.assertRaises(ValidationError):
                    self.book(points=points, amount=amount, request_uuid=request_uuid or str(uuid.uuid4()))
        with self.assertRaises(ValidationError):
            self.book(kind="gift")
        self.assertEqual(self.counts(), before)
        self.assertEqual(self.card.balance, 1000)

    def test_blocked_card_and_card_of_another_club_are_refused(self):
        other_club = self.env["loyalty.club"].create(
            {"name": "Other club", "company_id": self.other_company.id, "card_prefix": "7711"}
        )
        stranger = self.env["loyalty.club.card"].create({"partner_id": self.member2.id, "club_id": other_club.id})
        with self.assertRaisesRegex(UserError, "Unknown card, wrong PIN"):
            self.book(card=stranger)
        self.card.action_block()
        with self.assertRaisesRegex(UserError, "not active"):
            self.book()
        self.assertEqual(self.Transaction.search_count([]), 0)

    def test_earning_follows_the_partners_rule(self):
        with self.assertRaisesRegex(UserError, "do not earn"):
            self.book(kind="earn", amount=100.0)
        transaction = self.book(coalition=self.gym_coalition, kind="earn", points=999, amount=125.0)
        # 1 point per 10.00, rounded down as the club rounds; the points the form sent do not count
        self.assertEqual(transaction.points, 12)
        self.assertEqual(transaction.value, 3.0)
        entry = transaction.entry_id
        self.assertEqual((entry.kind, entry.points, entry.reason), ("earn", 12, "Earned at Partner Gym"))
        self.assertEqual(entry.posting_key, self.Posting._make_key(transaction, "earn"))
        self.assertEqual(self.card.balance, 1012)
        with self.assertRaisesRegex(UserError, "too small"):
            self.book(coalition=self.gym_coalition, kind="earn", amount=9.99)

    def test_configuration_is_checked(self):
        Coalition = self.env["loyalty.club.coalition.partner"]
        shop = self.env["res.partner"].create({"name": "Bakery", "is_company": True})
        for values in ({"point_rate": 0}, {"point_rate": -1}, {"point_rate": 1, "allow_earning": True}):
            with self.subTest(values=values):
                try:
                    with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                        Coalition.create({"club_id": self.club.id, "partner_id": shop.id, **values})
                    refused = False
                except (ValidationError, psycopg2.IntegrityError):
                    refused = True
                self.assertTrue(refused)
        # only portal users of the business itself
        for user in (self.club_user, self.gym_user):
            with self.subTest(user=user.login), self.assertRaises(ValidationError), self.env.cr.savepoint():
                self.coalition.user_ids = [(4, user.id)]
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError), self.env.cr.savepoint():
            Coalition.create({"club_id": self.club.id, "partner_id": self.restaurant.id, "point_rate": 1})

    def test_contact_shows_its_partnership(self):
        self.assertEqual(self.restaurant.loyalty_club_partner_count, 1)
        self.assertEqual(self.member.loyalty_club_partner_count, 0)
        action = self.restaurant.action_view_loyalty_club_partner()
        self.assertEqual(action["res_id"], self.coalition.id)

    def test_contact_merges_keep_partners_and_their_transactions(self):
        Merge = self.env["base.partner.merge.automatic.wizard"]
        redeemed = self.book()
        # a member who used a partner business merges into another contact: the transaction follows
        newcomer = self.env["res.partner"].create({"name": "Member, again"})
        Merge._merge((self.member | newcomer).ids, dst_partner=newcomer)
        self.assertEqual((redeemed.member_id, self.card.partner_id), (newcomer, newcomer))
        # two businesses that are both partners of the club: Odoo's generic rewrite would delete one
        # partnership (or fail on its transactions); the merge is refused, nothing changes
        with self.assertRaisesRegex(UserError, "both partners of the club"):
            Merge._merge((self.restaurant | self.gym).ids, dst_partner=self.gym)
        self.assertEqual((self.coalition.partner_id, self.gym_coalition.partner_id), (self.restaurant, self.gym))
        self.assertTrue(self.restaurant.exists())
        # a business merged with a contact that is no partner keeps its partnership, on the survivor
        branch = self.env["res.partner"].create({"name": "Gym Restaurant (old record)", "is_company": True})
        Merge._merge((self.restaurant | branch).ids, dst_partner=branch)
        self.assertEqual((self.coalition.partner_id, redeemed.coalition_partner_id), (branch, self.coalition))

    def test_nobody_writes_a_transaction(self):
        transaction = self.book()
        for user in (self.club_user, self.club_manager, self.restaurant_user):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                transaction.with_user(user).write({"points": 1})
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.Transaction.with_user(user).create({"request_uuid": str(uuid.uuid4())})


@tagged("post_install", "-at_install")
class TestCoalitionSettlement(CoalitionCase):
    """Monthly settlements: the right draft bill or invoice, each transaction settled once."""

    def test_draft_bill_of_the_points_redeemed(self):
        transactions = self.book(points=40, amount=50.0) | self.book(points=60, amount=80.0)
        self.backdate(transactions, self.last_month())
        settlement = self.Settlement._settle(self.coalition, self.last_month())
        self.assertEqual(len(settlement), 1)
        self.assertEqual(settlement.transaction_ids, transactions)
        self.assertEqual((settlement.points_redeemed, settlement.points_earned), (100, 0))
        self.assertEqual((settlement.amount_redeemed, settlement.amount_net), (50.0, 50.0))
        move = settlement.move_id
        self.assertEqual((move.move_type, move.state, move.partner_id), ("in_invoice", "draft", self.restaurant))
        self.assertEqual(move.amount_total, 100 * 0.5, "points redeemed x the partner's rate")
        self.assertEqual(move.company_id, self.company)
        self.assertFalse(move.invoice_line_ids.tax_ids)
        self.assertEqual(settlement.state, "draft")

    def test_bill_books_on_the_redemption_account_of_a_club_that_books_its_points(self):
        self.club.action_setup_points_accounting()
        transaction = self.book(points=40, amount=50.0)
        self.backdate(transaction, self.last_month())
        line = self.Settlement._settle(self.coalition, self.last_month()).move_id.invoice_line_ids
        self.assertEqual(line.account_id, self.club.points_redemption_account_id)
        self.assertEqual(line.price_subtotal, 20.0)

    def test_draft_invoice_when_the_partner_owes(self):
        earned = self.book(coalition=self.gym_coalition, kind="earn", amount=1000.0)  # 100 points
        redeemed = self.book(coalition=self.gym_coalition, points=40, amount=50.0)
        self.backdate(earned | redeemed, self.last_month())
        settlement = self.Settlement._settle(self.gym_coalition, self.last_month())
        self.assertEqual((settlement.points_redeemed, settlement.points_earned), (40, 100))
        self.assertEqual((settlement.amount_redeemed, settlement.amount_earned), (10.0, 25.0))
        self.assertEqual(settlement.amount_net, -15.0)
        move = settlement.move_id
        self.assertEqual((move.move_type, move.state, move.partner_id), ("out_invoice", "draft", self.gym))
        self.assertEqual(move.amount_total, 15.0)
        self.assertEqual(sorted(move.invoice_line_ids.mapped("price_unit")), [-10.0, 25.0])

    def test_settling_again_settles_nothing_twice(self):
        first = self.book(points=40, amount=50.0)
        self.backdate(first, self.last_month())
        settlement = self.Settlement._settle(self.coalition | self.gym_coalition, self.last_month())
        self.assertEqual(settlement.coalition_partner_id, self.coalition, "no transaction at the gym: nothing")
        moves = self.env["account.move"].search_count([])
        # the job and the button again: nothing new
        self.assertFalse(self.Settlement._settle(self.coalition, self.last_month()))
        self.assertFalse(self.Settlement._cron_settle_last_month())
        self.assertEqual(self.env["account.move"].search_count([]), moves)
        self.assertEqual(self.Settlement.search_count([]), 1)
        # an archived partner is still settled by the job
        gym = self.book(coalition=self.gym_coalition, points=40, amount=50.0)
        self.backdate(gym, self.last_month())
        self.gym_coalition.active = False
        self.assertEqual(self.Settlement._cron_settle_last_month().coalition_partner_id, self.gym_coalition)
        self.assertEqual(self.Settlement.search_count([]), 2)
        # a transaction of last month that reaches the server late goes into the next settlement
        late = self.book(points=10, amount=50.0)
        self.backdate(late, self.last_month())
        self.assertFalse(self.Settlement._settle(self.coalition, self.last_month()))
        self.assertFalse(late.settlement_id)
        # the database itself refuses a second settlement of the month, and moving a settled transaction
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError), self.env.cr.savepoint():
            self.Settlement.create(
                {
                    "name": "Again",
                    "coalition_partner_id": self.coalition.id,
                    "partner_id": self.restaurant.id,
                    "club_id": self.club.id,
                    "company_id": self.company.id,
                    "date_from": settlement.date_from,
                    "date_to": settlement.date_to,
                }
            )
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.Error), self.env.cr.savepoint():
            self.env.cr.execute(
                "UPDATE loyalty_club_coalition_transaction SET settlement_id = NULL WHERE id = %s", [first.id]
            )

    def test_a_deleted_or_cancelled_bill_is_made_again(self):
        transaction = self.book(points=40, amount=50.0)
        self.backdate(transaction, self.last_month())
        settlement = self.Settlement._settle(self.coalition, self.last_month())
        settlement.move_id.unlink()  # an accountant deletes the draft bill
        self.assertEqual(settlement.state, "unbilled", "still owed, not 'nothing to bill'")
        with self.assertRaises(AccessError):
            settlement.with_user(self.club_user).action_make_move()
        settlement.with_user(self.club_manager).action_make_move()
        self.assertEqual((settlement.move_id.amount_total, settlement.state), (20.0, "draft"))
        with self.assertRaisesRegex(UserError, "nothing to bill again"):
            settlement.with_user(self.club_manager).action_make_move()  # billed: left alone
        settlement.move_id.button_cancel()
        self.assertEqual(settlement.state, "cancel")
        cancelled = settlement.move_id
        settlement.with_user(self.club_manager).action_make_move()
        self.assertNotEqual(settlement.move_id, cancelled)
        self.assertEqual(settlement.move_id.amount_total, 20.0)
        self.assertEqual(self.env["account.move"].search_count([("ref", "=", settlement.name)]), 2)

    def test_an_undone_transaction_gives_its_points_back_and_is_not_settled(self):
        balance = self.card.balance
        mistake = self.book(points=40, amount=50.0)
        kept = self.book(points=60, amount=80.0)
        earned = self.book(coalition=self.gym_coalition, kind="earn", amount=1000.0)  # 100 points
        self.backdate(mistake | kept | earned, self.last_month())
        self.assertEqual(self.card.balance, balance - 100 + 100)
        with self.assertRaises(AccessError):
            mistake.with_user(self.club_user).action_cancel()
        (mistake | earned).with_user(self.club_manager).action_cancel()
        (mistake | earned).with_user(self.club_manager).action_cancel()  # a double click: once
        self.assertEqual((mistake.state, earned.state, kept.state), ("cancelled", "cancelled", "done"))
        self.assertEqual((mistake.cancel_entry_id.points, earned.cancel_entry_id.points), (40, -100))
        self.assertEqual(mistake.cancel_entry_id.reversed_entry_id, mistake.entry_id)
        self.assertEqual(self.card.balance, balance - 60)
        self.assertBalanceIsLedgerSum()
        settlements = self.Settlement._settle(self.coalition | self.gym_coalition, self.last_month())
        self.assertEqual(settlements.transaction_ids, kept, "the undone ones are not settled")
        self.assertEqual(settlements.move_id.amount_total, 30.0, "60 points x 0.50")
        # a settled transaction stays: its month is billed
        with self.assertRaisesRegex(UserError, "cannot be undone"):
            kept.with_user(self.club_manager).action_cancel()
        self.assertEqual((kept.state, self.card.balance), ("done", balance - 60))

    def test_current_month_and_unbillable_partner(self):
        self.book()
        with self.assertRaises(ValidationError):
            self.Settlement._settle(self.coalition, date.today())
        self.assertFalse(self.Settlement.search_count([]))

    def test_button_is_for_club_managers(self):
        transaction = self.book()
        self.backdate(transaction, self.last_month())
        with self.assertRaises(AccessError):
            self.coalition.with_user(self.club_user).action_settle_last_month()
        action = self.coalition.with_user(self.club_manager).action_settle_last_month()
        settlement = self.Settlement.search(action["domain"])
        self.assertEqual(settlement.move_id.amount_total, 20.0)
        notification = self.coalition.with_user(self.club_manager).action_settle_last_month()
        self.assertEqual(notification["tag"], "display_notification")
