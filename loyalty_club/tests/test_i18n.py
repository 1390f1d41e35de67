import io
import re

import polib

from odoo.tests import TransactionCase, tagged
from odoo.tools import file_path
from odoo.tools.translate import trans_export

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd%]")


@tagged("post_install", "-at_install")
class TestTranslations(TransactionCase):
    """The shipped .pot matches what Odoo exports, and fa.po translates all of it (the bridge
    addons test theirs by subclassing this class with their ``module``)."""

    module = "loyalty_club"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        buffer = io.BytesIO()
        trans_export(None, [cls.module], buffer, "po", cls.env.cr)
        cls.exported = {entry.msgid for entry in polib.pofile(buffer.getvalue().decode())}
        cls.template = polib.pofile(file_path(f"{cls.module}/i18n/{cls.module}.pot"))
        cls.persian = polib.pofile(file_path(f"{cls.module}/i18n/fa.po"))

    def test_pot_is_up_to_date(self):
        shipped = {entry.msgid for entry in self.template}
        missing = sorted(self.exported - shipped)
        self.assertFalse(missing, f"terms missing from {self.module}.pot: regenerate it (./scripts/i18n.sh)")
        self.assertFalse(sorted(shipped - self.exported), f"{self.module}.pot has terms the addon no longer has")

    def test_persian_translation_is_complete(self):
        translated = {entry.msgid: entry.msgstr for entry in self.persian if entry.msgstr and not entry.fuzzy}
        missing = sorted(msgid for msgid in self.exported if msgid not in translated)
        self.assertFalse(missing, "fa.po has untranslated terms")

    def test_persian_placeholders_match(self):
        wrong = [
            entry.msgid
            for entry in self.persian
            if entry.msgstr and sorted(PLACEHOLDER.findall(entry.msgid)) != sorted(PLACEHOLDER.findall(entry.msgstr))
        ]
        self.assertFalse(wrong, "fa.po changes placeholders")
