"""Where the browser tests leave their screenshots, for a person to look at.

``SPLATFLOW_SCREENSHOTS`` names a folder; by default they go to the system's temporary folder, so
a test run on a fresh machine writes nothing outside it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

SCREENSHOTS = Path(os.environ.get("SPLATFLOW_SCREENSHOTS", tempfile.gettempdir()))
