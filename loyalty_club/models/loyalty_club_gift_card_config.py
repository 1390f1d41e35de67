from dateutil.relativedelta import relativedelta

from odoo import Command, api, fields, models
from odoo.exceptions import ValidationError

GIFT_CARD_ACCOUNT_CODE = "GIFTCARD"


class LoyaltyClub(models.Model):
    # one subject per file: the club model is extended here for gift cards (and for the demo)
    _inherit = "loyalty.club"  # pylint: disable=consider-merging-classes-inherited

    gift_card_validity_months = fields.Integer(
        "Gift card validity (months)",
        default=36,
        help="Default validity of a gift card, counted from its activation.",
    )
    gift_card_min_validity_months = fields.Integer(
        "Minimum gift card validity (months)",
        default=12,
        help="No gift card may expire sooner than this after it was issued (e.g. a legal minimum).",
    )
    gift_card_product_id = fields.Many2one(
        "product.product",
        "Gift card product",
        domain="[('loyalty_gift_card', '=', True)]",
        help="Selling this product loads a gift card; its income account is the liability account.",
    )
    gift_card_account_id = fields.Many2one(
        "account.account",
        "Gift card liability account",
        help="Sold gift cards are credited here; redemptions (POS and invoices) debit it.",
    )
    gift_card_journal_id = fields.Many2one(
        "account.journal",
        "Gift card journal",
        help="Journal of payments made with gift cards on invoices and in the Point of Sale.",
    )

    @api.constrains("gift_card_validity_months", "gift_card_min_validity_months")
    def _check_gift_card_validity(self):
        for club in self:
            if club.gift_card_min_validity_months < 0 or club.gift_card_validity_months < 1:
                raise ValidationError(self.env._("Gift card validity must be at least one month."))
            if club.gift_card_validity_months < club.gift_card_min_validity_months:
                raise ValidationError(
                    self.env._("The default gift card validity cannot be shorter than the minimum validity.")
                )

    def _gift_card_default_expiry(self, start=None):
        self.ensure_one()
        return (start or fields.Date.context_today(self)) + relativedelta(months=self.gift_card_validity_months)

    def _gift_card_minimum_expiry(self, start=None):
        self.ensure_one()
        return (start or fields.Date.context_today(self)) + relativedelta(months=self.gift_card_min_validity_months)

    def action_setup_gift_cards(self):
        """Create (once) the liability account, the gift card product, the gift card journal and
        the POS 'Gift card' payment method, and add the method to the company's shops."""
        self.ensure_one()
        method = self._setup_gift_cards()
        return self._add_payment_method_to_shops(
            method, self.env._("Gift cards can be sold and redeemed in %s.", self.company_id.name)
        )

    def _gift_card_liability_account(self):
        """The club's gift card liability account: set on the club, found by its code in the
        company, or created."""
        self.ensure_one()
        company = self.company_id
        Account = self.env["account.account"].sudo().with_company(company)
        account = self.sudo().gift_card_account_id or Account.search(
            [("code", "=", GIFT_CARD_ACCOUNT_CODE), ("company_ids", "in", company.ids)], limit=1
        )
        return account or Account.create(
            {
                "name": self.env._("Gift cards outstanding"),
                "code": GIFT_CARD_ACCOUNT_CODE,
                "account_type": "liability_current",
                "reconcile": False,
                "company_ids": [Command.set(company.ids)],
            }
        )

    def _setup_gift_cards(self):
        """Accounting and products of gift cards for the club's company; returns the POS method."""
        self.ensure_one()
        company = self.company_id
        club = self.sudo()
        account = club._gift_card_liability_account()
        journal = club.gift_card_journal_id
        Journal = self.env["account.journal"].sudo().with_context(active_test=False).with_company(company)
        if not journal:
            # the journal of an earlier club of the company (archived or moved) books the same account
            journal = Journal.search(
                [("company_id", "=", company.id), ("code", "=like", "GIFT%"), ("default_account_id", "=", account.id)],
                limit=1,
            )
        if not journal:
            taken = set(Journal.search([("company_id", "=", company.id)]).mapped("code"))
            code = next(code for code in ["GIFT", *(f"GIFT{n}" for n in range(2, 100))] if code not in taken)
            journal = Journal.create(
                {
                    "name": self.env._("Gift cards"),
                    "type": "bank",
                    "code": code,
                    "company_id": company.id,
                    "default_account_id": account.id,
                }
            )
            journal.inbound_payment_method_line_ids.payment_account_id = account
            journal.outbound_payment_method_line_ids.payment_account_id = account
        product = club.gift_card_product_id
        if not product:
            product = (
                self.env["product.product"]
                .sudo()
                .with_company(company)
                .create(
                    {
                        "name": self.env._("Gift card"),
                        "type": "service",
                        "loyalty_gift_card": True,
                        "loyalty_club_no_earn": True,
                        "list_price": 50.0,
                        "taxes_id": [Command.clear()],
                        "supplier_taxes_id": [Command.clear()],
                        "available_in_pos": True,
                        "sale_ok": True,
                        "purchase_ok": False,
                        "invoice_policy": "order",
                        "company_id": company.id,
                        "property_account_income_id": account.id,
                    }
                )
            )
        club.write(
            {"gift_card_account_id": account.id, "gift_card_journal_id": journal.id, "gift_card_product_id": product.id}
        )
        Method = self.env["pos.payment.method"].sudo().with_company(company)
        method = Method.search([("loyalty_gift_card", "=", True), ("company_id", "=", company.id)], limit=1)
        if not method:
            method = Method.create(
                {
                    "name": self.env._("Gift card"),
                    "journal_id": journal.id,
                    "outstanding_account_id": account.id,
                    "loyalty_gift_card": True,
                    "company_id": company.id,
                }
            )
        return method
