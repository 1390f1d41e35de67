import logging
import threading

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

_logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1000


class LoyaltyClubSmsCampaign(models.Model):
    """An SMS campaign to a segment's members, queued batch by batch in the background.

    *Send SMS* on a segment opens Odoo's SMS composer as before; sending it records a campaign:
    the segment's members at that moment (one per phone number) and the text. Odoo's composer then
    queues the SMS of ``loyalty_club.sms_campaign_batch_size`` members at a time (default 1,000),
    the scheduled job committing after each batch and handing the queue to Odoo's SMS sender, so
    a campaign of any size never holds more than one batch in memory nor runs in a web request.
    A campaign no larger than one batch is queued at once. Cancelling stops the batches not queued.
    """

    _name = "loyalty.club.sms.campaign"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Club SMS Campaign"
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(required=True, readonly=True)
    club_id = fields.Many2one("loyalty.club", required=True, readonly=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="club_id.company_id", store=True, index=True)
    segment_id = fields.Many2one("loyalty.club.segment", readonly=True, index=True, ondelete="set null")
    body = fields.Text("Message", required=True, readonly=True)
    keep_log = fields.Boolean("Log in the members' chatter", readonly=True)
    use_blacklist = fields.Boolean("Skip blacklisted numbers", readonly=True)
    state = fields.Selection(
        [("queued", "Queuing"), ("done", "Queued"), ("cancelled", "Cancelled"), ("failed", "Stopped")],
        default="queued",
        required=True,
        readonly=True,
        index=True,
    )
    partner_ids = fields.Many2many(
        "res.partner",
        "loyalty_club_sms_campaign_partner_rel",
        "campaign_id",
        "partner_id",
        string="Recipients",
        readonly=True,
        help="The segment's members when the campaign was sent, one per phone number.",
    )
    member_count = fields.Integer("Members", readonly=True)
    done_count = fields.Integer("Members processed", readonly=True)
    sms_count = fields.Integer("SMS queued", readonly=True, help="SMS created in Odoo's queue, sent by Odoo's sender.")
    skipped_count = fields.Integer(
        "Members skipped", readonly=True, help="Members who opted out of club messages after the campaign was sent."
    )
    last_partner_id = fields.Integer("Last member processed", readonly=True)
    progress = fields.Integer("Progress (%)", compute="_compute_progress")
    date_done = fields.Datetime("Queued on", readonly=True)
    stop_reason = fields.Text(readonly=True)

    @api.depends("member_count", "done_count")
    def _compute_progress(self):
        for campaign in self:
            campaign.progress = 100 * campaign.done_count // campaign.member_count if campaign.member_count else 100

    # ------------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------------
    @api.model
    def _batch_size(self):
        value = self.env["ir.config_parameter"].sudo().get_param("loyalty_club.sms_campaign_batch_size")
        try:
            return max(1, int(value or DEFAULT_BATCH_SIZE))
        except ValueError:
            return DEFAULT_BATCH_SIZE

    @api.model
    def _queue_from_composer(self, composer, segment, partner_ids):
        """Record the campaign ``composer`` sends to ``partner_ids`` of ``segment`` (club managers
        only) and queue it: at once when it fits in one batch, else by the scheduled job."""
        if not self.env.user.has_group("loyalty_club.group_loyalty_club_manager"):
            raise AccessError(self.env._("Only club managers can send SMS campaigns to a segment."))
        segment.check_access("read")
        if not (composer.body or "").strip():
            raise UserError(self.env._("Write the message of the campaign first."))
        recipients = self._one_per_number(partner_ids)
        if not recipients:
            raise UserError(self.env._("The segment %s has no members to write to.", segment.name))
        campaign = self.sudo().create(
            {
                "name": self.env._("%(segment)s, %(date)s", segment=segment.name, date=fields.Date.context_today(self)),
                "club_id": segment.club_id.id,
                "segment_id": segment.id,
                "body": composer.body,
                "keep_log": composer.mass_keep_log,
                "use_blacklist": composer.mass_use_blacklist,
                "member_count": len(recipients),
            }
        )
        self.env.cr.execute(
            """INSERT INTO loyalty_club_sms_campaign_partner_rel (campaign_id, partner_id)
               SELECT %s, unnest(%s::int[])""",
            [campaign.id, recipients],
        )
        campaign.invalidate_recordset(["partner_ids"])
        if len(recipients) <= self._batch_size():
            campaign._process(auto_commit=False)
        else:
            self.env.ref("loyalty_club.ir_cron_loyalty_club_sms_campaigns")._trigger()
        return campaign.sudo(False)

    @api.model
    def _one_per_number(self, partner_ids):
        """``partner_ids`` with one partner per phone number (the lowest id), in id order: Odoo's
        composer skips duplicates within a batch, this keeps them out of the next batches too."""
        self.env.flush_all()
        self.env.cr.execute(
            """SELECT id FROM (SELECT DISTINCT ON (COALESCE(phone_sanitized, id::text)) id
                                 FROM res_partner WHERE id = ANY(%s)
                                ORDER BY COALESCE(phone_sanitized, id::text), id) AS one
                ORDER BY id""",
            [list(partner_ids)],
        )
        return [row[0] for row in self.env.cr.fetchall()]

    def _process(self, auto_commit=False, time_budget=None):
        """Queue this campaign's next batches with Odoo's SMS composer, as the manager who sent it;
        ``auto_commit`` commits each batch (the scheduled job). Stops after ``time_budget`` seconds."""
        self.ensure_one()
        started = fields.Datetime.now()
        batch_size = self._batch_size()
        while self.state == "queued":
            self._process_batch(batch_size)
            # nothing of this batch stays in the cache: memory stays flat over any number of members
            self.env.invalidate_all()
            if auto_commit:
                self.env.cr.commit()  # pylint: disable=invalid-commit
                self.env.ref("sms.ir_cron_sms_scheduler_action")._trigger()
            if time_budget and (fields.Datetime.now() - started).total_seconds() > time_budget:
                break

    def _process_batch(self, batch_size):
        """Queue the SMS of the next ``batch_size`` members (opted-out members since skipped)."""
        self.ensure_one()
        campaign = self.sudo()
        self.env.cr.execute(
            """SELECT r.partner_id, COALESCE(p.loyalty_club_opt_out, FALSE)
                 FROM loyalty_club_sms_campaign_partner_rel r JOIN res_partner p ON p.id = r.partner_id
                WHERE r.campaign_id = %s AND r.partner_id > %s
                ORDER BY r.partner_id LIMIT %s""",
            [campaign.id, campaign.last_partner_id, batch_size],
        )
        rows = self.env.cr.fetchall()
        if not rows:
            campaign.write({"state": "done", "date_done": fields.Datetime.now()})
            return
        partner_ids = [partner_id for partner_id, opted_out in rows if not opted_out]
        queued = 0
        if partner_ids:
            composer = (
                self.env["sms.composer"]
                .with_user(campaign.create_uid)
                .with_company(campaign.company_id)
                .with_context(loyalty_club_campaign_batch=True, lang=campaign.create_uid.lang)
                .create(
                    {
                        "composition_mode": "mass",
                        "res_model": "res.partner",
                        "res_ids": repr(partner_ids),
                        "body": campaign.body,
                        "mass_keep_log": campaign.keep_log,
                        "mass_use_blacklist": campaign.use_blacklist,
                    }
                )
            )
            queued = len(composer._action_send_sms().filtered(lambda sms: sms.state == "outgoing"))
        campaign.write(
            {
                "last_partner_id": rows[-1][0],
                "done_count": campaign.done_count + len(rows),
                "skipped_count": campaign.skipped_count + len(rows) - len(partner_ids),
                "sms_count": campaign.sms_count + queued,
            }
        )
        _logger.info(
            "loyalty_club: SMS campaign %s: %s of %s members queued",
            campaign.id,
            campaign.done_count,
            campaign.member_count,
        )

    def action_cancel(self):
        """Stop the batches not queued yet (the SMS already in Odoo's queue are sent)."""
        for campaign in self:
            if campaign.state != "queued":
                raise UserError(self.env._("Only a campaign still being queued can be cancelled."))
        self.sudo().write({"state": "cancelled"})

    @api.model
    def _cron_process_campaigns(self, time_budget=120):
        """Scheduled job: go on with the oldest campaign being queued for about ``time_budget``
        seconds, committing each batch; Odoo calls again while members remain."""
        campaign = self.sudo().search([("state", "=", "queued")], order="id", limit=1)
        if not campaign:
            self.env["ir.cron"]._notify_progress(done=0, remaining=0)
            return
        before = campaign.done_count
        # Odoo's test runner and pytest-odoo both flag the thread: a test's cursor is never committed
        auto_commit = not getattr(threading.current_thread(), "testing", False)
        try:
            campaign._process(auto_commit=auto_commit, time_budget=time_budget)
        except Exception as error:
            # a batch that fails would fail again at every run: the campaign stops, its reason shown
            _logger.exception("loyalty_club: SMS campaign %s stopped", campaign.id)
            if auto_commit:
                self.env.cr.rollback()
            self.env.invalidate_all()
            campaign.write(
                {
                    "state": "failed",
                    "stop_reason": self.env._(
                        "Stopped after %(done)s of %(total)s members: %(error)s",
                        done=campaign.done_count,
                        total=campaign.member_count,
                        error=error,
                    ),
                }
            )
        queued = self.sudo().search([("state", "=", "queued")])
        self.env["ir.cron"]._notify_progress(
            done=max(0, campaign.done_count - before),
            remaining=sum(max(0, c.member_count - c.done_count) for c in queued),
        )

    def _action_notify_queued(self):
        """The notification shown when the composer closes: queued now, or in the background."""
        self.ensure_one()
        if self.state == "done":
            message = self.env._(
                "%(count)s SMS queued for %(members)s members.", count=self.sms_count, members=self.member_count
            )
        else:
            message = self.env._(
                "The campaign to %(members)s members is being queued in the background, %(batch)s at a time; "
                "follow it in Customer Club → Members → SMS campaigns.",
                members=self.member_count,
                batch=self._batch_size(),
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "title": self.env._("SMS campaign %s", self.name),
                "message": message,
                "next": {"type": "ir.actions.act_window_close"},
            },
        }
