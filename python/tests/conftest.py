# SPDX-License-Identifier: MIT
"""Fixtures of the cact Python tests (run by tests/python.sh, `make test`).

The tests import the installed package (tests/python.sh installs it into a
virtual environment first) and use the cact-guest installed with it, unless
CACT_GUEST says otherwise.
"""

import os
import pathlib

import pytest

import cact

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def rt():
    """One runtime for the whole run, as a program would keep one."""
    with cact.Runtime() as runtime:
        yield runtime


@pytest.fixture
def root():
    return ROOT


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def open_fds():
    return len(os.listdir("/proc/self/fd"))
