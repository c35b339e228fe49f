# SPDX-License-Identifier: GPL-2.0-only
"""Harness for the BH workqueue series: base tree, apply, export, build, boot, test."""
