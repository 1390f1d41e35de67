from datetime import datetime

from odoo import api, fields, models
from odoo.tools import format_amount, format_date, format_list

from ..tools.jalali import format_jalali, is_persian
from ..tools.numbers import signed


class LoyaltyClub(models.Model):
    """What the club tells its members: the settings of its automatic messages, how customers read
    its figures (points, dates, the benefits of joining), the joining check and e-mails that hold a
    secret."""

    _inherit = "loyalty.club"  # pylint: disable=consider-merging-classes-inherited

    # Engagement: bonus rules and notifications
    bonus_rule_ids = fields.One2many("loyalty.club.bonus.rule", "club_id", "Bonus rules")
    notify_channel = fields.Selection(
        [("mail", "E-mail"), ("sms", "SMS"), ("both", "E-mail and SMS"), ("none", "No messages")],
        "Send messages by",
        default="none",
        required=True,
        help="Channel of the club's automatic messages to members (welcome, points, tiers, expiry, birthday). "
        "Off until a channel is chosen, so installing or upgrading never messages existing members by surprise.",
    )
    notify_welcome = fields.Boolean("Welcome message", default=True)
    notify_earned = fields.Boolean("Points earned message", help="A message each time a purchase earns points.")
    notify_tier = fields.Boolean("Tier change messages", default=True)
    notify_expiring = fields.Boolean("Expiring points reminder", default=True)
    notify_expiring_days = fields.Integer(
        "Remind days before expiry", default=14, help="Members hear about points expiring within this many days."
    )
    notify_birthday = fields.Boolean("Birthday message", default=True)
    notify_cap_per_week = fields.Integer(
        "Messages per member per week",
        default=3,
        help="At most this many automatic messages reach one member in any 7 days; 0 = no limit.",
    )

    def _customer_date(self, value, lang=None):
        """``value`` (date or UTC datetime) as a customer reads it: Solar Hijri (Jalali) for a
        Persian-speaking customer, the language's date format otherwise. Storage stays Gregorian."""
        if not value:
            return ""
        lang = lang or self.env.lang or "en_US"
        if isinstance(value, datetime):
            value = fields.Datetime.context_timestamp(self.with_context(tz=self.env.context.get("tz")), value)
        if is_persian(lang):
            return format_jalali(value, persian_digits=bool(self[:1].customer_persian_digits))
        return format_date(self.env, value.date() if isinstance(value, datetime) else value, lang_code=lang)

    @api.model
    def _mail_secret(self, company, partner, subject, body):
        """Queue an e-mail to ``partner`` from ``company`` that holds a secret (a PIN, a PIN reset
        link): never posted in a chatter, deleted once sent. :returns: the ``mail.mail``"""
        return (
            self.env["mail.mail"]
            .sudo()
            .create(
                {
                    "subject": subject,
                    "body_html": body,
                    "email_from": company.email_formatted
                    or self.env["ir.mail_server"].sudo()._get_default_from_address()
                    or self.env.ref("base.partner_root").sudo().email_formatted,
                    "email_to": partner.email_formatted,
                    "auto_delete": True,
                }
            )
        )

    def _phone_or_email_taken(self, normalized_phone, partner, email=True):
        """Whether a card of this club held by another customer than ``partner`` has the phone
        ``normalized_phone`` (E.164) or, with ``email``, ``partner``'s e-mail address: the check of
        every channel where customers join by themselves (portal, web shop checkout)."""
        self.ensure_one()
        domain = [("partner_phone_sanitized", "=", normalized_phone)]
        if email and partner.email_normalized:
            domain = ["|", ("partner_id.email_normalized", "=", partner.email_normalized), *domain]
        return bool(
            self.env["loyalty.club.card"]
            .sudo()
            .search_count(
                [
                    ("club_id", "=", self.id),
                    ("partner_id.commercial_partner_id", "!=", partner.commercial_partner_id.id),
                    *domain,
                ],
                limit=1,
            )
        )

    def _join_benefits(self, lang=None):
        """Short sentences telling a customer what the club offers, from its own settings: welcome
        points, the earning rate, the value of a point, the rewards and the tiers (for the join form)."""
        self.ensure_one()
        lang = lang or self.env.lang or "en_US"
        club = self.sudo().with_context(lang=lang)
        env = club.env

        def points(value):
            return club._customer_points(value, lang)

        benefits = []
        welcome = sum(env["loyalty.club.bonus.rule"]._active_rules(club, ["join"]).mapped("points"))
        if welcome > 0:
            benefits.append(env._("%(points)s welcome points when you join.", points=points(welcome)))
        if club.earn_points > 0:
            spend = format_amount(env, club.earn_amount, club.currency_id, lang_code=lang)
            if club.earn_points == 1:
                benefits.append(env._("1 point for every %(amount)s you spend.", amount=spend))
            else:
                benefits.append(
                    env._(
                        "%(points)s points for every %(amount)s you spend.",
                        points=points(club.earn_points),
                        amount=spend,
                    )
                )
        if club.point_value > 0:
            value = format_amount(env, club.point_value, club.currency_id, lang_code=lang)
            benefits.append(env._("Each point is worth %(value)s when you pay with points.", value=value))
        rewards = club.reward_ids.filtered("active").sorted(lambda reward: (reward.points_cost, reward.sequence))
        if rewards:
            benefits.append(
                env._(
                    "Rewards from %(points)s points: %(rewards)s.",
                    points=points(rewards[0].points_cost),
                    rewards=format_list(env, rewards[:3].mapped("name"), lang_code=lang),
                )
            )
        tiers = club.tier_ids.filtered(lambda tier: tier.active and tier.threshold > 0).sorted("threshold")
        if tiers:
            benefits.append(
                env._(
                    "More benefits in the higher tiers: %(tiers)s.",
                    tiers=format_list(env, tiers.mapped("name"), lang_code=lang),
                )
            )
        return benefits

    def _customer_points(self, value, lang=None, plus=False):
        """``value`` (whole points) as a customer reads it: grouped as the language groups digits,
        with the language's CLDR signs (in Persian a left-to-right mark and U+2212 before the digits,
        so a debt still reads minus 200 in a right-to-left line instead of ``200-``); ``plus`` also
        signs positive numbers."""
        lang = lang or self.env.lang or "en_US"
        value = int(value or 0)
        Lang = self.env["res.lang"]
        language = Lang._lang_get(lang) or Lang._lang_get("en_US")
        text = language.format("%d", abs(value), grouping=True) if language else str(abs(value))
        return signed(text, value, lang, plus=plus)
