# Copyright (c) fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Command line of the local test fleet (see fleetlib.py).  Needs root.

    python3 tests/fleet/fleetctl.py up N [--ssh-port 22] [--address-base 127.0.1] [--lb-address-base 127.0.2] [--blue-green]
    python3 tests/fleet/fleetctl.py down
    python3 tests/fleet/fleetctl.py status
    python3 tests/fleet/fleetctl.py lb-reload REGION [--no-save-state]   (REGION may also be an extra node such as us-bg.1)
    python3 tests/fleet/fleetctl.py lb-add NAME --region R [--type haproxy|nginx] [--blue-green] [--nodes N]
    python3 tests/fleet/fleetctl.py lb-remove NAME

The state directory comes from FLEET_STATE_DIR (default /var/tmp/fleetops-fleet) or --state-dir.  A second
fleet can run beside the first with its own state directory, ssh port and address bases, for example
``FLEET_STATE_DIR=/var/tmp/fleet2 fleetctl.py up 2 --ssh-port 2222 --address-base 127.0.3 --lb-address-base 127.0.4``.

With ``--blue-green`` each region's HAProxy (same address, socket and server-state file) has two backends, app_blue
(the region's 1st, 3rd, ... host) and app_green (2nd, 4th, ...), picked through the map file haproxy/<region>/active.map
(key ``active``, initially app_blue); fleetops.release.lb_pool_flip flips it.  The inventory then has fleet_strategy:
blue_green, per region fleet_lb_map, fleet_lb_map_key and fleet_lb_pools, per host fleet_pool and fleet_lb_backend.
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
    up.add_argument("--blue-green", action="store_true",
                    help="each region's HAProxy gets two pools (app_blue, app_green) chosen through a map (initially app_blue)")
    commands.add_parser("down", help="stop everything of the fleet and remove its state")
    commands.add_parser("status", help="show what runs (exit 0 all up, 1 something down, 3 no fleet)")
    reload_parser = commands.add_parser("lb-reload", help="save server states and reload the HAProxy of a region")
    reload_parser.add_argument("region", help="a region (us, eu, ap) or an extra HAProxy node such as us-bg.1")
    reload_parser.add_argument("--no-save-state", action="store_true",
                               help="do not dump 'show servers state' to the server-state file before the reload")
    add = commands.add_parser("lb-add", help="start an extra LB for a region: an HA pair, a blue/green HAProxy or an nginx")
    add.add_argument("name")
    add.add_argument("--region", required=True, choices=fleetlib.REGIONS)
    add.add_argument("--type", default="haproxy", choices=("haproxy", "nginx"))
    add.add_argument("--blue-green", action="store_true", help="two pools (app_blue, app_green) chosen through a map")
    add.add_argument("--nodes", type=int, default=1, help="number of HAProxy nodes (2: an HA pair)")
    remove = commands.add_parser("lb-remove", help="stop an extra LB and remove its files")
    remove.add_argument("name")
    args = parser.parse_args(argv)

    controller = fleetlib.FleetController(args.state_dir)
    try:
        if args.command == "up":
            controller.up(args.count, ssh_port=args.ssh_port, address_base=args.address_base, lb_address_base=args.lb_address_base,
                          blue_green=args.blue_green)
        elif args.command == "down":
            controller.down()
        elif args.command == "status":
            return controller.status()
        elif args.command == "lb-add":
            controller.lb_add(args.name, args.region, kind=args.type, blue_green=args.blue_green, nodes=args.nodes)
        elif args.command == "lb-remove":
            controller.lb_remove(args.name)
        elif args.region in fleetlib.REGIONS and not args.no_save_state:
            controller.lb_reload(args.region)
        else:
            controller.lb_reload_node(args.region, save_state=not args.no_save_state)
    except fleetlib.FleetError as exc:
        print(f"fleetctl {args.command}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `fleetctl.py status | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
