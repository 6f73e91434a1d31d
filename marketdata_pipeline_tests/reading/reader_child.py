"""A notebook stand-in: holds one `Warehouse` and reads bars in a loop until told to stop.

Prints `ready` after its first read, then on stdin EOF prints one JSON line:
reads, errors, the longest read and the last day it saw.
"""

import json
import sys
import threading
import time

from marketdata_pipeline import Warehouse

wh = Warehouse(sys.argv[1], lock_timeout=60.0)
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
reads, errors, longest, last_day = 0, [], 0.0, None
while not stop.is_set() or reads == 0:
    started = time.perf_counter()
    try:
        frame = wh.bars(["sh.600055", "sh.600062"], "2024-07-01", "2024-12-31", adjust="qfq")
        last_day = str(frame["trade_date"].max().date())
        reads += 1
    except Exception as error:  # noqa: BLE001 - every failure is what the test reports
        errors.append(repr(error))
    longest = max(longest, time.perf_counter() - started)
    if reads == 1:
        print("ready", flush=True)
    time.sleep(0.1)  # a busy notebook: several queries a second
print(json.dumps({"reads": reads, "errors": errors, "longest_s": longest, "last_day": last_day}), flush=True)
