// The REST API and webhook rows of the bench table (raw files of scripts/bench-rest.sh), for
// bench/report.mjs.

const fmt = (x, d = 0) =>
  x === null || x === undefined || Number.isNaN(x)
    ? "—"
    : Number(x).toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });

/// The raw figures: `read(name)` reads one of the raw JSON files (null if missing).
export function restFigures(read) {
  const wh = {};
  for (const run of ["none-1", "fast", "slow", "down", "none-2"]) wh[run] = read(`webhooks-${run}.json`);
  return { rest: read("rest.json"), webhooks: wh, receiver_slow: read("webhook-receiver-slow.json") };
}

/// Table rows from `restFigures`.
export function restRows(f) {
  const t = [];
  const r = f?.rest;
  if (r) {
    const w = r.admin_msgwithdraw;
    const s = r.sendmsg;
    const errs = (p) => (Object.keys(p.errors ?? {}).length ? `; errors ${JSON.stringify(p.errors)}` : "");
    t.push({
      id: "rest_admin_recalls_per_sec",
      figure: `REST: admin recalls (openim/admin_msgwithdraw, ${fmt(w.ok + Object.values(w.errors ?? {}).reduce((a, b) => a + b, 0))} messages, ${r.concurrency} connections, --rest-rate 0)`,
      target: "— (Tencent's quota: 200 / s per admin)",
      ok: null,
      gap: null,
      measured: `${fmt(w.per_sec)} / s; p50 ${fmt(w.latency.p50_ms, 2)} ms, p99 ${fmt(w.latency.p99_ms, 2)} ms${errs(w)}`,
      baseline: `openim/sendmsg ${fmt(s.per_sec)} / s; p50 ${fmt(s.latency.p50_ms, 2)} ms, p99 ${fmt(s.latency.p99_ms, 2)} ms${errs(s)}`,
      ratio: s.per_sec ? w.per_sec / s.per_sec : null,
    });
  }
  const wh = f?.webhooks ?? {};
  const base = [wh["none-1"], wh["none-2"]].filter((x) => x?.revokes);
  if (base.length) {
    const mean = (g) => base.reduce((a, x) => a + g(x), 0) / base.length;
    const b = {
      sends: mean((x) => x.sends.per_sec),
      revokes: mean((x) => x.revokes.per_sec),
      sendP99: mean((x) => x.sends.ack_latency.p99_ms),
      revokeP99: mean((x) => x.revokes.ack_latency.p99_ms),
    };
    for (const [run, label] of [["fast", "a receiver answering at once (0 ms)"], ["slow", "a receiver answering after 500 ms"], ["down", "a receiver that is down (connection refused)"]]) {
      const x = wh[run];
      if (!x?.revokes) continue;
      const rs = x.sends.per_sec / b.sends;
      const rr = x.revokes.per_sec / b.revokes;
      const worst = Math.min(rs, rr);
      // Ack p99 under load, as a ratio too (above 1 is worse); not judged: on a shared machine the
      // two baseline runs alone differ by more than 10% (their spread is shown).
      const ps = x.sends.ack_latency.p99_ms / b.sendP99;
      const pr = x.revokes.ack_latency.p99_ms / b.revokeP99;
      const spread = (g) => (base.length > 1 ? Math.max(...base.map(g)) / Math.min(...base.map(g)) : 1);
      t.push({
        id: `webhooks_${run}`,
        figure: `message path with webhooks to ${label}: durable sends / revokes per s, ack p99`,
        // The fast receiver is for scale (what delivering everything at once costs), not judged.
        target: run === "fast" ? "— (for scale: the deliverer keeps up)" : ">= 0.90x of the same run without --callback-url (sends/s and revokes/s)",
        ok: run === "fast" ? null : worst >= 0.9,
        gap: run === "fast" ? null : 0.9 / worst,
        measured: `sends ${fmt(x.sends.per_sec)} / s (${fmt(rs, 2)}x), revokes ${fmt(x.revokes.per_sec)} / s (${fmt(rr, 2)}x); ack p99 sends ${fmt(x.sends.ack_latency.p99_ms, 1)} ms (${fmt(ps, 2)}x), revokes ${fmt(x.revokes.ack_latency.p99_ms, 1)} ms (${fmt(pr, 2)}x)`,
        baseline: `no --callback-url (mean of ${base.length} runs): sends ${fmt(b.sends)} / s, revokes ${fmt(b.revokes)} / s; ack p99 ${fmt(b.sendP99, 1)} / ${fmt(b.revokeP99, 1)} ms (the runs' spread: ${fmt(spread((y) => y.sends.per_sec), 2)}x / ${fmt(spread((y) => y.revokes.per_sec), 2)}x in rate, ${fmt(spread((y) => y.sends.ack_latency.p99_ms), 2)}x / ${fmt(spread((y) => y.revokes.ack_latency.p99_ms), 2)}x in p99)`,
        ratio: worst,
      });
    }
  }
  return t;
}
