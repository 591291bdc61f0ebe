"""Runnable example applications."""
