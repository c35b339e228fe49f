// SPDX-License-Identifier: GPL-2.0-only
/*
 * Provokes one real kernel splat on load, to record the canned console
 * logs the harness's splat detector is tested on (../console_*.log).
 * Never load it outside a throw-away test guest.
 *
 *   insmod splat_test.ko which=kasan|lockdep|warning
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>

static char *which = "warning";
module_param(which, charp, 0444);

static DEFINE_MUTEX(splat_a);
static DEFINE_MUTEX(splat_b);

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

static int __init splat_test_init(void)
{
	if (!strcmp(which, "kasan"))
		splat_kasan();
	else if (!strcmp(which, "lockdep"))
		splat_lockdep();
	else
		WARN(1, "splat_test: deliberate warning\n");
	return 0;
}
module_init(splat_test_init);

static void __exit splat_test_exit(void)
{
}
module_exit(splat_test_exit);

MODULE_LICENSE("GPL");
