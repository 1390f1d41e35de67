from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from .loyalty_club_card_rfm import RFM_GROUPS
from .pos_order import PAID_STATES


class LoyaltyClubSegment(models.Model):
    """A saved filter of club members, computed in SQL, for mass mail/SMS campaigns."""

    _name = "loyalty.club.segment"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Club Member Segment"
    _order = "name, id"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    club_id = fields.Many2one(
        "loyalty.club",
        required=True,
        index=True,
        ondelete="cascade",
        default=lambda self: self.env.company.root_id._loyalty_club_get(),
    )
    company_id = fields.Many2one(related="club_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="club_id.currency_id")
    tier_ids = fields.Many2many("loyalty.club.tier", string="Tiers", domain="[('club_id', '=', club_id)]")
    age_min = fields.Integer("Minimum age")
    age_max = fields.Integer("Maximum age")
    gender = fields.Selection(
        [("female", "Female"), ("male", "Male"), ("other", "Other")], help="Only members who recorded this gender."
    )
    spend_min = fields.Monetary("Total spend from")
    spend_max = fields.Monetary("Total spend up to")
    last_purchase_from = fields.Date("Last purchase from")
    last_purchase_to = fields.Date("Last purchase until")
    product_ids = fields.Many2many("product.product", string="Bought products")
    categ_ids = fields.Many2many("product.category", string="Bought in categories")
    branch_ids = fields.Many2many(
        "res.company", string="Bought at branches", help="Members with a purchase at these companies or branches."
    )
    rfm_group = fields.Selection(
        RFM_GROUPS, "RFM group", help="Only members in this group of the nightly RFM analysis (e.g. At risk)."
    )
    member_count = fields.Integer("Members", compute="_compute_member_count")
    sms_campaign_ids = fields.One2many("loyalty.club.sms.campaign", "segment_id", "SMS campaigns", readonly=True)
    sms_campaign_count = fields.Integer("SMS campaign count", compute="_compute_sms_campaign_count")

    @api.constrains("age_min", "age_max", "spend_min", "spend_max")
    def _check_ranges(self):
        for segment in self:
            if segment.age_min < 0 or segment.age_max < 0:
                raise ValidationError(self.env._("Ages cannot be negative."))
            if segment.age_max and segment.age_min > segment.age_max:
                raise ValidationError(self.env._("The minimum age is above the maximum age."))
            if segment.spend_max and segment.spend_min > segment.spend_max:
                raise ValidationError(self.env._("The minimum spend is above the maximum spend."))

    def _compute_member_count(self):
        for segment in self:
            segment.member_count = len(segment._member_ids()) if segment.id else 0

    @api.depends("sms_campaign_ids")
    def _compute_sms_campaign_count(self):
        for segment in self:
            segment.sms_campaign_count = len(segment.sms_campaign_ids)

    # ------------------------------------------------------------------
    # Members
    # ------------------------------------------------------------------
    def _members_query(self, include_opted_out=False):
        """SQL selecting the partner ids of the segment's members (active cards of the club)."""
        self.ensure_one()
        today = fields.Date.context_today(self)
        conditions = [SQL("c.club_id = %s", self.club_id.id), SQL("c.state = 'active'")]
        if not include_opted_out:
            conditions.append(SQL("NOT COALESCE(p.loyalty_club_opt_out, FALSE)"))
        if self.tier_ids:
            conditions.append(SQL("c.tier_id = ANY(%s)", self.tier_ids.ids))
        if self.age_min:
            conditions.append(SQL("p.loyalty_birthday <= %s", today - relativedelta(years=self.age_min)))
        if self.age_max:
            conditions.append(SQL("p.loyalty_birthday > %s", today - relativedelta(years=self.age_max + 1)))
        if self.gender:
            conditions.append(SQL("p.loyalty_gender = %s", self.gender))
        if self.rfm_group:
            conditions.append(SQL("c.rfm_group = %s", self.rfm_group))
        if self.spend_min or self.spend_max:
            spend = SQL(
                """(SELECT COALESCE(SUM(e.amount), 0) FROM loyalty_club_entry e
                     WHERE e.partner_id = c.partner_id AND e.club_id = c.club_id AND e.qualifying)"""
            )
            if self.spend_min:
                conditions.append(SQL("%s >= %s", spend, self.spend_min))
            if self.spend_max:
                conditions.append(SQL("%s <= %s", spend, self.spend_max))
        if self.last_purchase_from or self.last_purchase_to:
            last = SQL(
                """(SELECT MAX(e.date) FROM loyalty_club_entry e
                     WHERE e.partner_id = c.partner_id AND e.club_id = c.club_id AND e.purchase_count > 0)"""
            )
            if self.last_purchase_from:
                conditions.append(SQL("%s >= %s", last, self.last_purchase_from))
            if self.last_purchase_to:
                conditions.append(SQL("%s < %s", last, self.last_purchase_to + relativedelta(days=1)))
        if self.branch_ids:
            branches = self.env["res.company"].sudo().search([("id", "child_of", self.branch_ids.ids)])
            conditions.append(
                SQL(
                    """EXISTS (SELECT 1 FROM loyalty_club_entry e
                                WHERE e.partner_id = c.partner_id AND e.club_id = c.club_id
                                  AND e.purchase_count > 0 AND e.branch_id = ANY(%s))""",
                    branches.ids,
                )
            )
        if self.product_ids or self.categ_ids:
            products = self.product_ids
            if self.categ_ids:
                products |= (
                    self.env["product.product"]
                    .sudo()
                    .with_context(active_test=False)
                    .search([("categ_id", "child_of", self.categ_ids.ids)])
                )
            conditions.append(
                SQL(
                    """(EXISTS (SELECT 1 FROM sale_order_line sol JOIN sale_order so ON so.id = sol.order_id
                                 WHERE so.loyalty_card_id IN (SELECT id FROM loyalty_club_card
                                                               WHERE partner_id = c.partner_id)
                                   AND so.state = 'sale' AND sol.product_id = ANY(%(products)s))
                        OR EXISTS (SELECT 1 FROM pos_order_line pol JOIN pos_order po ON po.id = pol.order_id
                                    WHERE po.loyalty_card_id IN (SELECT id FROM loyalty_club_card
                                                                  WHERE partner_id = c.partner_id)
                                      AND po.state = ANY(%(states)s) AND pol.qty > 0
                                      AND pol.product_id = ANY(%(products)s)))""",
                    products=products.ids or [0],
                    states=list(PAID_STATES),
                )
            )
        return SQL(
            """SELECT DISTINCT c.partner_id FROM loyalty_club_card c JOIN res_partner p ON p.id = c.partner_id
                WHERE %s""",
            SQL(" AND ").join(conditions),
        )

    def _member_ids(self, include_opted_out=False):
        self.ensure_one()
        self.env.flush_all()
        self.env.cr.execute(self._members_query(include_opted_out=include_opted_out))
        return [row[0] for row in self.env.cr.fetchall()]

    def _members(self, include_opted_out=False):
        """The members (``res.partner``) of the segment; opted-out members are left out unless asked."""
        return self.env["res.partner"].browse(self._member_ids(include_opted_out=include_opted_out))

    # ------------------------------------------------------------------
    # Campaigns through Odoo's composers
    # ------------------------------------------------------------------
    def _check_has_members(self):
        self.ensure_one()
        if not self.member_count:
            raise UserError(self.env._("The segment %s has no members to write to.", self.name))

    def action_view_members(self):
        """List the segment's members."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Members of %s", self.name),
            "res_model": "res.partner",
            "view_mode": "list,form",
            "domain": [("loyalty_segment_ids", "in", self.ids)],
        }

    def action_send_mail(self):
        """Open Odoo's e-mail composer in mass mode on the segment's members."""
        self._check_has_members()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Send an e-mail to %s", self.name),
            "res_model": "mail.compose.message",
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_composition_mode": "mass_mail",
                "default_model": "res.partner",
                "default_res_domain": repr([("loyalty_segment_ids", "in", self.ids)]),
                "default_use_exclusion_list": True,
            },
        }

    def action_view_sms_campaigns(self):
        """The SMS campaigns sent to the segment, with their progress."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("loyalty_club.loyalty_club_sms_campaign_action")
        action["domain"] = [("segment_id", "=", self.id)]
        return action

    def action_send_sms(self):
        """Open Odoo's SMS composer in mass mode on the segment's members; sending it queues a
        campaign (``loyalty.club.sms.campaign``) batch by batch."""
        self._check_has_members()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Send an SMS to %s", self.name),
            "res_model": "sms.composer",
            "view_mode": "form",
            "target": "new",
            "context": {
                "default_composition_mode": "mass",
                "default_res_model": "res.partner",
                # the members are read from the segment (see sms.composer._get_records)
                "default_mass_use_blacklist": True,
                "default_mass_keep_log": True,
                "loyalty_club_segment_id": self.id,
            },
        }
