from odoo import models


class ProductTemplate(models.Model):
    _inherit = "product.template"

    def _get_additionnal_combination_info(self, product_or_template, quantity, date, website):
        """Add what the club offers the signed-in member on this product: the member discount (tier
        and open discount windows of the website's sales team) shown as Odoo shows a pricelist
        discount, and the points the product earns; visitors and non-members get a join hint."""
        info = super()._get_additionnal_combination_info(product_or_template, quantity, date, website)
        offer = self.env["sale.order"]._loyalty_website_product_offer(product_or_template, quantity or 1.0, website)
        if offer.get("percent"):
            info["has_discounted_price"] = True
            info["list_price"] = max(info["list_price"], info["price"])
            info["price"] = website.currency_id.round(info["price"] * (1 - offer["percent"] / 100.0))
            info["base_unit_price"] = product_or_template._get_base_unit_price(info["price"])
        info["loyalty_club"] = offer
        return info
