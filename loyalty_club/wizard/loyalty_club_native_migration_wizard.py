import logging
from decimal import ROUND_HALF_UP, Decimal

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..tools import posting_keys
from .loyalty_club_import_runner import IMPORT_CONTEXT, refresh_statistics

_logger = logging.getLogger(__name__)

NATIVE_MEMBER_TYPES = ("loyalty", "ewallet")
NATIVE_TYPES = (*NATIVE_MEMBER_TYPES, "gift_card")
MIGRATION_BATCH_SIZE = 1000


class LoyaltyClubNativeMigrationWizard(models.TransientModel):
    """Move the cards of Odoo's own Loyalty app (module ``loyalty``, when installed) into the club.

    Loyalty cards and eWallets of a customer become the customer's member card (the existing
    active one, or a new one) with an *opening balance* entry: the points of a loyalty card, the
    money of an eWallet at the club's value of a point. Gift cards with a balance become club gift
    cards loaded with it. Each native card moves exactly once (posting keys built on its id), so
    running the migration again changes nothing; the native cards can be archived so they cannot
    be spent twice. The result lines list what moved and what was skipped, and why.
    """

    _name = "loyalty.club.native.migration.wizard"
    _inherit = ["loyalty.club.protected.mixin"]
    _description = "Migrate from Odoo Loyalty"

    club_id = fields.Many2one(
        "loyalty.club", required=True, default=lambda self: self.env.company.root_id._loyalty_club_get()
    )
    company_id = fields.Many2one(related="club_id.company_id")
    native_loyalty_installed = fields.Boolean("Odoo Loyalty installed", compute="_compute_native_loyalty_installed")
    migrate_loyalty = fields.Boolean("Loyalty cards", default=True)
    migrate_ewallet = fields.Boolean("eWallets", default=True)
    migrate_gift_card = fields.Boolean("Gift cards", default=True)
    archive_native = fields.Boolean(
        "Archive the moved Odoo cards",
        default=True,
        help="Archived, they can no longer be used in Sales or the POS, so the same balance cannot be spent twice.",
    )
    state = fields.Selection([("draft", "Draft"), ("done", "Done")], default="draft", required=True, readonly=True)
    line_ids = fields.One2many("loyalty.club.native.migration.line", "wizard_id", "Result", readonly=True)
    moved_card_count = fields.Integer("Member cards moved", readonly=True)
    moved_points = fields.Integer("Points moved", readonly=True)
    moved_gift_card_count = fields.Integer("Gift cards moved", readonly=True)
    already_count = fields.Integer("Already moved", readonly=True)
    skipped_count = fields.Integer("Skipped", readonly=True)

    def _compute_native_loyalty_installed(self):
        for wizard in self:
            wizard.native_loyalty_installed = "loyalty.card" in self.env

    @api.model
    def _open_for_club(self, club):
        """Action opening a migration wizard for ``club``."""
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Migrate from Odoo Loyalty"),
            "context": {"default_club_id": club.id},
        }

    def action_migrate(self):
        """Move the native cards (see the class description) and list the result."""
        self.ensure_one()
        if not self.env.user.has_group("loyalty_club.group_loyalty_club_manager"):
            raise UserError(self.env._("Only club managers can migrate cards."))
        if "loyalty.card" not in self.env:
            raise UserError(self.env._("Odoo's Loyalty app is not installed: there is nothing to migrate."))
        if self.state != "draft":
            raise UserError(self.env._("This migration ran already; open a new one to run it again."))
        types = [
            program_type
            for program_type, wanted in (
                ("loyalty", self.migrate_loyalty),
                ("ewallet", self.migrate_ewallet),
                ("gift_card", self.migrate_gift_card),
            )
            if wanted
        ]
        if not types:
            raise UserError(self.env._("Choose what to migrate: loyalty cards, eWallets or gift cards."))
        programs = self._native_programs(types)
        self._migrate(programs)
        self.sudo().state = "done"
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Migrate from Odoo Loyalty"),
        }

    def _native_programs(self, types):
        """Active programs of Odoo's Loyalty app of ``types`` shared by or belonging to the club's
        company (or its branches)."""
        return (
            self.env["loyalty.program"]
            .sudo()
            .search(
                [
                    ("program_type", "in", list(types)),
                    "|",
                    ("company_id", "=", False),
                    ("company_id", "child_of", self.club_id.company_id.id),
                ]
            )
        )

    def _migrate(self, programs):
        """Move the cards of ``programs`` (``loyalty.program``), batch by batch."""
        self.ensure_one()
        Native = self.env["loyalty.card"].sudo().with_context(active_test=False)
        native_ids = Native.search([("program_id", "in", programs.ids)], order="id").ids
        # Odoo 18's cards can be archived; without the field nothing is archived or skipped for it
        active_field = ["active"] if "active" in Native._fields else []
        programs = {program.id: program for program in programs}
        analyzed_at = None
        for start in range(0, len(native_ids), MIGRATION_BATCH_SIZE):
            batch = Native.browse(native_ids[start : start + MIGRATION_BATCH_SIZE])
            rows = batch.read(["code", "program_id", "partner_id", "points", "expiration_date", *active_field])
            lines = self._migrate_batch(rows, programs)
            self.env["loyalty.club.native.migration.line"].sudo().create(lines)
            self.env.flush_all()
            done = start + len(rows)
            if analyzed_at is None or done >= 2 * analyzed_at:
                # the planner must see the cards and entries this transaction adds (see the import)
                refresh_statistics(self.env.cr, ("loyalty_club_card", "loyalty_club_entry", "loyalty_club_gift_card"))
                analyzed_at = done
            self.env.invalidate_all()
            _logger.info("loyalty_club: native loyalty migration: %s/%s cards", start + len(rows), len(native_ids))
        counts = {"moved_card_count": 0, "moved_points": 0, "moved_gift_card_count": 0}
        for values in self.env["loyalty.club.native.migration.line"].search_read(
            [("wizard_id", "=", self.id)], ["result", "program_type", "points"]
        ):
            if values["result"] == "moved":
                if values["program_type"] == "gift_card":
                    counts["moved_gift_card_count"] += 1
                else:
                    counts["moved_card_count"] += 1
                    counts["moved_points"] += values["points"]
        groups = dict(
            self.env["loyalty.club.native.migration.line"]._read_group(
                [("wizard_id", "=", self.id)], ["result"], ["__count"]
            )
        )
        self.sudo().write(
            {**counts, "already_count": groups.get("already", 0), "skipped_count": groups.get("skipped", 0)}
        )

    def _migrate_batch(self, rows, programs):
        """Result line values of one batch of native cards (``read`` dicts)."""
        member_keys = [posting_keys.native_opening(row["id"]) for row in rows]
        gift_keys = [posting_keys.native_gift_load(row["id"]) for row in rows]
        moved_entries = {
            values["posting_key"]: values
            for values in self.env["loyalty.club.entry"]
            .sudo()
            .search_read([("posting_key", "in", member_keys)], ["posting_key", "card_id", "points"])
        }
        moved_gifts = {
            values["posting_key"]: values
            for values in self.env["loyalty.club.gift.card.entry"]
            .sudo()
            .search_read([("posting_key", "in", gift_keys)], ["posting_key", "gift_card_id", "amount"])
        }
        lines, to_archive, plan = [], [], []
        for row in rows:
            program = programs[row["program_id"][0]]
            line = {
                "wizard_id": self.id,
                "native_card_id": row["id"],
                "native_code": row["code"],
                "native_program": program.name,
                "program_type": program.program_type,
                "partner_id": row["partner_id"][0] if row["partner_id"] else False,
                "native_balance": row["points"],
            }
            lines.append(line)
            gift = program.program_type == "gift_card"
            done = (
                moved_gifts.get(posting_keys.native_gift_load(row["id"]))
                if gift
                else moved_entries.get(posting_keys.native_opening(row["id"]))
            )
            if done:
                line["result"] = "already"
                if gift:
                    line.update(gift_card_id=done["gift_card_id"][0], amount=done["amount"])
                    line["currency_id"] = program.currency_id.id
                else:
                    line.update(card_id=done["card_id"][0], points=done["points"])
                if self._can_archive() and row["active"]:
                    to_archive.append(row["id"])
                continue
            reason = self._skip_reason(row, program)
            if reason:
                line.update(result="skipped", reason=reason)
                continue
            plan.append((row, program, line))
        self._move_cards(plan)
        if self._can_archive():
            to_archive += [line["native_card_id"] for _row, _program, line in plan if line["result"] == "moved"]
        if to_archive:
            self.env["loyalty.card"].sudo().browse(to_archive).write({"active": False})
        return lines

    def _can_archive(self):
        return self.archive_native and "active" in self.env["loyalty.card"]._fields

    def _skip_reason(self, row, program):
        """Why a native card is not moved (translated), or False."""
        if not row.get("active", True):
            return self.env._("Archived in Odoo Loyalty.")
        if program.program_type == "gift_card":
            if program.currency_id.compare_amounts(row["points"], 0) <= 0:
                return self.env._("No balance left.")
            if row["expiration_date"] and row["expiration_date"] < fields.Date.context_today(self):
                return self.env._("Expired on %s.", row["expiration_date"])
            return False
        if not row["partner_id"]:
            return self.env._("No customer on the card: a member card needs one.")
        if row["points"] < 0:
            return self.env._("Negative balance (%s).", row["points"])
        if program.program_type == "ewallet" and self.club_id.point_value <= 0:
            return self.env._("The club gives points no value, so an eWallet cannot become points.")
        return False

    def _move_cards(self, plan):
        """Move the planned native cards at once; if that fails, one by one, so only the failing
        cards are skipped (with the error as the reason)."""
        if not plan:
            return
        snapshots = [dict(line) for _row, _program, line in plan]
        try:
            with self.env.cr.savepoint():
                self._write_moves(plan)
            return
        except Exception:
            _logger.info("loyalty_club: native loyalty migration: a batch failed, retrying card by card")
        self.env.invalidate_all()
        for (row, program, line), snapshot in zip(plan, snapshots, strict=True):
            line.clear()
            line.update(snapshot)
            try:
                with self.env.cr.savepoint():
                    self._write_moves([(row, program, line)])
                continue
            except (UserError, ValidationError) as error:
                reason = str(error.args[0] if error.args else error)
            except Exception:
                _logger.exception("loyalty_club: native loyalty card %s could not be moved", row["id"])
                reason = self.env._("Unexpected error (see the server log).")
            self.env.invalidate_all()
            line.clear()
            line.update(snapshot, result="skipped", reason=reason)

    def _write_moves(self, plan):
        env = self.env(context=dict(self.env.context, **IMPORT_CONTEXT))
        club = self.club_id
        Card = env["loyalty.club.card"]
        Posting = env["loyalty.club.posting"]
        member_plan = [item for item in plan if item[1].program_type in NATIVE_MEMBER_TYPES]
        partner_ids = list({row["partner_id"][0] for row, _program, _line in member_plan})
        cards = {}
        for values in Card.search_read(
            [("club_id", "=", club.id), ("partner_id", "in", partner_ids), ("state", "=", "active")],
            ["partner_id"],
            order="id desc",
        ):
            cards.setdefault(values["partner_id"][0], values["id"])
        touched = Card
        openings = []
        for row, program, line in plan:
            if program.program_type == "gift_card":
                self._move_gift_card(env, row, program, line)
                continue
            points, note = self._club_points(row, program)
            partner_id = row["partner_id"][0]
            card = Card.browse(cards.get(partner_id))
            if not card:
                card = Card.create({"partner_id": partner_id, "club_id": club.id})
                cards[partner_id] = card.id
            elif not points:
                line.update(
                    result="already",
                    card_id=card.id,
                    reason=self.env._("The customer has member card %s already; no points to move.", card.number),
                )
                continue
            if points:
                openings.append(
                    {
                        "card": card,
                        "points": points,
                        "key": posting_keys.native_opening(row["id"]),
                        "origin": env["loyalty.card"].browse(row["id"]),
                        "reason": self.env._(
                            "Opening balance from Odoo Loyalty: %(program)s %(code)s",
                            program=program.name,
                            code=row["code"],
                        ),
                        "branch": club.company_id,
                    }
                )
            touched |= card
            line.update(result="moved", card_id=card.id, points=points, reason=note or False)
        Posting._post_openings(openings)
        if touched:
            env["loyalty.club.import.wizard"]._apply_imported_tiers(
                touched, note=self.env._("Migrated from Odoo Loyalty")
            )

    def _club_points(self, row, program):
        """Whole club points for a native balance, and a note when it had to be converted or rounded."""
        club = self.club_id
        balance = row["points"]
        note = False
        if program.program_type == "ewallet":
            amount = program.currency_id._convert(
                balance, club.currency_id, club.company_id, fields.Date.context_today(self)
            )
            value = Decimal(str(amount)) / Decimal(str(club.point_value))
            points = int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))
            note = self.env._(
                "eWallet of %(amount)s %(currency)s at %(value)s per point.",
                amount=balance,
                currency=program.currency_id.name,
                value=club.point_value,
            )
        else:
            points = int(Decimal(str(balance)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            if points != balance:
                note = self.env._("Rounded from %s points.", balance)
        return points, note

    def _move_gift_card(self, env, row, program, line):
        gift_card = env["loyalty.club.gift.card"].create(
            {
                "club_id": self.club_id.id,
                "currency_id": program.currency_id.id,
                "partner_id": row["partner_id"][0] if row["partner_id"] else False,
                "initial_amount": row["points"],
            }
        )
        entry = env["loyalty.club.posting"]._post_gift_card(
            gift_card,
            row["points"],
            "load",
            posting_keys.native_gift_load(row["id"]),
            origin=env["loyalty.card"].browse(row["id"]),
            reason=self.env._("Moved from Odoo gift card %s", row["code"]),
            branch=self.club_id.company_id,
        )
        line.update(
            result="moved",
            gift_card_id=gift_card.id,
            amount=entry.amount,
            currency_id=gift_card.currency_id.id,
            reason=self.env._(
                "New card %s: New PIN on the card shows its code and a PIN to give the customer.",
                gift_card._masked(),
            ),
        )
