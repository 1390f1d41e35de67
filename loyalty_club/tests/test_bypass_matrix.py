import base64
import inspect

from odoo import Command, fields
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from .test_access_matrix import MATRIX

MAGIC = {"id", "display_name", "create_uid", "create_date", "write_uid", "write_date"}
ROLES = ("cashier", "salesman", "billing", "club_user", "club_manager", "other_company", "portal", "admin")

# Every field the addon defines, per model (its own models, and the loyalty_ fields of Odoo's):
#   server  decided by the server (a PIN check, a computation, a state machine, the posting
#           service): refused on create and on write for every role, whatever the context sent
#   create  given when the record is created (the card of a wizard whose PIN is checked, the
#           invoice it pays), refused on write for every role
#   input   typed by a user with the model's rights (and checked by the server where it matters)
# SQL views ("report") are written by no role at all. A field without its line fails
# test_every_field_and_method_has_a_line.
FIELDS = {
    "loyalty.club": {
        "server": "has_legacy_numbers barcode_rule_id currency_id card_count ledger_audit_date ledger_audit_result "
        "pos_points_ready points_accounting_start points_booked_until",
        "input": "name active company_id earn_amount earn_points earn_rounding earn_on_tax_included "
        "earn_excluded_categ_ids negative_balance_policy redeem_min_points redeem_pin_required reward_product_id "
        "reward_ids tier_discount_mode point_value expiry_months pin_length pin_max_attempts pin_lock_minutes "
        "card_prefix phone_country_id customer_persian_digits tier_ids tier_metric tier_weight_points "
        "tier_weight_amount "
        "tier_weight_purchases tier_weight_referrals tier_window tier_window_months tier_grace_days discount_stacking "
        "discount_stacking_max bonus_rule_ids notify_channel notify_welcome notify_earned notify_tier "
        "notify_expiring notify_expiring_days notify_birthday notify_cap_per_week gift_card_validity_months "
        "gift_card_min_validity_months gift_card_product_id gift_card_account_id gift_card_journal_id "
        "earn_on_points_paid pending_days pos_hold_hours review_user_id rfm_window_days points_accounting "
        "points_journal_id points_liability_account_id points_revenue_account_id points_redemption_account_id "
        "points_expense_account_id points_opening_account_id points_accounting_value points_breakage "
        "points_accounting_grouping",
    },
    "loyalty.club.tier": {
        "server": "company_id card_count club_tier_metric threshold_display",
        "input": "name sequence color active club_id threshold earn_multiplier discount_percent",
    },
    "loyalty.club.card": {
        "server": "balance state pin_set pin_failed_attempts pin_locked pin_locked_until tier_id tier_since "
        "tier_grace_until replaced_by_id replaces_id company_id currency_id partner_phone_sanitized "
        "partner_email balance_value entry_ids entry_count tier_history_ids tier_metric_value next_tier_id "
        "next_tier_missing club_tier_metric tier_progress qr_code barcode_image points_held points_available "
        "points_pending hold_ids "
        "rfm_recency_days rfm_frequency rfm_monetary rfm_r rfm_f rfm_m rfm_group rfm_date",
        "create": "number legacy_number",
        # a member or club with ledger entries, and a recorded referrer, cannot change (write checks)
        "input": "club_id partner_id date_issued date_expiry referred_by_card_id",
    },
    "loyalty.club.entry": {
        "server": "card_id partner_id club_id company_id branch_id pos_config_id currency_id kind points "
        "points_remaining expiry_date date posting_key origin_model origin_id origin_reference reason reason_note "
        "reversed_entry_id lot_id amount purchase_count qualifying user_id chain_digest pending_until points_returned "
        "accounting_batch_ids",
    },
    "loyalty.club.lot.consumption": {"server": "debit_entry_id lot_id company_id points points_returned"},
    "loyalty.club.hold": {
        "server": "card_id gift_card_id company_id pos_config_id pos_session_id user_id order_uuid payment_uuid points "
        "amount currency_id payment_amount payment_currency_id state date_expiry date_done pos_order_id",
    },
    "loyalty.club.till.token": {
        "server": "token_hash card_model card_res_id pos_config_id company_id user_id order_uuid pin_fingerprint date "
        "date_used",
    },
    "loyalty.club.tier.history": {
        "server": "card_id partner_id company_id date old_tier_id new_tier_id reason note user_id",
    },
    "loyalty.club.qualifying.total": {
        "server": "card_id partner_id club_id company_id currency_id day points amount purchase_count",
    },
    "loyalty.club.reward": {
        "server": "company_id currency_id",
        "input": "name sequence active club_id reward_type points_cost discount_percent credit_amount product_id "
        "tier_ids",
    },
    "loyalty.club.discount.window": {
        "server": "company_id currency_id is_active_now",
        "input": "name active sequence color club_id discount_percent max_discount_amount product_category_ids "
        "date_from date_to mon tue wed thu fri sat sun hour_from hour_to tz branch_ids use_in_pos pos_config_ids "
        "use_in_sales team_ids tier_ids partner_category_ids",
    },
    "loyalty.club.discount.window.report": "report",
    "loyalty.club.adjust.wizard": {
        "server": "balance new_balance",
        "create": "card_id",
        "input": "delta reason",
    },
    "loyalty.club.card.replace.wizard": {
        "server": "partner_id balance",
        "create": "card_id",
        "input": "new_number",
    },
    "loyalty.club.pin.wizard": {
        "server": "pin_length pin_done",
        "create": "card_id",
        # the PIN is hashed onto the card by the inverse, with the card's access rights
        "input": "pin pin_confirm",
    },
    "loyalty.club.redeem.wizard": {
        "server": "club_id balance available_points points_cost pin_required pin_verified",
        "create": "order_id card_id",
        "input": "reward_id pin",
    },
    "loyalty.club.gift.card": {
        "server": "balance state pin_set pin_failed_attempts pin_locked pin_locked_until code_display code_masked "
        "company_id date_issued entry_ids qr_code amount_held balance_available",
        "create": "code",
        # club and currency cannot change once the card has entries (write checks)
        "input": "club_id currency_id partner_id date_expiry initial_amount",
    },
    "loyalty.club.gift.card.entry": {
        "server": "gift_card_id company_id branch_id pos_config_id currency_id kind amount balance_after date "
        "posting_key origin_model origin_id origin_reference reason reversed_entry_id user_id chain_digest",
    },
    "loyalty.club.gift.card.issue.wizard": {
        "server": "state line_ids csv_file csv_filename company_id",
        "input": "club_id currency_id count amount activate partner_id date_expiry",
    },
    "loyalty.club.gift.card.issue.line": {
        "server": "gift_card_id code pin",
        "input": "wizard_id",
    },
    "loyalty.club.gift.card.payment.wizard": {
        "server": "gift_card_id balance company_id currency_id card_currency_id",
        "create": "move_id",
        "input": "code pin amount",
    },
    "loyalty.club.gift.card.refund.wizard": {
        "server": "company_id currency_id allowed_gift_card_ids refundable",
        "create": "move_id",
        # must be a card that paid the credited invoice, at most what it paid (action_refund checks)
        "input": "gift_card_id amount",
    },
    "loyalty.club.gift.card.reveal.wizard": {
        "server": "revealed code",
        "create": "gift_card_id",
        "input": "reason",
    },
    "loyalty.club.activity.report": "report",
    "loyalty.club.liability.report": "report",
    "loyalty.club.accounting.batch": {
        "server": "club_id company_id branch_id currency_id date kind origin_model origin_id move_id entry_ids "
        "entry_count points outstanding_points point_value breakage amount balance",
    },
    "loyalty.club.member.report": "report",
    "loyalty.club.kpi.report": "report",
    "loyalty.club.liability.wizard": {"server": "line_ids", "input": "date company_ids"},
    "loyalty.club.liability.line": {
        "server": "source company_id branch_id currency_id points value booked expected account_balance difference",
        "input": "wizard_id",
    },
    "loyalty.club.bonus.rule": {
        "server": "company_id currency_id",
        "input": "name sequence active club_id kind points referred_points mission_purchases mission_amount "
        "mission_period nth birthday_guard_days",
    },
    "loyalty.club.notification": {
        "server": "key date club_id company_id partner_id card_id entry_id kind state mail_id sms_id sms_state "
        "sms_segments",
    },
    "loyalty.club.segment": {
        "server": "company_id currency_id member_count sms_campaign_ids sms_campaign_count",
        "input": "name active club_id tier_ids age_min age_max gender spend_min spend_max last_purchase_from "
        "last_purchase_to product_ids categ_ids branch_ids rfm_group",
    },
    "loyalty.club.sms.campaign": {
        "server": "name club_id company_id segment_id body keep_log use_blacklist state partner_ids member_count "
        "done_count sms_count skipped_count last_partner_id progress date_done stop_reason",
    },
    "loyalty.club.attempt": {"server": "date channel ip user_id pos_session_id code_hash"},
    "loyalty.club.pin.check": {"server": "date user_id card_model card_id res_model res_id"},
    "loyalty.club.phone.verification": {
        "server": "user_id partner_id phone purpose target_field state expires_at tries code_hash sms_id",
    },
    "loyalty.club.import.wizard": {
        "server": "company_id file_checksum header_json state native_loyalty_installed row_count rows_done "
        "progress error_count warning_count new_partner_count matched_partner_count new_card_count "
        "existing_card_count opening_count opening_points unchanged_count stop_reason line_ids error_report "
        "error_report_name template_file template_name",
        "input": "club_id import_file filename keep_legacy_numbers batch_size",
    },
    "loyalty.club.import.line": {
        "server": "line_number column severity message value row_values",
        "input": "wizard_id",
    },
    "loyalty.club.native.migration.wizard": {
        "server": "company_id native_loyalty_installed state line_ids moved_card_count moved_points "
        "moved_gift_card_count already_count skipped_count",
        "input": "club_id migrate_loyalty migrate_ewallet migrate_gift_card archive_native",
    },
    "loyalty.club.native.migration.line": {
        "server": "native_card_id native_code native_program program_type partner_id native_balance card_id "
        "gift_card_id points currency_id amount result reason",
        "input": "wizard_id",
    },
    "loyalty.club.coalition.partner": {
        "server": "name company_id currency_id transaction_ids transaction_count settlement_ids settlement_count",
        # the club cannot change once the partner has transactions (write checks); users must be
        # portal users of the business (constraint)
        "input": "active club_id partner_id point_rate allow_earning earn_amount earn_points user_ids account_id",
    },
    "loyalty.club.coalition.transaction": {
        "server": "coalition_partner_id club_id company_id currency_id card_id member_id kind points "
        "purchase_amount value user_id date request_uuid entry_id settlement_id",
    },
    "loyalty.club.coalition.settlement": {
        "server": "name coalition_partner_id partner_id club_id company_id currency_id date_from date_to "
        "transaction_ids points_redeemed points_earned amount_redeemed amount_earned amount_net move_id state",
    },
    # Odoo's models: the club's fields on them
    "sale.order": {
        "server": "loyalty_confirmations loyalty_shortfall loyalty_tier_id loyalty_balance loyalty_points_estimate "
        "loyalty_points_net loyalty_points_reserved loyalty_tier_discount_note commercial_partner_id "
        "loyalty_points_kept loyalty_has_discount",
        # a card of the order's customer, never another card under reward lines (constraint)
        "input": "loyalty_card_id",
    },
    "sale.order.line": {
        "server": "loyalty_gift_card_ids loyalty_points loyalty_points_reversed loyalty_reward_id "
        "loyalty_reward_points loyalty_reward_card_id loyalty_tier_discount_line loyalty_member_discount "
        "loyalty_discount_window_id loyalty_window_percent loyalty_window_discount_amount loyalty_is_gift_card "
        "loyalty_earning_base",
        # the code of a pre-printed card to load, checked at confirmation
        "input": "loyalty_gift_card_code",
    },
    "res.partner": {
        "server": "loyalty_birthday_changed_on loyalty_club_card_count loyalty_balance loyalty_segment_ids "
        "loyalty_club_partner_count",
        # cards are written through their own model (its protections apply)
        "input": "loyalty_card_ids loyalty_birthday loyalty_gender loyalty_club_opt_out",
    },
    "product.template": {"input": "loyalty_club_no_earn loyalty_gift_card"},
    "pos.payment.method": {"input": "loyalty_club_points loyalty_gift_card"},
    "barcode.rule": {"input": "type"},
    "pos.order": {
        "server": "loyalty_card_id loyalty_card_display loyalty_tier_name loyalty_points_earned "
        "loyalty_points_redeemed loyalty_points_returned loyalty_points_reversed loyalty_shortfall "
        "loyalty_balance_after loyalty_review_state loyalty_review_reason loyalty_review_booked "
        "loyalty_club_client_data",
    },
    "account.move": {"server": "loyalty_post_count"},
    "sale.order.cancel": {"server": "loyalty_points_kept_alert"},
    "pos.order.line": {
        "server": "loyalty_points loyalty_points_reversed loyalty_member_discount loyalty_discount_window_id "
        "loyalty_discount_window_name loyalty_window_discount_amount loyalty_gift_card_ids "
        "loyalty_gift_card_codes",
    },
    # the gateway's answers and delivery reports (issue 21); failure_type is Odoo's field, written by
    # Odoo's own screens (Retry, Cancel): the addon only adds the delivery failure codes to it
    "sms.sms": {
        "server": "loyalty_gateway loyalty_gateway_ref loyalty_gateway_status loyalty_sms_segments",
        "input": "failure_type",
    },
    # system parameters: the settings are for system administrators only (model rights)
    "res.config.settings": {
        "input": "loyalty_sms_provider loyalty_sms_kavenegar_api_key loyalty_sms_kavenegar_sender "
        "loyalty_sms_smsir_api_key loyalty_sms_smsir_sender loyalty_sms_rate loyalty_sms_callback_token "
        "loyalty_sms_test_number",
    },
    "pos.payment": {
        "server": "loyalty_gift_card_id loyalty_gift_card_display loyalty_gift_card_balance loyalty_gift_card_new_code",
    },
}

# Every public method the addon defines (ORM overrides aside: create, write, unlink, copy_data,
# default_get and init are covered by the field lines and the access matrix), with the roles that
# may move points, money, a PIN or a card through it when they call it on another customer's
# records or on a wizard they filled with forged values (no PIN typed):
#   -        nobody (an action window, a report, a lookup, or refused without the holder's secret)
#   roles    those roles (the business operation itself, e.g. a manager blocking a card)
METHODS = {
    # a credit note reset to draft gives back what it took back: the billing users' business
    "account.move": {
        "action_loyalty_pay_with_gift_card": "-",
        "action_loyalty_refund_to_gift_card": "-",
        "button_draft": "billing admin",
    },
    # booking a flagged order's club part after a review: the club managers' decision
    "pos.order": {
        "action_loyalty_club_book": "club_manager",
        "action_loyalty_club_dismiss": "-",
        "action_pos_order_cancel": "-",
    },
    "loyalty.club": {
        "action_setup_pos_payment_method": "-",
        "action_setup_gift_cards": "-",
        "action_setup_points_accounting": "-",
        "action_compute_breakage": "-",
        "action_open_points_batches": "-",
        "action_audit_ledgers": "-",
        "action_open_cards": "-",
    },
    "loyalty.club.card": {
        "action_block": "club_user club_manager",
        "action_unblock": "club_user club_manager",
        "action_unlock_pin": "-",  # failures and lock only (managers); the PIN itself never changes
        "action_open_replace_wizard": "-",
        "action_open_adjust_wizard": "-",
        "action_open_pin_wizard": "-",
        "action_audit_chain": "-",
        "action_view_entries": "-",
    },
    "loyalty.club.gift.card": {
        "action_block": "club_user club_manager",
        "action_unblock": "club_user club_manager",
        "action_unlock_pin": "-",
        "action_new_pin": "club_manager",  # a card with a PIN: managers only (it shows the code again)
        "action_reveal_code": "-",
        "action_audit_chain": "-",
        "action_view_entries": "-",
    },
    "loyalty.club.segment": {
        "action_view_members": "-",
        "action_send_mail": "-",
        "action_send_sms": "-",
        "action_view_sms_campaigns": "-",
    },
    # stopping the batches of a campaign not queued yet: nothing of the club moves
    "loyalty.club.sms.campaign": {"action_cancel": "-"},
    # a segment's campaign is queued by batches (club managers); nothing of the club moves
    "sms.composer": {"action_send_sms": "-"},
    "pos.config": {
        "loyalty_club_find_card": "-",
        "loyalty_club_verify_pin": "-",
        "loyalty_club_discount_windows": "-",
        "loyalty_gift_card_find": "-",
        "loyalty_gift_card_verify_pin": "-",
        # holds need the token of a PIN check for that order; releasing one moves nothing booked
        "loyalty_club_hold_points": "-",
        "loyalty_gift_card_hold": "-",
        "loyalty_club_release_holds": "-",
        "get_limited_partners_loading": "-",
    },
    "res.partner": {"action_view_loyalty_club_cards": "-", "action_view_loyalty_club_partner": "-"},
    # settling a month with a partner makes a draft bill or invoice: no points nor money move
    "loyalty.club.coalition.partner": {
        "action_view_transactions": "-",
        "action_view_settlements": "-",
        "action_settle_last_month": "-",
    },
    "loyalty.club.coalition.settlement": {"action_view_move": "-"},
    # confirming a quotation earns its customer's points and spends its reward lines' points, which
    # were reserved with the member's PIN: the salesmen's business (they have the rights on orders)
    "sale.order": {
        "action_confirm": "salesman club_manager",
        "action_loyalty_use_points": "-",
        "action_view_gift_cards": "-",
    },
    # Odoo's SMS queue, sent per batch through the chosen gateway: nothing of the club moves
    "sms.sms": {"send": "-"},
    # a test SMS and the gateway's credit: administrators only, nothing of the club moves
    "res.config.settings": {"action_loyalty_sms_test": "-", "action_loyalty_sms_credit": "-", "get_values": "-"},
    "loyalty.club.adjust.wizard": {"action_apply": "club_manager"},
    # replacing a card moves its points to the member's new card: club staff's business
    "loyalty.club.card.replace.wizard": {"action_replace": "club_user club_manager"},
    # issuing (loaded) gift cards: managers
    "loyalty.club.gift.card.issue.wizard": {"action_issue": "club_manager", "action_print": "-", "action_done": "-"},
    "loyalty.club.gift.card.payment.wizard": {"action_pay": "-"},
    "loyalty.club.gift.card.refund.wizard": {"action_refund": "-"},
    "loyalty.club.gift.card.reveal.wizard": {"action_reveal": "-", "action_print": "-"},
    "loyalty.club.import.wizard": {
        "action_check": "-",
        "action_import": "-",
        "action_refresh": "-",
        "action_restart": "-",
        "action_discard": "-",
        "action_download_csv_template": "-",
        "action_download_xlsx_template": "-",
        "action_open_native_migration": "-",
    },
    "loyalty.club.liability.wizard": {"action_compute": "-"},
    "loyalty.club.accounting.batch": {"action_view_entries": "-"},
    "loyalty.club.native.migration.wizard": {"action_migrate": "-"},
    "loyalty.club.pin.wizard": {"action_set_pin": "-"},
    "loyalty.club.redeem.wizard": {"action_apply": "-"},
}
ORM_METHODS = {"create", "write", "unlink", "copy", "copy_data", "default_get", "init"}
# Arguments of the methods that take some (forged: another customer's card, a wrong PIN).
ARGS = {
    "loyalty_club_find_card": lambda case: [case.victim_card.number],
    "loyalty_club_verify_pin": lambda case: [case.victim_card.id, "0000"],
    "loyalty_gift_card_find": lambda case: [case.victim_gift.sudo().code],
    "loyalty_gift_card_verify_pin": lambda case: [case.victim_gift.id, "000000"],
    "loyalty_club_hold_points": lambda case: [case.victim_card.id, 10, "bp-order", "bp-payment", "forged-token"],
    "loyalty_gift_card_hold": lambda case: [case.victim_gift.id, 10.0, "bp-order", "bp-payment", "forged-token"],
    "loyalty_club_release_holds": lambda case: [["bp-victim-payment"]],
}
SNAPSHOT = """
    SELECT (SELECT count(*) || ':' || COALESCE(SUM(points), 0) FROM loyalty_club_entry),
           (SELECT count(*) || ':' || COALESCE(SUM(amount), 0) FROM loyalty_club_gift_card_entry),
           (SELECT md5(string_agg(concat_ws(',', id, balance, state, pin_hash, pin_set, partner_id, club_id,
                                            number, tier_id, replaced_by_id), ';' ORDER BY id))
              FROM loyalty_club_card),
           (SELECT md5(string_agg(concat_ws(',', id, balance, state, pin_hash, pin_set, partner_id, code,
                                            date_expiry), ';' ORDER BY id))
              FROM loyalty_club_gift_card),
           (SELECT count(*) FROM account_payment)
"""


@tagged("post_install", "-at_install")
class TestBypassMatrix(TransactionCase):
    """Issue 20: every role against every field and public method of the addon, the way a JSON-RPC
    client reaches them (create, write, method calls; context is the caller's to forge, so none is
    trusted): no role sets what the server decides, and nothing moves points, money, a PIN or a
    card unless the role's business is that very operation."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        env = cls.env
        env["ir.config_parameter"].sudo().set_param("loyalty_club.pin_hash_rounds", 10_000)
        cls.company = env["res.company"].create({"name": "Bypass Chain", "country_id": env.ref("base.ir").id})
        cls.company2 = env["res.company"].create({"name": "Bypass Other Chain"})
        cls.club = env["loyalty.club"].create(
            {"name": "Bypass Club", "company_id": cls.company.id, "redeem_pin_required": True}
        )
        env["account.chart.template"].try_loading("generic_coa", cls.company, install_demo=False)
        cls.gift_method = cls.club._setup_gift_cards()

        def user(login, groups, company=cls.company):
            return new_test_user(env, login, groups=groups, company_id=company.id, company_ids=[company.id])

        cls.users = {
            "cashier": user("bp_cashier", "base.group_user,point_of_sale.group_pos_user"),
            "salesman": user("bp_salesman", "base.group_user,sales_team.group_sale_salesman_all_leads"),
            "billing": user("bp_billing", "base.group_user,account.group_account_invoice"),
            "club_user": user("bp_club_user", "loyalty_club.group_loyalty_club_user"),
            "club_manager": user("bp_club_manager", "loyalty_club.group_loyalty_club_manager"),
            "other_company": user("bp_other", "loyalty_club.group_loyalty_club_manager", cls.company2),
            "portal": user("bp_portal", "base.group_portal"),
            "admin": user("bp_admin", "base.group_user,base.group_system"),
        }
        cls.victim = env["res.partner"].create({"name": "Bypass Victim", "phone": "+98 912 300 4000"})
        cls.victim_card = env["loyalty.club.card"].create({"partner_id": cls.victim.id, "club_id": cls.club.id})
        cls.victim_card._set_pin("2580")
        Posting = env["loyalty.club.posting"]
        Posting._post(cls.victim_card, 800, "earn", "bypass:victim:earn", branch=cls.company)
        cls.victim_gift = env["loyalty.club.gift.card"].create({"club_id": cls.club.id, "partner_id": cls.victim.id})
        cls.victim_gift._set_pin("258025")
        Posting._post_gift_card(cls.victim_gift, 90.0, "load", "bypass:victim:gift", branch=cls.company)
        cls.product = env["product.product"].create({"name": "Bypass shirt", "lst_price": 40.0, "taxes_id": False})
        cls.reward = env["loyalty.club.reward"].create(
            {"name": "Bypass 10 %", "club_id": cls.club.id, "points_cost": 100, "discount_percent": 10}
        )
        cls.order = (
            env["sale.order"]
            .with_company(cls.company)
            .create(
                {
                    "partner_id": cls.victim.id,
                    "company_id": cls.company.id,
                    "order_line": [Command.create({"product_id": cls.product.id, "product_uom_qty": 3})],
                }
            )
        )
        cls.invoice = (
            env["account.move"]
            .with_company(cls.company)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": cls.victim.id,
                    "invoice_line_ids": [Command.create({"product_id": cls.product.id, "price_unit": 40.0})],
                }
            )
        )
        cls.invoice.action_post()
        config = (
            env["pos.config"]
            .with_company(cls.company)
            .create({"name": "Bypass shop", "company_id": cls.company.id, "payment_method_ids": [(5, 0, 0)]})
        )
        cls.config = config
        session = env["pos.session"].with_company(cls.company).create({"config_id": config.id})
        cls.pos_order = (
            env["pos.order"]
            .with_company(cls.company)
            .create(
                {
                    "session_id": session.id,
                    "company_id": cls.company.id,
                    "amount_tax": 0.0,
                    "amount_total": 40.0,
                    "amount_paid": 0.0,
                    "amount_return": 0.0,
                    "lines": [
                        Command.create(
                            {
                                "product_id": cls.product.id,
                                "qty": 1,
                                "price_unit": 40.0,
                                "price_subtotal": 40.0,
                                "price_subtotal_incl": 40.0,
                            }
                        )
                    ],
                }
            )
        )
        # a redemption (a lot consumption), a PIN token and a hold of the victim's card at the till
        Posting._post(cls.victim_card, -10, "redeem", "bypass:victim:redeem", branch=cls.company)
        env["loyalty.club.till.token"]._issue(config, cls.victim_card, "bp-victim-order")
        cls.victim_hold = env["loyalty.club.hold"]._make(
            config,
            cls.victim_card,
            "bp-victim-order",
            "bp-victim-payment",
            points=20,
            amount=0.0,
            currency=cls.company.currency_id,
        )
        cls.records = cls._victim_records()
        currency = cls.company.currency_id.id
        cls.parents = {
            "loyalty.club.gift.card.issue.wizard": env["loyalty.club.gift.card.issue.wizard"].create(
                {"club_id": cls.club.id, "count": 1, "amount": 0.0, "currency_id": currency}
            ),
            "loyalty.club.liability.wizard": env["loyalty.club.liability.wizard"].create({}),
            "loyalty.club.import.wizard": env["loyalty.club.import.wizard"].create({"club_id": cls.club.id}),
            "loyalty.club.native.migration.wizard": env["loyalty.club.native.migration.wizard"].create(
                {"club_id": cls.club.id}
            ),
        }

    @classmethod
    def _victim_records(cls):
        """The record of each model a role attacks: another customer's, or the company's."""
        env = cls.env
        card = cls.victim_card
        history = env["loyalty.club.tier.history"].sudo().search([("card_id", "=", card.id)], limit=1)
        if not history:
            tier = env["loyalty.club.tier"].create({"name": "Bypass Gold", "club_id": cls.club.id, "threshold": 1})
            card._change_tier(tier, "upgrade")
        coalition = env["loyalty.club.coalition.partner"].create(
            {
                "club_id": cls.club.id,
                "partner_id": env["res.partner"].create({"name": "Bypass Restaurant", "is_company": True}).id,
                "point_rate": 0.5,
            }
        )
        transaction = env["loyalty.club.coalition.transaction"]._book(
            coalition, card, "redeem", 10, 50.0, "bypass-partner-redeem-0001"
        )
        month = fields.Date.today().replace(day=1)
        settlement = env["loyalty.club.coalition.settlement"].create(
            {
                "name": "Bypass settlement",
                "coalition_partner_id": coalition.id,
                "partner_id": coalition.partner_id.id,
                "club_id": cls.club.id,
                "company_id": cls.company.id,
                "date_from": month,
                "date_to": month,
            }
        )
        return {
            "loyalty.club.coalition.partner": coalition,
            "loyalty.club.coalition.transaction": transaction,
            "loyalty.club.coalition.settlement": settlement,
            "loyalty.club": cls.club,
            "loyalty.club.tier": env["loyalty.club.tier"].search([("club_id", "=", cls.club.id)], limit=1),
            "loyalty.club.card": card,
            "loyalty.club.entry": card.entry_ids[:1],
            "loyalty.club.tier.history": env["loyalty.club.tier.history"].search([("card_id", "=", card.id)], limit=1),
            "loyalty.club.qualifying.total": env["loyalty.club.qualifying.total"].search(
                [("card_id", "=", card.id)], limit=1
            ),
            "loyalty.club.reward": cls.reward,
            "loyalty.club.discount.window": env["loyalty.club.discount.window"].create(
                {"name": "Bypass window", "club_id": cls.club.id, "discount_percent": 5}
            ),
            "loyalty.club.gift.card": cls.victim_gift,
            "loyalty.club.gift.card.entry": cls.victim_gift.entry_ids[:1],
            "loyalty.club.bonus.rule": env["loyalty.club.bonus.rule"].create(
                {"name": "Bypass visit", "club_id": cls.club.id, "kind": "visit", "points": 5}
            ),
            "loyalty.club.segment": env["loyalty.club.segment"].create({"name": "Bypass", "club_id": cls.club.id}),
            "loyalty.club.sms.campaign": env["loyalty.club.sms.campaign"].create(
                {"name": "Bypass campaign", "club_id": cls.club.id, "body": "Bypass"}
            ),
            "loyalty.club.notification": env["loyalty.club.notification"].create(
                {
                    "key": "bypass:note",
                    "club_id": cls.club.id,
                    "company_id": cls.company.id,
                    "partner_id": cls.victim.id,
                    "card_id": card.id,
                    "kind": "welcome",
                }
            ),
            "loyalty.club.attempt": env["loyalty.club.attempt"].create({"channel": "backoffice"}),
            "loyalty.club.pin.check": env["loyalty.club.pin.check"]._record(card, cls.order),
            "loyalty.club.phone.verification": env["loyalty.club.phone.verification"].create(
                {
                    "user_id": cls.users["portal"].id,
                    "partner_id": cls.victim.id,
                    "phone": "+989123004000",
                    "purpose": "phone",
                    "expires_at": fields.Datetime.now(),
                }
            ),
            "sale.order": cls.order,
            "sms.sms": env["sms.sms"].create({"number": "+989123004000", "body": "Bypass SMS"}),
            "sale.order.line": cls.order.order_line[:1],
            "account.move": cls.invoice,
            "res.partner": cls.victim,
            "product.template": cls.product.product_tmpl_id,
            "pos.payment.method": cls.gift_method,
            "barcode.rule": cls.club.barcode_rule_id,
            "pos.config": cls.config,
            "pos.order": cls.pos_order,
            "pos.order.line": cls.pos_order.lines[:1],
            "pos.payment": env["pos.payment"],
            "loyalty.club.lot.consumption": env["loyalty.club.lot.consumption"].search(
                [("lot_id.card_id", "=", card.id)], limit=1
            ),
            "loyalty.club.hold": cls.victim_hold,
            "loyalty.club.till.token": env["loyalty.club.till.token"].search([], limit=1),
        }

    def _wizard_values(self):
        """What a role fills a wizard with to attack another customer (no PIN typed)."""
        return {
            "loyalty.club.adjust.wizard": {"card_id": self.victim_card.id, "delta": 1000, "reason": "forged"},
            "loyalty.club.card.replace.wizard": {"card_id": self.victim_card.id},
            "loyalty.club.pin.wizard": {"card_id": self.victim_card.id},
            "loyalty.club.redeem.wizard": {
                "order_id": self.order.id,
                "card_id": self.victim_card.id,
                "reward_id": self.reward.id,
            },
            "loyalty.club.gift.card.issue.wizard": {
                "club_id": self.club.id,
                "count": 1,
                "amount": 10.0,
                "activate": True,
                "currency_id": self.company.currency_id.id,
            },
            "loyalty.club.gift.card.issue.line": {"wizard_id": self._parent("loyalty.club.gift.card.issue.wizard")},
            "loyalty.club.gift.card.payment.wizard": {
                "move_id": self.invoice.id,
                "code": self.victim_gift.sudo().code,
                "amount": 10.0,
            },
            "loyalty.club.gift.card.refund.wizard": {
                "move_id": self.invoice.id,
                "gift_card_id": self.victim_gift.id,
                "amount": 10.0,
            },
            "loyalty.club.gift.card.reveal.wizard": {"gift_card_id": self.victim_gift.id, "reason": "forged"},
            "loyalty.club.liability.wizard": {},
            "loyalty.club.liability.line": {"wizard_id": self._parent("loyalty.club.liability.wizard")},
            "loyalty.club.import.wizard": {"club_id": self.club.id},
            "loyalty.club.import.line": {
                "wizard_id": self._parent("loyalty.club.import.wizard"),
                "line_number": 1,
                "severity": "error",
                "message": "forged",
            },
            "loyalty.club.native.migration.wizard": {"club_id": self.club.id},
            "loyalty.club.native.migration.line": {
                "wizard_id": self._parent("loyalty.club.native.migration.wizard"),
                "result": "skipped",
            },
        }

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------
    def _parent(self, model):
        """A wizard of ``model`` (made by the server) that a line under attack belongs to."""
        return self.parents[model].id

    @staticmethod
    def _own_fields(model):
        """The fields the addon defines on ``model`` (not those it gets through ``_inherits``)."""
        return {
            name
            for name, field in model._fields.items()
            if "loyalty_club" in (field._modules or ()) and not field.inherited
        }

    @staticmethod
    def _own_methods(model):
        names = set()
        for cls in type(model).__mro__:
            if not cls.__module__.startswith("odoo.addons.loyalty_club."):
                continue
            for name, value in vars(cls).items():
                if not name.startswith("_") and inspect.isfunction(value) and name not in ORM_METHODS:
                    names.add(name)
        return names

    def _models(self):
        """Models with a field or a public method of the addon."""
        result = {}
        for name in self.env.registry:
            model = self.env[name]
            if model._abstract:
                continue
            fields_ = self._own_fields(model) - MAGIC
            methods = self._own_methods(model)
            if fields_ or methods:
                result[name] = (fields_, methods)
        return result

    def _lines(self, model):
        line = FIELDS.get(model, {})
        if line == "report":
            return {}
        return {name: kind for kind, names in line.items() for name in names.split()}

    def _forged(self, model, name):
        field = model._fields[name]
        if field.type == "many2one":
            comodel = self.env[field.comodel_name].sudo()
            return (comodel.search([], limit=1, order="id desc") or comodel.browse(1)).id
        if field.type == "one2many":
            return [Command.clear()]
        if field.type == "many2many":
            comodel = self.env[field.comodel_name].sudo()
            return [Command.set(comodel.search([], limit=1).ids)]
        if field.type in ("integer", "many2one_reference"):
            return 424242
        if field.type in ("float", "monetary"):
            return 4242.42
        if field.type == "boolean":
            return True
        if field.type == "date":
            return "2031-01-01"
        if field.type == "datetime":
            return "2031-01-01 00:00:00"
        if field.type == "selection":
            values = field._description_selection(self.env)
            return values[-1][0] if values else False
        if field.type == "binary":
            return base64.b64encode(b"forged")
        if field.type == "reference":
            return f"res.partner,{self.victim.id}"
        return "forged"

    @staticmethod
    def _carries(record, name, forged):
        """Whether ``record`` was given the ``forged`` value of ``name`` (the till's models drop it)."""
        value = record[name]
        field = record._fields[name]
        if field.type == "many2one":
            return value.id == forged
        if field.type in ("one2many", "many2many"):
            return bool(value)
        if field.type in ("date", "datetime"):
            return bool(value) and str(value).startswith(forged[:10])
        if field.type == "binary":
            return bool(value)
        return value == forged

    def _snapshot(self):
        self.env.flush_all()
        self.env.cr.execute(SNAPSHOT)
        return self.env.cr.fetchone()

    def _target(self, model, user):
        """The record ``user`` attacks: the victim record, or a wizard filled with forged values."""
        Model = self.env[model]
        if Model._transient:
            values = self._wizard_values().get(model)
            if values is None:
                return None
            try:
                with self.env.cr.savepoint():
                    return Model.with_user(user).create(values)
            except Exception:  # refused
                # the role may not create it: attack one it got another way (created in sudo, as itself)
                try:
                    with self.env.cr.savepoint():
                        return Model.with_user(user).sudo().create(values).sudo(False)
                except Exception:  # not creatable with these values even so: nothing to attack
                    return None
        record = self.records.get(model)
        return record.with_user(user) if record else None

    # ------------------------------------------------------------------
    # Tests
    # ------------------------------------------------------------------
    def test_every_field_and_method_has_a_line(self):
        missing_fields, missing_methods, stale = {}, {}, []
        for model, (fields_, methods) in self._models().items():
            if FIELDS.get(model) == "report":
                continue
            lines = self._lines(model)
            absent = sorted(fields_ - set(lines))
            if absent:
                Model = self.env[model]
                missing_fields[model] = {
                    name: "server" if Model._fields[name].readonly and not Model._fields[name].inverse else "?"
                    for name in absent
                }
            stale += [f"{model}.{name}" for name in set(lines) - set(self.env[model]._fields)]
            absent_methods = sorted(methods - set(METHODS.get(model, {})))
            if absent_methods:
                missing_methods[model] = absent_methods
        self.assertFalse(missing_fields, f"fields without their line in FIELDS: {missing_fields}")
        self.assertFalse(missing_methods, f"public methods without their line in METHODS: {missing_methods}")
        self.assertFalse(stale, "lines of fields that no longer exist")
        self.assertTrue(set(MATRIX) <= set(FIELDS), set(MATRIX) - set(FIELDS))

    def test_the_server_decided_fields_are_those_the_mixin_protects(self):
        """One mechanism: loyalty.club.protected.mixin refuses every server line (create and write)
        and every create line (write) outside superuser mode."""
        gaps = []
        for model, line in FIELDS.items():
            if line == "report":
                continue
            Model = self.env[model]
            if set(self._lines(model).values()) <= {"input"}:
                continue  # nothing the server decides there
            if not isinstance(Model, type(self.env["loyalty.club.protected.mixin"])):
                gaps.append(f"{model}: no loyalty.club.protected.mixin")
                continue
            protected = Model._loyalty_protected_names() - set(Model._loyalty_create_only_fields)
            for name, kind in self._lines(model).items():
                if kind == "server" and name not in protected:
                    gaps.append(f"{model}.{name} is not protected")
                if kind == "create" and name not in Model._loyalty_create_only_fields:
                    gaps.append(f"{model}.{name} is not create-only")
        self.assertFalse(gaps, "\n".join(gaps))

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_rule", "odoo.sql_db")
    def test_no_role_writes_what_the_server_decides(self):
        """Every server-decided field, created and written with a forged value, by every role."""
        accepted, refusals = [], 0
        for model, line in FIELDS.items():
            if line == "report":
                continue
            Model = self.env[model]
            lines = self._lines(model)
            for role, user in self.users.items():
                target = self._target(model, user)
                for name, kind in lines.items():
                    if kind == "input" or name not in Model._fields:
                        continue
                    forged = self._forged(Model, name)
                    if kind == "server":
                        try:
                            with self.env.cr.savepoint():
                                record = Model.with_user(user).create({name: forged})
                                if self._carries(record.sudo(), name, forged):
                                    accepted.append(f"{role} created {model} with {name}")
                        except Exception:  # any refusal will do: what was accepted is listed
                            refusals += 1
                    if target:
                        before = target.sudo()[name]
                        try:
                            with self.env.cr.savepoint():
                                target.with_user(user).write({name: forged})
                                target.invalidate_recordset()
                                if target.sudo()[name] != before:
                                    accepted.append(f"{role} wrote {model}.{name}")
                        except Exception:  # refused
                            refusals += 1
        self.assertFalse(accepted, "\n".join(accepted))
        self.assertTrue(refusals, "the attempts were made")

    @mute_logger("odoo.models", "odoo.addons.base.models.ir_rule", "odoo.sql_db", "odoo.http")
    def test_no_method_moves_points_money_pins_or_cards_without_the_right(self):
        """Every public method, called by every role on another customer's records or on a wizard
        filled with forged values (no PIN typed), with forged context keys."""
        moved, calls = [], 0
        forged_context = {"loyalty_club_posting": True, "loyalty_club_import": True, "tracking_disable": True}
        for model, methods in METHODS.items():
            for role, user in self.users.items():
                for method, allowed in methods.items():
                    target = self._target(model, user)
                    if target is None:
                        continue
                    args = ARGS.get(method, lambda case: [])(self)
                    before = self._snapshot()
                    try:
                        with self.env.cr.savepoint():
                            try:
                                getattr(target.with_user(user).with_context(**forged_context), method)(*args)
                            except Exception as error:
                                raise _Undo() from error
                            after = self._snapshot()
                            if after != before and role not in allowed.split():
                                moved.append(f"{role} {model}.{method}: {before} -> {after}")
                            raise _Undo()
                    except _Undo:
                        calls += 1
                    self.env.invalidate_all()
                    self.assertEqual(self._snapshot(), before)
        self.assertFalse(moved, "\n".join(moved))
        self.assertTrue(calls, "the calls were made")


class _Undo(Exception):
    """Roll a call back to its savepoint once its effects were looked at."""
