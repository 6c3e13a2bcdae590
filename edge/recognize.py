"""Run the recogniser from a checkout without installing it: ``python edge/recognize.py --camera``.

The command itself lives in ``edge.apps.recognize`` (installed as ``digits-recognize``).
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    # Import the checkout's package, not edge/ itself, whose module names must not shadow the standard library's.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)
    from edge.apps.recognize import main

    sys.exit(main())
