from datetime import timedelta
from uuid import uuid4

from odoo import fields

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
