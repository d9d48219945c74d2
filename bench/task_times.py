# Copyright (c) fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a playbook run's time went: seconds per task banner, from an ANSIBLE_LOG_PATH log (bench/run.py writes one
per run, <label>.ansible.log in its log directory).

    .venv/bin/python bench/task_times.py LOG [--top N]

A task's time is from its banner to the next banner, summed over every time the task ran (per batch, per include).
"""

from __future__ import annotations

import argparse
import datetime
import re
from collections import defaultdict

# 2026-11-27 05:12:03,456 p=123 u=root n=ansible INFO| TASK [fleetops.release.waves : Drain ...] ****
LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) p=\d+ u=\S+ n=\S+ \w+\| (.*)$")


def banners(path):
    """(epoch seconds, banner) per PLAY/TASK banner, and a last ('END') at the log's last timestamp."""
    rows, moment = [], None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            match = LINE.match(line)
            if not match:
                continue
            moment = datetime.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").timestamp() + int(match.group(2)) / 1000
            text = match.group(3)
            if text.startswith(("TASK [", "PLAY [")):
                rows.append((moment, text.rstrip("* ")))
    if moment is not None:
        rows.append((moment, "END"))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    rows = banners(args.log)
    if len(rows) < 2:
        parser.error("%s has no timestamped task banners (was ANSIBLE_LOG_PATH set for the run?)" % args.log)
    spent, runs = defaultdict(float), defaultdict(int)
    for (start, banner), (end, _next) in zip(rows, rows[1:]):
        spent[banner] += end - start
        runs[banner] += 1
    print("total %.1f s, %d banners" % (rows[-1][0] - rows[0][0], len(rows) - 1))
    for banner, seconds in sorted(spent.items(), key=lambda item: -item[1])[:args.top]:
        print("%7.2f s  %3dx  %s" % (seconds, runs[banner], banner[:110]))


if __name__ == "__main__":
    main()
