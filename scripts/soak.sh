#!/usr/bin/env bash
# scripts/soak.sh [CLIENTS] [SECONDS] — soak (docs/RELIABILITY.md).
#
# Builds the release server and `im-revoke-chaos`, then runs `im-revoke-chaos soak`: it starts
# the server on 127.0.0.1 (free port) with a fresh SQLite database in a temporary directory,
# connects CLIENTS clients (from 127.0.0.2-127.0.0.5) that each act about every 2 s for SECONDS
# seconds: sends to random peers, sends in a few groups (10 groups of 20), revokes of their own
# messages within the window. Then a quiet period, a final sync of every client, a clean stop of
# the server and the checks: zero lost events (applied seqs = 1..head of each user), zero
# duplicates, a revoke event for every revoked message each client had, every acknowledged send
# and revoke in the database. Prints the figures (and revoke -> event latency); exit status 1 on
# any violation. Defaults: 1000 clients, 60 s. Loopback only; bounded (`timeout`).
source "$(dirname "${BASH_SOURCE[0]}")/chaos-run.sh"

CLIENTS="${1:-1000}"
SECS="${2:-60}"
case "$CLIENTS$SECS" in *[!0-9]*|'') echo "usage: scripts/soak.sh [CLIENTS] [SECONDS]" >&2; exit 2 ;; esac

chaos_run soak $((SECS + 300)) --clients "$CLIENTS" --secs "$SECS" --sources 4 --max-secs $((SECS + 240))
