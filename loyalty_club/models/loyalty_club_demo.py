from odoo import api, models


class LoyaltyClub(models.Model):
    _inherit = "loyalty.club"  # pylint: disable=consider-merging-classes-inherited

    # ------------------------------------------------------------------
    # Demo data helpers (called by demo/loyalty_club_demo.xml only)
    # ------------------------------------------------------------------
    @api.model
    def _demo_setup_shop(self, company_id, name, xmlid):
        """A POS shop of ``company_id`` with its cash, card and customer account methods (the
        company gets Odoo's generic chart of accounts, in its own currency, first if it has
        none). Returns its id."""
        shop = self.env.ref(xmlid, raise_if_not_found=False)
        if shop:
            return shop.id
        company = self.env["res.company"].browse(company_id)
        if not company.chart_template:
            currency = company.currency_id
            self.env["account.chart.template"].try_loading("generic_coa", company, install_demo=False)
            # the generic chart brings its own currency (USD): the company keeps its own
            company.currency_id = currency
        Config = self.env["pos.config"].with_company(company)
        journal, method_ids = Config._create_journal_and_payment_methods(
            cash_journal_vals={"name": self.env._("Cash %s", name), "show_on_dashboard": False}
        )
        shop = Config.create(
            {"name": name, "company_id": company.id, "journal_id": journal.id, "payment_method_ids": method_ids}
        )
        self.env["ir.model.data"]._update_xmlids([{"xml_id": xmlid, "record": shop, "noupdate": True}])
        return shop.id

    @api.model
    def _demo_set_pin(self, card_ids, pin):
        """Give the demo cards ``card_ids`` the PIN ``pin`` (through the card's own hashing)."""
        for card in self.env["loyalty.club.card"].browse(card_ids).filtered(lambda c: not c.pin_set):
            card._set_pin(pin)
        return True
