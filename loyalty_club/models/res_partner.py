from odoo import api, fields, models
from odoo.tools import SQL


class ResPartner(models.Model):
    _name = "res.partner"
    _inherit = ["res.partner", "loyalty.club.protected.mixin"]
    _loyalty_protected_fields = frozenset({"loyalty_birthday_changed_on"})

    loyalty_card_ids = fields.One2many("loyalty.club.card", "partner_id", "Club cards")
    # Named after the club: Odoo's Loyalty app defines loyalty_card_count and
    # action_view_loyalty_cards for its own cards, and both apps may be installed together.
    loyalty_club_card_count = fields.Integer(
        "Club cards count", compute="_compute_loyalty_club_card_count", groups="loyalty_club.group_loyalty_club_user"
    )
    loyalty_balance = fields.Integer(
        "Club points", compute="_compute_loyalty_club_card_count", groups="loyalty_club.group_loyalty_club_user"
    )

    @api.depends("loyalty_card_ids.balance", "loyalty_card_ids.state")
    def _compute_loyalty_club_card_count(self):
        groups = self.env["loyalty.club.card"]._read_group(
            [("partner_id", "in", self.ids)], ["partner_id", "state"], ["__count", "balance:sum"]
        )
        counts, balances = {}, {}
        for partner, state, count, balance in groups:
            counts[partner] = counts.get(partner, 0) + count
            if state == "active":
                balances[partner] = balances.get(partner, 0) + balance
        for partner in self:
            partner.loyalty_club_card_count = counts.get(partner, 0)
            partner.loyalty_balance = balances.get(partner, 0)

    def action_view_loyalty_club_cards(self):
        """Open the club cards of this member."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("loyalty_club.loyalty_club_card_action")
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action

    # ------------------------------------------------------------------
    # Engagement
    # ------------------------------------------------------------------
    loyalty_birthday = fields.Date("Birthday")
    loyalty_birthday_changed_on = fields.Date(
        "Birthday changed on",
        readonly=True,
        copy=False,
        help="Set when a recorded birthday is changed; a recent change earns no birthday bonus.",
    )
    loyalty_gender = fields.Selection([("female", "Female"), ("male", "Male"), ("other", "Other")], "Gender")
    loyalty_club_opt_out = fields.Boolean(
        "No club messages", help="The member receives no automatic club messages and no club campaigns."
    )
    loyalty_segment_ids = fields.Many2many(
        "loyalty.club.segment",
        string="Club segments",
        compute="_compute_loyalty_segment_ids",
        search="_search_loyalty_segment_ids",
        groups="loyalty_club.group_loyalty_club_user",
    )

    def init(self):
        result = super().init()
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS res_partner_loyalty_birthday_md_idx
                   ON res_partner (((EXTRACT(MONTH FROM loyalty_birthday) * 100
                                     + EXTRACT(DAY FROM loyalty_birthday))::int))
                WHERE loyalty_birthday IS NOT NULL"""
        )
        # Member imports and the phone lookup match contacts by normalised phone and e-mail;
        # Odoo does not index these columns itself.
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS res_partner_loyalty_phone_sanitized_idx
                   ON res_partner (phone_sanitized) WHERE phone_sanitized IS NOT NULL;
               CREATE INDEX IF NOT EXISTS res_partner_loyalty_email_normalized_idx
                   ON res_partner (email_normalized) WHERE email_normalized IS NOT NULL"""
        )
        return result

    def _compute_loyalty_segment_ids(self):
        segments = self.env["loyalty.club.segment"].search([("active", "=", True)])
        members = {segment: set(segment._member_ids()) for segment in segments} if self.ids else {}
        for partner in self:
            partner.loyalty_segment_ids = segments.filtered(lambda s, p=partner: p.id in members[s])

    def _search_loyalty_segment_ids(self, operator, value):
        if operator not in ("in", "="):
            raise NotImplementedError(self.env._("Segments can only be searched with 'in'."))
        ids = [value] if isinstance(value, int) else list(value or [])
        segments = self.env["loyalty.club.segment"].browse(ids).exists()
        if not segments:
            return [("id", "in", [])]
        # A subquery, not a list of ids: a campaign on a large segment never loads its members.
        self.env.flush_all()
        return [("id", "in", SQL("(%s)", SQL(" UNION ").join(segment._members_query() for segment in segments)))]

    def write(self, vals):
        if "loyalty_birthday" in vals:
            new = fields.Date.to_date(vals["loyalty_birthday"])
            changed = self.filtered(lambda p: p.loyalty_birthday and p.loyalty_birthday != new)
            if changed:
                # Raw SQL: the column is read-only for users and must not be spoofed through write().
                self.env.cr.execute(
                    "UPDATE res_partner SET loyalty_birthday_changed_on = %s WHERE id = ANY(%s)",
                    [fields.Date.context_today(self), changed.ids],
                )
                changed.invalidate_recordset(["loyalty_birthday_changed_on"])
        result = super().write(vals)
        # An import fills in profiles completed elsewhere, a contact merge copies them from the
        # merged contacts: no profile bonus for that.
        importing = self.env.context.get("loyalty_club_import") or self.env.context.get("loyalty_club_partner_merge")
        if {"loyalty_birthday", "phone", "mobile", "email"} & set(vals) and not importing:
            members = self.sudo().filtered(lambda p: p.loyalty_card_ids)
            if members:
                self.env["loyalty.club.bonus.rule"]._on_profile(members)
        return result
