#!/usr/bin/env bash
# scripts/crash.sh [KILLS] [CLIENTS] — crash durability (docs/RELIABILITY.md).
#
# Builds the release server and `im-revoke-chaos`, then runs `im-revoke-chaos crash`: it starts
# the server itself on 127.0.0.1 (free port) with a fresh SQLite database in a temporary
# directory, drives a storm of sends and revokes from CLIENTS clients (one-to-one and one group),
# SIGKILLs the server at random moments KILLS times (restarting it on the same database), and
# at the end checks every acknowledged send and revoke, every client's event log (1..head, no
# duplicate, none missing) and every revoke callback. Exit status 1 on any violation.
# Defaults: 20 kills, 20 clients; about 1-2 minutes. Loopback only; bounded (`timeout`).
# CHAOS_PG=1 scripts/crash.sh: the same on PostgreSQL (a throw-away cluster; scripts/chaos-run.sh).
source "$(dirname "${BASH_SOURCE[0]}")/chaos-run.sh"

KILLS="${1:-20}"
CLIENTS="${2:-20}"
case "$KILLS$CLIENTS" in *[!0-9]*|'') echo "usage: scripts/crash.sh [KILLS] [CLIENTS]" >&2; exit 2 ;; esac

chaos_run crash 420 --kills "$KILLS" --clients "$CLIENTS"
