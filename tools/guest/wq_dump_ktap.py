#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""KTAP tests of wq_dump.py on a live kernel or on a crash dump.  Run under
drgn, which loads the debug info once for all the tests:

    drgn -q -s VMLINUX tools/guest/wq_dump_ktap.py [options]            (live)
    drgn -q -c VMCORE -s VMLINUX tools/guest/wq_dump_ktap.py --core ... (dump)

Tests, each a KTAP result:
  1. the JSON snapshot matches the documented schema and the invariants of a
     healthy kernel (see wq_dump_check.check_snapshot);
  2. the text, --pending, --wq and --watch modes work, and an unknown --wq fails with
     one line on stderr;
  3. (--park CPU:N, live) with CPU offline, the test module parks N items on
     its system_bh_wq pool and one on its system_bh_highpri_wq pool; JSON and
     text name those items, their functions, workqueues and pools;
     (--expect-parked CPU:N, --core) the same on a dump taken meanwhile;
  4. (--park) once CPU is back online, every parked item has run.

Which tests a run plans depends on what it can test, and is fixed by its
arguments alone: 1-2 with --expect-bh=no (a kernel without the series
has nothing to park), 1-3 with --core (a dump doesn't run), 1-4
otherwise; without --park, 3 and 4 are skipped with the reason.  The
host checks the reported cases against the same list (tools/wqbh/jobs.py).

With --dump-request PATH (live, with --park) the guest asks the host for a
memory dump while the items are parked: it prints "wqbh-request-dump: PATH"
on stdout and waits until PATH.done exists (the host's / is the guest's
root), so the host can run this script on the dump with --core.

Exit status 0 when all tests pass or are skipped, 1 otherwise.  A
missing test_workqueue park file on a kernel with the series is a
failure, not a skip.
"""

import argparse
import contextlib
import importlib.util
import io
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
PARK = "/sys/kernel/debug/test_workqueue/park"
WATCHDOG = "/sys/module/workqueue/parameters/watchdog_thresh"
PARK_FN, PARK_HI_FN = "wq_test_parked_fn", "wq_test_parked_hi_fn"


def load(name, path):
	spec = importlib.util.spec_from_file_location(name, path)
	mod = importlib.util.module_from_spec(spec)
	spec.loader.exec_module(mod)
	return mod


class Ktap:
	def __init__(self, total):
		self.n = 0
		self.failed = 0
		print("KTAP version 1")
		print(f"1..{total}")

	def result(self, name, problems, skip=None):
		self.n += 1
		if skip:
			print(f"ok {self.n} {name} # SKIP {skip}")
			return
		for p in problems:
			print(f"# {p}")
		if problems:
			self.failed += 1
		print(f"{'not ok' if problems else 'ok'} {self.n} {name}")
		sys.stdout.flush()


def run_wq_dump(wq_dump, prog, argv):
	"""wq_dump.main() in this drgn session: (exit status, stdout, stderr)."""
	out, err = io.StringIO(), io.StringIO()
	with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
		rc = wq_dump.main(argv, prog)
	return rc, out.getvalue(), err.getvalue()


def snapshot(wq_dump, prog, argv=()):
	rc, out, err = run_wq_dump(wq_dump, prog, ["--json", *argv])
	if rc != 0:
		raise RuntimeError(f"wq_dump.py --json exited {rc}: {err.strip()[-300:]}")
	return json.loads(out)


def write(path, text):
	with open(path, "w") as f:
		f.write(text)


def read(path):
	with open(path) as f:
		return f.read().strip()


def parked_problems(wq_dump, prog, cpu, count):
	"""What is wrong with how the parked items of @cpu are shown."""
	bad = []
	snap = snapshot(wq_dump, prog)
	bh_pools = {p["nice"]: p for p in snap["pools"]
	            if p["kind"] == "bh" and p["cpu"] == cpu}
	if sorted(bh_pools) != [-20, 0]:
		return [f"CPU {cpu}: BH pools with nice {sorted(bh_pools)}"]
	for nice, fn, wq, want in ((0, PARK_FN, "events_bh", count),
	                           (-20, PARK_HI_FN, "events_bh_highpri", 1)):
		pool = bh_pools[nice]
		items = [w for w in snap["work_items"]
		         if w["pool"] == pool["id"] and fn in w["func"]]
		if len(items) != want:
			bad.append(f"pool {pool['id']} (CPU {cpu}, nice {nice}): "
			           f"{len(items)} items of {fn}, expected {want}")
		for w in items:
			if not (w["bh"] and w["cpu"] == cpu and w["state"] == "pending"
			        and w["workqueue"] == wq):
				bad.append(f"item {w}: expected a pending BH item of {wq} "
				           f"on CPU {cpu}")
		if pool["nr_pending"] < want:
			bad.append(f"pool {pool['id']}: nr_pending {pool['nr_pending']}"
			           f" < {want}")
	per_cpu = {e["cpu"]: e for e in snap["bh"]["per_cpu"]}
	if per_cpu.get(cpu, {}).get("nr_pending", 0) < count + 1:
		bad.append(f"bh.per_cpu for CPU {cpu}: {per_cpu.get(cpu)}")
	rc, out, err = run_wq_dump(wq_dump, prog, ["--pending"])
	for fn in (PARK_FN, PARK_HI_FN):
		if rc != 0 or fn not in out:
			bad.append(f"--pending text: exit {rc}, {fn} not shown")
	rc, out, err = run_wq_dump(wq_dump, prog, ["--pending", "--json",
	                                           "--wq", "events_bh"])
	if rc == 0:
		fns = {w["func"].split("+")[0] for w in json.loads(out)["work_items"]}
		if PARK_HI_FN in fns or not any(PARK_FN in f for f in fns):
			bad.append(f"--wq events_bh --pending lists {sorted(fns)}")
	else:
		bad.append(f"--wq events_bh --pending --json exited {rc}")
	return bad


def main(argv=None):
	ap = argparse.ArgumentParser(
	    description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
	ap.add_argument("--script", default=os.path.join(REPO, "wq_dump.py"))
	ap.add_argument("--expect-bh", choices=("auto", "yes", "no"),
	                default="auto")
	ap.add_argument("--core", action="store_true",
	                help="reading a crash dump: no /sys, no parking")
	ap.add_argument("--park", metavar="CPU:N")
	ap.add_argument("--expect-parked", metavar="CPU:N")
	ap.add_argument("--dump-request", metavar="PATH")
	args = ap.parse_args(argv)

	prog = globals().get("prog")
	if prog is None:
		print("wq_dump_ktap: run under drgn", file=sys.stderr)
		return 2
	wq_dump = load("wq_dump_under_test", args.script)
	check = load("wq_dump_check", os.path.join(HERE, "wq_dump_check.py"))
	if args.expect_bh == "no" and (args.park or args.expect_parked):
		ap.error("--park and --expect-parked need a kernel with BH pools")
	ktap = Ktap(2 if args.expect_bh == "no" else 3 if args.core else 4)

	# 1. schema and invariants
	try:
		snap = snapshot(wq_dump, prog)
		problems = [f"schema: {p}" for p in wq_dump.validate_snapshot(snap)]
		online = None
		if not args.core:
			online = check.parse_cpulist(read("/sys/devices/system/cpu/online"))
		problems += check.check_snapshot(snap, online, args.expect_bh)
	except Exception as e:
		problems = [f"{type(e).__name__}: {e}"]
	ktap.result("wq_dump JSON matches its schema and a healthy kernel",
	            problems)

	# 2. the other modes
	problems = check.mode_problems(
	    lambda extra: run_wq_dump(wq_dump, prog, extra))
	ktap.result("wq_dump text, --pending, --wq and --watch modes", problems)

	# 3./4. parked BH items
	if args.expect_bh == "no":
		return 1 if ktap.failed else 0
	spec = args.park or args.expect_parked
	if args.core:
		try:
			if not spec:
				raise ValueError("no --expect-parked CPU:N given")
			cpu, count = (int(x) for x in spec.split(":"))
			problems = parked_problems(wq_dump, prog, cpu, count)
		except Exception as e:
			problems = [f"{type(e).__name__}: {e}"]
		ktap.result("parked BH items are shown (crash dump)", problems)
		return 1 if ktap.failed else 0
	if not spec:
		why = "needs a second CPU to park items on (--park CPU:N)"
		ktap.result("parked BH items are shown", [], skip=why)
		ktap.result("parked BH items run when their CPU is back", [], skip=why)
		return 1 if ktap.failed else 0
	cpu, count = (int(x) for x in spec.split(":"))

	if not os.path.exists(PARK):
		why = [f"{PARK} missing: test_workqueue not loaded or without park"]
		ktap.result("parked BH items are shown", why)
		ktap.result("parked BH items run when their CPU is back", why)
		return 1 if ktap.failed else 0

	online_file = f"/sys/devices/system/cpu/cpu{cpu}/online"
	thresh = None
	problems = []
	try:
		write(online_file, "0")
		# The parked items are stranded on purpose for as long as drgn
		# takes; the workqueue watchdog would call that a lockup.
		if os.path.exists(WATCHDOG):
			thresh = read(WATCHDOG)
			write(WATCHDOG, "0")
		write(PARK, f"{cpu} {count}")
		problems = parked_problems(wq_dump, prog, cpu, count)
		if args.dump_request:
			print(f"wqbh-request-dump: {args.dump_request}", flush=True)
			deadline = time.time() + 300
			while not os.path.exists(args.dump_request + ".done"):
				if time.time() > deadline:
					problems.append("the host took no dump within 300 s")
					break
				time.sleep(1)
	except Exception as e:
		problems.append(f"{type(e).__name__}: {e}")
	ktap.result("parked BH items are shown", problems)

	problems = []
	try:
		write(online_file, "1")
		deadline = time.time() + 30
		while True:
			state = read(PARK).split()
			parked, ran = int(state[3]), int(state[5])
			if ran == parked or time.time() > deadline:
				break
			time.sleep(0.2)
		if parked != count + 1 or ran != parked:
			problems.append(f"park state: {read(PARK)!r}, expected "
			                f"{count + 1} parked and run")
	except Exception as e:
		problems.append(f"{type(e).__name__}: {e}")
	finally:
		if thresh is not None:
			write(WATCHDOG, thresh)
	ktap.result("parked BH items run when their CPU is back", problems)
	return 1 if ktap.failed else 0


if __name__ == "__main__":
	sys.exit(main(sys.argv[1:]))
