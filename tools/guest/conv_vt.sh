#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# VT keyboard LEDs on a BH work item (drivers/tty/vt/keyboard.c), under a
# real workload: the LEDs of the pc machine's AT keyboard are set through
# the VT (KDSETLED on /dev/tty0) TOGGLES times, each state seen on the
# input device (EVIOCGLED) and its LED class devices.  See
# tools/wqbh/conv.py.
#
#   sh conv_vt.sh check|bench [TOGGLES]
#
# check: KTAP; bench: "wqbh-bench: workload vt toggles_per_s N us_per_toggle N".
mode=${1:-check}
toggles=${2:-1000}
start=$(cut -d' ' -f1 /proc/uptime)
. "$(dirname "$0")/conv_lib.sh"

# The AT keyboard's input device (inputN) and event device (eventN)
input=
for d in /sys/class/input/input*; do
	[ "$(cat "$d/name" 2>/dev/null)" = "AT Translated Set 2 keyboard" ] && input=${d##*/} && break
done
event=
[ -n "$input" ] && for e in /sys/class/input/"$input"/event*; do
	[ -e "$e" ] && event=${e##*/}
done

have_bh=
grep -q ' kbd_bh$' /proc/kallsyms && grep -q ' system_bh_wq$' /proc/kallsyms && have_bh=1
if [ "$mode" = check ] && [ -n "$have_bh" ]; then
	trace_on wqbh_kbd_bh kbd_bh workqueue_execute_start
fi

[ "$mode" = check ] && { echo "KTAP version 1"; echo "1..6"; }

if [ "$mode" = check ]; then
	if [ -n "$input" ] && [ -n "$event" ] && [ -e "/sys/class/leds/$input::capslock" ]; then
		ok "AT keyboard present ($input, $event) with LED class devices"
	else
		say "$(grep Name= /proc/bus/input/devices)"
		notok "AT keyboard present with LED class devices"
	fi
	# no VGA: the VT is on the dummy console
	con=$(cat /sys/class/vtconsole/vtcon*/name 2>/dev/null | tr '\n' ' ')
	say "VT consoles: $con"
	if [ -n "$con" ] && echo "wqbh: conv_vt on tty1" >/dev/tty1 && [ -c /dev/tty0 ]; then
		ok "VT console works ($con)"
	else
		notok "VT console works"
	fi
fi

# Toggle through the 8 LED patterns; after each KDSETLED wait for the input
# device's LED bits (EVIOCGLED) to match, then check the LED class devices.
result=$(timeout 120 python3 - "$toggles" "/dev/input/$event" "/sys/class/leds/$input" <<'EOF'
import fcntl, os, struct, sys, time
toggles, evdev, leds = int(sys.argv[1]), sys.argv[2], sys.argv[3]
KDSETLED, KDGETLED = 0x4B32, 0x4B31
EVIOCGLED = (2 << 30) | (8 << 16) | (ord('E') << 8) | 0x19	# _IOC_READ, 8 bytes
# KDSETLED bits: scroll 1, num 2, caps 4; input LED bits: num 0, caps 1, scroll 2
def to_input(v):
	return (2 if v & 4 else 0) | (1 if v & 2 else 0) | (4 if v & 1 else 0)
names = ((4, 'capslock'), (2, 'numlock'), (1, 'scrolllock'))
tty = os.open('/dev/tty0', os.O_RDWR)
ev = os.open(evdev, os.O_RDONLY)
def input_leds():
	buf = fcntl.ioctl(ev, EVIOCGLED, bytes(8))
	return struct.unpack('<Q', buf)[0] & 7
def class_leds():
	v = 0
	for bit, name in names:
		with open(f'{leds}::{name}/brightness') as f:
			if int(f.read()):
				v |= bit
	return v
seen = class_seen = 0
bad = ''
start = time.monotonic()
for i in range(toggles):
	v = (i + 1) % 8
	fcntl.ioctl(tty, KDSETLED, v)
	deadline = time.monotonic() + 2
	while input_leds() != to_input(v) and time.monotonic() < deadline:
		time.sleep(0.0002)
	if input_leds() == to_input(v):
		seen += 1
	elif not bad:
		bad = f'toggle {i}: KDSETLED {v}, EVIOCGLED {input_leds()}'
	if class_leds() == v:
		class_seen += 1
	elif not bad:
		bad = f'toggle {i}: KDSETLED {v}, LED class devices {class_leds()}'
elapsed = time.monotonic() - start
# the trigger of a LED class device set again gets the current state
fcntl.ioctl(tty, KDSETLED, 4)
while input_leds() != to_input(4) and time.monotonic() < deadline + 2:
	time.sleep(0.001)
trig = f'{leds}::capslock/trigger'
try:
	for name in (b'none', b'kbd-capslock'):
		fd = os.open(trig, os.O_WRONLY)
		os.write(fd, name)
		os.close(fd)
	with open(f'{leds}::capslock/brightness') as f:
		retrigger = int(f.read()) > 0
except OSError as e:
	print(f'# {trig}: {e}', file=sys.stderr)
	retrigger = False
fcntl.ioctl(tty, KDSETLED, 0xff)	# back to showing the keyboard flags
print(f'{seen} {class_seen} {int(elapsed * 1e6)} {int(retrigger)} {bad}')
EOF
)
rc=$?
set -- $result
seen=${1:-0}; class_seen=${2:-0}; us=${3:-0}; retrigger=${4:-0}
[ $# -gt 4 ] && { shift 4; say "first miss: $*"; }

if [ "$mode" = bench ]; then
	if [ $rc -eq 0 ] && [ "$seen" -eq "$toggles" ]; then
		echo "wqbh-bench: workload vt toggles_per_s $((toggles * 1000000 / (us + 1))) us_per_toggle $((us / toggles))"
	fi
	exit 0
fi

say "python exit $rc; $seen of $toggles toggles seen on $event, $class_seen on the LED class devices, in $((us / 1000)) ms"
if [ $rc -eq 0 ] && [ "$seen" -eq "$toggles" ]; then
	ok "$toggles KDSETLED toggles all reach the input device (EVIOCGLED)"
else
	notok "$toggles KDSETLED toggles all reach the input device (EVIOCGLED)"
fi
if [ $rc -eq 0 ] && [ "$class_seen" -eq "$toggles" ]; then
	ok "and its LED class devices"
else
	notok "and its LED class devices"
fi
if [ "$retrigger" = 1 ]; then
	ok "kbd-capslock trigger set again shows the current state"
else
	notok "kbd-capslock trigger set again shows the current state"
fi

if [ -z "$have_bh" ]; then
	notok "kbd_bh ran as a BH work item in softirq context # no BH kbd_bh in this kernel"
else
	echo 0 >$T/tracing_on
	hits=$(probe_hits wqbh_kbd_bh)
	ran=$(grep 'workqueue_execute_start:.*function kbd_bh' $T/trace)
	total=$(echo "$ran" | grep -c kbd_bh)
	soft=$(echo "$ran" | in_context '[sH]')
	say "kbd_bh kprobe hits: ${hits:-none}; executions in the trace buffer: $total, in softirq context: $soft"
	echo "$ran" | head -n 2 | sed 's/^/# /'
	if [ "${hits:-0}" -ge "$toggles" ] && [ "$total" -gt 0 ] && [ "$soft" -eq "$total" ]; then
		ok "kbd_bh ran as a BH work item in softirq context, at least once per toggle"
	else
		notok "kbd_bh ran as a BH work item in softirq context, at least once per toggle"
	fi
	trace_off wqbh_kbd_bh workqueue_execute_start
fi
say "uptime $start s at the start, $(cut -d' ' -f1 /proc/uptime) s at the end"
