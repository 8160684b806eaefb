"""Helpers shared by the test modules: committed fixtures, the firmware harness protocol, fake hardware."""
