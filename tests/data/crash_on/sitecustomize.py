"""Test support, never installed: Python imports this at start-up when this folder is on PYTHONPATH.

A process reading an input whose name contains $EDGE_TEST_CRASH_ON kills itself with SIGKILL, as a
decoder crash would; the batch tests put it in the environment of a run with worker processes to
prove that a dying worker costs one input, not the batch. The shipped code has no such hook.
"""

import os
import signal

_TARGET = os.environ.get("EDGE_TEST_CRASH_ON")

if _TARGET:
    import edge.apps.driver as _driver

    _real_read_document = _driver.read_document

    def read_document(item, *args, **kwargs):
        if _TARGET in item.name:
            os.kill(os.getpid(), signal.SIGKILL)
        return _real_read_document(item, *args, **kwargs)

    _driver.read_document = read_document
