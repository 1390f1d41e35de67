import base64
import csv
import io
from datetime import timedelta

from odoo import Command, api, fields, models
from odoo.exceptions import UserError

from ..tools import posting_keys


class LoyaltyClubGiftCardIssueWizard(models.TransientModel):
    """Issue N gift cards of amount X at once. The codes and PINs are shown once, with a CSV for
    the card printer; *Done* deletes them (the cards keep only the PIN hashes)."""

    _name = "loyalty.club.gift.card.issue.wizard"
    _inherit = ["loyalty.club.protected.mixin"]
    _loyalty_protected_fields = frozenset({"state"})
    _description = "Issue Gift Cards"

    club_id = fields.Many2one(
        "loyalty.club", required=True, default=lambda self: self.env.company.root_id._loyalty_club_get()
    )
    company_id = fields.Many2one(related="club_id.company_id")
    currency_id = fields.Many2one("res.currency", required=True, default=lambda self: self.env.company.currency_id)
    count = fields.Integer("Number of cards", default=10, required=True)
    amount = fields.Monetary("Amount per card", required=True)
    activate = fields.Boolean(
        "Load now",
        help="Load the amount on each card at once (e.g. promotional cards). Otherwise the cards stay "
        "inactive until they are sold, and then hold what the customer paid.",
    )
    partner_id = fields.Many2one("res.partner", "Owner")
    date_expiry = fields.Date(
        "Valid until",
        help="Default: the club's gift card validity, counted from the day a card is sold or loaded (inactive "
        "cards never expire on the shelf); a date set here is the least the cards are valid until.",
    )
    state = fields.Selection([("draft", "Draft"), ("done", "Done")], default="draft")
    line_ids = fields.One2many("loyalty.club.gift.card.issue.line", "wizard_id", readonly=True)
    csv_file = fields.Binary("CSV for the printer", readonly=True, attachment=False)
    csv_filename = fields.Char(readonly=True)

    def action_issue(self):
        self.ensure_one()
        if not self.env.user.has_group("loyalty_club.group_loyalty_club_manager"):
            raise UserError(self.env._("Only club managers can issue gift cards in bulk."))
        if self.state != "draft":
            raise UserError(self.env._("These cards were issued already."))
        self.club_id.check_access("read")  # a club of the user's companies only
        if self.currency_id.compare_amounts(self.amount, 0) < 0 or (
            self.activate and not self.currency_id.compare_amounts(self.amount, 0) > 0
        ):
            raise UserError(self.env._("Enter a positive amount per card."))
        cards, pins = self.env["loyalty.club.gift.card"]._issue(
            self.club_id,
            count=self.count,
            amount=self.amount,
            currency=self.currency_id,
            partner=self.partner_id or None,
            date_expiry=self.date_expiry,
        )
        if self.activate:
            Posting = self.env["loyalty.club.posting"]
            for card in cards:
                Posting._post_gift_card(
                    card,
                    self.amount,
                    "load",
                    posting_keys.record(self, "load", card.id),
                    origin=card,
                    reason=self.env._("Issued loaded"),
                )
        self.sudo().state = "done"
        self._show_pins(cards, pins)
        return self._reopen()

    def _show_pins(self, cards, pins):
        """Put the codes and PINs on the wizard (once) with a CSV export."""
        wizard = self.sudo()
        wizard.line_ids = [Command.clear()] + [
            Command.create({"gift_card_id": card.id, "code": card.sudo().code_display, "pin": pins.get(card.id, "")})
            for card in cards
        ]
        stream = io.StringIO()
        writer = csv.writer(stream)
        writer.writerow(["code", "pin", "amount", "currency", "valid_until", "qr"])
        for card in cards.sudo():
            writer.writerow(
                [
                    card.code_display,
                    pins.get(card.id, ""),
                    card.initial_amount,
                    card.currency_id.name,
                    card.date_expiry or "",
                    card.code,
                ]
            )
        wizard.write({"csv_file": base64.b64encode(stream.getvalue().encode()), "csv_filename": "gift_cards.csv"})

    def _reopen(self):
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Gift cards issued"),
        }

    def action_print(self):
        """Print the issued cards with their codes (shown to the issuer while the lines exist)."""
        self.ensure_one()
        cards = self.line_ids.gift_card_id
        if not cards:
            raise UserError(self.env._("These cards were printed and forgotten already; reveal a code if needed."))
        return self.env.ref("loyalty_club.action_report_gift_card").report_action(cards)

    def action_done(self):
        """Forget the PINs: delete the lines and the CSV."""
        self.line_ids.unlink()
        self.sudo().csv_file = False
        return {"type": "ir.actions.act_window_close"}

    @api.autovacuum
    def _gc_pins(self):
        """PINs shown on a wizard nobody closed do not stay in the database."""
        cutoff = fields.Datetime.now() - timedelta(hours=1)
        self.search([("csv_file", "!=", False), ("create_date", "<", cutoff)]).write({"csv_file": False})
        self.env["loyalty.club.gift.card.issue.line"].search([("create_date", "<", cutoff)]).unlink()


class LoyaltyClubGiftCardIssueLine(models.TransientModel):
    _name = "loyalty.club.gift.card.issue.line"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Issued Gift Card (shown once)"

    wizard_id = fields.Many2one("loyalty.club.gift.card.issue.wizard", required=True, ondelete="cascade")
    gift_card_id = fields.Many2one("loyalty.club.gift.card", readonly=True)
    code = fields.Char(readonly=True)
    pin = fields.Char("PIN", readonly=True)
