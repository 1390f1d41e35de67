from odoo.tests import tagged

from odoo.addons.loyalty_club.tests.test_i18n import TestTranslations


@tagged("post_install", "-at_install")
class TestWebsiteTranslations(TestTranslations):
    """The web shop bridge's .pot is current and its Persian complete."""

    module = "loyalty_club_website_sale"
    allow_inherited_tests_method = True  # Odoo's loader runs only a class's own test methods otherwise
