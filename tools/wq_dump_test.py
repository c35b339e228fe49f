# SPDX-License-Identifier: GPL-2.0-only
"""Host unit tests for wq_dump.py: no kernel and no drgn needed.

Run from the top of the tree:

    /usr/bin/python3 -m unittest tools/wq_dump_test.py

Canned data lives in tools/test_data/wq_dump/:

  NAME.snapshot.json       collected data (what Collector.collect() returns)
  NAME.MODE.{txt,json}     expected output of a mode (see MODES) for it

v61_guest is real: the 6.1.192 debug kernel in QEMU (4 CPUs, no BH
series), read from a dump-guest-memory vmcore taken while loops wrote
/proc/sys/vm/stat_refresh (so it has a busy worker and queued items).
v61_guest_offline is real too: `wq_dump.py --json` run live in that guest
(what the guest's drgn printed) with CPU 3 offline.  bh_busy is
synthetic: a 3-CPU kernel with the BH series, busy workers (one of them a
BH worker, one a rescuer), pending, inactive and scheduled work, and
queued tasklets.  To regenerate the
expected files after an intended output change, run with
WQ_DUMP_REGEN=1 and review the diff.
"""

import contextlib
import copy
import glob
import io
import json
import os
import subprocess
import sys
import unittest

TOOLS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TOOLS)
DATA = os.path.join(TOOLS, "test_data", "wq_dump")
SCRIPT = os.path.join(ROOT, "wq_dump.py")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(TOOLS, "guest"))

import wq_dump  # noqa: E402
import wq_dump_check  # noqa: E402

# mode -> (--wq, --pending, json?)
MODES = {
    "text": (None, False, False),
    "pending": (None, True, False),
    "wq_events": ("events", False, False),
    "pending_json": (None, True, True),
}


def load(name):
	with open(os.path.join(DATA, f"{name}.snapshot.json")) as f:
		return json.load(f)


def snapshots():
	return sorted(os.path.basename(p)[:-len(".snapshot.json")]
	              for p in glob.glob(os.path.join(DATA, "*.snapshot.json")))


def render(snap, mode):
	wq, pending, as_json = MODES[mode]
	s = wq_dump.filter_snapshot(snap, wq=wq, pending=pending)
	return wq_dump.render_json(s) if as_json else wq_dump.render_text(s)


def run_main(argv, snap=None, exc=None):
	"""Run wq_dump.main with a fake collector; returns (rc, out, err)."""
	def collect(prog):
		if exc is not None:
			raise exc
		return copy.deepcopy(snap)
	out, err = io.StringIO(), io.StringIO()
	with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
		try:
			rc = wq_dump.main(argv, prog=None, collect=collect)
		except SystemExit as e:
			rc = e.code
	return rc, out.getvalue(), err.getvalue()


class HelperTest(unittest.TestCase):
	def test_cpulist(self):
		self.assertEqual(wq_dump.cpulist([]), "")
		self.assertEqual(wq_dump.cpulist([3]), "3")
		self.assertEqual(wq_dump.cpulist([0, 1, 2, 3]), "0-3")
		self.assertEqual(wq_dump.cpulist([5, 0, 1, 3, 4, 9]), "0-1,3-5,9")
		self.assertEqual(wq_dump.cpulist([1, 1, 2]), "1-2")

	def test_pool_named_by_id_and_cpu(self):
		# messages name a pool, not the whole dict of its collected state
		p = {"id": 14, "cpu": 3, "kind": "bh", "workers": [1, 2]}
		self.assertEqual(wq_dump._pool_name(p), "pool 14 (CPU 3)")
		self.assertEqual(wq_dump._pool_name({"id": 8, "cpu": -1}), "pool 8 (unbound)")
		self.assertEqual(wq_dump._pool_name({"id": 9, "cpu": None}), "pool 9 (unbound)")

	def test_decode_flags(self):
		known = {"WQ_UNBOUND": 2, "WQ_MEM_RECLAIM": 8, "__WQ_ORDERED": 1 << 17}
		self.assertEqual(wq_dump.decode_flags(0, known), [])
		self.assertEqual(wq_dump.decode_flags(10, known),
		                 ["WQ_UNBOUND", "WQ_MEM_RECLAIM"])
		self.assertEqual(wq_dump.decode_flags(2 | 1 << 17 | 0x41, known),
		                 ["WQ_UNBOUND", "__WQ_ORDERED", "0x41"])
		# A name the kernel lacks is simply absent: its bit is unknown.
		self.assertEqual(wq_dump.decode_flags(1, {}), ["0x1"])

	def test_short_flag(self):
		self.assertEqual(wq_dump.short_flag("WQ_MEM_RECLAIM"), "MEM_RECLAIM")
		self.assertEqual(wq_dump.short_flag("__WQ_ORDERED"), "_ORDERED")
		self.assertEqual(wq_dump.short_flag("POOL_BH"), "BH")
		self.assertEqual(wq_dump.short_flag("0x40"), "0x40")

	def test_wq_type(self):
		t = wq_dump.wq_type
		self.assertEqual(t(0, 1, 2, 1 << 17), "percpu")
		self.assertEqual(t(1, 1, 2, 1 << 17), "bh")
		self.assertEqual(t(1 | 16, 1, 2, 1 << 17), "bh")
		self.assertEqual(t(2, 1, 2, 1 << 17), "unbound")
		self.assertEqual(t(2 | 1 << 17, 1, 2, 1 << 17), "ordered")
		# 6.1 without the series: no WQ_BH, bit 0 means nothing.
		self.assertEqual(t(1, 0, 2, 1 << 17), "percpu")

	def test_work_data_pwq(self):
		pwq = 0xffff888003c0e200
		# 6.1: WORK_STRUCT_PWQ = 4, 8 flag bits (9 with debugobjects)
		self.assertEqual(wq_dump.work_data_pwq(pwq | 0x5 | 0x20, 4, 8), pwq)
		self.assertEqual(wq_dump.work_data_pwq(pwq | 0x5, 4, 9), pwq)
		# off-queue data (pool ID << shift) is not a pwq
		self.assertIsNone(wq_dump.work_data_pwq(3 << 6 | 1, 4, 8))
		self.assertIsNone(wq_dump.work_data_pwq(0, 4, 8))

	def test_format_func(self):
		self.assertEqual(wq_dump.format_func("vmstat_update", 0, 0x1000),
		                 "vmstat_update")
		self.assertEqual(wq_dump.format_func("foo", 0x10, 0x1010),
		                 "foo+0x10")
		self.assertEqual(wq_dump.format_func(None, 0, 0xffffffffc0201230),
		                 "0xffffffffc0201230")

	def test_bh_per_cpu(self):
		pools = load("bh_busy")["pools"]
		per_cpu = wq_dump.bh_per_cpu(pools)
		self.assertEqual([e["cpu"] for e in per_cpu], [0, 1, 2])
		self.assertEqual(per_cpu[0], {"cpu": 0, "pools": [6, 7],
		                              "nr_pending": 1, "nr_busy": 1})
		self.assertEqual(wq_dump.bh_per_cpu(load("v61_guest")["pools"]), [])

	def test_table(self):
		lines = wq_dump._table(("A", "BB", "C"), [[1, None, "x"],
		                                          [100, "yy", "long"]],
		                       right=("A",))
		self.assertEqual(lines, ["  A  BB  C", "  1  -   x",
		                         "100  yy  long"])
		for line in lines:
			self.assertEqual(line, line.rstrip())

	def test_import_needs_no_drgn(self):
		code = ("import sys; sys.modules['drgn'] = None; "
		        f"sys.path.insert(0, {ROOT!r}); import wq_dump; "
		        "print(wq_dump.SCHEMA_VERSION)")
		r = subprocess.run([sys.executable, "-c", code], capture_output=True,
		                   text=True)
		self.assertEqual(r.returncode, 0, r.stderr)
		self.assertEqual(r.stdout.strip(), str(wq_dump.SCHEMA_VERSION))


class SchemaTest(unittest.TestCase):
	def test_canned_snapshots_are_valid(self):
		names = snapshots()
		self.assertIn("v61_guest", names)
		self.assertIn("bh_busy", names)
		for name in names:
			with self.subTest(name=name):
				self.assertEqual(wq_dump.validate_snapshot(load(name)), [])

	def test_filtered_snapshots_are_valid(self):
		for name in snapshots():
			for mode, (wq, pending, _) in MODES.items():
				with self.subTest(name=name, mode=mode):
					s = wq_dump.filter_snapshot(load(name), wq, pending)
					self.assertEqual(wq_dump.validate_snapshot(s), [])

	def test_validate_reports_problems(self):
		s = load("bh_busy")
		del s["pools"][0]["nr_idle"]
		s["workqueues"][0]["max_active"] = "256"
		s["busy_workers"][0]["rescuer"] = 0
		s["pools"][1]["nice"] = True          # bool is not an int here
		s["tasklets"]["per_cpu"][0]["softirq_runs"]["hi"] = 1.5
		problems = wq_dump.validate_snapshot(s)
		self.assertIn("$.pools[0].nr_idle: missing", problems)
		self.assertIn("$.workqueues[0].max_active: expected int, got str",
		              problems)
		self.assertIn("$.busy_workers[0].rescuer: expected bool, got int",
		              problems)
		self.assertIn("$.pools[1].nice: expected int, got bool", problems)
		self.assertIn("$.tasklets.per_cpu[0].softirq_runs.hi: expected "
		              "int/NoneType, got float", problems)
		self.assertEqual(len(problems), 5)

	def test_validate_enums_and_version(self):
		s = load("bh_busy")
		s["schema_version"] = 2
		s["workqueues"][1]["type"] = "highpri"
		s["pools"][0]["kind"] = "cpu"
		s["work_items"][0]["state"] = "queued"
		problems = wq_dump.validate_snapshot(s)
		self.assertEqual(len(problems), 4, problems)
		self.assertTrue(any("schema_version" in p for p in problems))

	def test_json_doc_names_every_key(self):
		def keys(schema):
			if isinstance(schema, dict):
				for k, v in schema.items():
					yield k
					yield from keys(v)
			elif isinstance(schema, list):
				yield from keys(schema[0])
		for key in set(keys(wq_dump.SCHEMA)):
			self.assertRegex(wq_dump.JSON_DOC, rf"\b{key}\b", key)
		self.assertIn(f"schema_version {wq_dump.SCHEMA_VERSION}",
		              wq_dump.JSON_DOC)

	def test_json_output(self):
		snap = load("bh_busy")
		out = wq_dump.render_json(wq_dump.filter_snapshot(snap))
		data = json.loads(out)
		self.assertEqual(data["schema_version"], wq_dump.SCHEMA_VERSION)
		self.assertEqual(list(data), sorted(data))   # stable key order
		self.assertEqual(data["pools"], snap["pools"])
		self.assertEqual(wq_dump.validate_snapshot(data), [])


class FilterTest(unittest.TestCase):
	def test_input_not_modified(self):
		snap = load("bh_busy")
		before = copy.deepcopy(snap)
		wq_dump.filter_snapshot(snap, wq="events", pending=True)
		self.assertEqual(snap, before)

	def test_no_filter_keeps_everything(self):
		snap = load("bh_busy")
		s = wq_dump.filter_snapshot(snap)
		self.assertEqual(s["filter"], {"wq": None, "pending_only": False})
		for key in ("pools", "workqueues", "rescuers", "busy_workers",
		            "work_items", "tasklets"):
			self.assertEqual(s[key], snap[key], key)

	def test_wq_exact(self):
		s = wq_dump.filter_snapshot(load("bh_busy"), wq="events")
		self.assertEqual([w["name"] for w in s["workqueues"]], ["events"])
		self.assertEqual([p["id"] for p in s["pools"]], [0, 2, 4])
		self.assertEqual({w["workqueue"] for w in s["work_items"]},
		                 {"events"})
		self.assertEqual([b["pool"] for b in s["busy_workers"]], [0])
		self.assertEqual(s["rescuers"], [])
		self.assertEqual(s["tasklets"]["per_cpu"], [])
		self.assertEqual(s["bh"]["per_cpu"], [])

	def test_wq_wildcard(self):
		s = wq_dump.filter_snapshot(load("bh_busy"), wq="events_bh*")
		self.assertEqual([w["name"] for w in s["workqueues"]],
		                 ["events_bh", "events_bh_highpri"])
		self.assertEqual([p["id"] for p in s["pools"]], list(range(6, 12)))
		self.assertEqual([e["cpu"] for e in s["bh"]["per_cpu"]], [0, 1, 2])

	def test_wq_unknown(self):
		with self.assertRaisesRegex(wq_dump.WqDumpError, "no workqueue "
		                            "matches 'nope'"):
			wq_dump.filter_snapshot(load("bh_busy"), wq="nope")

	def test_pending(self):
		s = wq_dump.filter_snapshot(load("bh_busy"), pending=True)
		self.assertEqual([p["id"] for p in s["pools"]], [0, 6, 8, 12])
		self.assertEqual([r["workqueue"] for r in s["rescuers"]],
		                 ["writeback"])
		self.assertEqual([e["cpu"] for e in s["tasklets"]["per_cpu"]],
		                 [0, 1])
		self.assertEqual([e["cpu"] for e in s["bh"]["per_cpu"]], [0, 1])
		self.assertNotIn("events_highpri",
		                 [w["name"] for w in s["workqueues"]])
		self.assertEqual(len(s["work_items"]), 8)

	def test_pending_on_idle_kernel(self):
		snap = load("v61_guest")
		snap["busy_workers"] = []
		snap["work_items"] = []
		for p in snap["pools"]:
			p["nr_busy"] = p["nr_pending"] = p["nr_inactive"] = 0
		for w in snap["workqueues"]:
			w["nr_active"] = w["nr_inactive"] = 0
		for r in snap["rescuers"]:
			r["busy"] = False
		for t in snap["tasklets"]["per_cpu"]:
			t["normal"] = t["hi"] = []
		text = wq_dump.render_text(wq_dump.filter_snapshot(snap,
		                                                   pending=True))
		for title in ("Worker pools", "Workqueues", "Busy workers",
		              "Work items", "Tasklets"):
			self.assertIn(f"{title}\n{'=' * len(title)}\n(none",
			              text, title)


class RenderTest(unittest.TestCase):
	maxDiff = None

	def test_golden_files(self):
		regen = os.environ.get("WQ_DUMP_REGEN")
		checked = 0
		for name in snapshots():
			for mode, (_, _, as_json) in MODES.items():
				path = os.path.join(DATA, f"{name}.{mode}."
				                    f"{'json' if as_json else 'txt'}")
				got = render(load(name), mode)
				if regen:
					with open(path, "w") as f:
						f.write(got)
				with self.subTest(file=os.path.basename(path)):
					with open(path) as f:
						self.assertEqual(got, f.read())
				checked += 1
		self.assertGreaterEqual(checked, 12)

	def test_no_bh_support_is_said(self):
		text = render(load("v61_guest"), "text")
		self.assertIn("BH worker pools\n===============\nnone: this kernel "
		              "has no BH workqueue support", text)
		self.assertNotIn("BH work items per CPU", text)
		self.assertNotIn("BH pending per CPU", text)

	def test_bh_supported_without_pools(self):
		snap = load("v61_guest")
		snap["bh"]["supported"] = True
		snap["bh"]["symbols"] = ["POOL_BH"]
		text = render(snap, "text")
		self.assertIn("BH worker pools\n===============\n(none)", text)
		self.assertIn("BH work items per CPU", text)

	def test_bh_separated(self):
		text = render(load("bh_busy"), "text")
		pools, bh = text.split("BH worker pools\n")[0], \
		    text.split("BH worker pools\n")[1].split("Workqueues\n")[0]
		self.assertNotIn(" BH", pools)
		self.assertEqual(bh.count("  BH"), 6)
		items = text.split("BH work items per CPU\n")[1].split("Tasklets")[0]
		self.assertIn("0xffffffffc0201230", items)
		self.assertNotIn("events_bh",
		                 text.split("\nWork items\n")[1].split("BH work")[0])

	def test_many_cpus_use_runs(self):
		snap = load("bh_busy")
		cpus = list(range(20))
		snap["kernel"]["possible_cpus"] = cpus
		wq = snap["workqueues"][4]
		wq["cpu_pools"] = ([{"cpu": c, "pool": 12} for c in range(10)] +
		                   [{"cpu": c, "pool": 13} for c in range(10, 19)] +
		                   [{"cpu": 19, "pool": None}])
		text = render(snap, "text")
		self.assertIn("CPU->POOL", text)
		self.assertNotIn("CPU19", text)
		self.assertIn(" 0-9:12 10-18:13 19:- ", text)

	def test_errors_are_shown(self):
		snap = load("bh_busy")
		snap["errors"] = ["pool at 0xffff888003a1c000: could not read"]
		text = render(snap, "text")
		self.assertTrue(text.rstrip().endswith(snap["errors"][0]))

	def test_no_trailing_space(self):
		for name in snapshots():
			for mode in ("text", "pending", "wq_events"):
				for line in render(load(name), mode).splitlines():
					self.assertEqual(line, line.rstrip(), (name, mode))

	def test_every_header_is_documented(self):
		documented = {n for cols in wq_dump.COLUMNS.values() for n, _ in cols}
		for name in snapshots():
			for mode in ("text", "pending", "wq_events"):
				lines = render(load(name), mode).splitlines()
				for i, line in enumerate(lines[1:], 1):
					if set(line) == {"="}:
						header = lines[i + 1] if i + 1 < len(lines) else ""
						first = header.split()[0] if header else ""
						if not first.replace("_", "").isupper():
							continue   # "(none)", "none: ..." notes
						for col in header.split():
							col = "CPU<n>" if col[3:].isdigit() and \
							    col.startswith("CPU") and col != "CPU" \
							    else col
							self.assertIn(col, documented,
							              f"{name}/{mode}: {lines[i - 1]}")
		# and the titles of the sections are the COLUMNS keys
		text = render(load("bh_busy"), "text")
		for section in wq_dump.COLUMNS:
			for title in section.split(" / "):
				self.assertIn(f"\n{title}\n", "\n" + text)


class WatchTest(unittest.TestCase):
	"""--watch on canned snapshots, with a fake clock."""

	def run_watch(self, count, as_json, step=500):
		snaps = []

		def collect(prog):
			snap = copy.deepcopy(load("bh_busy"))
			for c in snap["tasklets"]["per_cpu"]:
				c["softirq_runs"]["tasklet"] += step * len(snaps)
			snaps.append(snap)
			return snap
		times = iter([10.0, 12.0, 14.0, 16.0])
		slept = []
		out = io.StringIO()
		wq_dump.watch(collect, None, 2.0, count, as_json, out=out,
		              clock=lambda: next(times), sleep=slept.append)
		return out.getvalue(), slept, len(snaps)

	def test_json_stream_with_rates(self):
		text, slept, n = self.run_watch(3, True)
		lines = text.splitlines()
		self.assertEqual((len(lines), n, slept), (3, 3, [2.0, 2.0]))
		first, second = json.loads(lines[0]), json.loads(lines[1])
		self.assertIsNone(first["interval"])
		self.assertIsNone(first["cpus"][0]["tasklet_softirqs_per_s"])
		self.assertEqual(second["interval"], 2.0)
		# 500 more tasklet softirqs in 2 s on every CPU
		self.assertEqual({c["tasklet_softirqs_per_s"] for c in second["cpus"]},
		                 {250.0})
		self.assertEqual({c["hi_softirqs_per_s"] for c in second["cpus"]}, {0.0})
		kinds = {p["kind"] for p in second["pools"]}
		self.assertIn("bh", kinds)

	def test_counts_what_is_queued(self):
		snap = load("bh_busy")
		sample = wq_dump.watch_sample(snap, 0.0)
		for p in sample["pools"]:
			want = sum(1 for it in snap["work_items"]
			           if it["pool"] == p["id"] and it["state"] == "inbox")
			self.assertEqual(p["inbox"], want)
		queued = sum(w["queued"] for w in sample["workqueues"])
		self.assertEqual(queued, sum(1 for it in snap["work_items"]
		                             if it["workqueue"] is not None))

	def test_text_screens_without_escapes_off_a_terminal(self):
		text, _, n = self.run_watch(2, False)
		self.assertEqual(n, 2)
		self.assertNotIn("\033", text)
		self.assertEqual(text.count("Tasklet softirqs per CPU"), 2)
		self.assertIn("TASKLET/s", text)
		self.assertIn(" bh ", text)

	def test_bad_interval_is_an_error(self):
		rc, out, err = run_main(["--watch", "0"], load("bh_busy"))
		self.assertEqual((rc, out), (1, ""))
		self.assertIn("--watch needs a positive interval", err)

	def test_main_watch_count(self):
		rc, out, err = run_main(["--watch", "0.01", "--count", "2", "--json"],
		                        load("bh_busy"))
		self.assertEqual((rc, err), (0, ""))
		self.assertEqual(len(out.splitlines()), 2)


class MainTest(unittest.TestCase):
	def test_text_and_json(self):
		snap = load("bh_busy")
		rc, out, err = run_main([], snap)
		self.assertEqual((rc, err), (0, ""))
		self.assertEqual(out, render(snap, "text"))
		rc, out, err = run_main(["--json", "--pending"], snap)
		self.assertEqual((rc, err), (0, ""))
		self.assertEqual(out, render(snap, "pending_json"))
		rc, out, err = run_main(["--wq", "events"], snap)
		self.assertEqual(out, render(snap, "wq_events"))

	def test_unknown_wq_is_one_line(self):
		rc, out, err = run_main(["--wq", "nope"], load("bh_busy"))
		self.assertEqual(rc, 1)
		self.assertEqual(out, "")
		self.assertEqual(err, "wq_dump: error: no workqueue matches 'nope'\n")

	def test_collect_error_is_one_line(self):
		exc = wq_dump.WqDumpError("no kernel debug info loaded: pass the "
		                          "matching vmlinux with -s")
		rc, out, err = run_main(["--json"], exc=exc)
		self.assertEqual((rc, out), (1, ""))
		self.assertEqual(err.count("\n"), 1)
		self.assertTrue(err.startswith("wq_dump: error: no kernel debug"))

	def test_unexpected_error_is_one_line(self):
		rc, out, err = run_main([], exc=KeyError("line1\nline2"))
		self.assertEqual(rc, 1)
		self.assertEqual(err.count("\n"), 1, err)
		self.assertIn("unexpected KeyError", err)
		self.assertIn("WQ_DUMP_DEBUG=1", err)

	def test_debug_env_reraises(self):
		os.environ["WQ_DUMP_DEBUG"] = "1"
		try:
			with self.assertRaises(KeyError):
				run_main([], exc=KeyError("x"))
		finally:
			del os.environ["WQ_DUMP_DEBUG"]

	def test_without_drgn_prog(self):
		r = subprocess.run([sys.executable, SCRIPT, "--json"],
		                   capture_output=True, text=True)
		self.assertEqual(r.returncode, 1)
		self.assertEqual(r.stdout, "")
		self.assertEqual(len(r.stderr.splitlines()), 1)
		self.assertIn("run under drgn", r.stderr)

	def test_help_explains_columns_and_options(self):
		r = subprocess.run([sys.executable, SCRIPT, "--help"],
		                   capture_output=True, text=True)
		self.assertEqual(r.returncode, 0, r.stderr)
		for opt in ("--json", "--wq NAME", "--pending", "schema_version"):
			self.assertIn(opt, r.stdout)
		for section, cols in wq_dump.COLUMNS.items():
			self.assertIn(f"\n  {section}\n", r.stdout)
			for name, _ in cols:
				self.assertRegex(r.stdout, rf"\n    {name} +\S")
		for line in r.stdout.splitlines():
			self.assertLessEqual(len(line), 80, line)

	def test_bad_option_is_usage_error(self):
		rc, out, err = run_main(["--bogus"], load("bh_busy"))
		self.assertEqual(rc, 2)


class CheckerTest(unittest.TestCase):
	"""The guest checker's invariants, on canned data."""

	def test_guest_snapshots_pass(self):
		snap = load("v61_guest")
		self.assertEqual(wq_dump_check.check_snapshot(
		    snap, snap["kernel"]["online_cpus"], "no"), [])
		snap = load("v61_guest_offline")
		self.assertEqual(wq_dump_check.check_snapshot(
		    snap, snap["kernel"]["online_cpus"], "auto"), [])

	def test_bh_snapshot_passes(self):
		snap = load("bh_busy")
		snap["workqueues"] += [
		    {**snap["workqueues"][0], "name": n, "pwqs": []}
		    for n in ("events_long", "events_freezable")]
		self.assertEqual(wq_dump_check.check_snapshot(snap, [0, 1], "yes"),
		                 [])
		self.assertIn("BH support reported True, expected False",
		              wq_dump_check.check_snapshot(snap, [0, 1], "no"))

	def test_detects_broken_snapshots(self):
		snap = load("v61_guest")
		cpu = snap["kernel"]["online_cpus"][-1]
		snap["pools"] = [p for p in snap["pools"]
		                 if not (p["kind"] == "percpu" and p["cpu"] == cpu
		                         and p["nice"] == -20)]
		snap["workqueues"] = [w for w in snap["workqueues"]
		                      if w["name"] != "events"]
		bad = wq_dump_check.check_snapshot(snap, None, "no")
		self.assertIn("system workqueue events missing", bad)
		self.assertIn(f"CPU {cpu}: per-CPU pools with nice [0], expected "
		              "[-20, 0]", bad)
		self.assertTrue(any("unknown pool" in b for b in bad), bad)

	def test_detects_wrong_online_cpus(self):
		snap = load("v61_guest")
		bad = wq_dump_check.check_snapshot(snap, [0], "no")
		self.assertTrue(any(b.startswith("online CPUs") for b in bad), bad)

	def test_detects_missing_keys(self):
		snap = load("v61_guest")
		del snap["tasklets"]
		self.assertEqual(wq_dump_check.check_snapshot(snap),
		                 ["JSON lacks top-level keys: tasklets"])

	def test_mode_problems(self):
		snap = load("bh_busy")
		ticks = iter([0.0, 1.0])
		stream = io.StringIO()
		wq_dump.watch(lambda prog: copy.deepcopy(snap), None, 1.0, 2, True,
		              out=stream, clock=lambda: next(ticks), sleep=lambda s: None)

		def good(argv):
			if argv == ["--wq", "no-such-workqueue"]:
				return 1, "", "wq_dump: error: no workqueue matches\n"
			if argv == wq_dump_check.WATCH_ARGS:
				return 0, stream.getvalue(), ""
			return 0, ("Worker pools\n(only queued or running work)\n"
			           "(workqueue filter: events)\n"), ""
		self.assertEqual(wq_dump_check.mode_problems(good), [])

		def bad(argv):
			if argv == ["--wq", "no-such-workqueue"]:
				return 0, "", ""
			if argv == wq_dump_check.WATCH_ARGS:
				return 0, stream.getvalue().splitlines()[0] + "\n", ""
			return 0, "Worker pools\n", ""
		problems = wq_dump_check.mode_problems(bad)
		self.assertEqual(len(problems), 4, problems)
		self.assertTrue(problems[2].startswith("unknown --wq: exit 0"))
		self.assertTrue(problems[3].startswith("--watch --count 2: exit 0, 1 samples"))

	def test_parse_cpulist(self):
		self.assertEqual(wq_dump_check.parse_cpulist("0-2,5\n"), [0, 1, 2, 5])
		self.assertEqual(wq_dump_check.parse_cpulist("0\n"), [0])


if __name__ == "__main__":
	unittest.main()
