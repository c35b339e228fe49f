# SPDX-License-Identifier: GPL-2.0-only
#
# Shell helpers of the conversions' guest scripts (tools/guest/conv_*.sh),
# which source this file; they set $mode (check or bench) first.

T=/sys/kernel/tracing
n=0
ok() { n=$((n + 1)); echo "ok $n $*"; }
notok() { n=$((n + 1)); echo "not ok $n $*"; }
say() { [ "$mode" = check ] && echo "# $*"; return 0; }

# trace_on PROBE FUNCTION [EVENT...]: empty the trace buffer, count the
# calls of FUNCTION with the kprobe event PROBE (see probe_hits), enable
# the workqueue tracepoints EVENT..., and start tracing.  Fails, tracing
# nothing new, when the kprobe can't be made.
trace_on() {
	probe=$1 fn=$2
	shift 2
	[ -w $T/kprobe_events ] || return 1
	echo 0 >$T/tracing_on
	echo >$T/trace
	if ! echo "p:$probe $fn" >>$T/kprobe_events 2>/dev/null; then
		echo 1 >$T/tracing_on
		return 1
	fi
	echo 1 >$T/events/kprobes/"$probe"/enable
	for ev in "$@"; do
		echo 1 >$T/events/workqueue/"$ev"/enable
	done
	echo 1 >$T/tracing_on
}

# trace_off PROBE [EVENT...]: undo trace_on, with an empty trace buffer
trace_off() {
	probe=$1
	shift
	echo 0 >$T/events/kprobes/"$probe"/enable 2>/dev/null
	for ev in "$@"; do
		echo 0 >$T/events/workqueue/"$ev"/enable
	done
	echo "-:$probe" >>$T/kprobe_events 2>/dev/null
	echo >$T/trace
	echo 1 >$T/tracing_on
}

# probe_hits PROBE: how many times the kprobe event PROBE fired
probe_hits() {
	awk -v p="$1" '$1 == p { print $2 }' $T/kprobe_profile
}

# probe_calls PROBE: how many times PROBE's function was called: its hits
# and its misses, the calls made while another kprobe's handler ran on
# that CPU (an interrupt or softirq on top of it), which the handler of
# PROBE skipped
probe_calls() {
	awk -v p="$1" '$1 == p { print $2 + $3 }' $T/kprobe_profile
}

# probe_missed PROBE: how many calls of PROBE's function its handler
# skipped, see probe_calls
probe_missed() {
	awk -v p="$1" '$1 == p { print $3 }' $T/kprobe_profile
}

# in_context CLASS [FILE]: how many trace lines (of FILE, or stdin) have,
# as the third character of their context flags (the field after the CPU
# number), a character of the awk regex CLASS: [sH] for softirq, with or
# without a hard irq on top, s for softirq itself
in_context() {
	awk -v c="$1" '{ f = ""
			 for (i = 1; i < NF; i++) if ($i ~ /^\[[0-9]+\]$/) { f = $(i + 1); break }
			 if (substr(f, 3, 1) ~ c) n++ } END { print n + 0 }' ${2:+"$2"}
}

# probe_add NAME p|r FUNCTION [FETCHARGS...]: a kprobe (p) or kretprobe (r)
# event NAME on FUNCTION, enabled; fails when it can't be made (FUNCTION
# inlined, say).  probe_del NAME removes it.
probe_add() {
	_probe=$1 _kind=$2
	shift 2
	[ -w $T/kprobe_events ] || return 1
	echo "$_kind:$_probe $*" >>$T/kprobe_events 2>/dev/null || return 1
	echo 1 >$T/events/kprobes/"$_probe"/enable
}
probe_del() {
	# a probe that was never made has no enable file: no message
	[ -e $T/events/kprobes/"$1"/enable ] || return 0
	echo 0 >$T/events/kprobes/"$1"/enable
	echo "-:$1" >>$T/kprobe_events 2>/dev/null
}

# uptime_ms: milliseconds since boot
uptime_ms() {
	awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
}

# bounded SECONDS COMMAND...: run COMMAND in the background and wait for
# it up to SECONDS.  Returns COMMAND's status, or 124 with COMMAND left
# running (hung, say) and its pid in $bounded_pid.
bounded() {
	_limit=$1
	shift
	"$@" &
	bounded_pid=$!
	bounded_wait "$bounded_pid" "$_limit" || return 124
	return "$bounded_status"
}

# sysfs_write FILE VALUE: write VALUE to FILE from a process of its own,
# whose pid goes to $work/writer.pid (for matching trace lines)
sysfs_write() {
	sh -c 'echo $$ >"$1"; echo "$2" >"$3"' sh "$work/writer.pid" "$2" "$1"
}

# span MS...: "min-max" of the numbers
span() {
	echo "$@" | tr ' ' '\n' | sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'
}

# bounded_wait PID SECONDS: wait up to SECONDS for the background job PID;
# 0 once it has ended (its status in $bounded_status), 124 if it is still
# running
bounded_wait() {
	_i=0
	while kill -0 "$1" 2>/dev/null; do
		[ $_i -ge $(($2 * 10)) ] && return 124
		sleep 0.1
		_i=$((_i + 1))
	done
	wait "$1"
	bounded_status=$?
	return 0
}
