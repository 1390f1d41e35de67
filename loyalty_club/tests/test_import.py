import base64
import csv
import io
import json
from datetime import date, datetime, timedelta
from unittest.mock import patch

import openpyxl

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged

from ..models.loyalty_club_posting_opening import LoyaltyClubPosting
from ..tools.card_number import luhn_check_digit
from ..tools.import_file import parse_date, parse_whole_number, write_xlsx
from ..wizard import loyalty_club_import_runner as import_runner_module
from .common import LoyaltyClubCase

SIMULATED_FAILURE = "Simulated failure"
HEADER = ["name", "phone", "email", "birthday", "card_number", "points", "points_expiry", "tier", "pin"]


def valid_number(body):
    """A 16-digit number with a correct check digit, from a 15-digit body."""
    return body + luhn_check_digit(body)


class SlowClock:
    """A clock where every reading is 1000 s after the previous one."""

    def __init__(self):
        self.now = 0

    def monotonic(self):
        self.now += 1000
        return self.now


def csv_bytes(rows, header=tuple(HEADER), delimiter=","):
    stream = io.StringIO()
    writer = csv.writer(stream, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    return stream.getvalue().encode("utf-8")


@tagged("post_install", "-at_install")
class TestMemberImport(LoyaltyClubCase):
    """Import of members, cards, PINs and opening balances from CSV/XLSX: the check writes
    nothing, the import writes each thing once, bad rows are reported with their line."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Wizard = cls.env["loyalty.club.import.wizard"].with_user(cls.club_manager)
        cls.future = fields.Date.today() + timedelta(days=200)
        cls.number_a = valid_number("770099000000001")
        cls.bad_digit = cls.number_a[:-1] + str((int(cls.number_a[-1]) + 1) % 10)
        cls.rows = [
            # line 2: new member, opening balance with expiry, explicit tier, PIN, given card number
            [
                "Mina Rahimi",
                "0912 777 8899",
                "mina@example.com",
                "1990-05-17",
                cls.number_a,
                "120",
                cls.future,
                "Gold",
                "4821",
            ],
            # line 3: new member, Persian digits, Jalali birthday, no card number (generated), computed tier
            ["Omid Karimi", "۰۹۳۵ ۲۲۲ ۳۳۴۴", "", "1370/05/12", "", "600", "", "", ""],
            # line 4: existing member Sara (stored as +98 912 345 6789), local format: her card is reused
            ["Sara Test", "09123456789", "sara@example.com", "", "", "75", "", "", ""],
            # line 5: existing contact without a card (Reza, +98 935 000 1122), international 0098 form
            ["Reza Test", "00989350001122", "", "1985-01-02", "", "0", "", "", ""],
        ]

    # ------------------------------------------------------------------
    def wizard(self, data, filename="members.csv", **values):
        return self.Wizard.create({"import_file": base64.b64encode(data), "filename": filename, **values})

    def snapshot(self):
        """Counts of everything an import may write."""
        return {
            "partners": self.env["res.partner"].with_context(active_test=False).search_count([]),
            "cards": self.env["loyalty.club.card"].search_count([]),
            "entries": self.env["loyalty.club.entry"].search_count([]),
            "tier_changes": self.env["loyalty.club.tier.history"].search_count([]),
            "messages": self.env["mail.message"].search_count([]),
            "notifications": self.env["loyalty.club.notification"].search_count([]),
            "pin_hashes": self._pin_hashes(),
            "balances": dict(self.env["loyalty.club.card"].search([]).mapped(lambda card: (card.id, card.balance))),
        }

    def _pin_hashes(self):
        self.env.flush_all()
        self.env.cr.execute("SELECT id, pin_hash FROM loyalty_club_card WHERE pin_hash IS NOT NULL ORDER BY id")
        return self.env.cr.fetchall()

    def problems(self, wizard):
        """{line: [messages]} of the wizard's problem lines."""
        result = {}
        for line in wizard.line_ids:
            result.setdefault(line.line_number, []).append(line.message)
        return result

    def card_of(self, phone):
        return self.env["loyalty.club.card"]._find_by_phone(phone, company=self.company)

    # ------------------------------------------------------------------
    # Check (dry run)
    # ------------------------------------------------------------------
    def test_check_writes_nothing_and_counts_what_would_happen(self):
        bad = [["", "0912", "x@", "", "", "-5", "", "Diamond", "12"]]
        before = self.snapshot()
        wizard = self.wizard(csv_bytes(self.rows + bad))
        wizard.action_check()
        self.assertEqual(self.snapshot(), before, "the check must not write anything")
        self.assertEqual(wizard.state, "checked")
        self.assertEqual(wizard.row_count, 5)
        self.assertEqual(wizard.error_count, 1)
        self.assertEqual(wizard.new_partner_count, 2)
        self.assertEqual(wizard.matched_partner_count, 2, "Sara and Reza are found by their phone")
        self.assertEqual(wizard.new_card_count, 3)
        self.assertEqual(wizard.existing_card_count, 1)
        self.assertEqual(wizard.opening_count, 3)
        self.assertEqual(wizard.opening_points, 120 + 600 + 75)
        self.assertTrue(wizard.import_file, "the file stays for the import")
        self.assertTrue(wizard.error_report, "bad rows give an error report")

    # ------------------------------------------------------------------
    # Import
    # ------------------------------------------------------------------
    def test_import_creates_partners_cards_and_opening_entries(self):
        sara_card = self.card
        wizard = self.wizard(csv_bytes(self.rows))
        wizard.action_check()
        wizard.action_import()
        self.assertEqual(wizard.state, "done")
        self.assertFalse(wizard.error_count, self.problems(wizard))

        mina = self.card_of("+989127778899")
        self.assertEqual(len(mina), 1)
        self.assertEqual(mina.number, self.number_a, "a given card number is kept")
        self.assertFalse(mina.legacy_number)
        self.assertEqual(mina.partner_id.name, "Mina Rahimi")
        self.assertEqual(mina.partner_id.phone_sanitized, "+989127778899")
        self.assertEqual(mina.partner_id.email, "mina@example.com")
        self.assertEqual(mina.partner_id.loyalty_birthday, date(1990, 5, 17))
        self.assertEqual(mina.balance, 120)
        opening = mina.entry_ids
        self.assertEqual(opening.mapped("kind"), ["opening"])
        self.assertEqual(opening.posting_key, f"import:opening:{mina.id}")
        self.assertEqual(opening.expiry_date, self.future)
        self.assertEqual(opening.points_remaining, 120)
        self.assertEqual(mina.tier_id, self.gold, "the tier given in the file")
        self.assertEqual(mina.tier_history_ids.reason, "import")

        omid = self.card_of("09352223344")
        self.assertEqual(len(omid.number), 16, "a new number is generated")
        self.assertTrue(omid.number.startswith(self.club.card_prefix))
        self.assertEqual(omid.partner_id.loyalty_birthday, date(1991, 8, 3), "1370/05/12 is a Solar Hijri date")
        self.assertEqual(omid.balance, 600)
        self.assertEqual(
            omid.entry_ids.expiry_date,
            self.club._expiry_date_from(fields.Date.today()),
            "no expiry in the file: the club's rule",
        )
        self.assertEqual(omid.tier_id, self.silver, "no tier in the file: the tier 600 points qualify for")

        self.assertEqual(self.card_of("09123456789"), sara_card, "Sara keeps her card, no second card")
        self.assertEqual(sara_card.balance, 75)
        self.assertEqual(self.member.email, "sara@example.com", "an empty field of a known contact is filled")

        reza_card = self.card_of("09350001122")
        self.assertEqual(reza_card.partner_id, self.member2, "Reza is found by his phone, not duplicated")
        self.assertEqual(reza_card.balance, 0)
        self.assertFalse(reza_card.entry_ids, "no opening entry for zero points")
        self.assertEqual(self.member2.loyalty_birthday, date(1985, 1, 2))
        for card in mina | omid | sara_card | reza_card:
            self.assertBalanceIsLedgerSum(card)
        self.assertEqual(self.env["res.partner"].search_count([("phone_sanitized", "=", "+989350001122")]), 1)

    def test_import_again_changes_nothing(self):
        wizard = self.wizard(csv_bytes(self.rows))
        wizard.action_check()
        wizard.action_import()
        before = self.snapshot()
        again = self.wizard(csv_bytes(self.rows))
        again.action_check()
        self.assertEqual(again.error_count, 0, self.problems(again))
        self.assertEqual(again.unchanged_count, 4)
        self.assertEqual((again.new_partner_count, again.new_card_count, again.opening_count), (0, 0, 0))
        again.action_import()
        self.assertEqual(self.snapshot(), before, "a second import of the same file is a no-op")

    def test_other_opening_balance_for_a_card_is_reported_not_posted(self):
        first = self.wizard(csv_bytes([["Mina Rahimi", "09127778899", "", "", "", "100", "", "", ""]]))
        first.action_check()
        first.action_import()
        card = self.card_of("09127778899")
        second = self.wizard(csv_bytes([["Mina Rahimi", "+98 912 777 8899", "", "", "", "150", "", "", ""]]))
        second.action_check()
        self.assertIn(
            f"Card {card.number} already has an opening balance of 100 points; this row gives 150.",
            self.problems(second)[2],
        )
        second.action_import()
        self.assertEqual(card.balance, 100)
        self.assertEqual(len(card.entry_ids), 1)

    def test_duplicates_by_normalised_phone_in_the_file_and_the_database(self):
        iran = self.env.ref("base.ir").id
        for name, phone in (("Twin A", "+98 912 000 0001"), ("Twin B", "0912 000 0001"), ("Twin C", "+989120000001")):
            self.env["res.partner"].create({"name": name, "phone": phone, "country_id": iran})
        rows = [
            ["Ali One", "09121112233", "", "", "", "10", "", "", ""],
            ["Ali Two", "+989121112233", "", "", "", "10", "", "", ""],
            ["Ali Three", "00989121112233", "", "", "", "10", "", "", ""],
            ["Ali Four", "+98 (912) 111-2233", "", "", "", "10", "", "", ""],
            ["Twin", "09120000001", "", "", "", "10", "", "", ""],
            ["Sara again", "+98 912 345 6789", "", "", "", "", "", "", ""],
        ]
        wizard = self.wizard(csv_bytes(rows))
        wizard.action_check()
        problems = self.problems(wizard)
        for line in (3, 4, 5):
            self.assertEqual(problems[line], ["Same phone as line 2."], f"line {line}")
        self.assertIn("contacts have this phone", problems[6][0], "ambiguous phone in the database")
        self.assertNotIn(7, problems, "Sara's phone in any form finds her")
        self.assertEqual(wizard.matched_partner_count, 1)
        self.assertEqual(wizard.existing_card_count, 1)

    def test_bad_rows_are_reported_with_their_line_and_reason(self):
        other_card = self.env["loyalty.club.card"].create(
            {
                "partner_id": self.env["res.partner"].create({"name": "Far"}).id,
                "club_id": self.env["loyalty.club"]
                .create({"name": "Other club", "company_id": self.other_company.id, "card_prefix": "7799"})
                .id,
            }
        )
        past = (fields.Date.today() - timedelta(days=1)).isoformat()
        tomorrow = (fields.Date.today() + timedelta(days=1)).isoformat()
        rows = [
            ["", "09121110001", "", "", "", "", "", "", ""],  # 2
            ["Bad Phone", "0912", "", "", "", "", "", "", ""],  # 3
            ["Bad Mail", "", "not-an-email", "", "", "", "", "", ""],  # 4
            ["Bad Tier", "09121110004", "", "", "", "", "", "Diamond", ""],  # 5
            ["Negative", "09121110005", "", "", "", "-20", "", "", ""],  # 6
            ["Fraction", "09121110006", "", "", "", "12.5", "", "", ""],  # 7
            ["Bad Date", "09121110007", "", "31/02/1990", "", "", "", "", ""],  # 8
            ["Future Birthday", "09121110008", "", tomorrow, "", "", "", "", ""],  # 9
            ["Expired Points", "09121110009", "", "", "", "10", past, "", ""],  # 10
            ["Check Digit", "09121110010", "", "", self.bad_digit, "", "", "", ""],  # 11
            ["Letters", "09121110011", "", "", "77AB", "", "", "", ""],  # 12
            ["Short PIN", "09121110012", "", "", "", "", "", "", "98765"],  # 13
            ["Nobody", "", "", "", "", "5", "", "", ""],  # 14
            ["Other Club", "09121110014", "", "", other_card.number, "", "", "", ""],  # 15
            ["Sara New Card", "09123456789", "", "", valid_number("770099000000002"), "", "", "", ""],  # 16
            ["Good", "09121110016", "", "", "", "5", "", "", ""],  # 17
        ]
        wizard = self.wizard(csv_bytes(rows))
        wizard.action_check()
        expected = {
            2: "The name is missing.",
            3: "0912 is not a valid phone number.",
            4: "not-an-email is not a valid e-mail address.",
            5: "Unknown tier Diamond (this club's tiers: Bronze, Silver, Gold).",
            6: "The opening balance cannot be negative (-20).",
            7: "Opening points must be a whole number, not 12.5.",
            8: "31/02/1990 is not a date (use YYYY-MM-DD).",
            9: "The birthday is in the future.",
            10: "The points' expiry date has passed.",
            11: f"Card number {self.bad_digit} is not valid (wrong length or check digit).",
            12: "Card number 77AB: only digits are allowed.",
            13: "The PIN must be exactly 4 digits.",
            14: "Give a phone, an e-mail or a card number",
            15: f"Card number {other_card.number} is already used by another club.",
            16: f"This member already has card {self.card.number}.",
        }
        problems = self.problems(wizard)
        for line, message in expected.items():
            self.assertTrue(any(message in text for text in problems.get(line, [])), (line, problems.get(line)))
        self.assertNotIn(17, problems)
        self.assertEqual(wizard.error_count, len(expected))
        self.assertEqual(wizard.line_ids.filtered(lambda p: p.line_number == 5).column, "Tier")

        report = list(csv.reader(io.StringIO(base64.b64decode(wizard.error_report).decode("utf-8-sig"))))
        self.assertEqual(report[0], ["Line", *HEADER, "Problems"])
        self.assertEqual([row[0] for row in report[1:]], [str(line) for line in expected])
        self.assertEqual(report[12][8 + 1], "", "the PIN is never written to the error report")
        self.assertIn("The PIN must be exactly 4 digits.", report[12][-1])

        before = self.snapshot()
        wizard.action_import()
        self.assertEqual(wizard.error_count, len(expected))
        self.assertEqual(self.snapshot()["cards"], before["cards"] + 1, "only the good row is imported")
        self.assertEqual(self.card_of("09121110016").balance, 5)

    def test_pins_are_hashed_and_the_file_is_not_kept(self):
        rows = [
            ["Pin Member", "09121234500", "", "", "", "10", "", "", "4821"],
            ["Bad Row", "0912", "", "", "", "", "", "", "7394"],
        ]
        attachments = self.env["ir.attachment"].search_count([])
        wizard = self.wizard(csv_bytes(rows))
        wizard.action_check()
        wizard.action_import()
        card = self.card_of("09121234500")
        self.assertTrue(card.pin_set)
        self.assertTrue(card._verify_pin("4821"))
        self.env.cr.execute("SELECT pin_hash FROM loyalty_club_card WHERE id = %s", [card.id])
        pin_hash = self.env.cr.fetchone()[0]
        self.assertTrue(pin_hash.startswith("$pbkdf2-sha512$"))
        self.assertNotIn("4821", pin_hash)
        self.assertFalse(wizard.import_file, "the uploaded file is dropped after the import")
        self.assertEqual(self.env["ir.attachment"].search_count([]), attachments, "nothing is attached")
        self.env.flush_all()
        for table in ("loyalty_club_import_wizard", "loyalty_club_import_line"):
            self.env.cr.execute(f"SELECT t::text FROM {table} t")
            stored = " ".join(row[0] for row in self.env.cr.fetchall())
            self.assertNotIn("4821", stored, table)
            self.assertNotIn("7394", stored, table)
        report = base64.b64decode(wizard.error_report).decode("utf-8-sig")
        self.assertNotIn("7394", report)

    def test_legacy_card_numbers(self):
        rows = [["Old Card", "09121239999", "", "", "00123456", "40", "", "", ""]]
        refused = self.wizard(csv_bytes(rows))
        refused.action_check()
        self.assertIn("Keep legacy card numbers", self.problems(refused)[2][0])

        wizard = self.wizard(csv_bytes(rows), keep_legacy_numbers=True)
        wizard.action_check()
        self.assertEqual(wizard.error_count, 0)
        self.assertEqual(wizard.warning_count, 1)
        self.assertEqual(wizard.line_ids.severity, "warning")
        wizard.action_import()
        card = self.card_of("09121239999")
        self.assertEqual(card.number, "00123456")
        self.assertTrue(card.legacy_number)
        Card = self.env["loyalty.club.card"]
        self.assertEqual(Card._find_by_number("00123456"), card, "found by its exact legacy number")
        with self.assertRaises(ValidationError):
            Card._find_by_number("00123457")
        with self.assertRaises(UserError):
            card.with_user(self.club_manager).write({"legacy_number": False})

    def test_xlsx_file_and_templates(self):
        wizard = self.Wizard.create({})
        action = wizard.action_download_csv_template()
        self.assertEqual(action["type"], "ir.actions.act_url")
        self.assertIn(f"id={wizard.id}&field=template_file", action["url"])
        template = base64.b64decode(wizard.template_file).decode("utf-8-sig")
        self.assertEqual(
            next(csv.reader(io.StringIO(template))),
            ["Name", "Phone", "E-mail", "Birthday", "Card number", "Opening points", "Points expire on", "Tier", "PIN"],
        )
        wizard.action_download_xlsx_template()
        sheet = openpyxl.load_workbook(io.BytesIO(base64.b64decode(wizard.template_file))).active
        self.assertEqual(sheet.cell(1, 1).value, "Name")
        self.assertEqual(sheet.cell(2, 2).number_format, "@", "phone column formatted as text")

        # the template itself is a valid file to import
        from_template = self.wizard(base64.b64decode(wizard.template_file), filename="club_members.xlsx")
        from_template.action_check()
        self.assertEqual((from_template.row_count, from_template.error_count), (2, 0), self.problems(from_template))

        # an XLSX as spreadsheets save it: numbers as numbers, dates as dates, titles in any case
        data = write_xlsx(
            ["NAME", "Mobile", "Birthday", "Opening Points", "Points Expire On"],
            [
                [
                    "Xlsx Member",
                    9121230000,
                    datetime(1992, 3, 4),
                    250,
                    datetime.combine(self.future, datetime.min.time()),
                ],
                ["Xlsx Two", 9121230001, None, 12.0, None],
            ],
        )
        xlsx = self.wizard(data, filename="members.xlsx")
        xlsx.action_check()
        self.assertEqual(xlsx.error_count, 0, self.problems(xlsx))
        xlsx.action_import()
        card = self.card_of("09121230000")
        self.assertEqual(card.balance, 250)
        self.assertEqual(card.entry_ids.expiry_date, self.future)
        self.assertEqual(card.partner_id.loyalty_birthday, date(1992, 3, 4))
        self.assertEqual(self.card_of("09121230001").balance, 12)

    def test_semicolon_csv_with_windows_persian_encoding(self):
        # Windows-1256 has the Arabic yeh only, as Persian Excel exports write it
        data = csv_bytes([["مينا رحيمي", "09121230002", "", "", "", "7", "", "", ""]], delimiter=";")
        wizard = self.wizard(data.decode("utf-8").encode("cp1256"))
        wizard.action_check()
        wizard.action_import()
        self.assertEqual(self.card_of("09121230002").partner_id.name, "مينا رحيمي")

    def test_unreadable_files_give_a_clear_error(self):
        for data, filename, message in (
            (b"", "empty.csv", "Choose a CSV or XLSX file"),
            (b"PK\x03\x04 not a zip", "broken.xlsx", "cannot be read"),
            (b"phone,points\n0912,1\n", "noname.csv", "The file has no Name column"),
            (b"name,phone,Phone\nA,1,2\n", "twice.csv", "appears twice"),
        ):
            wizard = self.wizard(data, filename=filename)
            with self.subTest(filename=filename), self.assertRaisesRegex(UserError, message):
                wizard.action_check()

    def test_import_needs_a_checked_unchanged_file(self):
        wizard = self.wizard(csv_bytes(self.rows))
        with self.assertRaisesRegex(UserError, "Check the file first"):
            wizard.action_import()
        wizard.action_check()
        wizard.import_file = base64.b64encode(csv_bytes(self.rows[:1]))
        with self.assertRaisesRegex(UserError, "changed after it was checked"):
            wizard.action_import()

    def test_only_managers_import(self):
        with self.assertRaises(AccessError):
            self.env["loyalty.club.import.wizard"].with_user(self.club_user).create({})

    def test_imported_members_get_no_welcome_or_joining_bonus(self):
        self.club.write({"notify_channel": "mail"})
        self.env["loyalty.club.bonus.rule"].create(
            {"name": "Welcome points", "club_id": self.club.id, "kind": "join", "points": 50}
        )
        self.env["loyalty.club.bonus.rule"].create(
            {"name": "Profile points", "club_id": self.club.id, "kind": "profile", "points": 30}
        )
        rows = [["Full Profile", "09121230003", "full@example.com", "1990-01-01", "", "600", "", "", ""]]
        wizard = self.wizard(csv_bytes(rows))
        wizard.action_check()
        wizard.action_import()
        card = self.card_of("09121230003")
        self.assertEqual(card.entry_ids.mapped("kind"), ["opening"], "no joining or profile bonus")
        self.assertFalse(self.env["loyalty.club.notification"].search([("card_id", "=", card.id)]), "no message")
        self.assertEqual(card.tier_id, self.silver)

    def test_opening_balances_in_the_activity_report(self):
        wizard = self.wizard(csv_bytes(self.rows[:1]))
        wizard.action_check()
        wizard.action_import()
        card = self.card_of("09127778899")
        rows = self.env["loyalty.club.activity.report"].search([("card_id", "=", card.id)])
        self.assertEqual(rows.kind, "opening")
        self.assertEqual((rows.points, rows.points_opening, rows.points_issued), (120, 120, 0))

    def test_big_file_runs_in_batches_in_the_background(self):
        rows = [[f"Batch Member {i}", f"0912555{i:04d}", "", "", "", str(i + 1), "", "", ""] for i in range(7)]
        rows.append(["Duplicate", "09125550000", "", "", "", "1", "", "", ""])
        single = self.wizard(csv_bytes(rows))
        single.action_check()
        wizard = self.wizard(csv_bytes(rows), batch_size=2)
        wizard.action_check()
        self.assertEqual((wizard.row_count, wizard.error_count), (8, 1))
        cron = self.env.ref("loyalty_club.ir_cron_loyalty_club_import_members")
        triggers = self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)])
        wizard.action_import()
        self.assertEqual(wizard.state, "running", "more than one batch: the scheduled job imports it")
        self.assertEqual(self.env["ir.cron.trigger"].search_count([("cron_id", "=", cron.id)]), triggers + 1)
        # the job stops after its time budget (here: after each batch) and goes on where it stopped
        with patch.object(import_runner_module, "time", SlowClock()):
            self.Wizard._cron_process_imports(time_budget=1)
        self.assertEqual((wizard.state, wizard.rows_done), ("running", 2))
        self.assertAlmostEqual(wizard.progress, 25.0)
        while wizard.state == "running":
            self.Wizard._cron_process_imports()
        self.assertEqual(wizard.rows_done, 8)
        self.assertFalse(wizard.import_file)
        for i in range(7):
            self.assertEqual(self.card_of(f"0912555{i:04d}").balance, i + 1)
        self.assertEqual(wizard.new_card_count, 7)
        self.assertEqual(wizard.error_count, 1)
        self.assertEqual(wizard.opening_points, sum(range(1, 8)))

    def test_statistics_are_refreshed_as_the_tables_grow(self):
        """The planner must see the rows the import adds: ANALYZE after the first batch, then
        each time the run has doubled what it wrote (not after every batch)."""
        rows = [[f"Stat Member {i}", f"0912777{i:04d}", "", "", "", "1", "", "", ""] for i in range(10)]
        wizard = self.wizard(csv_bytes(rows), batch_size=1)
        wizard.action_check()
        wizard.action_import()
        with patch.object(import_runner_module, "refresh_statistics") as refresh:
            wizard._process_import()
        self.assertEqual(refresh.call_count, 4, "after 1, 2, 4 and 8 rows")
        self.assertEqual(wizard.state, "done")

    def test_a_row_failing_at_import_is_skipped_alone(self):
        rows = [
            [f"Row {i}", f"0912666{i:04d}", "", "", "", str(points), "", "", ""] for i, points in enumerate((5, 777, 9))
        ]
        wizard = self.wizard(csv_bytes(rows))
        wizard.action_check()
        original = LoyaltyClubPosting._post_openings

        def failing_post(self, items):
            if any(item["points"] == 777 for item in items):
                raise ValidationError(SIMULATED_FAILURE)
            return original(self, items)

        with patch.object(LoyaltyClubPosting, "_post_openings", failing_post):
            wizard.action_import()
        self.assertEqual(self.problems(wizard), {3: ["Simulated failure"]})
        self.assertEqual(self.card_of("09126660000").balance, 5)
        self.assertEqual(self.card_of("09126660002").balance, 9)
        self.assertFalse(self.env["res.partner"].search([("phone_sanitized", "=", "+989126660001")]), "rolled back")

    def test_email_matching(self):
        known = self.env["res.partner"].create({"name": "Mail Only", "email": "Mail.Only@Example.com"})
        rows = [
            ["Mail Only", "", "mail.only@example.com", "1980-02-02", "", "15", "", "", ""],  # matched by e-mail
            ["Phone And Mail", "09121230004", "shared@example.com", "", "", "", "", "", ""],
            ["Mail Twin", "", "shared@example.com", "", "", "", "", "", ""],  # no phone: same e-mail is a duplicate
        ]
        wizard = self.wizard(csv_bytes(rows))
        wizard.action_check()
        self.assertEqual(self.problems(wizard), {4: ["Same e-mail as line 3."]})
        wizard.action_import()
        card = known.loyalty_card_ids
        self.assertEqual(card.balance, 15)
        self.assertEqual(known.phone, False)
        self.assertEqual(known.loyalty_birthday, date(1980, 2, 2))

    def test_migration_needs_odoo_loyalty(self):
        if "loyalty.card" in self.env:
            self.skipTest("Odoo's Loyalty app is installed in this database")
        migration = self.env["loyalty.club.native.migration.wizard"].with_user(self.club_manager).create({})
        self.assertFalse(migration.native_loyalty_installed)
        self.assertFalse(self.Wizard.create({}).native_loyalty_installed)
        with self.assertRaisesRegex(UserError, "not installed"):
            migration.action_migrate()

    def test_cell_parsing(self):
        self.assertEqual(parse_whole_number("1,200"), 1200)
        self.assertEqual(parse_whole_number("۱۲۰۰"), 1200)
        self.assertEqual(parse_whole_number(15.0), 15)
        self.assertIsNone(parse_whole_number(""))
        for bad in ("12.5", "1,2", "abc", 2.5, True):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                parse_whole_number(bad)
        self.assertEqual(parse_date("1990-05-17"), date(1990, 5, 17))
        self.assertEqual(parse_date("17/05/1990"), date(1990, 5, 17))
        self.assertEqual(parse_date("۱۳۷۰/۰۵/۱۲"), date(1991, 8, 3))  # noqa: RUF001 - Persian digits on purpose
        self.assertEqual(parse_date(datetime(2020, 1, 2, 10, 0)), date(2020, 1, 2))
        for bad in ("1990-02-30", "1370/13/01", "yesterday", "05/17/1990"):
            with self.subTest(bad=bad):
                self.assertIsNone(parse_date(bad))
        self.assertEqual(json.loads(json.dumps(HEADER)), HEADER)
