// SPDX-License-Identifier: GPL-2.0-only
/*
 * Provokes one real kernel splat on load, to record the console excerpts
 * that the harness's splat detector is tested on: the files of ../splat/
 * and the whole boots ../console_*.log.  Never load it outside a
 * throw-away test guest: some of these kill it.
 *
 *   insmod splat_test.ko which=KIND
 *
 * KIND is one of the names in splat_cases[] below.  The splat comes
 * between the console lines "splat_test: provoking KIND" and
 * "splat_test: provoked KIND" (the latter missing when it kills the
 * guest); reports of other CPUs and follow-ups may come later.
 */
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/timer.h>
#include <linux/workqueue.h>

static char *which = "warning";
module_param(which, charp, 0444);

static DEFINE_MUTEX(splat_a);
static DEFINE_MUTEX(splat_b);
static DEFINE_SPINLOCK(splat_lock);

/* Keeps the compiler from seeing that a pointer is NULL. */
static void *splat_null;

struct splat_obj {
	long pad[2];
	long field;
};

static noinline void splat_kasan(void)
{
	char *p = kmalloc(64, GFP_KERNEL);

	if (!p)
		return;
	kfree(p);
	pr_info("splat_test: read after free: %d\n", READ_ONCE(p[8]));
}

static noinline void splat_lockdep(void)
{
	/* A then B, later B then A: lockdep reports the inversion. */
	mutex_lock(&splat_a);
	mutex_lock(&splat_b);
	mutex_unlock(&splat_b);
	mutex_unlock(&splat_a);

	mutex_lock(&splat_b);
	mutex_lock(&splat_a);
	mutex_unlock(&splat_a);
	mutex_unlock(&splat_b);
}

static noinline void splat_warning(void)
{
	WARN(1, "splat_test: deliberate warning\n");
}

/* KASAN's inline check of a NULL struct's field: a GPF on its shadow. */
static noinline void splat_gpf(void)
{
	struct splat_obj *obj = READ_ONCE(splat_null);

	pr_info("splat_test: field %ld\n", obj->field);
}

/* A NULL pointer read which KASAN doesn't check: a plain Oops. */
static noinline void splat_oops(void)
{
	unsigned long addr = (unsigned long)READ_ONCE(splat_null) + 16;
	unsigned long v;

#ifdef CONFIG_X86
	asm volatile("mov (%1), %0" : "=r" (v) : "r" (addr) : "memory");
#else
	v = ((unsigned long (*)(void))addr)();
#endif
	pr_info("splat_test: read %lx\n", v);
}

static noinline void splat_bug(void)
{
	BUG();
}

static noinline void splat_refcount(void)
{
	refcount_t ref = REFCOUNT_INIT(1);

	if (refcount_dec_and_test(&ref))
		pr_info("splat_test: last reference dropped\n");
	/* one put too many */
	if (refcount_dec_and_test(&ref))
		pr_info("splat_test: last reference dropped again\n");
}

static LIST_HEAD(splat_list);
static struct list_head splat_entry;

static noinline void splat_list_corruption(void)
{
	list_add(&splat_entry, &splat_list);
	list_del(&splat_entry);
	/* CONFIG_DEBUG_LIST: reported, and the deletion not done */
	list_del(&splat_entry);
}

/* A lock whose lockdep map was never set up, in dynamic memory. */
static noinline void splat_nonstatic_key(void)
{
	spinlock_t *lock = kmalloc(sizeof(*lock), GFP_KERNEL);

	if (!lock)
		return;
	spin_lock_init(lock);
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	memset(&lock->dep_map, 0, sizeof(lock->dep_map));
#endif
	spin_lock(lock);
	spin_unlock(lock);
	kfree(lock);
}

/* Lockdep has MAX_LOCKDEP_SUBCLASSES (8) subclasses: it turns itself off. */
static noinline void splat_lockdep_subclass(void)
{
	spin_lock_nested(&splat_lock, 8);
	spin_unlock(&splat_lock);
}

static noinline void splat_sleeping_in_atomic(void)
{
	spin_lock(&splat_lock);
	might_sleep();
	spin_unlock(&splat_lock);
}

static noinline void splat_scheduling_while_atomic(void)
{
	preempt_disable();
	schedule_timeout_uninterruptible(1);
	/* __schedule_bug() has reset the preempt count: don't underflow it */
	if (preempt_count())
		preempt_enable();
}

static void splat_wq_leak_fn(struct work_struct *work)
{
	spin_lock(&splat_lock);		/* and not unlocked */
}

static void splat_rcu_leak_fn(struct work_struct *work)
{
	rcu_read_lock();		/* and not unlocked */
}

static noinline void splat_run_work(struct workqueue_struct *wq, work_func_t fn)
{
	struct work_struct work;

	INIT_WORK_ONSTACK(&work, fn);
	queue_work(wq, &work);
	flush_work(&work);
	destroy_work_on_stack(&work);
	msleep(500);
}

static noinline void splat_wq_leak(void)
{
	splat_run_work(system_wq, splat_wq_leak_fn);
}

static noinline void splat_bh_wq_leak(void)
{
#ifdef SPLAT_HAVE_BH_WQ
	splat_run_work(system_bh_wq, splat_wq_leak_fn);
#else
	pr_err("splat_test: no BH workqueues in this kernel\n");
#endif
}

static noinline void splat_rcu_leak(void)
{
	splat_run_work(system_wq, splat_rcu_leak_fn);
}

static void splat_spin(unsigned int seconds)
{
	unsigned long end = jiffies + seconds * HZ;

	while (time_before(jiffies, end))
		cpu_relax();
}

/* A preemptible reader that holds up RCU's grace period: an RCU stall. */
static noinline void splat_rcu_stall(void)
{
	rcu_read_lock();
	splat_spin(30);
	rcu_read_unlock();
}

/* No preemption for longer than 2 * watchdog_thresh: a soft lockup. */
static noinline void splat_soft_lockup(void)
{
	preempt_disable();
	splat_spin(26);
	preempt_enable();
}

/* In D state for longer than hung_task_timeout_secs (set it low first). */
static noinline void splat_hung_task(void)
{
	schedule_timeout_uninterruptible(12 * HZ);
}

/*
 * A work item which runs for longer than the workqueue watchdog's
 * threshold (30 s) and another one queued behind it on the same pool.
 */
static void splat_wq_busy_fn(struct work_struct *work)
{
	splat_spin(40);
}

static void splat_wq_nop_fn(struct work_struct *work)
{
}

static noinline void splat_wq_lockup(void)
{
	struct work_struct busy, nop;
	int cpu = get_cpu();

	put_cpu();
	INIT_WORK_ONSTACK(&busy, splat_wq_busy_fn);
	INIT_WORK_ONSTACK(&nop, splat_wq_nop_fn);
	queue_work_on(cpu, system_wq, &busy);
	msleep(100);
	queue_work_on(cpu, system_wq, &nop);
	flush_work(&busy);
	flush_work(&nop);
	destroy_work_on_stack(&busy);
	destroy_work_on_stack(&nop);
}

static void splat_timer_fn(struct timer_list *t)
{
}

/* Freeing an armed timer: ODEBUG reports it (and disarms it). */
static noinline void splat_odebug(void)
{
	struct timer_list *t = kmalloc(sizeof(*t), GFP_KERNEL);

	if (!t)
		return;
	timer_setup(t, splat_timer_fn, 0);
	mod_timer(t, jiffies + 100 * HZ);
	kfree(t);
}

static noinline void splat_panic(void)
{
	panic("splat_test: deliberate panic\n");
}

static const struct {
	const char *name;
	void (*fn)(void);
} splat_cases[] = {
	{ "kasan",			splat_kasan },
	{ "lockdep",			splat_lockdep },
	{ "warning",			splat_warning },
	{ "gpf",			splat_gpf },
	{ "oops",			splat_oops },
	{ "bug",			splat_bug },
	{ "refcount",			splat_refcount },
	{ "list_corruption",		splat_list_corruption },
	{ "nonstatic_key",		splat_nonstatic_key },
	{ "lockdep_subclass",		splat_lockdep_subclass },
	{ "sleeping_in_atomic",		splat_sleeping_in_atomic },
	{ "scheduling_while_atomic",	splat_scheduling_while_atomic },
	{ "wq_leak",			splat_wq_leak },
	{ "bh_wq_leak",			splat_bh_wq_leak },
	{ "rcu_leak",			splat_rcu_leak },
	{ "rcu_stall",			splat_rcu_stall },
	{ "soft_lockup",		splat_soft_lockup },
	{ "hung_task",			splat_hung_task },
	{ "wq_lockup",			splat_wq_lockup },
	{ "odebug",			splat_odebug },
	{ "panic",			splat_panic },
};

static int __init splat_test_init(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(splat_cases); i++) {
		if (strcmp(which, splat_cases[i].name))
			continue;
		pr_info("splat_test: provoking %s\n", which);
		splat_cases[i].fn();
		pr_info("splat_test: provoked %s\n", which);
		return 0;
	}
	pr_err("splat_test: unknown which=%s\n", which);
	return -EINVAL;
}
module_init(splat_test_init);

static void __exit splat_test_exit(void)
{
}
module_exit(splat_test_exit);

MODULE_LICENSE("GPL");
