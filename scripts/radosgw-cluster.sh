#!/usr/bin/env bash
# A throwaway one-node Ceph cluster with radosgw, for tests and benchmarks of the S3 driver:
# one mon, one memstore OSD (data in RAM), radosgw (beast) on 127.0.0.1, auth none, pool size 1.
# Everything lives in DIR; nothing is installed or registered system-wide.
#
#   scripts/radosgw-cluster.sh start DIR   starts it (a few seconds) and prints, one per line:
#                                          endpoint=http://127.0.0.1:PORT accesskey=... secretkey=...
#                                          pids="MON OSD RGW"   (also in DIR/pids)
#   scripts/radosgw-cluster.sh stop DIR    stops the daemons by PID (from DIR/pids) and waits
#
# Needs Debian's ceph-mon ceph-osd radosgw ceph-common (scripts/install-deps.sh).
set -euo pipefail
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || {
  echo "usage: $0 start|stop DIR" >&2
  exit 125
}

stop() {
  [ -f "$dir/pids" ] || return 0
  local pids
  pids=$(cat "$dir/pids")
  # radosgw first, the OSD, then the mon; each by its own PID.
  for pid in $(echo "$pids" | tr ' ' '\n' | tac); do kill "$pid" 2>/dev/null || true; done
  for pid in $pids; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -f "$dir/pids"
}

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds; gives up early when an OSD
# log says its monitor refused it ('wrong fsid', seen now and then here: it never recovers).
wait_for() {
  local limit=$1 what=$2
  shift 2
  local deadline=$((SECONDS + limit))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    grep -qs 'wrong fsid' "$dir"/log/osd.*.log && break
    sleep 0.1
  done
  echo "radosgw-cluster: gave up waiting for $what (logs in $dir/log)" >&2
  for f in "$dir"/log/*; do
    [ -s "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
  done
  stop
  exit 1
}

if [ "$cmd" = stop ]; then
  stop
  exit 0
fi
[ "$cmd" = start ] || {
  echo "unknown command $cmd: use start or stop" >&2
  exit 125
}
for bin in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool; do
  command -v "$bin" >/dev/null || {
    echo "radosgw-cluster: $bin not found; apt-get install ceph-mon ceph-osd radosgw ceph-common" >&2
    exit 1
  }
done

mkdir -p "$dir"/{run,log,mon/ceph-a,osd/ceph-0,rgw}
fsid=$(cat /proc/sys/kernel/random/uuid)
mon_port=$(free_port)
rgw_port=$(free_port)
conf="$dir/ceph.conf"
cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = v1:127.0.0.1:$mon_port
ms bind msgr2 = false
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
run dir = $dir/run
log file = $dir/log/\$name.log
admin socket = $dir/run/\$name.asok
mon data = $dir/mon/\$cluster-\$id
osd data = $dir/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = 2147483648
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
paxos propose interval = 0.05
mon osd reporter subtree level = osd
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$rgw_port
rgw data = $dir/rgw
ms mon client mode = crc
auth client required = none
rgw gc obj min wait = 5
rgw gc processor period = 5
rgw thread pool size = 64
EOF

monmaptool --create --addv a "[v1:127.0.0.1:$mon_port]" --fsid "$fsid" "$dir/monmap" >/dev/null
ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" >/dev/null
ceph-mon -c "$conf" -i a -f >"$dir/log/mon.out" 2>&1 &
echo $! >"$dir/pids"
wait_for 60 "the monitor" timeout 20 ceph -c "$conf" --connect-timeout 15 mon stat

osd_uuid=$(cat /proc/sys/kernel/random/uuid)
osd_id=$(ceph -c "$conf" osd new "$osd_uuid")
ceph-osd -c "$conf" -i "$osd_id" --mkfs --osd-uuid "$osd_uuid" >"$dir/log/osd-mkfs.out" 2>&1
ceph-osd -c "$conf" -i "$osd_id" -f >"$dir/log/osd.out" 2>&1 &
echo "$(cat "$dir/pids") $!" >"$dir/pids"
wait_for 60 "the OSD" sh -c "timeout 20 ceph -c '$conf' osd stat | grep -q '1 up'"

radosgw -c "$conf" -n client.rgw -f >"$dir/log/rgw.out" 2>&1 &
echo "$(cat "$dir/pids") $!" >"$dir/pids"
wait_for 90 "radosgw on port $rgw_port" curl -sf -o /dev/null "http://127.0.0.1:$rgw_port/"

access=$(head -c 10 /dev/urandom | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
secret=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')
radosgw-admin -c "$conf" -n client.rgw user create --uid tsdock --display-name tsdock \
  --access-key "$access" --secret-key "$secret" >/dev/null 2>>"$dir/log/admin.err"
echo "endpoint=http://127.0.0.1:$rgw_port"
echo "accesskey=$access"
echo "secretkey=$secret"
echo "pids=\"$(cat "$dir/pids")\""
