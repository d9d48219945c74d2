#!/usr/bin/env bash
# The demo: a 6-host fleet in 3 regions on this machine, two releases deployed, then a rollback.
# Run through `make demo` (which installs everything first). Tear down with `make fleet-down`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH="$root/.venv/bin:$PATH" ANSIBLE_CONFIG="$root/ansible.cfg"
# Live progress per wave and region, a summary per region and the time to recover (plugins/callback/fleet.py).
export ANSIBLE_STDOUT_CALLBACK=fleetops.release.fleet
state=${FLEET_STATE_DIR:-/var/tmp/fleetops-fleet}
# The fleet's loopback addresses (hosts BASE.K, region LBs LB_BASE.1-3): set both to run the demo beside a test fleet.
address_base=${FLEET_ADDRESS_BASE:-127.0.1}
lb_address_base=${FLEET_LB_ADDRESS_BASE:-127.0.2}
inventory="$state/inventory.yml"
out="$root/build/demo"
mkdir -p "$out"
bash scripts/link-collection.sh

step() { printf '\n=== %s\n' "$*"; }

show_releases() {
  python - "$state/fleet.json" <<'PY'
import json, sys, urllib.request
fleet = json.load(open(sys.argv[1]))
print("%-6s %-4s %-12s %-8s %s" % ("host", "reg", "address", "release", "greeting from its /etc/fleetapp config (GET /health)"))
for host in fleet["hosts"]:
    try:
        with urllib.request.urlopen("http://%s:8000/health" % host["address"], timeout=5) as answer:
            answer = json.load(answer)
        release, greeting = answer["release"], answer["config"].get("greeting", "-")
    except Exception as exc:  # the demo shows what it sees, even a dead app
        release, greeting = "unreachable", str(exc)
    print("%-6s %-4s %-12s %-8s %s" % (host["name"], host["region"], host["address"], release, greeting))
PY
}

step "Bringing up a 6-host fleet (us, eu, ap): one sshd per host in its own mount namespace, one HAProxy per region"
python tests/fleet/fleetctl.py up 6 --address-base "$address_base" --lb-address-base "$lb_address_base"

step "Building two demo releases, each with its own configuration (templates rendered per host)"
for id in demo-1 demo-2; do
  # demo-2 is a bad release: its own behaviour.json makes it fail 30% of requests (its /health stays green).
  behaviour=(); [ "$id" = demo-2 ] && behaviour=(--behaviour error_rate=0.3)
  python tests/fleet/build_release.py --id "$id" --out "$out/$id.tar.gz" "${behaviour[@]}"
  mkdir -p "$out/$id"
  printf 'listen = {{ ansible_host }}:8000\ngreeting = configured for %s in {{ fleet_region }}\n' "$id" > "$out/$id/app.conf.j2"
  # A drop-in of the release's own in conf.d (the template creates the directory on a fresh host; a path that nothing
  # creates must exist before a deploy).
  printf '# written for {{ inventory_hostname }}\nrelease = %s\n' "$id" > "$out/$id/release.conf.j2"
  cat > "$out/$id/vars.json" <<EOT
{"fleet_config_paths": ["/etc/fleetapp/conf.d"],
 "fleet_config_templates": [{"src": "$out/$id/app.conf.j2", "dest": "/etc/fleetapp/app.conf"},
                            {"src": "$out/$id/release.conf.j2", "dest": "/etc/fleetapp/conf.d/release.conf"}]}
EOT
done

deploy() {  # deploy <id> [extra ansible-playbook arguments]
  local id=$1; shift
  ansible-playbook -i "$inventory" playbooks/deploy.yml -e fleet_release="$id" -e fleet_artifact="$out/$id.tar.gz" \
    -e fleet_artifact_sha256="$(sha256sum "$out/$id.tar.gz" | cut -d' ' -f1)" -e "@$out/$id/vars.json" "$@"
}

step "Deploying demo-1 with its configuration in waves: one canary per region, then 50%, then 100%"
deploy demo-1

step "Deploying demo-2 with an error-rate gate through each region's LB after each wave (fail above 5% for 3 s)"
gate_vars='{"fleet_traffic_gate": {"rate": 20, "duration": 8, "window": 3, "sustained_for": 3, "max_error_rate": 0.05}}'
if deploy demo-2 -e "$gate_vars"; then
  echo "the deploy passed its gates (unexpected for demo-2)"
else
  echo "the gate caught demo-2 at the canary wave; every host it touched was put back on demo-1"
fi
show_releases

step "Deploying demo-2 again, without the gate (it is known-bad since the revert: the deploy says so and needs an override)"
if deploy demo-2; then
  echo "the deploy of a known-bad release passed (unexpected)"
fi
deploy demo-2 -e fleet_allow_bad_release=true -e '{"fleet_reason": "demo: deploying the known-bad demo-2 on purpose"}'

step "Every host now runs:"
show_releases

step "Error-rate gate through the us load balancer (fleetops.release.traffic_gate: fail above 5% for 3 s)"
gate='{"url": "http://'"$lb_address_base"'.1:8080/", "rate": 20, "duration": 8, "window": 3, "sustained_for": 3, "max_error_rate": 0.05}'
if ansible localhost -i "$inventory" -m fleetops.release.traffic_gate -a "$gate"; then
  echo "the gate passed (unexpected for demo-2)"
else
  echo "the gate caught demo-2"
fi

step "demo-2 is bad: rolling back code and configuration (ansible-playbook playbooks/rollback.yml)"
ansible-playbook -i "$inventory" playbooks/rollback.yml -e '{"fleet_reason": "demo: demo-2 fails 30% of requests"}' \
  -e '{"fleet_config_paths": ["/etc/fleetapp/conf.d"]}'

step "After the rollback every host runs:"
show_releases
step "The audit record of that rollback (one JSON line per run in $state/audit/<day>.jsonl; jq-like view)"
python - "$state/audit" <<'PY'
import glob, json, sys
record = [json.loads(line) for path in sorted(glob.glob(sys.argv[1] + "/*.jsonl")) for line in open(path)][-1]
short = {key: record[key] for key in ("run_id", "operation", "operator", "reason", "status", "started", "finished",
                                       "recovery_seconds", "gates", "failures") if key in record}
short["hosts"] = dict(list(record["hosts"].items())[:2])
print(json.dumps(short, indent=2, sort_keys=True))
print("... and %d more host(s)" % (len(record["hosts"]) - 2))
PY

step "A rollback drill (playbooks/drill.yml): deploy a release that fails its health check, measured through each region's LB"
# A new id per drill (a deploy that its gates stop marks its release bad); the demo fleet is a staging fleet.
drill_id="demo-drill-$(date +%s)"
python tests/fleet/build_release.py --id "$drill_id" --out "$out/$drill_id.tar.gz" --behaviour health=fail
ansible-playbook -i "$inventory" playbooks/drill.yml -e fleet_drill_group=fleet -e fleet_drill_fault=broken_health \
  -e fleet_drill_release="$drill_id" -e fleet_drill_artifact="$out/$drill_id.tar.gz" \
  -e fleet_drill_artifact_sha256="$(sha256sum "$out/$drill_id.tar.gz" | cut -d' ' -f1)" -e fleet_environment=staging \
  -e "@$out/demo-1/vars.json"
drill_report=$(find "$state/audit/drills" -maxdepth 1 -name '*.md' -printf '%T@ %p\n' | sort -nr | head -n 1 | cut -d' ' -f2-)
echo "the drill's report: $drill_report"
echo "its JSON and its picture: ${drill_report%.md}.json ${drill_report%.md}.svg"

cat <<EOT

The fleet keeps running so you can look around:
  inventory:   $inventory
  a host:      ssh -i $state/ssh/id_ed25519 root@$address_base.1   (its own /srv/app, /etc/fleetapp)
  an LB:       curl http://$lb_address_base.1:8080/   (us; eu is $lb_address_base.2, ap $lb_address_base.3)
  roll again:  .venv/bin/ansible-playbook -i $inventory playbooks/rollback.yml -e fleet_release=demo-2 -e fleet_allow_bad_release=true
Tear it down with:  make fleet-down
EOT
