from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from odoo.addons.loyalty_club.tools import posting_keys


class SaleOrder(models.Model):
    _inherit = "sale.order"

    loyalty_payment_entry_id = fields.Many2one(
        "loyalty.club.entry",
        "Points spent at payment",
        readonly=True,
        copy=False,
        index="btree_not_null",
        groups="loyalty_club.group_loyalty_club_user",
        help="The ledger entry that spent the points of this order's reward lines when the customer "
        "paid online, until the payment fails or the order is cancelled (they are then given back).",
    )
    loyalty_payment_attempts = fields.Integer(
        "Online payment attempts",
        readonly=True,
        copy=False,
        groups="loyalty_club.group_loyalty_club_user",
        help="How many times paying online spent this order's points: keeps each attempt's postings apart.",
    )

    loyalty_join_club = fields.Boolean(
        "Join the customer club",
        readonly=True,
        copy=False,
        help="The customer asked to join the club at the web shop's checkout: a card is issued to "
        "them when the order is confirmed, and the order earns its points on it.",
    )

    # ------------------------------------------------------------------
    # The signed-in member
    # ------------------------------------------------------------------
    @api.model
    def _loyalty_website_member_card(self, website):
        """Active club card of the signed-in customer (theirs or their company's) in the club of
        ``website``'s company; empty for visitors and customers without a card."""
        Card = self.env["loyalty.club.card"].sudo()
        user = self.env.user
        club = website.company_id._loyalty_club_get() if website else None
        if not club or user._is_public():
            return Card
        return Card._active_card_of(club, user.partner_id)

    @api.model
    def _loyalty_website_product_offer(self, product, quantity, website):
        """What the club gives the signed-in member on ``quantity`` of ``product`` (a product or a
        template) on ``website``: ``{"member": True, "percent": member discount %, "points": points
        earned, "text": ...}``; ``{"join": True, ...}`` for visitors and customers without a card
        when the website's company has a club; ``{}`` otherwise. The server's own rules: tier
        multiplier, products and categories that earn nothing, the club's earning base."""
        card = self._loyalty_website_member_card(website)
        club = card.club_id or (website.company_id._loyalty_club_get() if website else None)
        if not club:
            return {}
        if not card:
            return {"join": True, "text": self.env._("Join the customer club to earn points on every purchase.")}
        currency = website.currency_id
        company = website.company_id
        price = website.pricelist_id._get_product_price(product, quantity, target_currency=currency)
        product_taxes = product.sudo().taxes_id._filter_taxes_by_company(company)
        taxes = website.fiscal_position_id.sudo().map_tax(product_taxes) if product_taxes else product_taxes
        gross = price * quantity
        if taxes:
            gross = taxes.compute_all(price, currency, quantity, product=product, partner=card.partner_id)[
                "total_included"
            ]
        discounts = self.env["loyalty.club.discount.window"]._compute_member_discounts(
            card, company, [(product, product, gross)], team=website.salesteam_id, currency=currency
        )
        percent = discounts.get(product, {}).get("percent", 0.0) if club.tier_discount_mode == "line" else 0.0
        base = club._earning_base(product, price, quantity, percent, taxes, currency, card.partner_id)
        points = club._points_for_bases({product: base}, currency, company, multiplier=card.tier_id.earn_multiplier)[0]
        text = ""
        if points > 0:
            text = self.env._("Earn %s club points", club._customer_points(points))
        return {"member": True, "percent": percent, "points": points, "text": text}

    # ------------------------------------------------------------------
    # The cart
    # ------------------------------------------------------------------
    def _loyalty_website_card(self):
        """The card this cart earns on and spends from: the order's card when it is the signed-in
        customer's (never a card of another contact's, whatever the order says)."""
        self.ensure_one()
        card = self.sudo().loyalty_card_id
        member = self._loyalty_website_member_card(self.website_id)
        return card if card and card == member else member.browse()

    def _loyalty_website_points_available(self, card):
        """Points of ``card`` left for another reward: the available balance (less what tills hold
        and pending points) less what open quotations, this cart included, reserve."""
        self.ensure_one()
        return card.points_available - self._loyalty_open_reservations(card)

    def _loyalty_website_pin_needed(self, card):
        """Whether the web shop asks ``card``'s PIN before spending its points (the club's setting)."""
        self.ensure_one()
        if card.club_id.website_pin_policy == "always":
            return True
        return card.partner_id != self.env.user.partner_id

    def _loyalty_website_summary(self):
        """What the cart shows of the club: the member's card, balance, tier, the points the cart
        earns and spends, the rewards they can afford now; a join hint for others."""
        self.ensure_one()
        order = self.sudo()
        card = order._loyalty_website_card()
        if not card:
            club = order.website_id.company_id._loyalty_club_get()
            return {"join": bool(club), "join_requested": order.loyalty_join_club}
        club = card.club_id
        available = order._loyalty_website_points_available(card)
        reward_lines = order.order_line.filtered("loyalty_reward_id")
        applied = reward_lines.loyalty_reward_id
        rewards = (
            self.env["loyalty.club.reward"]
            .sudo()
            .search([("club_id", "=", club.id)], order="points_cost, id")
            ._available_for(card)
        )
        affordable = rewards.filtered(
            lambda reward: (
                reward not in applied
                and reward.points_cost <= available
                and card.balance >= club.redeem_min_points
                and (reward.reward_type != "product" or reward.product_id.sale_ok)
            )
        )
        return {
            "card": card,
            "club": club,
            "masked_number": card._masked_number(),
            "balance": club._customer_points(card.balance),
            "available": club._customer_points(max(available, 0)),
            "tier": card.tier_id.name,
            "earn": club._customer_points(order.loyalty_points_estimate),
            "spent": club._customer_points(order.loyalty_points_reserved),
            "reward_lines": reward_lines,
            "rewards": affordable,
            "reward_costs": {reward.id: club._customer_points(reward.points_cost) for reward in affordable},
            "pin_needed": order._loyalty_website_pin_needed(card),
        }

    def _loyalty_website_apply_reward(self, reward_id, pin=""):
        """Apply the reward ``reward_id`` to this cart with the signed-in member's points (the
        PIN checked when the club asks for it, counting failures like the balance page); the
        reward lines reserve the points until the customer pays. Nothing changes on refusal."""
        self.ensure_one()
        order = self.sudo()
        if order.state != "draft":
            raise UserError(self.env._("This order can no longer change: points can be used on open carts only."))
        card = order._loyalty_website_card()
        if not card:
            raise UserError(self.env._("Sign in with the account of a club member to use points."))
        if order.loyalty_payment_entry_id:
            raise UserError(self.env._("A payment of this cart is under way: wait for it to finish."))
        reward = self.env["loyalty.club.reward"].sudo().browse(int(reward_id or 0)).exists()
        if not reward or reward.club_id != card.club_id or reward in order.order_line.loyalty_reward_id:
            raise UserError(self.env._("This reward is not available."))
        if order._loyalty_website_pin_needed(card):
            self._loyalty_website_check_pin(card, pin)
        order._loyalty_add_reward(card, reward, order._loyalty_website_points_available(card))

    @api.model
    def _loyalty_website_check_pin(self, card, pin):
        """Check ``card``'s PIN typed in the web shop, with the public pages' limits per address
        and per card (``loyalty.club.attempt``); one answer for every failure."""
        Attempt = self.env["loyalty.club.attempt"].sudo()
        scope = Attempt._scope("balance_page", code=Attempt._card_key(card))
        Attempt._check_limit(scope)
        if not pin or not card.sudo()._verify_pin(pin):
            Attempt._record_failure(scope)
            raise UserError(self.env._("Wrong PIN."))
        Attempt._record_success(scope)

    def _loyalty_website_remove_rewards(self, line_id=None):
        """Remove the reward lines of this cart (those of one reward when ``line_id`` names one of
        its lines): the points they reserved are free again."""
        self.ensure_one()
        order = self.sudo()
        if order.state != "draft":
            raise UserError(self.env._("This order can no longer change."))
        lines = order.order_line.filtered("loyalty_reward_id")
        if line_id:
            lines = lines.filtered(lambda line: line.loyalty_reward_id == lines.browse(int(line_id)).loyalty_reward_id)
        if order.loyalty_payment_entry_id and lines:
            order._loyalty_give_back_payment_points()
        lines.unlink()

    # ------------------------------------------------------------------
    # Joining at checkout
    # ------------------------------------------------------------------
    def _loyalty_website_set_join(self, join):
        """Record whether the customer of this cart joins the club with it (a visitor or a customer
        without a card; the card is issued when the order is confirmed)."""
        self.ensure_one()
        order = self.sudo()
        if order.state != "draft":
            raise UserError(self.env._("This order can no longer change."))
        if join and order._loyalty_website_card():
            raise UserError(self.env._("You are a member of the club already."))
        order.loyalty_join_club = bool(join)

    def _loyalty_join_at_checkout(self):
        """Issue a card to the customers of these orders who asked to join at checkout, with the
        portal's checks (no other member with their phone number or e-mail address; a phone number
        to find the card by), before their points are posted: the first order earns. A refusal does
        not stop the order: it says why in the order's chatter and the customer can join later."""
        Card = self.env["loyalty.club.card"].sudo()
        for order in self.sudo().filtered(lambda o: o.loyalty_join_club and not o.loyalty_card_id):
            partner = order.partner_id.commercial_partner_id
            club = order.company_id._loyalty_club_get()
            if not club:
                continue
            card = Card._active_card_of(club, order.partner_id)
            if not card:
                try:
                    phone = Card._normalize_phone(order.partner_id.phone or partner.phone or "", club.company_id)
                    if club._phone_or_email_taken(phone, partner):
                        raise UserError(
                            self.env._(
                                "A club card already exists for this phone number or e-mail address: "
                                "the customer was not given a new one."
                            )
                        )
                    with self.env.cr.savepoint():
                        card = Card.create({"partner_id": partner.id, "club_id": club.id})
                except (UserError, ValidationError) as error:
                    order.message_post(body=self.env._("The customer asked to join the club: %s", error.args[0]))
                    continue
            order.loyalty_card_id = card[:1]

    def _action_confirm(self):
        self._loyalty_join_at_checkout()
        # an order confirmed without an online payment (by staff) takes its gift card's part now
        self.filtered(
            lambda o: o.sudo().loyalty_gift_card_id and not o.sudo().loyalty_gift_card_entry_id
        )._loyalty_start_payment()
        return super()._action_confirm()

    # ------------------------------------------------------------------
    # Paying online: the points are spent when the payment starts
    # ------------------------------------------------------------------
    def _loyalty_start_payment(self):
        """The customer starts paying online (or the order is confirmed): spend the points of the
        reward lines and take the gift card's part, under the card locks, once per payment attempt.
        Two sessions cannot pay with the same points or gift card money (the second is refused
        before any money moves); what an unfinished attempt already took is not taken twice.
        :returns: what is left to pay by other means, in the order's currency."""
        for order in self.sudo():
            points = order.loyalty_points_reserved
            live = order.loyalty_payment_entry_id
            if live and not (-live.points == points and live.card_id == order.loyalty_card_id):
                order._loyalty_give_back_payment_points()
            gift = order.loyalty_gift_card_entry_id
            if gift and (
                gift.gift_card_id != order.loyalty_gift_card_id
                or order.currency_id.compare_amounts(order.loyalty_gift_card_amount, order.amount_total) > 0
            ):
                order._loyalty_give_back_gift_card()
            spends_points = points and not order.loyalty_payment_entry_id
            debits_card = order.loyalty_gift_card_id and not order.loyalty_gift_card_entry_id
            if not (spends_points or debits_card):
                continue
            order.loyalty_payment_attempts += 1
            if spends_points:
                order._loyalty_spend_points_for_payment(order.loyalty_payment_attempts)
            order._loyalty_debit_gift_card(order.loyalty_payment_attempts)

    def _loyalty_left_to_pay(self):
        """What the order's customer still pays by other means than its gift card."""
        self.ensure_one()
        return self.currency_id.round(self.amount_total - self.sudo().loyalty_gift_card_amount)

    def _loyalty_spend_points_for_payment(self, attempt):
        """Spend the points of the reward lines for payment ``attempt`` (see :meth:`_loyalty_start_payment`)."""
        Posting = self.env["loyalty.club.posting"]
        for order in self.sudo():
            points = order.loyalty_points_reserved
            if not order.loyalty_card_id:
                raise UserError(self.env._("Order %s uses club points but has no club card.", order.name))
            order.loyalty_payment_entry_id = Posting._post(
                order.loyalty_card_id,
                -points,
                "redeem",
                posting_keys.web_payment(order, attempt, "redeem"),
                origin=order,
                branch=order.company_id,
                reason=order.name,
            )

    def _loyalty_give_back_payment_points(self):
        """Give back the points spent when paying online (the payment failed or was cancelled, the
        order was cancelled or its rewards changed), once, to the card that carries the member's
        points now."""
        for order in self.sudo().filtered("loyalty_payment_entry_id"):
            entry = order.loyalty_payment_entry_id
            attempt = posting_keys.web_payment_attempt(entry.posting_key)
            order._loyalty_give_back_redemption(entry, posting_keys.web_payment(order, attempt, "unredeem"))
            order.loyalty_payment_entry_id = False

    def _loyalty_open_reservations(self, card, exclude=None):
        # the points of an order paid online are spent already: its reward lines reserve nothing more
        paid = self.sudo().search(
            [
                ("loyalty_card_id", "=", card.id),
                ("state", "in", ("draft", "sent")),
                ("loyalty_payment_entry_id", "!=", False),
            ]
        )
        return super()._loyalty_open_reservations(card, exclude=(exclude or self.browse()) | paid)

    def _loyalty_post_redemptions(self):
        # an order whose points its online payment spent does not spend them again at confirmation
        paid = self.filtered(
            lambda order: (
                order.loyalty_payment_entry_id
                and -order.loyalty_payment_entry_id.points == order.loyalty_points_reserved
                and order.loyalty_payment_entry_id.card_id == order.loyalty_card_id
            )
        )
        (self - paid)._loyalty_give_back_payment_points()
        return super(SaleOrder, self - paid)._loyalty_post_redemptions()

    def _loyalty_return_redemption(self):
        if self.loyalty_payment_entry_id:
            return self._loyalty_give_back_payment_points()
        return super()._loyalty_return_redemption()
