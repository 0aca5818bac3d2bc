"""The complete schema: imports every feature's models so ``metadata`` knows all tables.

Only migrations and tests import this (it is the one place that sees every feature).
"""

from appointments import models as _appointments  # noqa: F401
from appointments import reminder_models as _reminders  # noqa: F401
from contact_center import models as _tenancy  # noqa: F401
from contact_center.db import Base
from contact_center.leads import models as _leads  # noqa: F401
from contact_center.messaging import models as _messaging  # noqa: F401
from ivr import models as _ivr  # noqa: F401
from journeys import models as _journeys  # noqa: F401
from qa import models as _qa  # noqa: F401
from recordings import models as _recordings  # noqa: F401
from routing import dialer_models as _dialer  # noqa: F401
from routing import models as _routing  # noqa: F401
from transcription import models as _transcription  # noqa: F401

metadata = Base.metadata
