# Copyright (c) fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Command line of the local test fleet (see fleetlib.py).  Needs root.

    python3 tests/fleet/fleetctl.py up N [--ssh-port 22] [--address-base 127.0.1] [--lb-address-base 127.0.2]
    python3 tests/fleet/fleetctl.py down
    python3 tests/fleet/fleetctl.py status
    python3 tests/fleet/fleetctl.py lb-reload REGION

The state directory comes from FLEET_STATE_DIR (default /var/tmp/fleetops-fleet) or --state-dir.  A second
fleet can run beside the first with its own state directory, ssh port and address bases, for example
``FLEET_STATE_DIR=/var/tmp/fleet2 fleetctl.py up 2 --ssh-port 2222 --address-base 127.0.3 --lb-address-base 127.0.4``.
"""

from __future__ import annotations

import argparse
import os
import sys

import fleetlib


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="fleetctl.py", description="Local multi-region test fleet of fleetops.release.")
    parser.add_argument("--state-dir", default=None, help=f"state directory (default: ${fleetlib.STATE_DIR_ENV} or {fleetlib.DEFAULT_STATE_DIR})")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="(re)start a fleet of N hosts, cleaning up a stale one first")
    up.add_argument("count", type=int, metavar="N", help="number of hosts, spread over the regions us, eu, ap")
    up.add_argument("--ssh-port", type=int, default=22, help="port of every host's sshd (default 22)")
    up.add_argument("--address-base", default=fleetlib.DEFAULT_ADDRESS_BASE, help="host K gets BASE.K (default %(default)s)")
    up.add_argument("--lb-address-base", default=fleetlib.DEFAULT_LB_ADDRESS_BASE,
                    help="the HAProxy of region R (us=1, eu=2, ap=3) listens on BASE.R:8080 (default %(default)s)")
    commands.add_parser("down", help="stop everything of the fleet and remove its state")
    commands.add_parser("status", help="show what runs (exit 0 all up, 1 something down, 3 no fleet)")
    reload_parser = commands.add_parser("lb-reload", help="save server states and reload the HAProxy of a region")
    reload_parser.add_argument("region", choices=fleetlib.REGIONS)
    args = parser.parse_args(argv)

    controller = fleetlib.FleetController(args.state_dir)
    try:
        if args.command == "up":
            controller.up(args.count, ssh_port=args.ssh_port, address_base=args.address_base, lb_address_base=args.lb_address_base)
        elif args.command == "down":
            controller.down()
        elif args.command == "status":
            return controller.status()
        else:
            controller.lb_reload(args.region)
    except fleetlib.FleetError as exc:
        print(f"fleetctl {args.command}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `fleetctl.py status | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
