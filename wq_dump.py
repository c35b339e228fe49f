#!/usr/bin/env drgn
# SPDX-License-Identifier: GPL-2.0-only
"""Show live workqueue, worker-pool and tasklet state of a Linux kernel.

Run under drgn, live or on a crash dump:

    /usr/bin/drgn wq_dump.py [--json] [--wq NAME] [--pending]
    /usr/bin/drgn -c VMCORE -s vmlinux wq_dump.py [options]

The script first collects kernel objects into plain Python data (dicts,
lists, numbers, strings); the text and JSON output are both rendered from
that data.  Written for Linux 6.1 (wq->cpu_pwqs, wq->numa_pwq_tbl), with
or without the BH workqueue series; it also reads the per-CPU pwq
pointers of 6.6 to 6.8 (wq->cpu_pwq), which are not tested here.  6.9 and
later, whose pool_workqueue has no max_active, are refused with a message
that says so (upstream's tools/workqueue/wq_dump.py is for them).  BH (softirq)
worker pools are found at run time through the symbols `bh_worker_pools`,
`POOL_BH` and `WQ_BH`; a kernel without them is reported as having no BH
pools.
"""

import argparse
import fnmatch
import json
import os
import sys
import textwrap

SCHEMA_VERSION = 1

# Walks of live kernel lists give up after this many entries, so a list
# that changes under our feet cannot make the script loop forever.
LIST_LIMIT = 100000

# Flag bits are looked up by name in the kernel's debug info; only the
# names are listed here, never the values.  Bits the kernel sets that
# have no known name are shown as a hex number.
WQ_FLAG_NAMES = (
    "WQ_BH",
    "WQ_UNBOUND",
    "WQ_FREEZABLE",
    "WQ_MEM_RECLAIM",
    "WQ_HIGHPRI",
    "WQ_CPU_INTENSIVE",
    "WQ_SYSFS",
    "WQ_POWER_EFFICIENT",
    "__WQ_DESTROYING",
    "__WQ_DRAINING",
    "__WQ_ORDERED",
    "__WQ_LEGACY",
    "__WQ_ORDERED_EXPLICIT",
)
POOL_FLAG_NAMES = (
    "POOL_BH",
    "POOL_MANAGER_ACTIVE",
    "POOL_DISASSOCIATED",
    "POOL_BH_DRAINING",
)

WQ_C = "kernel/workqueue.c"
SOFTIRQ_C = "kernel/softirq.c"

WQ_TYPES = ("bh", "percpu", "unbound", "ordered")
POOL_KINDS = ("percpu", "bh", "unbound")
WORK_STATES = ("pending", "inbox", "inactive", "scheduled")

# Column help: every header printed by the text renderer is listed here
# and shown by --help (the unit tests check that they stay in sync).
COLUMNS = {
    "Worker pools / BH worker pools": [
        ("ID", "worker pool ID (index in worker_pool_idr)"),
        ("CPU", "CPU of a per-CPU or BH pool, or the cpulist an unbound "
                "pool's workers may run on ('cpus 0-3')"),
        ("NODE", "NUMA node of the pool"),
        ("NICE", "nice value of the pool's workers (-20: highpri pool)"),
        ("WORKERS", "worker threads attached to the pool"),
        ("IDLE", "of those, idle workers"),
        ("BUSY", "workers executing a work item right now"),
        ("PENDING", "work items queued on the pool's worklist"),
        ("INACTIVE", "work items held back by max_active in workqueues "
                     "that feed this pool (pwq->inactive_works)"),
        ("FLAGS", "pool flags without the POOL_ prefix: DISASSOCIATED "
                  "(per-CPU pool whose CPU is offline; always set on "
                  "unbound pools), MANAGER_ACTIVE, BH, BH_DRAINING"),
    ],
    "BH pending per CPU": [
        ("CPU", "CPU"),
        ("POOLS", "IDs of the CPU's BH pools (normal, highpri)"),
        ("PENDING", "work items queued on them"),
        ("BUSY", "BH work items executing right now"),
    ],
    "Workqueues": [
        ("NAME", "workqueue name"),
        ("TYPE", "bh (WQ_BH), percpu, unbound or ordered (unbound with "
                 "__WQ_ORDERED)"),
        ("MAX", "max_active: work items the queue may run at once per pool "
                "workqueue (saved_max_active on 6.1)"),
        ("ACTIVE", "work items counted as active in its pool workqueues"),
        ("INACT", "work items waiting for max_active (inactive)"),
        ("CPU<n>", "pool that work queued on CPU n goes to (per-CPU columns "
                   "for up to 16 CPUs, else a 'cpus:pool' list in CPU->POOL)"),
        ("DFL", "default pool of an unbound workqueue"),
        ("FLAGS", "WQ_* flags without the WQ_ prefix; internal __WQ_* "
                  "flags keep a leading underscore"),
    ],
    "Rescuers": [
        ("WORKQUEUE", "WQ_MEM_RECLAIM workqueue the rescuer serves"),
        ("PID", "rescuer thread PID"),
        ("COMM", "rescuer thread name"),
        ("CPUS", "CPUs the rescuer thread may run on"),
        ("POOL", "pool the rescuer is attached to while rescuing, '-' if "
                 "none"),
        ("CURRENT", "function of the work item it is rescuing, '-' if idle"),
    ],
    "Busy workers": [
        ("POOL", "pool ID"),
        ("WORKER", "worker ID inside the pool ('R' suffix: rescuer)"),
        ("PID", "worker thread PID ('-' for a BH worker, which has none)"),
        ("COMM", "worker thread name"),
        ("WORKQUEUE", "workqueue of the running work item"),
        ("WORK", "address of the running work_struct"),
        ("FUNCTION", "symbol of the work function (current_func)"),
        ("DESC", "description set with set_worker_desc()"),
    ],
    "Work items": [
        ("POOL", "pool ID the item is queued to"),
        ("CPU", "CPU of that pool, '-' for an unbound pool"),
        ("STATE", "pending: on the pool worklist; inbox: queued on a BH "
                  "pool's CPU, not yet moved to its worklist; inactive: "
                  "waiting for max_active; scheduled: handed to a busy "
                  "worker"),
        ("WORKQUEUE", "workqueue the item was queued on"),
        ("WORK", "address of the work_struct"),
        ("FUNCTION", "symbol of the work function"),
    ],
    "BH work items per CPU": [
        ("CPU", "CPU of the BH pool"),
        ("POOL", "BH pool ID"),
        ("STATE", "as in Work items"),
        ("WORKQUEUE", "workqueue the item was queued on"),
        ("WORK", "address of the work_struct"),
        ("FUNCTION", "symbol of the work function"),
    ],
    "Tasklets": [
        ("CPU", "CPU"),
        ("QUEUED", "tasklets on the CPU's tasklet_vec (TASKLET_SOFTIRQ)"),
        ("HI_QUEUED", "tasklets on tasklet_hi_vec (HI_SOFTIRQ)"),
        ("TASKLET_RUNS", "times TASKLET_SOFTIRQ was handled on the CPU "
                         "since boot (kstat softirqs; '-' if unknown)"),
        ("HI_RUNS", "the same for HI_SOFTIRQ"),
        ("KIND", "(per tasklet) normal or hi"),
        ("TASKLET", "(per tasklet) address of the tasklet_struct"),
        ("STATE", "(per tasklet) S: scheduled, R: running, D: disabled"),
        ("FUNCTION", "(per tasklet) callback or func symbol"),
    ],
}

JSON_DOC = """\
JSON output (--json), schema_version 1.  Within one schema_version keys
are only ever added; removing, renaming or changing the meaning of a key
increments it.  Flags are kernel constant names ("WQ_MEM_RECLAIM",
"POOL_DISASSOCIATED"), unknown bits one "0x..." string.  Addresses are
"0x..." strings; functions are "symbol", "symbol+0xoff" or, without a
symbol, the address.  The --wq and --pending filters only drop entries
from the lists; per-pool counters always cover the whole pool.

  schema_version  int
  kernel          {release: str, possible_cpus: [int], online_cpus: [int]}
  filter          {wq: str|null, pending_only: bool}
  bh              {supported: bool, symbols: [str] (which of bh_worker_pools,
                   POOL_BH, WQ_BH the kernel has), per_cpu: [{cpu: int,
                   pools: [int], nr_pending: int, nr_busy: int}]}
  pools           [{id: int, kind: "percpu"|"bh"|"unbound", cpu: int|null,
                    cpus: str (cpulist), node: int, nice: int,
                    flags: [str], flags_raw: int, nr_workers: int,
                    nr_idle: int, nr_busy: int, nr_running: int,
                    nr_pending: int, nr_inactive: int, refcnt: int,
                    address: str}]
  workqueues      [{name: str, type: "bh"|"percpu"|"unbound"|"ordered",
                    flags: [str], flags_raw: int, max_active: int,
                    nr_active: int, nr_inactive: int,
                    cpu_pools: [{cpu: int, pool: int|null}],
                    dfl_pool: int|null,
                    pwqs: [{pool: int, nr_active: int, max_active: int,
                            nr_inactive: int}],
                    rescuer_pid: int|null, address: str}]
  rescuers        [{workqueue: str, pid: int|null, comm: str|null,
                    cpus: str, pool: int|null, busy: bool,
                    work: str|null, func: str|null}]
  busy_workers    [{pool: int, worker_id: int, pid: int|null,
                    comm: str|null, rescuer: bool, workqueue: str|null,
                    work: str, func: str, desc: str}]
  work_items      [{pool: int|null, cpu: int|null, bh: bool,
                    state: "pending"|"inbox"|"inactive"|"scheduled",
                    workqueue: str|null, work: str, func: str}]
  tasklets        {available: bool, per_cpu: [{cpu: int,
                   normal: [T], hi: [T], softirq_runs: {tasklet: int|null,
                   hi: int|null}}]}
                  T = {address: str, func: str, scheduled: bool,
                       running: bool, disabled: bool}
  errors          [str]  non-fatal read errors (live kernels change while
                         being read)
"""

# Machine-readable form of JSON_DOC, used by validate_snapshot().
# A type is a Python type, a tuple of them, a list [schema] for a list of
# such items, or a dict for a nested object.
_OPT_INT = (int, type(None))
_OPT_STR = (str, type(None))
_TASKLET = {"address": str, "func": str, "scheduled": bool,
            "running": bool, "disabled": bool}
SCHEMA = {
    "schema_version": int,
    "kernel": {"release": str, "possible_cpus": [int], "online_cpus": [int]},
    "filter": {"wq": _OPT_STR, "pending_only": bool},
    "bh": {"supported": bool, "symbols": [str],
           "per_cpu": [{"cpu": int, "pools": [int], "nr_pending": int,
                        "nr_busy": int}]},
    "pools": [{"id": int, "kind": str, "cpu": _OPT_INT, "cpus": str,
               "node": int, "nice": int, "flags": [str], "flags_raw": int,
               "nr_workers": int, "nr_idle": int, "nr_busy": int,
               "nr_running": int, "nr_pending": int, "nr_inactive": int,
               "refcnt": int, "address": str}],
    "workqueues": [{"name": str, "type": str, "flags": [str],
                    "flags_raw": int, "max_active": int, "nr_active": int,
                    "nr_inactive": int,
                    "cpu_pools": [{"cpu": int, "pool": _OPT_INT}],
                    "dfl_pool": _OPT_INT,
                    "pwqs": [{"pool": int, "nr_active": int,
                              "max_active": int, "nr_inactive": int}],
                    "rescuer_pid": _OPT_INT, "address": str}],
    "rescuers": [{"workqueue": str, "pid": _OPT_INT, "comm": _OPT_STR,
                  "cpus": str, "pool": _OPT_INT, "busy": bool,
                  "work": _OPT_STR, "func": _OPT_STR}],
    "busy_workers": [{"pool": int, "worker_id": int, "pid": _OPT_INT,
                      "comm": _OPT_STR, "rescuer": bool,
                      "workqueue": _OPT_STR, "work": str, "func": str,
                      "desc": str}],
    "work_items": [{"pool": _OPT_INT, "cpu": _OPT_INT, "bh": bool,
                    "state": str, "workqueue": _OPT_STR, "work": str,
                    "func": str}],
    "tasklets": {"available": bool,
                 "per_cpu": [{"cpu": int, "normal": [_TASKLET],
                              "hi": [_TASKLET],
                              "softirq_runs": {"tasklet": _OPT_INT,
                                               "hi": _OPT_INT}}]},
    "errors": [str],
}
_ENUMS = {
    ("pools", "kind"): POOL_KINDS,
    ("workqueues", "type"): WQ_TYPES,
    ("work_items", "state"): WORK_STATES,
}


def _pool_name(p):
	"""A pool in messages: its id and CPU (or that it is unbound)."""
	cpu = p.get("cpu")
	where = f"CPU {cpu}" if cpu is not None and cpu >= 0 else "unbound"
	return f"pool {p.get('id')} ({where})"


class WqDumpError(Exception):
	"""A fatal problem reported as one line on stderr."""


# ---------------------------------------------------------------------------
# Pure helpers (no drgn needed)
# ---------------------------------------------------------------------------

def cpulist(cpus):
	"""[0, 1, 2, 5] -> '0-2,5'; [] -> ''."""
	out = []
	cpus = sorted(set(cpus))
	i = 0
	while i < len(cpus):
		j = i
		while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
			j += 1
		out.append(str(cpus[i]) if i == j else f"{cpus[i]}-{cpus[j]}")
		i = j + 1
	return ",".join(out)


def decode_flags(value, known):
	"""Split a flag word into names.

    known maps a flag name to its value as found in the kernel (names the
    kernel does not have are simply absent).  Returns the names of the set
    bits in ascending bit order, then any leftover bits as one hex string.
    """
	names = []
	rest = value
	for name, bit in sorted(known.items(), key=lambda kv: (kv[1], kv[0])):
		if bit and value & bit == bit:
			names.append(name)
			rest &= ~bit
	if rest:
		names.append(hex(rest))
	return names


def short_flag(name):
	"""'WQ_MEM_RECLAIM' -> 'MEM_RECLAIM', '__WQ_ORDERED' -> '_ORDERED'."""
	for prefix, repl in (("__WQ_", "_"), ("WQ_", ""), ("POOL_", "")):
		if name.startswith(prefix):
			return repl + name[len(prefix):]
	return name


def wq_type(flags, wq_bh, wq_unbound, wq_ordered):
	"""Type of a workqueue from its flag word and the kernel's flag values
    (0 for a flag the kernel does not define)."""
	if wq_bh and flags & wq_bh:
		return "bh"
	if flags & wq_unbound:
		if wq_ordered and flags & wq_ordered:
			return "ordered"
		return "unbound"
	return "percpu"


def work_data_pwq(data, pwq_flag, pwq_shift):
	"""Address of the pool_workqueue a work item's data word points to, or
    None when the word holds off-queue data instead."""
	if not data & pwq_flag:
		return None
	return data & ~((1 << pwq_shift) - 1) & ((1 << 64) - 1)


def format_func(name, offset, address):
	"""Function symbol text: 'name', 'name+0x10' or '0xaddr'."""
	if name is None:
		return hex(address)
	return name if not offset else f"{name}+{offset:#x}"


def bh_per_cpu(pools):
	"""Per-CPU summary of the BH pools in a pools list."""
	by_cpu = {}
	for p in pools:
		if p["kind"] != "bh" or p["cpu"] is None:
			continue
		e = by_cpu.setdefault(p["cpu"], {"cpu": p["cpu"], "pools": [],
		                                 "nr_pending": 0, "nr_busy": 0})
		e["pools"].append(p["id"])
		e["nr_pending"] += p["nr_pending"]
		e["nr_busy"] += p["nr_busy"]
	return [by_cpu[c] for c in sorted(by_cpu)]


def validate_snapshot(snap):
	"""Check a snapshot against SCHEMA.  Returns a list of problems."""
	problems = []

	def check(value, schema, path):
		if isinstance(schema, dict):
			if not isinstance(value, dict):
				problems.append(f"{path}: expected object")
				return
			for key, sub in schema.items():
				if key not in value:
					problems.append(f"{path}.{key}: missing")
				else:
					check(value[key], sub, f"{path}.{key}")
		elif isinstance(schema, list):
			if not isinstance(value, list):
				problems.append(f"{path}: expected list")
				return
			for i, item in enumerate(value):
				check(item, schema[0], f"{path}[{i}]")
		else:
			types = schema if isinstance(schema, tuple) else (schema,)
			# bool is an int subclass: keep them apart.
			if isinstance(value, bool) and bool not in types:
				ok = False
			else:
				ok = isinstance(value, types)
			if not ok:
				problems.append(f"{path}: expected "
				                f"{'/'.join(t.__name__ for t in types)}, "
				                f"got {type(value).__name__}")

	check(snap, SCHEMA, "$")
	if problems:
		return problems
	if snap["schema_version"] != SCHEMA_VERSION:
		problems.append(f"$.schema_version: {snap['schema_version']} != "
		                f"{SCHEMA_VERSION}")
	for (section, key), allowed in _ENUMS.items():
		for i, item in enumerate(snap[section]):
			if item[key] not in allowed:
				problems.append(f"$.{section}[{i}].{key}: {item[key]!r} "
				                f"not one of {', '.join(allowed)}")
	return problems


# ---------------------------------------------------------------------------
# Filtering (pure)
# ---------------------------------------------------------------------------

def filter_snapshot(snap, wq=None, pending=False):
	"""Apply --wq and --pending to a snapshot; returns a new snapshot."""
	s = json.loads(json.dumps(snap))
	s["filter"] = {"wq": wq, "pending_only": bool(pending)}
	if wq is not None:
		def match(name):
			return name is not None and fnmatch.fnmatchcase(name, wq)
		s["workqueues"] = [w for w in s["workqueues"] if match(w["name"])]
		if not s["workqueues"]:
			raise WqDumpError(f"no workqueue matches {wq!r}")
		used = set()
		for w in s["workqueues"]:
			used.update(c["pool"] for c in w["cpu_pools"]
			            if c["pool"] is not None)
			used.update(p["pool"] for p in w["pwqs"])
			if w["dfl_pool"] is not None:
				used.add(w["dfl_pool"])
		s["pools"] = [p for p in s["pools"] if p["id"] in used]
		s["rescuers"] = [r for r in s["rescuers"] if match(r["workqueue"])]
		s["busy_workers"] = [b for b in s["busy_workers"]
		                     if match(b["workqueue"])]
		s["work_items"] = [w for w in s["work_items"]
		                   if match(w["workqueue"])]
		# Tasklets do not belong to any workqueue.
		s["tasklets"]["per_cpu"] = []
	if pending:
		busy_pools = {b["pool"] for b in s["busy_workers"]}
		item_pools = {w["pool"] for w in s["work_items"]}
		s["pools"] = [p for p in s["pools"]
		              if p["nr_busy"] or p["nr_pending"] or p["nr_inactive"]
		              or p["id"] in busy_pools or p["id"] in item_pools]
		wq_names = ({b["workqueue"] for b in s["busy_workers"]}
		            | {w["workqueue"] for w in s["work_items"]})
		s["workqueues"] = [w for w in s["workqueues"]
		                   if w["nr_active"] or w["nr_inactive"]
		                   or w["name"] in wq_names]
		s["rescuers"] = [r for r in s["rescuers"] if r["busy"]]
		s["tasklets"]["per_cpu"] = [t for t in s["tasklets"]["per_cpu"]
		                            if t["normal"] or t["hi"]]
	s["bh"]["per_cpu"] = bh_per_cpu(s["pools"])
	if pending:
		s["bh"]["per_cpu"] = [e for e in s["bh"]["per_cpu"]
		                      if e["nr_pending"] or e["nr_busy"]]
	return s


# ---------------------------------------------------------------------------
# Rendering (pure)
# ---------------------------------------------------------------------------

def _table(headers, rows, right=()):
	"""Format rows under headers; columns named in right are right-aligned.
    The last column is never padded."""
	rows = [["-" if v is None else str(v) for v in r] for r in rows]
	widths = [len(h) for h in headers]
	for r in rows:
		for i, v in enumerate(r):
			widths[i] = max(widths[i], len(v))
	lines = []
	for r in [list(headers)] + rows:
		cells = []
		for i, v in enumerate(r):
			if i == len(r) - 1 and headers[i] not in right:
				cells.append(v)
			elif headers[i] in right:
				cells.append(v.rjust(widths[i]))
			else:
				cells.append(v.ljust(widths[i]))
		lines.append("  ".join(cells).rstrip())
	return lines


def _title(text):
	return [text, "=" * len(text)]


def _flags_text(flags):
	return ",".join(short_flag(f) for f in flags) or "-"


def _pool_where(p):
	if p["cpu"] is not None:
		return str(p["cpu"])
	return f"cpus {p['cpus']}"


def _pool_rows(pools):
	return [[p["id"], _pool_where(p), p["node"], p["nice"], p["nr_workers"],
	         p["nr_idle"], p["nr_busy"], p["nr_pending"], p["nr_inactive"],
	         _flags_text(p["flags"])] for p in pools]


_POOL_HEADERS = ("ID", "CPU", "NODE", "NICE", "WORKERS", "IDLE", "BUSY",
                 "PENDING", "INACTIVE", "FLAGS")
_POOL_RIGHT = ("ID", "NODE", "NICE", "WORKERS", "IDLE", "BUSY", "PENDING",
               "INACTIVE")
PER_CPU_COLUMNS_MAX = 16


def _cpu_pool_runs(cpu_pools):
	"""[{cpu, pool}] -> '0-3:8 4-7:9', grouping consecutive CPUs."""
	runs = []
	for c in cpu_pools:
		pool = "-" if c["pool"] is None else str(c["pool"])
		if runs and runs[-1][2] == pool and runs[-1][1] == c["cpu"] - 1:
			runs[-1][1] = c["cpu"]
		else:
			runs.append([c["cpu"], c["cpu"], pool])
	return " ".join((f"{a}:{p}" if a == b else f"{a}-{b}:{p}")
	                for a, b, p in runs)


def render_text(snap):
	"""Render a (filtered) snapshot as text."""
	out = []
	k = snap["kernel"]
	flt = snap["filter"]
	pending = flt["pending_only"]
	head = (f"Linux {k['release']}, possible CPUs {cpulist(k['possible_cpus'])}"
	        f", online CPUs {cpulist(k['online_cpus'])}")
	out.append(head)
	notes = []
	if flt["wq"] is not None:
		notes.append(f"workqueue filter: {flt['wq']}")
	if pending:
		notes.append("only queued or running work")
	if notes:
		out.append("(" + "; ".join(notes) + ")")
	out.append("")

	bh = snap["bh"]
	thread_pools = [p for p in snap["pools"] if p["kind"] != "bh"]
	bh_pools = [p for p in snap["pools"] if p["kind"] == "bh"]

	out += _title("Worker pools")
	if thread_pools:
		out += _table(_POOL_HEADERS, _pool_rows(thread_pools), _POOL_RIGHT)
	else:
		out.append("(none)")
	out.append("")
	out += _title("BH worker pools")
	if not bh["supported"]:
		out.append("none: this kernel has no BH workqueue support "
		           "(no bh_worker_pools, POOL_BH or WQ_BH)")
	elif not bh_pools:
		out.append("(none)" if not pending else "(nothing queued or running)")
	else:
		out += _table(_POOL_HEADERS, _pool_rows(bh_pools), _POOL_RIGHT)
		out.append("")
		out += _title("BH pending per CPU")
		out += _table(("CPU", "POOLS", "PENDING", "BUSY"),
		              [[e["cpu"], ",".join(str(i) for i in e["pools"]),
		                e["nr_pending"], e["nr_busy"]]
		               for e in bh["per_cpu"]],
		              ("CPU", "PENDING", "BUSY"))
	out.append("")

	out += _title("Workqueues")
	wqs = snap["workqueues"]
	cpus = k["possible_cpus"]
	headers = ["NAME", "TYPE", "MAX", "ACTIVE", "INACT"]
	right = ["MAX", "ACTIVE", "INACT", "DFL"]
	columns = len(cpus) <= PER_CPU_COLUMNS_MAX
	if columns:
		headers += [f"CPU{c}" for c in cpus]
		right += [f"CPU{c}" for c in cpus]
	else:
		headers.append("CPU->POOL")
	headers += ["DFL", "FLAGS"]
	rows = []
	for w in wqs:
		r = [w["name"], w["type"], w["max_active"], w["nr_active"],
		     w["nr_inactive"]]
		if columns:
			m = {c["cpu"]: c["pool"] for c in w["cpu_pools"]}
			r += [m.get(c) for c in cpus]
		else:
			r.append(_cpu_pool_runs(w["cpu_pools"]))
		r += [w["dfl_pool"], _flags_text(w["flags"])]
		rows.append(r)
	out += _table(headers, rows, right) if rows else ["(none)"]
	out.append("")

	out += _title("Rescuers")
	if snap["rescuers"]:
		out += _table(("WORKQUEUE", "PID", "COMM", "CPUS", "POOL", "CURRENT"),
		              [[r["workqueue"], r["pid"], r["comm"], r["cpus"],
		                r["pool"], r["func"] if r["busy"] else None]
		               for r in snap["rescuers"]], ("PID", "POOL"))
	else:
		out.append("(none busy)" if pending else "(none)")
	out.append("")

	out += _title("Busy workers")
	if snap["busy_workers"]:
		out += _table(("POOL", "WORKER", "PID", "COMM", "WORKQUEUE", "WORK",
		               "FUNCTION", "DESC"),
		              [[b["pool"],
		                f"{b['worker_id']}{'R' if b['rescuer'] else ''}",
		                b["pid"], b["comm"], b["workqueue"], b["work"],
		                b["func"], b["desc"] or None]
		               for b in snap["busy_workers"]],
		              ("POOL", "WORKER", "PID"))
	else:
		out.append("(none)")
	out.append("")

	items = [w for w in snap["work_items"] if not w["bh"]]
	out += _title("Work items")
	if items:
		out += _table(("POOL", "CPU", "STATE", "WORKQUEUE", "WORK",
		               "FUNCTION"),
		              [[w["pool"], w["cpu"], w["state"], w["workqueue"],
		                w["work"], w["func"]] for w in items],
		              ("POOL", "CPU"))
	else:
		out.append("(none)")
	out.append("")

	if bh["supported"]:
		items = sorted((w for w in snap["work_items"] if w["bh"]),
		               key=lambda w: -1 if w["cpu"] is None else w["cpu"])
		out += _title("BH work items per CPU")
		if items:
			out += _table(("CPU", "POOL", "STATE", "WORKQUEUE", "WORK",
			               "FUNCTION"),
			              [[w["cpu"], w["pool"], w["state"], w["workqueue"],
			                w["work"], w["func"]] for w in items],
			              ("CPU", "POOL"))
		else:
			out.append("(none)")
		out.append("")

	if flt["wq"] is None:
		out += _title("Tasklets")
		t = snap["tasklets"]
		if not t["available"]:
			out.append("(tasklet queues not found in this kernel)")
		elif not t["per_cpu"]:
			out.append("(none queued)")
		else:
			def runs(v):
				return "-" if v is None else v
			out += _table(("CPU", "QUEUED", "HI_QUEUED", "TASKLET_RUNS",
			               "HI_RUNS"),
			              [[e["cpu"], len(e["normal"]), len(e["hi"]),
			                runs(e["softirq_runs"]["tasklet"]),
			                runs(e["softirq_runs"]["hi"])]
			               for e in t["per_cpu"]],
			              ("CPU", "QUEUED", "HI_QUEUED", "TASKLET_RUNS",
			               "HI_RUNS"))
			queued = []
			for e in t["per_cpu"]:
				for kind in ("normal", "hi"):
					for tl in e[kind]:
						state = "".join(c for c, on in
						                (("S", tl["scheduled"]),
						                 ("R", tl["running"]),
						                 ("D", tl["disabled"])) if on)
						queued.append([e["cpu"], kind, tl["address"],
						               state or None, tl["func"]])
			if queued:
				out.append("")
				out += _table(("CPU", "KIND", "TASKLET", "STATE", "FUNCTION"),
				              queued, ("CPU",))
		out.append("")

	if snap["errors"]:
		out += _title("Read errors (live kernel changed while reading?)")
		out += snap["errors"]
		out.append("")
	while out and out[-1] == "":
		out.pop()
	return "\n".join(out) + "\n"


def render_json(snap):
	return json.dumps(snap, indent=1, sort_keys=True) + "\n"


# ---------------------------------------------------------------------------
# Collection (drgn objects -> plain data)
# ---------------------------------------------------------------------------

class Collector:
	"""Reads workqueue state from a drgn Program into a snapshot dict."""

	def __init__(self, prog):
		import drgn
		from drgn.helpers.linux import cpumask, percpu
		self.drgn = drgn
		self.cpumask = cpumask
		self.percpu = percpu
		self.prog = prog
		self.errors = []
		self._consts = {}
		self._check_layout()

	# -- lookups ----------------------------------------------------------

	def _const(self, name):
		"""Value of an enumerator/constant, or None if the kernel lacks it."""
		if name not in self._consts:
			try:
				self._consts[name] = self.prog.constant(name).value_()
			except (LookupError, ValueError):
				self._consts[name] = None
		return self._consts[name]

	def _var(self, name, filename=None):
		"""A global variable, preferably the one defined in filename (static
        names can repeat across files), or None."""
		for fn in ((filename, None) if filename else (None,)):
			try:
				return self.prog.object(name, filename=fn)
			except (LookupError, ValueError):
				pass
		return None

	def _type(self, name):
		try:
			return self.prog.type(name)
		except (LookupError, ValueError):
			return None

	@staticmethod
	def _members(t):
		names = set()
		for m in t.members:
			if m.name is None:
				# anonymous union/struct: look inside
				names |= Collector._members(m.type.unqualified())
			else:
				names.add(m.name)
		return names

	def _check_layout(self):
		if self._var("workqueues", WQ_C) is None or \
		        self._type("struct worker_pool") is None:
			if self._var("init_task") is None:
				raise WqDumpError(
				    "no kernel debug info loaded: pass the matching vmlinux "
				    "with -s (needs CONFIG_DEBUG_INFO)")
			raise WqDumpError(
			    "kernel debug info has no workqueue internals "
			    "(workqueues, struct worker_pool): unsupported kernel")
		self.workqueues = self._var("workqueues", WQ_C)
		if self._var("worker_pool_idr", WQ_C) is None:
			raise WqDumpError("unknown workqueue layout: no worker_pool_idr")
		need = {
		    "struct worker_pool": ("id", "cpu", "node", "flags", "worklist",
		                           "nr_workers", "nr_idle", "workers",
		                           "attrs", "nr_running", "refcnt"),
		    "struct pool_workqueue": ("pool", "wq", "nr_active",
		                              "max_active", "inactive_works",
		                              "pwqs_node"),
		    "struct workqueue_struct": ("pwqs", "list", "name", "flags",
		                                "rescuer", "dfl_pwq"),
		    "struct worker": ("current_work", "current_func", "current_pwq",
		                      "scheduled", "task", "pool", "node", "id",
		                      "desc"),
		    "struct work_struct": ("data", "entry", "func"),
		    "struct workqueue_attrs": ("nice", "cpumask"),
		}
		self.members = {}
		for tname, fields in need.items():
			t = self._type(tname)
			if t is None:
				raise WqDumpError(f"unknown workqueue layout: no {tname} in "
				                  "debug info")
			have = self._members(t.unqualified())
			missing = [f for f in fields if f not in have]
			if tname == "struct pool_workqueue" and "max_active" in missing:
				raise WqDumpError(
				    "Linux 6.9 or later (struct pool_workqueue has no "
				    "max_active): wq_dump.py reads the workqueue layout of "
				    "6.1; use the kernel's tools/workqueue/wq_dump.py there")
			if missing:
				raise WqDumpError(f"unknown workqueue layout: {tname} has "
				                  f"no {', '.join(missing)}")
			self.members[tname] = have
		wq_members = self.members["struct workqueue_struct"]
		if "cpu_pwq" in wq_members:
			self.wq_layout = "cpu_pwq"        # 6.6+: per-CPU pwq pointers
		elif "cpu_pwqs" in wq_members and "numa_pwq_tbl" in wq_members:
			self.wq_layout = "cpu_pwqs"       # 6.1: per-CPU pwqs + NUMA tbl
		else:
			raise WqDumpError("unknown workqueue layout: workqueue_struct has "
			                  "neither cpu_pwq nor cpu_pwqs/numa_pwq_tbl")
		if "max_active" in wq_members:
			self.wq_max_active = "max_active"
		elif "saved_max_active" in wq_members:
			self.wq_max_active = "saved_max_active"
		else:
			raise WqDumpError("unknown workqueue layout: workqueue_struct has "
			                  "no max_active")

		self.wq_flags = {n: v for n in WQ_FLAG_NAMES
		                 if (v := self._const(n)) is not None}
		self.pool_flags = {n: v for n in POOL_FLAG_NAMES
		                   if (v := self._const(n)) is not None}
		for n in ("WQ_UNBOUND", "WQ_MEM_RECLAIM"):
			if n not in self.wq_flags:
				raise WqDumpError(f"unknown workqueue layout: constant {n} "
				                  "not in debug info")
		self.work_pwq_flag = self._const("WORK_STRUCT_PWQ")
		if self.work_pwq_flag is None:
			raise WqDumpError("unknown workqueue layout: constant "
			                  "WORK_STRUCT_PWQ not in debug info")
		shift = self._const("WORK_STRUCT_PWQ_SHIFT")
		if shift is None:
			shift = self._const("WORK_STRUCT_FLAG_BITS")
		if shift is None:
			color_shift = self._const("WORK_STRUCT_COLOR_SHIFT")
			color_bits = self._const("WORK_STRUCT_COLOR_BITS")
			if color_shift is None or color_bits is None:
				raise WqDumpError("unknown workqueue layout: cannot find "
				                  "WORK_STRUCT_PWQ_SHIFT/FLAG_BITS")
			shift = color_shift + color_bits
		self.work_pwq_shift = shift

		# BH support of the patch series, detected by symbol.
		self.bh_array = self._var("bh_worker_pools", WQ_C)
		self.bh_symbols = [n for n, found in (
		    ("bh_worker_pools", self.bh_array is not None),
		    ("POOL_BH", "POOL_BH" in self.pool_flags),
		    ("WQ_BH", "WQ_BH" in self.wq_flags)) if found]

	# -- small readers ----------------------------------------------------

	@staticmethod
	def _int(obj):
		"""Value of an int, or of an atomic_t-style {counter}."""
		try:
			return obj.counter.value_()
		except (AttributeError, LookupError, TypeError):
			return obj.value_()

	def _func(self, fn):
		addr = fn.value_() if hasattr(fn, "value_") else int(fn)
		if not addr:
			return "0x0"
		try:
			sym = self.prog.symbol(addr)
		except LookupError:
			return format_func(None, 0, addr)
		return format_func(sym.name, addr - sym.address, addr)

	def _str(self, chars):
		try:
			return chars.string_().decode(errors="replace")
		except self.drgn.FaultError:
			return "?"

	def _real_type(self, t):
		"""Type with qualifiers and typedefs stripped."""
		t = t.unqualified()
		while t.kind == self.drgn.TypeKind.TYPEDEF:
			t = t.type.unqualified()
		return t

	def _cpus_of(self, mask):
		"""cpulist text of a cpumask, cpumask_var_t or struct cpumask *."""
		kind = self._real_type(mask.type_).kind
		if kind in (self.drgn.TypeKind.ARRAY, self.drgn.TypeKind.POINTER):
			mask = mask[0]
		return cpulist(self.cpumask.for_each_cpu(mask))

	def _inbox(self, node, where, newest_first):
		"""The items of a chain of a BH pool's inbox items (linked through
        the first word of work_struct.entry) which starts at the address
        node, oldest first.  The inbox itself has the newest first, the
        part that the softirq has taken (pool->bh_taken) the oldest."""
		off = self.drgn.offsetof(self._type("struct work_struct"), "entry")
		works, seen = [], set()
		while node and node not in seen and len(works) < LIST_LIMIT:
			seen.add(node)
			work = self.drgn.Object(self.prog, "struct work_struct",
			                        address=node - off)
			works.append(work.address_of_())
			node = self.prog.read_word(node)
		if node:
			self.errors.append(f"{where} loops or is too long; stopped")
		return list(reversed(works)) if newest_first else works

	def _walk(self, head, type_name, member):
		"""list_for_each_entry that tolerates a changing live list."""
		seen = set()
		head_addr = head.address_
		n = 0
		try:
			pos = head.next.read_()
			while pos.value_() != head_addr:
				if pos.value_() in seen or n >= LIST_LIMIT:
					self.errors.append(f"list at {head_addr:#x} loops or is "
					                   "too long; stopped")
					return
				seen.add(pos.value_())
				n += 1
				yield self.drgn.container_of(pos, type_name, member)
				pos = pos.next.read_()
		except self.drgn.FaultError as e:
			self.errors.append(f"list at {head_addr:#x}: {e}; stopped")

	# -- snapshot -----------------------------------------------------------

	def collect(self):
		prog = self.prog
		cm = self.cpumask
		try:
			release = prog["init_uts_ns"].name.release.string_().decode()
		except (LookupError, self.drgn.FaultError):
			release = "unknown"
		possible = list(cm.for_each_possible_cpu(prog))
		online = list(cm.for_each_online_cpu(prog))
		self.possible = possible

		pools, pool_by_addr = self._collect_pools()
		wqs, items, inactive_by_pool = self._collect_workqueues(pool_by_addr)
		busy = []
		for addr, p in pool_by_addr.items():
			obj = self.drgn.Object(prog, "struct worker_pool", address=addr)
			busy += self._pool_activity(obj, p, items)
		# Stable sorts: queue order is kept within a pool.
		busy.sort(key=lambda b: (b["pool"], b["worker_id"]))
		items.sort(key=lambda w: -1 if w["pool"] is None else w["pool"])
		for p in pools:
			p["nr_inactive"] = inactive_by_pool.get(p["id"], 0)
			p["nr_busy"] = sum(1 for b in busy if b["pool"] == p["id"])
			p["nr_pending"] = sum(1 for w in items if w["pool"] == p["id"]
			                      and w["state"] in ("pending", "inbox"))
		rescuers = self._collect_rescuers(pool_by_addr)
		snap = {
		    "schema_version": SCHEMA_VERSION,
		    "kernel": {"release": release, "possible_cpus": possible,
		               "online_cpus": online},
		    "filter": {"wq": None, "pending_only": False},
		    "bh": {"supported": bool(self.bh_symbols),
		           "symbols": self.bh_symbols,
		           "per_cpu": bh_per_cpu(pools)},
		    "pools": pools,
		    "workqueues": wqs,
		    "rescuers": rescuers,
		    "busy_workers": busy,
		    "work_items": items,
		    "tasklets": self._collect_tasklets(possible),
		    "errors": self.errors,
		}
		return snap

	def _pool_objects(self):
		"""(pool object, kind hint) for every pool: the per-CPU arrays
        first (so BH pools are known even if not in the IDR), then the IDR."""
		prog = self.prog
		from drgn.helpers.linux.idr import idr_for_each
		seen = set()
		arrays = [("percpu", self._var("cpu_worker_pools", WQ_C))]
		if self.bh_array is not None:
			arrays.insert(0, ("bh", self.bh_array))
		for hint, arr in arrays:
			if arr is None:
				continue
			for cpu in self.possible:
				pcpu = self.percpu.per_cpu(arr, cpu)
				for i in range(self._real_type(pcpu.type_).length or 0):
					pool = pcpu[i]
					if pool.address_ not in seen:
						seen.add(pool.address_)
						yield pool, hint
		idr = self._var("worker_pool_idr", WQ_C)
		for _, entry in idr_for_each(idr.address_of_()):
			addr = entry.value_()
			if addr and addr not in seen:
				seen.add(addr)
				yield (self.drgn.Object(prog, "struct worker_pool",
				                        address=addr), None)

	def _collect_pools(self):
		pool_bh = self.pool_flags.get("POOL_BH", 0)
		pools = []
		by_addr = {}
		for pool, hint in self._pool_objects():
			try:
				flags = pool.flags.value_()
				cpu = pool.cpu.value_()
				if hint == "bh" or (pool_bh and flags & pool_bh):
					kind = "bh"
				elif cpu >= 0:
					kind = "percpu"
				else:
					kind = "unbound"
				attrs = pool.attrs
				if attrs.value_():
					nice = attrs.nice.value_()
					cpus = self._cpus_of(attrs.cpumask)
				else:
					nice = 0
					cpus = str(cpu) if cpu >= 0 else ""
				p = {
				    "id": pool.id.value_(),
				    "kind": kind,
				    "cpu": cpu if cpu >= 0 else None,
				    "cpus": cpus,
				    "node": pool.node.value_(),
				    "nice": nice,
				    "flags": decode_flags(flags, self.pool_flags),
				    "flags_raw": flags,
				    "nr_workers": self._int(pool.nr_workers),
				    "nr_idle": self._int(pool.nr_idle),
				    "nr_busy": 0,
				    "nr_running": self._int(pool.nr_running),
				    "nr_pending": 0,          # counted with the items
				    "nr_inactive": 0,
				    "refcnt": self._int(pool.refcnt),
				    "address": hex(pool.address_),
				}
			except self.drgn.FaultError as e:
				self.errors.append(f"pool at {pool.address_:#x}: {e}")
				continue
			pools.append(p)
			by_addr[pool.address_] = p
		pools.sort(key=lambda p: p["id"])
		return pools, by_addr

	def _pool_id(self, pool_ptr, by_addr):
		addr = pool_ptr.value_()
		if addr in by_addr:
			return by_addr[addr]["id"]
		if not addr:
			return None
		return pool_ptr.id.value_()

	def _work_item(self, work, pool, state, wq_name=None):
		"""Dict for a queued work_struct."""
		if wq_name is None:
			pwq_addr = work_data_pwq(self._int(work.data), self.work_pwq_flag,
			                         self.work_pwq_shift)
			if pwq_addr:
				pwq = self.drgn.Object(self.prog, "struct pool_workqueue",
				                       address=pwq_addr)
				wq_name = self._str(pwq.wq.name)
		return {
		    "pool": pool["id"] if pool else None,
		    "cpu": pool["cpu"] if pool else None,
		    "bh": bool(pool and pool["kind"] == "bh"),
		    "state": state,
		    "workqueue": wq_name,
		    "work": hex(work.value_()),
		    "func": self._func(work.func),
		}

	def _pool_activity(self, pool, p, items):
		"""Append the pool's pending and scheduled items to items; return
        its busy workers."""
		busy = []
		try:
			for work in self._walk(pool.worklist, "struct work_struct",
			                       "entry"):
				items.append(self._work_item(work, p, "pending"))
			members = self.members["struct worker_pool"]
			if "bh_taken" in members:
				for work in self._inbox(pool.bh_taken.value_(),
				                        f"taken inbox of {_pool_name(p)}", False):
					items.append(self._work_item(work, p, "inbox"))
			if "bh_inbox" in members:
				for work in self._inbox(pool.bh_inbox.first.value_(),
				                        f"inbox of {_pool_name(p)}", True):
					items.append(self._work_item(work, p, "inbox"))
			for worker in self._walk(pool.workers, "struct worker", "node"):
				if not worker.current_work.value_():
					continue
				busy.append(self._busy_worker(worker, p))
				for work in self._walk(worker.scheduled,
				                       "struct work_struct", "entry"):
					items.append(self._work_item(work, p, "scheduled"))
		except self.drgn.FaultError as e:
			self.errors.append(f"{_pool_name(p)}: {e}")
		return busy

	def _task(self, task):
		if not task.value_():
			return None, None
		return task.pid.value_(), self._str(task.comm)

	def _busy_worker(self, worker, p):
		pid, comm = self._task(worker.task)
		pwq = worker.current_pwq
		wq_name = self._str(pwq.wq.name) if pwq.value_() else None
		rescuer = False
		if "rescue_wq" in self.members["struct worker"]:
			rescuer = bool(worker.rescue_wq.value_())
		return {
		    "pool": p["id"],
		    "worker_id": worker.id.value_(),
		    "pid": pid,
		    "comm": comm,
		    "rescuer": rescuer,
		    "workqueue": wq_name,
		    "work": hex(worker.current_work.value_()),
		    "func": self._func(worker.current_func),
		    "desc": self._str(worker.desc),
		}

	def _cpu_node(self, cpu):
		if not hasattr(self, "_numa_node"):
			self._numa_node = self._var("numa_node")
		numa_node = self._numa_node
		if numa_node is None:
			return 0
		try:
			return self.percpu.per_cpu(numa_node, cpu).value_()
		except self.drgn.FaultError:
			return 0

	def _cpu_pwq(self, wq, cpu, unbound):
		"""pool_workqueue pointer work queued on cpu goes to (may be NULL)."""
		drgn = self.drgn
		if self.wq_layout == "cpu_pwq":
			return self.percpu.per_cpu_ptr(wq.cpu_pwq, cpu)[0].read_()
		if not unbound:
			if not wq.cpu_pwqs.value_():
				return wq.cpu_pwqs
			return self.percpu.per_cpu_ptr(wq.cpu_pwqs, cpu)
		node = self._cpu_node(cpu)
		tbl = wq.numa_pwq_tbl
		elem = self._real_type(tbl.type_).type
		return drgn.Object(self.prog, elem,
		                   address=tbl.address_ + node * drgn.sizeof(elem))

	def _collect_workqueues(self, pool_by_addr):
		wq_bh = self.wq_flags.get("WQ_BH", 0)
		wq_unbound = self.wq_flags["WQ_UNBOUND"]
		wq_ordered = self.wq_flags.get("__WQ_ORDERED", 0)
		wqs = []
		items = []
		inactive_by_pool = {}
		for wq in self._walk(self.workqueues, "struct workqueue_struct",
		                     "list"):
			try:
				name = self._str(wq.name)
				flags = wq.flags.value_()
				wtype = wq_type(flags, wq_bh, wq_unbound, wq_ordered)
				unbound = bool(flags & wq_unbound)
				pwqs = []
				for pwq in self._walk(wq.pwqs, "struct pool_workqueue",
				                      "pwqs_node"):
					pool_id = self._pool_id(pwq.pool, pool_by_addr)
					p = pool_by_addr.get(pwq.pool.value_())
					n_inact = 0
					for work in self._walk(pwq.inactive_works,
					                       "struct work_struct", "entry"):
						items.append(self._work_item(work, p, "inactive",
						                             name))
						n_inact += 1
					inactive_by_pool[pool_id] = \
					    inactive_by_pool.get(pool_id, 0) + n_inact
					pwqs.append({"pool": pool_id,
					             "nr_active": self._int(pwq.nr_active),
					             "max_active": self._int(pwq.max_active),
					             "nr_inactive": n_inact})
				cpu_pools = []
				for cpu in self.possible:
					pwq = self._cpu_pwq(wq, cpu, unbound)
					pool_id = None
					if pwq.value_():
						pool_id = self._pool_id(pwq.pool, pool_by_addr)
					cpu_pools.append({"cpu": cpu, "pool": pool_id})
				dfl = wq.dfl_pwq
				dfl_pool = (self._pool_id(dfl.pool, pool_by_addr)
				            if dfl.value_() else None)
				rescuer_pid = None
				if wq.rescuer.value_():
					rescuer_pid, _ = self._task(wq.rescuer.task)
				wqs.append({
				    "name": name,
				    "type": wtype,
				    "flags": decode_flags(flags, self.wq_flags),
				    "flags_raw": flags,
				    "max_active": self._int(getattr(wq, self.wq_max_active)),
				    "nr_active": sum(x["nr_active"] for x in pwqs),
				    "nr_inactive": sum(x["nr_inactive"] for x in pwqs),
				    "cpu_pools": cpu_pools,
				    "dfl_pool": dfl_pool,
				    "pwqs": pwqs,
				    "rescuer_pid": rescuer_pid,
				    "address": hex(wq.value_()),
				})
			except self.drgn.FaultError as e:
				self.errors.append(f"workqueue at {wq.value_():#x}: {e}")
		return wqs, items, inactive_by_pool

	def _collect_rescuers(self, pool_by_addr):
		reclaim = self.wq_flags["WQ_MEM_RECLAIM"]
		out = []
		for wq in self._walk(self.workqueues, "struct workqueue_struct",
		                     "list"):
			try:
				if not wq.flags.value_() & reclaim or not wq.rescuer.value_():
					continue
				r = wq.rescuer
				pid, comm = self._task(r.task)
				cpus = ""
				if r.task.value_():
					cpus = self._cpus_of(r.task.cpus_ptr)
				busy = bool(r.current_work.value_())
				pool = (self._pool_id(r.pool, pool_by_addr)
				        if r.pool.value_() else None)
				out.append({
				    "workqueue": self._str(wq.name),
				    "pid": pid,
				    "comm": comm,
				    "cpus": cpus,
				    "pool": pool,
				    "busy": busy,
				    "work": hex(r.current_work.value_()) if busy else None,
				    "func": self._func(r.current_func) if busy else None,
				})
			except self.drgn.FaultError as e:
				self.errors.append(f"rescuer of wq at {wq.value_():#x}: {e}")
		return out

	def _tasklet_list(self, head):
		sched = self._const("TASKLET_STATE_SCHED")
		run = self._const("TASKLET_STATE_RUN")
		out = []
		seen = set()
		t = head.head.read_()
		while t.value_():
			if t.value_() in seen or len(out) >= LIST_LIMIT:
				self.errors.append(f"tasklet list at {head.address_:#x} "
				                   "loops or is too long; stopped")
				break
			seen.add(t.value_())
			state = t.state.value_()
			if "use_callback" in self._tasklet_members and \
			        t.use_callback.value_():
				fn = t.callback
			else:
				fn = t.func
			out.append({
			    "address": hex(t.value_()),
			    "func": self._func(fn),
			    "scheduled": bool(sched is not None and state >> sched & 1),
			    "running": bool(run is not None and state >> run & 1),
			    "disabled": self._int(t.count) > 0,
			})
			t = t.next.read_()
		return out

	def _collect_tasklets(self, cpus):
		vec = self._var("tasklet_vec", SOFTIRQ_C)
		hi_vec = self._var("tasklet_hi_vec", SOFTIRQ_C)
		ttype = self._type("struct tasklet_struct")
		if vec is None or hi_vec is None or ttype is None:
			return {"available": False, "per_cpu": []}
		self._tasklet_members = self._members(ttype.unqualified())
		kstat = self._var("kstat")
		nr = {"tasklet": self._const("TASKLET_SOFTIRQ"),
		      "hi": self._const("HI_SOFTIRQ")}
		per_cpu = []
		for cpu in cpus:
			e = {"cpu": cpu, "normal": [], "hi": [],
			     "softirq_runs": {"tasklet": None, "hi": None}}
			try:
				e["normal"] = self._tasklet_list(self.percpu.per_cpu(vec, cpu))
				e["hi"] = self._tasklet_list(self.percpu.per_cpu(hi_vec, cpu))
				if kstat is not None:
					ks = self.percpu.per_cpu(kstat, cpu)
					for key, idx in nr.items():
						if idx is not None:
							e["softirq_runs"][key] = \
							    ks.softirqs[idx].value_()
			except self.drgn.FaultError as ex:
				self.errors.append(f"tasklets of CPU {cpu}: {ex}")
			per_cpu.append(e)
		return {"available": True, "per_cpu": per_cpu}


# ---------------------------------------------------------------------------
# --watch: samples over time
# ---------------------------------------------------------------------------

# 6.1 keeps no per-workqueue counters (upstream's wq_monitor.py reads the
# pwq->stats of 6.6+), so a sample is what a snapshot shows at one moment:
# queue lengths and busy workers, and the softirq counts of the tasklet
# softirqs, which run tasklets and BH work items alike.

def watch_sample(snap, when):
	"""The numbers --watch shows, from one snapshot taken at `when` (s)."""
	inbox, queued = {}, {}
	for it in snap["work_items"]:
		if it["state"] == "inbox":
			inbox[it["pool"]] = inbox.get(it["pool"], 0) + 1
		if it["workqueue"] is not None:
			queued[it["workqueue"]] = queued.get(it["workqueue"], 0) + 1
	return {
	    "time": when,
	    "pools": [{"id": p["id"], "kind": p["kind"], "cpu": p["cpu"],
	               "pending": p["nr_pending"], "inbox": inbox.get(p["id"], 0),
	               "busy": p["nr_busy"], "inactive": p["nr_inactive"]}
	              for p in snap["pools"]],
	    "workqueues": [{"name": w["name"], "type": w["type"],
	                    "active": w["nr_active"], "inactive": w["nr_inactive"],
	                    "queued": queued.get(w["name"], 0)}
	                   for w in snap["workqueues"]],
	    "cpus": [{"cpu": c["cpu"], "tasklets": len(c["normal"]),
	              "tasklets_hi": len(c["hi"]),
	              "tasklet_softirqs": c["softirq_runs"]["tasklet"],
	              "hi_softirqs": c["softirq_runs"]["hi"]}
	             for c in snap["tasklets"]["per_cpu"]],
	}


def _rate(cur, prev, seconds):
	if cur is None or prev is None or seconds <= 0:
		return None
	return round((cur - prev) / seconds, 1)


def watch_rates(cur, prev):
	"""cur with the softirq counts of each CPU turned into rates (per
    second) against the previous sample; None for the first one."""
	seconds = cur["time"] - prev["time"] if prev else 0
	before = {c["cpu"]: c for c in prev["cpus"]} if prev else {}
	out = dict(cur, interval=round(seconds, 3) if prev else None)
	out["cpus"] = []
	for c in cur["cpus"]:
		b = before.get(c["cpu"], {})
		out["cpus"].append(dict(
		    c, tasklet_softirqs_per_s=_rate(c["tasklet_softirqs"],
		                                    b.get("tasklet_softirqs"), seconds),
		    hi_softirqs_per_s=_rate(c["hi_softirqs"], b.get("hi_softirqs"),
		                            seconds)))
	return out


def render_watch(sample, release, all_rows=False):
	"""One --watch screen.  Pools and workqueues with nothing queued or
    running are left out unless all_rows; BH pools are always shown."""
	out = [f"Linux {release}: every {sample['interval'] or '-'} s "
	       "(softirq rates need two samples)", ""]
	pools = [p for p in sample["pools"]
	         if all_rows or p["kind"] == "bh"
	         or p["pending"] or p["inbox"] or p["busy"] or p["inactive"]]
	out += _title("Pools")
	out += _table(("ID", "KIND", "CPU", "PENDING", "INBOX", "BUSY", "INACTIVE"),
	              [(p["id"], p["kind"], p["cpu"], p["pending"], p["inbox"],
	                p["busy"], p["inactive"]) for p in pools],
	              ("ID", "CPU", "PENDING", "INBOX", "BUSY", "INACTIVE"))
	out.append("")
	wqs = [w for w in sample["workqueues"]
	       if all_rows or w["active"] or w["inactive"] or w["queued"]]
	out += _title("Workqueues with work")
	if wqs:
		out += _table(("NAME", "TYPE", "ACTIVE", "INACTIVE", "QUEUED"),
		              [(w["name"], w["type"], w["active"], w["inactive"],
		                w["queued"]) for w in wqs],
		              ("ACTIVE", "INACTIVE", "QUEUED"))
	else:
		out.append("(none)")
	out.append("")
	out += _title("Tasklet softirqs per CPU (they run BH work items too)")
	out += _table(("CPU", "TASKLETS", "HI", "TASKLET/s", "HI/s"),
	              [(c["cpu"], c["tasklets"], c["tasklets_hi"],
	                c["tasklet_softirqs_per_s"], c["hi_softirqs_per_s"])
	               for c in sample["cpus"]],
	              ("CPU", "TASKLETS", "HI", "TASKLET/s", "HI/s"))
	return "\n".join(out) + "\n"


def watch(collect, prog, interval, count, as_json, wq=None, out=None,
          clock=None, sleep=None):
	"""Sample every `interval` seconds, `count` times (0: until ^C), and
    print a screen (cleared in place on a terminal) or one JSON object a
    line."""
	import time
	out = out or sys.stdout
	clock = clock or time.monotonic
	sleep = sleep or time.sleep
	tty = out.isatty() and not as_json
	prev, n = None, 0
	while True:
		snap = filter_snapshot(collect(prog), wq=wq, pending=False)
		cur = watch_sample(snap, clock())
		sample = watch_rates(cur, prev)
		if as_json:
			out.write(json.dumps(sample, sort_keys=True) + "\n")
		else:
			text = render_watch(sample, snap["kernel"]["release"])
			out.write(("\033[H\033[J" if tty else "") + text + ("" if tty else "\n"))
		out.flush()
		prev, n = cur, n + 1
		if count and n >= count:
			return
		sleep(interval)


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def _help_epilog():
	lines = ["columns:"]
	for section, cols in COLUMNS.items():
		lines.append(f"  {section}")
		for name, text in cols:
			lines += textwrap.wrap(text, 78, initial_indent=f"    {name:<13} ",
			                       subsequent_indent=" " * 18)
	lines.append("")
	lines.append("Work items lists what is queued; delayed work whose timer "
	             "has not fired yet is")
	lines.append("not queued and not shown.  On a live kernel the state "
	             "changes while it is read.")
	lines.append("")
	lines.append("exit status: 0 on success, 1 on an error (one line on "
	             "stderr; set")
	lines.append("WQ_DUMP_DEBUG=1 for a traceback), 2 on a usage error.")
	lines.append("")
	lines.append(JSON_DOC.rstrip())
	return "\n".join(lines)


def build_parser():
	p = argparse.ArgumentParser(
	    prog="drgn wq_dump.py",
	    description="Show workqueues, worker pools (including BH pools), "
	                "rescuers, busy workers,\nqueued work items and tasklet "
	                "queues of the running kernel or a crash dump.\nRun "
	                "under drgn: `drgn wq_dump.py` (live, as root) or\n"
	                "`drgn -c VMCORE -s vmlinux wq_dump.py`.",
	    epilog=_help_epilog(),
	    formatter_class=argparse.RawDescriptionHelpFormatter)
	p.add_argument("--json", action="store_true",
	               help="print JSON (schema below) instead of text")
	p.add_argument("--wq", metavar="NAME",
	               help="only this workqueue (shell wildcards allowed), its "
	                    "pools, workers and items; hides tasklets")
	p.add_argument("--pending", action="store_true",
	               help="only what is queued or running: busy workers, work "
	                    "items, pools and workqueues with work, busy "
	                    "rescuers, non-empty tasklet queues")
	p.add_argument("--watch", nargs="?", type=float, const=2.0, default=None,
	               metavar="SECONDS",
	               help="sample again every SECONDS (default 2) and show "
	                    "queue lengths, busy workers and tasklet softirq "
	                    "rates; with --json one object a line")
	p.add_argument("--count", type=int, default=0, metavar="N",
	               help="with --watch: stop after N samples (default: at ^C)")
	return p


def main(argv=None, prog=None, collect=None):
	"""Entry point.  collect(prog) -> snapshot can be replaced in tests."""
	args = build_parser().parse_args(argv)
	try:
		if collect is None:
			if prog is None:
				raise WqDumpError("no kernel to read: run under drgn, e.g. "
				                  "`/usr/bin/drgn wq_dump.py`")
			collect = lambda p: Collector(p).collect()  # noqa: E731
		if args.watch is not None:
			if args.watch <= 0 or args.count < 0:
				raise WqDumpError("--watch needs a positive interval and "
				                  "--count zero or more")
			watch(collect, prog, args.watch, args.count, args.json, args.wq)
			return 0
		snap = collect(prog)
		snap = filter_snapshot(snap, wq=args.wq, pending=args.pending)
		out = render_json(snap) if args.json else render_text(snap)
		sys.stdout.write(out)
		sys.stdout.flush()
	except BrokenPipeError:
		# `wq_dump.py | head`: not an error worth a message
		try:
			sys.stdout = open(os.devnull, "w")
		except OSError:
			pass
		return 0
	except KeyboardInterrupt:
		print("wq_dump: interrupted", file=sys.stderr)
		return 130
	except Exception as e:  # one line, no traceback
		if os.environ.get("WQ_DUMP_DEBUG"):
			raise
		if isinstance(e, WqDumpError):
			msg = str(e)
		else:
			msg = f"{type(e).__name__}: {e}".splitlines()[0]
			msg = f"unexpected {msg} (WQ_DUMP_DEBUG=1 for a traceback)"
		print(f"wq_dump: error: {msg}", file=sys.stderr)
		return 1
	return 0


if __name__ == "__main__":
	sys.exit(main(sys.argv[1:], globals().get("prog")))
