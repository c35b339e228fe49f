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
# calls of FUNCTION with the kprobe event PROBE (see kprobe_profile),
# enable the workqueue tracepoints EVENT..., and start tracing.
trace_on() {
	probe=$1 fn=$2
	shift 2
	echo 0 >$T/tracing_on
	echo >$T/trace
	echo "p:$probe $fn" >>$T/kprobe_events
	echo 1 >$T/events/kprobes/"$probe"/enable
	for ev in "$@"; do
		echo 1 >$T/events/workqueue/"$ev"/enable
	done
	echo 1 >$T/tracing_on
}
