# SPDX-License-Identifier: GPL-2.0-only
"""The checks of a wq_dump.py snapshot that tools/guest/wq_dump_ktap.py
runs in the guest (and tools/wq_dump_test.py on canned snapshots):
check_snapshot() holds the JSON to the invariants of a healthy kernel:

  - the system workqueues exist (events is percpu, events_unbound unbound);
  - the online CPUs match /sys/devices/system/cpu/online;
  - every online CPU has its two per-CPU pools (nice 0 and -20), bound
    (not DISASSOCIATED) and with at least one worker;
  - events / events_highpri map each online CPU to that CPU's pools;
  - every pool a workqueue maps to exists; unbound queues have a default
    pool that is an unbound pool; pool IDs are unique;
  - idle <= workers in every pool; WQ_MEM_RECLAIM queues have a rescuer;
  - BH: with expect_bh "no" (default "auto": what the kernel reports) there
    are no BH pools; with BH support every online CPU has BH pools and
    WQ_BH queues map to them;
  - tasklet queues were read for every possible CPU.

mode_problems() runs the text, --pending, --wq and --watch modes and a
--wq filter that matches nothing (which must fail with one line on
stderr).  A list of problems, each a line, empty when all holds.
"""

import json

SYSTEM_WQS = {
    "events": "percpu",
    "events_highpri": "percpu",
    "events_long": "percpu",
    "events_unbound": "unbound",
    "events_freezable": "percpu",
}
TOP_KEYS = ("schema_version", "kernel", "filter", "bh", "pools",
            "workqueues", "rescuers", "busy_workers", "work_items",
            "tasklets", "errors")


def parse_cpulist(text):
	cpus = []
	for part in text.strip().split(","):
		if not part:
			continue
		if "-" in part:
			a, b = part.split("-")
			cpus += range(int(a), int(b) + 1)
		else:
			cpus.append(int(part))
	return cpus


def check_snapshot(snap, online=None, expect_bh="auto"):
	"""Invariants of a healthy kernel.  Returns a list of problems.

    online: CPUs the system reports online (None: do not compare).
    expect_bh: "yes", "no" or "auto" (trust snap["bh"]["supported"]).
    """
	bad = []
	missing = [k for k in TOP_KEYS if k not in snap]
	if missing:
		return [f"JSON lacks top-level keys: {', '.join(missing)}"]
	if snap["schema_version"] != 1:
		bad.append(f"schema_version is {snap['schema_version']}, expected 1")
	if snap["filter"] != {"wq": None, "pending_only": False}:
		bad.append(f"unfiltered run reports filter {snap['filter']}")

	k = snap["kernel"]
	if online is not None and sorted(k["online_cpus"]) != sorted(online):
		bad.append(f"online CPUs {k['online_cpus']} != system's {online}")
	if not set(k["online_cpus"]) <= set(k["possible_cpus"]):
		bad.append("online CPUs are not a subset of possible CPUs")

	pools = snap["pools"]
	ids = [p["id"] for p in pools]
	if len(ids) != len(set(ids)):
		bad.append("duplicate pool IDs")
	by_id = {p["id"]: p for p in pools}
	for p in pools:
		if not 0 <= p["nr_idle"] <= p["nr_workers"]:
			bad.append(f"pool {p['id']}: idle {p['nr_idle']} not within "
			           f"0..workers {p['nr_workers']}")
		if p["kind"] in ("percpu", "bh") and p["cpu"] is None:
			bad.append(f"{p['kind']} pool {p['id']} has no CPU")
		if p["kind"] == "unbound" and p["cpu"] is not None:
			bad.append(f"unbound pool {p['id']} has CPU {p['cpu']}")

	std = {}   # cpu -> {nice: pool}
	for p in pools:
		if p["kind"] == "percpu":
			std.setdefault(p["cpu"], {})[p["nice"]] = p
	for cpu in k["online_cpus"]:
		got = std.get(cpu, {})
		if sorted(got) != [-20, 0]:
			bad.append(f"CPU {cpu}: per-CPU pools with nice {sorted(got)}, "
			           "expected [-20, 0]")
			continue
		for p in got.values():
			if "POOL_DISASSOCIATED" in p["flags"]:
				bad.append(f"CPU {cpu} online but pool {p['id']} is "
				           "DISASSOCIATED")
			if p["nr_workers"] < 1:
				bad.append(f"CPU {cpu}: pool {p['id']} has no workers")

	wqs = {w["name"]: w for w in snap["workqueues"]}
	for name, wtype in SYSTEM_WQS.items():
		if name not in wqs:
			bad.append(f"system workqueue {name} missing")
		elif wqs[name]["type"] != wtype:
			bad.append(f"{name} has type {wqs[name]['type']}, "
			           f"expected {wtype}")
	for name, nice in (("events", 0), ("events_highpri", -20)):
		w = wqs.get(name)
		if w is None:
			continue
		m = {c["cpu"]: c["pool"] for c in w["cpu_pools"]}
		for cpu in k["online_cpus"]:
			want = std.get(cpu, {}).get(nice)
			if want is not None and m.get(cpu) != want["id"]:
				bad.append(f"{name}: CPU {cpu} maps to pool {m.get(cpu)}, "
				           f"expected {want['id']}")

	for w in snap["workqueues"]:
		if sorted(c["cpu"] for c in w["cpu_pools"]) != \
		        sorted(k["possible_cpus"]):
			bad.append(f"{w['name']}: cpu_pools does not cover the "
			           "possible CPUs")
		for c in w["cpu_pools"]:
			if c["pool"] is not None and c["pool"] not in by_id:
				bad.append(f"{w['name']}: CPU {c['cpu']} maps to unknown "
				           f"pool {c['pool']}")
		for pwq in w["pwqs"]:
			if pwq["pool"] not in by_id:
				bad.append(f"{w['name']}: pwq on unknown pool {pwq['pool']}")
		if w["type"] in ("unbound", "ordered"):
			d = w["dfl_pool"]
			if d is None or d not in by_id or by_id[d]["kind"] != "unbound":
				bad.append(f"{w['name']}: default pool {d} is not an "
				           "unbound pool")
		if "WQ_MEM_RECLAIM" in w["flags"] and not w["rescuer_pid"]:
			bad.append(f"{w['name']}: WQ_MEM_RECLAIM without rescuer")
		if w["max_active"] < 1:
			bad.append(f"{w['name']}: max_active {w['max_active']}")
	resc = {r["workqueue"] for r in snap["rescuers"]}
	for w in snap["workqueues"]:
		if "WQ_MEM_RECLAIM" in w["flags"] and w["name"] not in resc:
			bad.append(f"{w['name']}: rescuer not listed in rescuers")

	bh = snap["bh"]
	bh_pools = [p for p in pools if p["kind"] == "bh"]
	supported = bh["supported"] if expect_bh == "auto" else expect_bh == "yes"
	if supported != bh["supported"]:
		bad.append(f"BH support reported {bh['supported']}, expected "
		           f"{supported}")
	if not supported:
		if bh_pools:
			bad.append(f"no BH support but {len(bh_pools)} BH pools")
		if any(w["type"] == "bh" for w in snap["workqueues"]):
			bad.append("no BH support but a bh workqueue")
	else:
		bh_cpus = {p["cpu"] for p in bh_pools}
		for cpu in k["online_cpus"]:
			if cpu not in bh_cpus:
				bad.append(f"CPU {cpu}: no BH pool")
		for w in snap["workqueues"]:
			if w["type"] != "bh":
				continue
			for c in w["cpu_pools"]:
				p = by_id.get(c["pool"])
				if p is None or p["kind"] != "bh" or p["cpu"] != c["cpu"]:
					bad.append(f"{w['name']}: CPU {c['cpu']} maps to "
					           f"pool {c['pool']}, not that CPU's BH pool")
		listed = {e["cpu"] for e in bh["per_cpu"]}
		if listed != bh_cpus:
			bad.append("bh.per_cpu does not list every BH pool CPU")

	for b in snap["busy_workers"]:
		if b["pool"] not in by_id:
			bad.append(f"busy worker on unknown pool {b['pool']}")
	for it in snap["work_items"]:
		if it["pool"] is not None and it["pool"] not in by_id:
			bad.append(f"work item {it['work']} on unknown pool {it['pool']}")

	t = snap["tasklets"]
	if not t["available"]:
		bad.append("tasklet queues not found")
	elif sorted(e["cpu"] for e in t["per_cpu"]) != sorted(k["possible_cpus"]):
		bad.append("tasklets not read for every possible CPU")
	return bad


def mode_problems(run_mode):
	"""Problems of the text, --pending, --wq and --watch modes, and of an unknown
    --wq, which must fail with one line on stderr.  run_mode(argv) runs
    wq_dump.py with those arguments and returns (exit status, stdout,
    stderr)."""
	bad = []
	for extra, must in (([], "Worker pools"),
	                    (["--pending"], "only queued or running work"),
	                    (["--wq", "events"], "workqueue filter: events")):
		rc, out, err = run_mode(extra)
		if rc != 0 or must not in out:
			bad.append(f"mode {extra or ['text']}: exit {rc}, {must!r} "
			           f"{'found' if must in out else 'missing'}; "
			           f"stderr: {err.strip()[-300:]}")
	rc, out, err = run_mode(["--wq", "no-such-workqueue"])
	lines = err.strip().splitlines()
	if rc != 1 or len(lines) != 1 or not lines[0].startswith("wq_dump: error:"):
		bad.append(f"unknown --wq: exit {rc}, stderr {err.strip()[-300:]!r}")
	bad += watch_problems(*run_mode(WATCH_ARGS))
	return bad


# two samples a second apart, as a JSON stream
WATCH_ARGS = ["--watch", "1", "--count", "2", "--json"]


def watch_problems(rc, out, err):
	"""Problems of `wq_dump.py --watch 1 --count 2 --json`: two samples,
    the second with its interval and a softirq rate for every CPU."""
	try:
		samples = [json.loads(line) for line in out.splitlines()]
	except ValueError as e:
		return [f"--watch --json: not a JSON stream ({e}); exit {rc}, "
		        f"stderr {err.strip()[-300:]!r}"]
	if rc != 0 or len(samples) != 2:
		return [f"--watch --count 2: exit {rc}, {len(samples)} samples; "
		        f"stderr {err.strip()[-300:]!r}"]
	last = samples[1]
	bad = []
	if not last.get("interval") or last["interval"] <= 0:
		bad.append(f"--watch: second sample's interval {last.get('interval')!r}")
	if not last.get("cpus") or any(c.get("tasklet_softirqs_per_s") is None
	                               for c in last["cpus"]):
		bad.append("--watch: a CPU without its tasklet softirq rate")
	if not last.get("pools"):
		bad.append("--watch: no pools")
	return bad

