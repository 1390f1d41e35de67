from odoo import Command, api, models
from odoo.tools import ormcache


class LoyaltyClub(models.Model):
    """The club at the Point of Sale: what tills load, the points payment method, card barcodes."""

    _inherit = "loyalty.club"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------
    # Point of Sale
    # ------------------------------------------------------------------
    @api.model
    @ormcache("club_id")
    def _has_legacy_numbers_of(self, club_id):
        """Whether club ``club_id`` keeps legacy card numbers; cached for the tills' lookups
        (cleared when the flag changes)."""
        return bool(self.sudo().browse(club_id).has_legacy_numbers)

    @api.model
    def _load_pos_data_domain(self, data):
        company = self.env["pos.config"].browse(data["pos.config"]["data"][0]["id"]).company_id
        return [("id", "=", company._loyalty_club_get().id)]

    @api.model
    def _load_pos_data_fields(self, config_id):
        return [
            "id",
            "name",
            "currency_id",
            "point_value",
            "redeem_min_points",
            "earn_amount",
            "earn_points",
            "earn_rounding",
            "earn_on_tax_included",
            "earn_on_points_paid",
            "earn_excluded_categ_ids",
            "pin_length",
            "card_prefix",
            "discount_stacking",
            "discount_stacking_max",
            "customer_persian_digits",
            "has_legacy_numbers",
        ]

    @api.depends("company_id")
    def _compute_pos_points_ready(self):
        Method = self.env["pos.payment.method"].sudo()
        Config = self.env["pos.config"].sudo()
        for club in self:
            method = Method.search(
                [("loyalty_club_points", "=", True), ("company_id", "=", club.company_id.id)], limit=1
            )
            club.pos_points_ready = bool(method) and not Config.search_count(
                [("company_id", "child_of", club.company_id.id), ("payment_method_ids", "not in", method.ids)],
                limit=1,
            )

    def action_setup_pos_payment_method(self):
        """Create (once) the 'Club points' payment method of the club's company and add it to
        every POS shop of the company and its branches."""
        self.ensure_one()
        method = self._get_pos_points_payment_method()
        return self._add_payment_method_to_shops(
            method, self.env._("Members can pay with points in the shops of %s.", self.company_id.name)
        )

    def _add_payment_method_to_shops(self, method, message):
        """Add the POS payment ``method`` to the club company's shops (those with a till open keep
        their methods until the session is closed) and say ``message``: the action's notification."""
        self.ensure_one()
        configs = (
            self.env["pos.config"]
            .sudo()
            .search([("company_id", "child_of", self.company_id.id), ("payment_method_ids", "not in", method.ids)])
        )
        for config in configs.filtered(lambda config: not config.current_session_id):
            config.payment_method_ids = [Command.link(method.id)]
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"type": "success", "message": message, "next": {"type": "ir.actions.act_window_close"}},
        }

    def _get_pos_points_payment_method(self):
        self.ensure_one()
        company = self.company_id
        Method = self.env["pos.payment.method"].sudo().with_company(company)
        method = Method.search([("loyalty_club_points", "=", True), ("company_id", "=", company.id)], limit=1)
        if method:
            return method
        Account = self.env["account.account"].sudo().with_company(company)
        account = Account.search(
            [("code", "=", "CLUBPTS"), ("company_ids", "in", company.ids)], limit=1
        ) or Account.create(
            {
                "name": self.env._("Club points redeemed"),
                "code": "CLUBPTS",
                "account_type": "expense",
                "company_ids": [Command.set(company.ids)],
            }
        )
        journal = (
            self.env["account.journal"]
            .sudo()
            .with_company(company)
            .create(
                {
                    "name": self.env._("Club points"),
                    "type": "bank",
                    "code": "CLUBP",
                    "company_id": company.id,
                    "default_account_id": account.id,
                }
            )
        )
        return Method.create(
            {
                "name": self.env._("Club points"),
                "journal_id": journal.id,
                "outstanding_account_id": account.id,
                "loyalty_club_points": True,
                "company_id": company.id,
            }
        )

    def _barcode_rule_values(self):
        self.ensure_one()
        nomenclature = self.company_id.nomenclature_id or self.env.ref(
            "barcodes.default_barcode_nomenclature", raise_if_not_found=False
        )
        return {
            "name": self.env._("Club cards %s", self.name),
            "barcode_nomenclature_id": nomenclature.id,
            "type": "loyalty_club_card",
            "encoding": "any",
            "sequence": 40,
            "pattern": self.card_prefix,
        }

    def _sync_barcode_rules(self):
        """Keep one barcode rule per club matching its card prefix, so POS scanners
        recognise member cards before products."""
        Rule = self.env["barcode.rule"].sudo()
        for club in self.sudo():
            values = club._barcode_rule_values()
            if not values["barcode_nomenclature_id"]:
                continue
            if club.barcode_rule_id:
                club.barcode_rule_id.write(values)
            else:
                club.barcode_rule_id = Rule.create(values)

    def _review_users(self):
        """Users asked to review till orders whose club part could not be booked."""
        self.ensure_one()
        if self.review_user_id:
            return self.review_user_id
        managers = self.env.ref("loyalty_club.group_loyalty_club_manager").sudo().users
        return managers.filtered(lambda user: self.company_id in user.company_ids and not user.share)[:5]
