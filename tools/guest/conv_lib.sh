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

# in_context CLASS [FILE]: how many trace lines (of FILE, or stdin) have,
# as the third character of their context flags (the field after the CPU
# number), a character of the awk regex CLASS: [sH] for softirq, with or
# without a hard irq on top, s for softirq itself
in_context() {
	awk -v c="$1" '{ f = ""
			 for (i = 1; i < NF; i++) if ($i ~ /^\[[0-9]+\]$/) { f = $(i + 1); break }
			 if (substr(f, 3, 1) ~ c) n++ } END { print n + 0 }' ${2:+"$2"}
}
