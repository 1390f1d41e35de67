from collections import defaultdict

from odoo import Command, models
from odoo.tools import float_compare


class SaleOrder(models.Model):
    """Quotations: the member discounts of the tier and the discount windows, as line discounts or separate lines."""

    _inherit = "sale.order"  # pylint: disable=consider-merging-classes-inherited

    def _loyalty_tier_discount(self):
        """(discount %, club) the order's member gets from their tier; (0, empty) if none."""
        card = self.sudo().loyalty_card_id
        if len(self) != 1 or not card or card.state != "active":
            return 0.0, self.env["loyalty.club"]
        return card.tier_id.discount_percent, card.club_id

    def _loyalty_member_discounts(self, lines=None, when=None):
        """({line: {"percent", "window", "window_percent"}}, club): the member discount of the
        eligible ``lines`` (default: all lines) at ``when`` (default now), combining the tier
        discount and the discount windows of the order's branch and sales team."""
        self.ensure_one()
        card = self.sudo().loyalty_card_id
        if not card or card.state != "active":
            return {}, self.env["loyalty.club"]
        club = card.club_id
        lines = self.order_line if lines is None else lines
        # lazy: the gross totals (a tax computation per line) are only computed when the member
        # has a tier discount or an open discount window
        items = (
            (line, line.product_id, line._loyalty_gross_total()) for line in lines if line._loyalty_club_eligible(club)
        )
        discounts = self.env["loyalty.club.discount.window"]._compute_member_discounts(
            card, self.company_id, items, when=when, team=self.team_id, currency=self.currency_id
        )
        return discounts, club

    def _loyalty_discount_line_values(self, shares_by_taxes, label, extra):
        """Order line values that lower the total (taxes included) by each share, one line per tax
        combination, each carrying the taxes of what it discounts."""
        self.ensure_one()
        product = self.loyalty_card_id.sudo().club_id._get_reward_product()
        values = []
        for taxes, share in shares_by_taxes.items():
            if not share:
                continue
            unit = taxes.compute_all(1.0, self.currency_id, 1.0, product, self.partner_id)["total_included"]
            values.append(
                {
                    **extra,
                    "product_id": product.id,
                    "name": label,
                    "product_uom_qty": 1.0,
                    "price_unit": -self.currency_id.round(share / unit),
                    "tax_id": [Command.set(taxes.ids)],
                    "sequence": 9999,
                }
            )
        return values

    def _loyalty_eligible_totals_by_taxes(self, club):
        """Totals (taxes included) of the lines eligible in ``club``, per tax combination."""
        totals = defaultdict(float)
        for line in self.order_line:
            if line._loyalty_club_eligible(club) and line.price_total > 0:
                totals[line.tax_id] += line.price_total
        return totals

    def _loyalty_refresh_tier_discount_line(self, when=None):
        """Keep the member discounts of quotations in step with their lines, card and the time
        ``when`` (default now): the line discounts (club mode 'line') or the separate discount
        lines, one per tax combination and discount window."""
        quotations = (
            self.sudo().with_context(loyalty_club_refreshing=True).filtered(lambda o: o.state in ("draft", "sent"))
        )
        for order in quotations:
            discounts, club = order._loyalty_member_discounts(when=when)
            line_mode = club.tier_discount_mode == "line"
            order._loyalty_refresh_line_discounts(discounts if line_mode else {})
            wanted = []
            if discounts and not line_mode:
                wanted = order._loyalty_separate_discount_values(discounts)
            existing = order.order_line.filtered("loyalty_tier_discount_line")
            current = sorted(
                (line.loyalty_discount_window_id.id, line.tax_id.ids, line.price_unit, line.name) for line in existing
            )
            target = sorted(
                (vals["loyalty_discount_window_id"], vals["tax_id"][0][2], vals["price_unit"], vals["name"])
                for vals in wanted
            )
            if current != target:
                order.write(
                    {
                        "order_line": [Command.unlink(line.id) for line in existing]
                        + [Command.create(vals) for vals in wanted]
                    }
                )
            for line in order.order_line:
                amount = line._loyalty_window_amount()
                if line.currency_id.compare_amounts(amount, line.loyalty_window_discount_amount):
                    line.loyalty_window_discount_amount = amount

    def _loyalty_refresh_line_discounts(self, discounts):
        """Set the member discount ``discounts`` ({line: values}) on the lines; a line whose
        discount the club set before and that gets less now falls back to its pricelist discount.
        A larger manual or pricelist discount is kept."""
        self.ensure_one()
        digits = self.env["decimal.precision"].precision_get("Discount")
        for line in self.order_line.filtered(lambda line: not line.loyalty_tier_discount_line):
            values = discounts.get(line) or {"percent": 0.0, "window": None, "window_percent": 0.0}
            percent = values["percent"]
            owned = line.loyalty_member_discount and not float_compare(
                line.discount, line.loyalty_member_discount, precision_digits=digits
            )
            if owned and float_compare(line.discount, percent, precision_digits=digits):
                line.discount = 0.0
                line.with_context(loyalty_club_no_member_discount=True)._compute_discount()
            applied = percent and float_compare(line.discount, percent, precision_digits=digits) <= 0
            if applied and float_compare(line.discount, percent, precision_digits=digits):
                line.discount = percent
            new = {
                "loyalty_member_discount": percent if applied else 0.0,
                "loyalty_discount_window_id": values["window"].id if applied and values["window"] else False,
                "loyalty_window_percent": values["window_percent"] if applied else 0.0,
            }
            if any(line[name] != value for name, value in new.items() if name != "loyalty_discount_window_id") or (
                line.loyalty_discount_window_id.id != new["loyalty_discount_window_id"]
            ):
                line.write(new)

    def _loyalty_separate_discount_values(self, discounts):
        """Values of the separate discount lines for ``discounts`` ({line: values}): per tax
        combination, one line for the tier discount and one per discount window."""
        self.ensure_one()
        tier = self.loyalty_card_id.sudo().tier_id
        shares = defaultdict(lambda: defaultdict(float))
        for line, values in discounts.items():
            if line.price_total <= 0:
                continue
            window = values["window"] or None
            shares[None][line.tax_id] += line.price_total * (values["percent"] - values["window_percent"]) / 100.0
            if window:
                shares[window][line.tax_id] += line.price_total * values["window_percent"] / 100.0
        wanted = []
        for window, by_taxes in shares.items():
            if window:
                label = self.env._("Member discount: %s", window.name)
            else:
                label = self.env._(
                    "%(tier)s member discount (%(percent)s %%)", tier=tier.name, percent=tier.discount_percent
                )
            extra = {"loyalty_tier_discount_line": True, "loyalty_discount_window_id": window.id if window else False}
            wanted += self._loyalty_discount_line_values(by_taxes, label, extra)
        return wanted
