#!/usr/bin/env bash
# Benchmarks two Restate server binaries one after the other on this machine
# with identical restate-bench workloads, and prints their result lines side
# by side. Manual tool: not part of CI (it needs the reference binaries and
# owns ports 8080/9070/5122/9080 for several minutes).
#
# Usage: cmd/restate-bench/compare.sh [SERVER_A_BIN [SERVER_B_BIN]]
#   SERVER_A_BIN  default: the npm-installed reference server under $RESTATE_REF_DIR
#   SERVER_B_BIN  default: our server, built from this repository (./cmd/restate-server);
#                 "none" benchmarks server A alone (to record reference numbers)
#
# Environment:
#   RESTATE_REF_DIR  where `npm install @restatedev/restate-server@1.7.12` ran
#                    (default /tmp/restate-ref)
#   WORKLOADS        space-separated workload:concurrency pairs
#                    (default "noop:1 noop:16 noop:64 counter:64 sleep:64")
#   DURATION WARMUP SLEEP_MS KEYS   passed to restate-bench (20s, 2s, 100, 256)
#   BENCH_FLAGS      extra restate-bench flags, e.g. "-h2c"
#   WORK_DIR         scratch dir for binaries, data and logs (default: new dir in /tmp)
#   KEEP_DATA=1      keep the servers' base dirs after the run
#   IDLE_WAIT=SECS   before each run wait up to SECS seconds until the machine
#                    is nearly idle (<0.3 cores busy), so other jobs do not skew
#                    the numbers; 0 (default) does not wait
set -euo pipefail

repo_root=$(cd "$(dirname "$0")/../.." && pwd)
ref_dir=${RESTATE_REF_DIR:-/tmp/restate-ref}
server_a=${1:-$ref_dir/node_modules/@restatedev/restate-server-linux-x64/bin/restate-server}
server_b=${2:-}
workloads=${WORKLOADS:-"noop:1 noop:16 noop:64 counter:64 sleep:64"}
duration=${DURATION:-20s}
warmup=${WARMUP:-2s}
sleep_ms=${SLEEP_MS:-100}
keys=${KEYS:-256}
work_dir=${WORK_DIR:-$(mktemp -d /tmp/restate-compare.XXXXXX)}
mkdir -p "$work_dir"

bench="$work_dir/restate-bench"
(cd "$repo_root" && go build -o "$bench" ./cmd/restate-bench)

servers=("$server_a")
if [[ "$server_b" == none ]]; then
	server_b=""
elif [[ -z "$server_b" ]]; then
	server_b="$work_dir/restate-server-go"
	(cd "$repo_root" && go build -o "$server_b" ./cmd/restate-server)
fi
[[ -n "$server_b" ]] && servers+=("$server_b")
for bin in "${servers[@]}"; do
	[[ -x "$bin" ]] || { echo "compare.sh: server binary $bin is missing or not executable" >&2; exit 2; }
done

port_busy() {
	# ss is not everywhere; bash's /dev/tcp connect is.
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

host_busy_ticks() {
	# user+nice+system+irq+softirq+steal of all CPUs, in 1/100 s
	awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat
}

wait_idle() {
	local limit=${IDLE_WAIT:-0}
	((limit > 0)) || return 0
	local deadline=$((SECONDS + limit)) a b busy
	while ((SECONDS < deadline)); do
		a=$(host_busy_ticks)
		sleep 3
		b=$(host_busy_ticks)
		busy=$(((b - a) / 3)) # ticks per second = centi-cores
		((busy < 30)) && return 0
		echo "  waiting for an idle machine (busy $busy% of a core)" >&2
	done
	echo "  machine still busy after ${limit}s; running anyway" >&2
}

server_pid=""
stop_server() {
	[[ -n "$server_pid" ]] || return 0
	kill -TERM "$server_pid" 2>/dev/null || true
	for _ in $(seq 1 60); do
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.5
	done
	kill -KILL "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=""
}
trap stop_server EXIT

results="$work_dir/results.txt"
: >"$results"

bench_server() {
	local label=$1 bin=$2
	local data="$work_dir/$label-data" log="$work_dir/$label-server.log"
	for port in 8080 9070 5122 9080; do
		if port_busy "$port"; then
			echo "compare.sh: port $port is already in use; stop whatever listens there first" >&2
			exit 2
		fi
	done
	rm -rf "$data"
	echo "== $label: $bin (log $log)" >&2
	"$bin" --base-dir "$data" --node-name n1 --no-logo >"$log" 2>&1 &
	server_pid=$!
	local deadline=$((SECONDS + 60))
	until curl -fsS -o /dev/null http://127.0.0.1:9070/health 2>/dev/null; do
		if ! kill -0 "$server_pid" 2>/dev/null; then
			echo "compare.sh: $label server exited during start-up; see $log" >&2
			exit 1
		fi
		((SECONDS < deadline)) || { echo "compare.sh: $label admin API not healthy after 60s" >&2; exit 1; }
		sleep 0.5
	done

	for spec in $workloads; do
		local wl=${spec%%:*} c=${spec##*:}
		wait_idle
		local line
		# shellcheck disable=SC2086 # BENCH_FLAGS is a list of flags
		if ! line=$("$bench" -register -workload "$wl" -c "$c" -d "$duration" -warmup "$warmup" \
			-sleep-ms "$sleep_ms" -keys "$keys" -server-pid "$server_pid" ${BENCH_FLAGS:-} \
			2> >(grep -v 'Accepting requests without validating' >&2)); then
			line="workload=$wl c=$c FAILED: ${line:-no output}"
		fi
		echo "$label $line" | tee -a "$results"
	done

	stop_server
	if [[ "${KEEP_DATA:-0}" != 1 ]]; then
		rm -rf "$data"
	fi
}

bench_server A "$server_a"
[[ -n "$server_b" ]] && bench_server B "$server_b"

echo
echo "== side by side (A = $server_a, B = ${server_b:-none})"
for spec in $workloads; do
	wl=${spec%%:*} c=${spec##*:}
	grep -E "^[AB] workload=$wl c=$c " "$results" || true
done
