// SPDX-License-Identifier: GPL-2.0-only
/*
 * wqbh_bench: tasklets against BH work items, as an out-of-tree module.
 *
 * Built by `wqbh bench` against the bench kernels of the base tree and
 * of the series; WQBH_HAVE_BH is defined when the kernel has WQ_BH.  The
 * module runs when it is loaded, prints one line per result starting with
 * "wqbh-bench:" and refuses to stay loaded.
 *
 * Latency: a hard-irq hrtimer, pinned to the CPU the module is loaded on,
 * schedules a tasklet or queues a work item and records ktime_get_ns();
 * the callback records the time again.  The mechanisms take turns sample
 * by sample (with a rotating start) so that they see the same conditions.
 * Then tasklets are sampled once more alone ("@alone"), which is the same
 * job on every kernel: what compares the series with the base tree.
 *
 * Throughput: `items` tasklets or work items are scheduled inside one
 * local_bh_disable() section, then bottom halves are enabled and the run
 * of all callbacks is waited for.  Reported: ns per item to queue, and ns
 * per item from the first queueing to the last callback.
 *
 * Citizenship: a tasklet which reschedules itself from its callback, or a
 * BH work item which requeues itself, runs for `hog_ms` on the CPU the
 * module is loaded on, while a softirq hrtimer (HRTIMER_SOFTIRQ) pinned
 * there fires every 500 us.  Reported: how late the timer callbacks ran
 * (median, p99, max ns), as "citizen MECH", "none" being the same timer
 * without a hog, and how often the hog ran.  This is what a self-requeueing
 * item costs the other softirqs of its CPU.
 */
#define pr_fmt(fmt) "wqbh-bench: " fmt

#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/hrtimer.h>
#include <linux/interrupt.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

static unsigned int samples = 2000;
module_param(samples, uint, 0444);
MODULE_PARM_DESC(samples, "latency samples per mechanism");

static unsigned int items = 20000;
module_param(items, uint, 0444);
MODULE_PARM_DESC(items, "items per throughput round");

static unsigned int rounds = 7;
module_param(rounds, uint, 0444);
MODULE_PARM_DESC(rounds, "throughput rounds per mechanism");

static unsigned int hog_ms = 1000;
module_param(hog_ms, uint, 0444);
MODULE_PARM_DESC(hog_ms, "how long each self-requeueing hog runs (0: no citizenship bench)");

enum mech {
	M_TASKLET,
	M_TASKLET_HI,
#ifdef WQBH_HAVE_BH
	M_BH,
	M_BH_HI,
#endif
	M_HIGHPRI,
	M_WQ,
	NR_MECH,
};

static const char * const mech_name[NR_MECH] = {
	[M_TASKLET]	= "tasklet",
	[M_TASKLET_HI]	= "tasklet_hi",
#ifdef WQBH_HAVE_BH
	[M_BH]		= "system_bh_wq",
	[M_BH_HI]	= "system_bh_highpri_wq",
#endif
	[M_HIGHPRI]	= "system_highpri_wq",
	[M_WQ]		= "system_wq",
};

/* schedule @t or queue @w, the way mechanism @m does */
static void mech_queue(enum mech m, struct tasklet_struct *t,
		       struct work_struct *w)
{
	switch (m) {
	case M_TASKLET:
		tasklet_schedule(t);
		break;
	case M_TASKLET_HI:
		tasklet_hi_schedule(t);
		break;
#ifdef WQBH_HAVE_BH
	case M_BH:
		queue_work(system_bh_wq, w);
		break;
	case M_BH_HI:
		queue_work(system_bh_highpri_wq, w);
		break;
#endif
	case M_HIGHPRI:
		queue_work(system_highpri_wq, w);
		break;
	case M_WQ:
		queue_work(system_wq, w);
		break;
	default:
		break;
	}
}

/* ---- latency ---- */

static struct {
	struct hrtimer		timer;
	struct tasklet_struct	tasklet;
	/*
	 * One work item per mechanism, as a converted tasklet user queues
	 * its item to one queue.  An item that last ran on another pool
	 * takes the __queue_work() path, which checks whether it still runs
	 * there; that is not what is measured here.
	 */
	struct work_struct	work[NR_MECH];
	enum mech		mech;
	u64			t0;
	u64			delta;
	struct completion	done;
} lat;

static void lat_tasklet_fn(struct tasklet_struct *t)
{
	lat.delta = ktime_get_ns() - lat.t0;
	complete(&lat.done);
}

static void lat_work_fn(struct work_struct *w)
{
	lat.delta = ktime_get_ns() - lat.t0;
	complete(&lat.done);
}

static enum hrtimer_restart lat_timer_fn(struct hrtimer *h)
{
	lat.t0 = ktime_get_ns();
	mech_queue(lat.mech, &lat.tasklet, &lat.work[lat.mech]);
	return HRTIMER_NORESTART;
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * The distribution of sorted samples as one line of quantiles, the 1st,
 * every 4th from the 4th to the 96th, and the 99th percentile, for the
 * host to draw latency CDFs from.
 */
static void print_cdf(const char *name, const char *suffix, const u64 *v,
		      unsigned int n)
{
	char line[512];
	int len, q;

	len = scnprintf(line, sizeof(line), "cdf %s%s p1 %llu", name, suffix,
			v[n / 100]);
	for (q = 4; q <= 96; q += 4)
		len += scnprintf(line + len, sizeof(line) - len, " p%d %llu", q,
				 v[n * q / 100]);
	scnprintf(line + len, sizeof(line) - len, " p99 %llu", v[n - 1 - n / 100]);
	pr_info("%s\n", line);
}

/*
 * Sample the latency of the @nr mechanisms in @set, taking turns; the
 * results are printed as "latency NAME@suffix" ("latency NAME" without).
 */
static int bench_latency(const enum mech *set, int nr, const char *suffix)
{
	u64 *s[NR_MECH] = { };
	int m, k, i, ret = 0;

	for (m = 0; m < NR_MECH; m++) {
		s[m] = vcalloc(samples, sizeof(u64));
		if (!s[m]) {
			ret = -ENOMEM;
			goto out;
		}
	}
	tasklet_setup(&lat.tasklet, lat_tasklet_fn);
	for (m = 0; m < NR_MECH; m++)
		INIT_WORK(&lat.work[m], lat_work_fn);
	hrtimer_init(&lat.timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_HARD);
	lat.timer.function = lat_timer_fn;

	for (i = 0; i < samples; i++) {
		for (k = 0; k < nr; k++) {
			lat.mech = set[(i + k) % nr];
			init_completion(&lat.done);
			hrtimer_start(&lat.timer, ns_to_ktime(20 * NSEC_PER_USEC),
				      HRTIMER_MODE_REL_PINNED_HARD);
			if (!wait_for_completion_timeout(&lat.done, HZ)) {
				pr_err("%s: no callback within a second\n",
				       mech_name[lat.mech]);
				ret = -ETIMEDOUT;
				goto stop;
			}
			/* the work item may still be on its way out */
			flush_work(&lat.work[lat.mech]);
			s[lat.mech][i] = lat.delta;
		}
	}
	for (k = 0; k < nr; k++) {
		m = set[k];
		sort(s[m], samples, sizeof(u64), cmp_u64, NULL);
		pr_info("latency %s%s median_ns %llu p99_ns %llu samples %u\n",
			mech_name[m], suffix, s[m][samples / 2],
			s[m][samples - 1 - samples / 100], samples);
		print_cdf(mech_name[m], suffix, s[m], samples);
	}
stop:
	hrtimer_cancel(&lat.timer);
	tasklet_kill(&lat.tasklet);
	for (m = 0; m < NR_MECH; m++)
		cancel_work_sync(&lat.work[m]);
out:
	for (m = 0; m < NR_MECH; m++)
		vfree(s[m]);
	return ret;
}

/* ---- throughput ---- */

static atomic_t tp_left;
static struct completion tp_done;

static void tp_tasklet_fn(struct tasklet_struct *t)
{
	if (atomic_dec_and_test(&tp_left))
		complete(&tp_done);
}

static void tp_work_fn(struct work_struct *w)
{
	if (atomic_dec_and_test(&tp_left))
		complete(&tp_done);
}

struct tp_result {
	u64	queue[16];
	u64	total[16];
};

static int tp_round(enum mech m, struct tasklet_struct *ts,
		    struct work_struct *ws, u64 *queue_ns, u64 *total_ns)
{
	u64 t0, t1, t2;
	int i;

	atomic_set(&tp_left, items);
	init_completion(&tp_done);
	local_bh_disable();
	t0 = ktime_get_ns();
	for (i = 0; i < items; i++) {
		switch (m) {
		case M_TASKLET:
			tasklet_schedule(&ts[i]);
			break;
		case M_TASKLET_HI:
			tasklet_hi_schedule(&ts[i]);
			break;
#ifdef WQBH_HAVE_BH
		case M_BH:
			queue_work(system_bh_wq, &ws[i]);
			break;
		case M_BH_HI:
			queue_work(system_bh_highpri_wq, &ws[items + i]);
			break;
#endif
		default:
			break;
		}
	}
	t1 = ktime_get_ns();
	local_bh_enable();
	if (!wait_for_completion_timeout(&tp_done, 30 * HZ)) {
		pr_err("throughput %s: %d items still pending after 30 s\n",
		       mech_name[m], atomic_read(&tp_left));
		return -ETIMEDOUT;
	}
	t2 = ktime_get_ns();
	*queue_ns = (t1 - t0) / items;
	*total_ns = (t2 - t0) / items;
	return 0;
}

static const enum mech tp_mechs[] = {
	M_TASKLET, M_TASKLET_HI,
#ifdef WQBH_HAVE_BH
	M_BH, M_BH_HI,
#endif
};

static int bench_throughput(void)
{
	struct tp_result *res;
	struct tasklet_struct *ts;
	struct work_struct *ws;
	int i, r, k, ret = 0;

	rounds = clamp(rounds, 1U, 16U);
	res = kcalloc(ARRAY_SIZE(tp_mechs), sizeof(*res), GFP_KERNEL);
	ts = vcalloc(items, sizeof(*ts));
	/*
	 * Each BH queue gets items of its own, as a converted tasklet user
	 * queues an item to one queue.  An item moved between the two BH
	 * pools of a CPU takes the __queue_work() path, which checks
	 * whether it still runs on the other pool.
	 */
	ws = vcalloc(2 * items, sizeof(*ws));
	if (!res || !ts || !ws) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < items; i++)
		tasklet_setup(&ts[i], tp_tasklet_fn);
	for (i = 0; i < 2 * items; i++)
		INIT_WORK(&ws[i], tp_work_fn);
	/* one untimed round of each to warm caches */
	for (r = 0; r <= rounds && !ret; r++) {
		for (k = 0; k < ARRAY_SIZE(tp_mechs) && !ret; k++) {
			u64 q, t;

			ret = tp_round(tp_mechs[k], ts, ws, &q, &t);
			if (r) {
				res[k].queue[r - 1] = q;
				res[k].total[r - 1] = t;
			}
		}
	}
	for (k = 0; k < ARRAY_SIZE(tp_mechs) && !ret; k++) {
		sort(res[k].queue, rounds, sizeof(u64), cmp_u64, NULL);
		sort(res[k].total, rounds, sizeof(u64), cmp_u64, NULL);
		pr_info("throughput %s queue_ns_per_item %llu total_ns_per_item %llu items %u rounds %u\n",
			mech_name[tp_mechs[k]], res[k].queue[rounds / 2],
			res[k].total[rounds / 2], items, rounds);
	}
	for (i = 0; i < items; i++)
		tasklet_kill(&ts[i]);
out:
	vfree(ws);
	vfree(ts);
	kfree(res);
	return ret;
}

/* ---- citizenship: a self-requeueing hog against a softirq timer ---- */

#define CIT_PERIOD_NS	(500 * NSEC_PER_USEC)
#define CIT_MAX_SAMPLES	8192

static struct {
	struct hrtimer		timer;
	struct tasklet_struct	tasklet;
	struct work_struct	work[NR_MECH];
	enum mech		mech;		/* NR_MECH: no hog */
	bool			stop;
	unsigned long		hog_runs;
	u64			*late;
	unsigned int		nr;
} cit;

static void cit_tasklet_fn(struct tasklet_struct *t)
{
	cit.hog_runs++;
	if (!READ_ONCE(cit.stop))
		mech_queue(cit.mech, t, NULL);
}

static void cit_work_fn(struct work_struct *w)
{
	cit.hog_runs++;
	if (!READ_ONCE(cit.stop))
		mech_queue(cit.mech, NULL, w);
}

static enum hrtimer_restart cit_timer_fn(struct hrtimer *h)
{
	u64 late = ktime_to_ns(ktime_sub(ktime_get(), hrtimer_get_expires(h)));

	if (cit.nr < CIT_MAX_SAMPLES)
		cit.late[cit.nr++] = late;
	if (READ_ONCE(cit.stop))
		return HRTIMER_NORESTART;
	hrtimer_forward_now(h, ns_to_ktime(CIT_PERIOD_NS));
	return HRTIMER_RESTART;
}

static void cit_start_hog(enum mech m)
{
	if (m == NR_MECH)
		return;
	local_bh_disable();
	mech_queue(m, &cit.tasklet, &cit.work[m]);
	local_bh_enable();
}

static int bench_citizen_one(enum mech m)
{
	const char *name = m == NR_MECH ? "none" : mech_name[m];
	unsigned int n;

	cit.mech = m;
	cit.stop = false;
	cit.hog_runs = 0;
	cit.nr = 0;
	hrtimer_start(&cit.timer, ns_to_ktime(CIT_PERIOD_NS),
		      HRTIMER_MODE_REL_PINNED_SOFT);
	cit_start_hog(m);
	msleep(hog_ms);
	WRITE_ONCE(cit.stop, true);
	hrtimer_cancel(&cit.timer);
	tasklet_kill(&cit.tasklet);
	if (m != NR_MECH)
		cancel_work_sync(&cit.work[m]);

	n = cit.nr;
	if (!n) {
		pr_err("citizen %s: the softirq timer never ran\n", name);
		return -ETIMEDOUT;
	}
	sort(cit.late, n, sizeof(u64), cmp_u64, NULL);
	pr_info("citizen %s timer_median_ns %llu timer_p99_ns %llu timer_max_ns %llu timer_runs %u hog_runs_per_s %lu\n",
		name, cit.late[n / 2], cit.late[n - 1 - n / 100], cit.late[n - 1],
		n, cit.hog_runs * 1000 / max(hog_ms, 1U));
	return 0;
}

static const enum mech cit_mechs[] = {
	NR_MECH, M_TASKLET, M_TASKLET_HI,
#ifdef WQBH_HAVE_BH
	M_BH, M_BH_HI,
#endif
};

static int bench_citizen(void)
{
	int k, m, ret = 0;

	if (!hog_ms)
		return 0;
	cit.late = vcalloc(CIT_MAX_SAMPLES, sizeof(u64));
	if (!cit.late)
		return -ENOMEM;
	tasklet_setup(&cit.tasklet, cit_tasklet_fn);
	for (m = 0; m < NR_MECH; m++)
		INIT_WORK(&cit.work[m], cit_work_fn);
	hrtimer_init(&cit.timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_SOFT);
	cit.timer.function = cit_timer_fn;
	for (k = 0; k < ARRAY_SIZE(cit_mechs) && !ret; k++)
		ret = bench_citizen_one(cit_mechs[k]);
	vfree(cit.late);
	return ret;
}

/* ---- primitives: what the queueing paths are made of ---- */

static DEFINE_RAW_SPINLOCK(prim_lock);
static unsigned long prim_bits;

static noinline void prim_call(void)
{
	barrier();
}

static void bench_primitives(void)
{
	unsigned long flags;
	u64 t0, t[4];
	int i;

	local_bh_disable();
	t0 = ktime_get_ns();
	for (i = 0; i < items; i++) {
		local_irq_save(flags);
		local_irq_restore(flags);
	}
	t[0] = ktime_get_ns() - t0;
	t0 = ktime_get_ns();
	for (i = 0; i < items; i++) {
		raw_spin_lock_irqsave(&prim_lock, flags);
		raw_spin_unlock_irqrestore(&prim_lock, flags);
	}
	t[1] = ktime_get_ns() - t0;
	t0 = ktime_get_ns();
	for (i = 0; i < items; i++) {
		test_and_set_bit(i & 63, &prim_bits);
		clear_bit(i & 63, &prim_bits);
	}
	t[2] = ktime_get_ns() - t0;
	t0 = ktime_get_ns();
	for (i = 0; i < items; i++)
		prim_call();
	t[3] = ktime_get_ns() - t0;
#ifdef WQBH_HAVE_BH
	{
		/* an item that is already pending: the cost of the wrapper */
		struct work_struct w;
		u64 tq;

		INIT_WORK_ONSTACK(&w, tp_work_fn);
		queue_work(system_bh_wq, &w);
		t0 = ktime_get_ns();
		for (i = 0; i < items; i++)
			queue_work(system_bh_wq, &w);
		tq = ktime_get_ns() - t0;
		cancel_work(&w);
		destroy_work_on_stack(&w);
		pr_info("primitive queue_work_already_pending ns_per_op %llu\n", tq / items);
	}
#endif
	local_bh_enable();
	pr_info("primitive irqsave_restore ns_per_op %llu\n", t[0] / items);
	pr_info("primitive spin_lock_irqsave_unlock ns_per_op %llu\n", t[1] / items);
	pr_info("primitive test_and_set_clear_bit ns_per_op %llu\n", t[2] / items);
	pr_info("primitive call ns_per_op %llu\n", t[3] / items);
}

static const enum mech lat_all[] = {
	M_TASKLET, M_TASKLET_HI,
#ifdef WQBH_HAVE_BH
	M_BH, M_BH_HI,
#endif
	M_HIGHPRI, M_WQ,
};

/* the same on every kernel, for tasklets on the series against the base */
static const enum mech lat_tasklets[] = { M_TASKLET, M_TASKLET_HI };

static int __init wqbh_bench_init(void)
{
	int ret;

	pr_info("start cpu %d\n", raw_smp_processor_id());
	bench_primitives();
	ret = bench_throughput();
	if (!ret)
		ret = bench_citizen();
	if (!ret)
		ret = bench_latency(lat_all, ARRAY_SIZE(lat_all), "");
	if (!ret)
		ret = bench_latency(lat_tasklets, ARRAY_SIZE(lat_tasklets),
				    "@alone");
	pr_info("end %d\n", ret);
	/* nothing to keep loaded */
	return ret ? ret : -EAGAIN;
}
module_init(wqbh_bench_init);

MODULE_DESCRIPTION("Tasklets against BH work items: latency and throughput");
MODULE_LICENSE("GPL");
