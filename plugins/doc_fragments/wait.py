# Copyright (c) 2026, fleetops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:

    # The one health wait of release_activate and health_check (WAIT_SPEC and wait_until_healthy in module_utils/_health.py).
    DOCUMENTATION = r"""
options:
  wait:
    description:
      - How long and how strictly to wait for the health checks to pass. Every O(wait.interval) seconds all checks run
        once (a round). The wait passes after O(wait.successes) passing rounds in a row, and fails at the first failed
        round beyond O(wait.failure_limit) or when O(wait.timeout) seconds passed without passing.
      - A round fails B(definitely) when a check got a wrong answer, such as an HTTP status the check does not accept
        (a 5xx, any other non-2xx answer of a health URL), a 2xx answer naming another release than expected, or a
        check that does not meet its expectation (a command's exit code, a latency ceiling). It counts against
        O(wait.failure_limit) at any time.
      - A round whose only trouble is that nothing answered (connection refused or reset, no answer within
        O(wait.request_timeout)) is an app that is not listening yet. It does not count while it starts within
        O(wait.start_period) seconds of the start of the wait, and counts like any failure after that. So a release that
        crashes at start fails after about O(wait.start_period) + O(wait.failure_limit) x O(wait.interval) seconds, not
        after O(wait.timeout).
      - Failures are counted in total; a passing round does not forgive the ones before it.
      - In the playbooks of this collection it comes from the variable C(fleet_health_wait), built from
        C(fleet_health_timeout), C(fleet_health_interval), C(fleet_health_consecutive_successes),
        C(fleet_health_failure_limit), C(fleet_health_start_period) and C(fleet_health_request_timeout).
    type: dict
    suboptions:
      timeout:
        description:
          - Seconds the whole wait may take, counted from its first round. The last round starts at this time at the
            latest (and may take up to O(wait.request_timeout) more). V(0) runs exactly one round.
        type: float
        default: 60.0
      interval:
        description: Seconds from the start of one round to the start of the next.
        type: float
        default: 0.5
      successes:
        description: Passing rounds in a row needed to pass.
        type: int
        default: 1
      failure_limit:
        description:
          - Counted failed rounds tolerated; the wait fails at the next one. V(0) fails at the first counted failure.
          - A limit above O(wait.timeout) / O(wait.interval) never ends the wait early, only O(wait.timeout) does.
        type: int
        default: 3
      start_period:
        description:
          - Seconds from the start of the wait during which rounds where nothing answered do not count as failures (as
            Docker's C(HEALTHCHECK --start-period)). Wrong answers count during it too.
        type: float
        default: 10.0
      request_timeout:
        description: Seconds one HTTP request or TCP connect may take; no answer within it is a round where nothing answered.
        type: float
        default: 5.0
"""
