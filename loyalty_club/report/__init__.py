from . import loyalty_club_card_statement
from . import loyalty_club_activity_report
from . import loyalty_club_discount_window_report
from . import loyalty_club_kpi_report
from . import loyalty_club_liability_report
from . import loyalty_club_member_report
from . import loyalty_club_dashboard
