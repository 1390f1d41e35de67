import threading

from passlib.handlers import pbkdf2

from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from odoo.addons.loyalty_club.tools.gift_card_code import check_symbol

from .common import CommittedClubMixin
from .common_pos import PIN, PosClubCase
from .test_attempt_limits import set_limits

GIFT_PIN = "864213"
# a valid code with 0 and 1 in it, so O, I and L have something to stand for
BODY = "0123456789ABCDE"
CODE = BODY + check_symbol(BODY)


@tagged("post_install", "-at_install")
class TestUniformCost(PosClubCase):
    """Issue 20, item 3: unknown, locked and blocked cards and a wrong PIN cost the same number of
    hash computations (one PBKDF2 run each), so the response time does not tell them apart."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Card = cls.env["loyalty.club.card"]
        cls.locked = Card.create({"partner_id": cls.member.id, "club_id": cls.club.id})
        cls.locked._set_pin(PIN)
        cls.blocked = Card.create({"partner_id": cls.member.id, "club_id": cls.club.id})
        cls.blocked._set_pin(PIN)
        cls.blocked.action_block()
        cls.gift = cls.env["loyalty.club.gift.card"].create({"club_id": cls.club.id})
        cls.gift._set_pin(GIFT_PIN)
        cls.Posting._post_gift_card(cls.gift, 10.0, "load", "uniform:gift")
        set_limits(cls.env, window=60, user=1000, session=1000, code=1000, staff_ip=1000)

    def pbkdf2_runs(self, call):
        """How many PBKDF2 computations ``call`` makes (it must be refused)."""
        runs = []
        original = pbkdf2.pbkdf2_hmac

        def counting(*args, **kwargs):
            runs.append(1)
            return original(*args, **kwargs)

        self.patch(pbkdf2, "pbkdf2_hmac", counting)
        with self.assertRaises(UserError):
            call()
        self.patch(pbkdf2, "pbkdf2_hmac", original)
        return len(runs)

    def test_every_refused_pin_check_costs_one_hash(self):
        for _index in range(self.club.pin_max_attempts):
            self.assertFalse(self.locked._verify_pin("0000"))
        self.assertTrue(self.locked._pin_is_locked())
        self.card._pin_dummy_verify()  # the process's dummy hash, computed once
        config = self.config
        cases = {
            "unknown card": lambda: config.loyalty_club_verify_pin(999999999, PIN),
            "locked card": lambda: config.loyalty_club_verify_pin(self.locked.id, PIN),
            "blocked card": lambda: config.loyalty_club_verify_pin(self.blocked.id, PIN),
            "wrong PIN": lambda: config.loyalty_club_verify_pin(self.card.id, "1111"),
            "PIN that is no text": lambda: config.loyalty_club_verify_pin(self.card.id, ["1", "2"]),
            "unknown gift card": lambda: config.loyalty_gift_card_verify_pin(999999999, GIFT_PIN),
            "wrong gift card PIN": lambda: config.loyalty_gift_card_verify_pin(self.gift.id, "000000"),
            "unknown code (back office)": lambda: self.env["loyalty.club.card"]._authenticate("7711000000000000", PIN),
        }
        runs = {name: self.pbkdf2_runs(call) for name, call in cases.items()}
        self.assertEqual(runs, dict.fromkeys(cases, 1), runs)


@tagged("post_install", "-at_install")
class TestLimiterReadsCodesLikeTheLookup(PosClubCase):
    """Issue 20, item 4: spellings of one code (spaces, tabs, non-breaking spaces, hyphens, case,
    O/I/L, Persian digits, a phone's local and international forms) are one code for the limiter,
    because it reads them with the lookup's own normalisation."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gift = cls.env["loyalty.club.gift.card"].create({"club_id": cls.club.id, "code": CODE})
        cls.gift._set_pin(GIFT_PIN)
        cls.gift.action_block()  # found by nobody: every lookup fails
        set_limits(cls.env, window=60, user=1000, session=1000, code=3, staff_ip=1000)

    def setUp(self):
        super().setUp()
        self.env["loyalty.club.attempt"].search([]).unlink()

    def answers(self, call, variants):
        answers = []
        for variant in variants:
            try:
                call(variant)
            except UserError as error:
                answers.append(str(error))
        return answers

    def test_gift_code_variants_are_one_code(self):
        persian = CODE.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
        grouped = "-".join(CODE[index : index + 4] for index in range(0, 16, 4))
        variants = [
            grouped.lower(),
            "O" + CODE[1:],
            CODE[0] + "L" + CODE[2:],
            "\u00a0" + persian + "\t",
            CODE[:4] + "\t" + CODE[4:8].replace("1", "I") + "\u00a0" + CODE[8:],
        ]
        answers = self.answers(self.config.loyalty_gift_card_find, variants)
        limited = str(self.env["loyalty.club.attempt"]._limited_error())
        self.assertNotIn(limited, answers[:3])
        self.assertEqual(answers[3:], [limited, limited], "the 4th spelling of the code is the 4th try")

    def test_phone_variants_are_one_code(self):
        variants = ["0912 000 7777", "+98 912 000 7777", "۰۹۱۲۰۰۰۷۷۷۷", "0912\u00a0000\t7777", "00989120007777"]
        answers = self.answers(self.config.loyalty_club_find_card, variants)
        limited = str(self.env["loyalty.club.attempt"]._limited_error())
        self.assertNotIn(limited, answers[:3])
        self.assertEqual(answers[3:], [limited, limited])

    def test_card_number_variants_are_one_code(self):
        number = self.card.number
        self.card.action_block()
        persian = number.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
        variants = [number, f" {number[:8]} {number[8:]} ", persian, f"{number[:4]}\u00a0{number[4:]}", f"\t{number}"]
        answers = self.answers(self.config.loyalty_club_find_card, variants)
        limited = str(self.env["loyalty.club.attempt"]._limited_error())
        self.assertNotIn(limited, answers[:3])
        self.assertEqual(answers[3:], [limited, limited])

    def test_pin_guesses_of_one_card_share_its_limit(self):
        other_config = self.config.copy({"name": "Second till"})
        answers = self.answers(lambda pin: self.config.loyalty_club_verify_pin(self.card.id, pin), ["1", "2"])
        answers += self.answers(lambda pin: other_config.loyalty_club_verify_pin(self.card.id, pin), ["3", "4"])
        limited = str(self.env["loyalty.club.attempt"]._limited_error())
        self.assertEqual(answers[3], limited, "the card's code limit counts the PIN checks of every till")


@tagged("post_install", "-at_install")
class TestLimiterUnderConcurrency(CommittedClubMixin, TransactionCase):
    """Issue 20, item 4: 16 callers with their own database cursors guessing one code at once (each
    a different spelling, as the balance page reads them) get no more tries than the limit: the check
    and the count of the try are one atomic step, under a lock of the code."""

    LIMIT = 5

    def setUp(self):
        super().setUp()
        with self.committed_env() as env:
            company = env["res.company"].create({"name": f"Guessing {self._testMethodName}"})
            club = env["loyalty.club"].create({"name": "Guessing club", "company_id": company.id})
            card = env["loyalty.club.gift.card"].create({"club_id": club.id, "code": CODE})
            card._set_pin(GIFT_PIN)
            params = env["ir.config_parameter"]
            previous = params.get_param("loyalty_club.attempt_limit_code")
            params.set_param("loyalty_club.attempt_limit_code", self.LIMIT)
            self.ids = {"club": club.id, "card": card.id, "previous": previous}
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        with self.committed_env() as env:
            env["ir.config_parameter"].set_param("loyalty_club.attempt_limit_code", self.ids["previous"] or False)
            env.cr.execute("DELETE FROM loyalty_club_attempt WHERE channel = 'balance_page'")
            env.cr.execute("DELETE FROM loyalty_club_gift_card WHERE id = %s", [self.ids["card"]])
            env.cr.execute("DELETE FROM loyalty_club WHERE id = %s", [self.ids["club"]])

    @mute_logger("odoo.service.model", "odoo.sql_db")
    def test_sixteen_callers_guessing_one_code_get_the_limit(self):
        grouped = "-".join(CODE[index : index + 4] for index in range(0, 16, 4))
        spellings = [grouped, grouped.lower(), "O" + CODE[1:], CODE.replace("1", "L"), f"\u00a0{CODE}\t"] * 4
        guesses = []
        lock = threading.Lock()

        def guess(env, index):
            # the balance page's steps (controllers/gift_card_balance.py), as a public caller
            Attempt = env["loyalty.club.attempt"].sudo()
            GiftCard = env["loyalty.club.gift.card"].sudo()
            code = spellings[index]
            scope = Attempt._scope("balance_page", code=GiftCard._code_key(code), ip=f"198.51.100.{index}")
            Attempt._check_limit(scope)
            with lock:
                guesses.append(index)
            try:
                GiftCard._authenticate(code, f"{index:06d}")
            except UserError:
                Attempt._record_failure(scope)
                raise

        outcomes = self._run_threads(16, guess)
        self.assertEqual(outcomes, ["refused"] * 16, outcomes)
        self.assertEqual(len(guesses), self.LIMIT, "no more PIN guesses than the limit reached the lookup")
        with self.committed_env() as env:
            env.cr.execute("SELECT count(*) FROM loyalty_club_attempt WHERE channel = 'balance_page'")
            self.assertEqual(env.cr.fetchone()[0], self.LIMIT)
