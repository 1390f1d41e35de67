from . import test_website_club
from . import test_website_concurrency
from . import test_website_tour
from . import test_website_i18n
from . import test_website_gift_card
