#!/usr/bin/env python3
"""What the image worker costs chatd, measured on the installed chatd-imaging: the time from starting it to its
`ready` (once per busy period: chatd closes it after 15 s without images), and one request's round trip over its
pipes (a loader check, which does no image work). Prints one JSON object.

    worker.py COMMAND…   (e.g. chroot ROOT /usr/lib/chatd/chatd-imaging)
"""
import json
import statistics
import subprocess
import sys
import time

command = sys.argv[1:]
starts, trips = [], []
for _ in range(10):
    began = time.perf_counter()
    worker = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    if worker.stdout.readline() != b"ready\n":
        sys.exit("worker: chatd-imaging did not say ready")
    starts.append((time.perf_counter() - began) * 1000)
    for _ in range(200):
        began = time.perf_counter()
        worker.stdin.write(b"allowed\tjpegload\n")
        worker.stdin.flush()
        if worker.stdout.readline() != b"ok 1\n":
            sys.exit("worker: jpegload is not allowed")
        trips.append((time.perf_counter() - began) * 1e6)
    worker.stdin.close()
    worker.wait()
trips.sort()
print(json.dumps({"start_ms_median": round(statistics.median(starts), 1), "start_ms_max": round(max(starts), 1),
                  "round_trip_us_median": round(statistics.median(trips)), "round_trip_us_p99": trips[int(len(trips) * 0.99)]}))
