# SPDX-License-Identifier: MIT
"""A stand-in for urllib3, for tests/sandbox/network.c: only its
connection module, shaped as urllib3's (1.26 and 2.x) is where it matters."""
