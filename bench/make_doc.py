#!/usr/bin/env python3
"""Writes docs/performance.md (and docs/performance.png) from a bench/run result.

    python3 bench/make_doc.py [bench/results/latest.json]

Fills bench/performance.md.in with the run's numbers: the machine, each target of issue 7 with
our and the old connector's figures, the CPU per request of every server, the full table.
"""
import datetime
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def med(stat):
    return stat.get("median") if stat else None


def num(value, digits=0):
    return "n/a" if value is None else f"{value:,.{digits}f}"


def rng(stat, digits=0, scale=1.0):
    if not stat or stat.get("median") is None:
        return "n/a"
    return (f"{stat['median'] / scale:,.{digits}f} [{stat['min'] / scale:,.{digits}f}–"
            f"{stat['max'] / scale:,.{digits}f}]")


# Our consumer kinds, as bench/run names them.
OURS_CONSUMERS = ("ours-grpc1", "ours-grpc1b", "ours-line1", "ours-grpc16", "ours-grpc16b")


def main() -> int:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench/results/latest.json"
    data = json.loads(source.read_text())
    meta, summary = data["meta"], data["summary"]
    cells = {(r["mode"], r["payload"]): r["targets"] for r in summary["intake"]}

    def target(mode, payload, name):
        return cells.get((mode, payload), {}).get(name, {})

    values = {}
    m = meta["machine"]
    started = datetime.datetime.utcfromtimestamp(meta["started"]).strftime("%Y-%m-%d %H:%M")
    finished = datetime.datetime.utcfromtimestamp(meta["finished"]).strftime("%H:%M UTC")
    values["MACHINE"] = (
        f"- Run: {started}–{finished}, commit `{meta['git']}`, `{meta['command']}`, "
        f"{meta['reps']} repetitions × {meta['duration_s']:g} s per measurement.\n"
        + (f"- Binaries built: " + ", ".join(f"`{k}` {v}" for k, v in meta["binaries"].items())
           + " (from the working tree of that time).\n" if meta.get("binaries") else "")
        + f"- Machine: `nproc` = {m['nproc']}, CPU model \"{m['cpu_model']}\", Linux {m['kernel']}, "
        f"{m['mem_total_mb'] / 1024:.1f} GiB RAM.\n"
        f"- Load average (1/5/15 min) before the run: {meta['load_before']}, after: "
        f"{meta['load_after']}.\n"
        f"- Payloads: " + ", ".join(f"{k} = {v} bytes" for k, v in meta["payload_bytes"].items())
        + f"; receiver and bare httplib server with `--http_threads={meta.get('http_threads', 80)}`"
        + (f"; the SubscribeBatches consumers (`grpc1b`, `grpc16b`) ask for "
           f"`max_batch_delay_ms = {meta['batch_delay_ms']}`" if "batch_delay_ms" in meta else "")
        + ".")
    if meta.get("replier_from"):
        # A receiver-only run (--no-replier) merged with the replier rows of
        # an earlier full run: say which.
        values["MACHINE"] += (f"\n- Replier rows (target 4, the replier's memory row) from an earlier "
                              f"full run: {meta['replier_from']}; this run measured the receiver "
                              f"only (`--no-replier`).")

    rows = []
    for mode in ("ka-1", "ka-16", "ka-64"):
        for payload in meta["payload_bytes"]:
            fpc = target(mode, payload, "fpc-line1")
            if not fpc:
                continue
            line = f"| {mode}, {payload} | {num(med(fpc.get('delivered_per_s')))} |"
            for name in OURS_CONSUMERS:
                t = target(mode, payload, name)
                line += (f" {num(med(t.get('delivered_per_s')))} "
                         f"(**{num(med(t.get('ratio_vs_fpc')), 1)}×**) |" if t else " n/a |")
            rows.append(line)
    values["TARGET1"] = "\n".join(rows)
    values["FPC_CORRUPT"] = num(sum(t.get("corrupt_lines", 0) for (mode, p), ts in cells.items()
                                    for n, t in ts.items() if n == "fpc-line1"))
    cpu = lambda mode, p, n: med(target(mode, p, n).get("server_cpu_us"))  # noqa: E731
    values["OURS_10KB_CPU"] = num(cpu("ka-16", "10KB", "ours-grpc1"))
    values["OURS_200B_CPU"] = num(cpu("ka-16", "200B", "ours-grpc1"))
    values["OURS_1KB_CPU"] = num(cpu("ka-16", "1KB", "ours-grpc1"))
    g1, g16 = cpu("ka-16", "1KB", "ours-grpc1"), cpu("ka-16", "1KB", "ours-grpc16")
    values["GRPC1_CPU"], values["GRPC16_CPU"] = num(g1), num(g16)
    values["GRPC16B_CPU"] = num(cpu("ka-16", "1KB", "ours-grpc16b"))
    values["PER_SUB"] = num((g16 - g1) / 15 if g1 and g16 else None)
    values["VS_NGINX"] = ", ".join(
        f"{num(med(target('ka-16', p, 'ours-grpc1').get('ratio_vs_nginx-204')), 2)} ({p})"
        for p in meta["payload_bytes"] if p != "10KB")
    cpu_rows = []
    for p in meta["payload_bytes"]:
        cpu_rows.append(f"| {p} | " + " | ".join(
            f"{num(cpu('ka-16', p, n))} µs" if cpu('ka-16', p, n) else "n/a" for n in
            ("nginx-204", "httplib-204", "httplib-parse-204", "ours-grpc1-httplib",
             "ours-grpc1", "ours-grpc1b")) + " |")
    values["CPU_TABLE"] = "\n".join(cpu_rows)
    httplib_1k, parse_1k = cpu("ka-16", "1KB", "httplib-204"), cpu("ka-16", "1KB", "httplib-parse-204")
    nginx_1k = cpu("ka-16", "1KB", "nginx-204")
    values["HTTPLIB_1KB"] = num(httplib_1k)
    values["PARSE_1KB"] = num(parse_1k - httplib_1k if parse_1k and httplib_1k else None)
    values["NGINX_1KB"] = num(nginx_1k)
    lg = med(target("ka-16", "1KB", "nginx-204").get("loadgen_cpu_us")) or 9.0
    cons = med(target("ka-16", "1KB", "ours-grpc1").get("consumer_cpu_us")) or 0.0
    values["LG_1KB"], values["CONS_1KB"] = num(lg), num(cons)
    budget = 2 * (nginx_1k + lg) - lg - cons if nginx_1k else None
    values["BUDGET"] = num(budget)
    values["BUDGET_LEFT"] = num(budget - nginx_1k if budget else None)
    h10, p10 = cpu("ka-16", "10KB", "httplib-204"), cpu("ka-16", "10KB", "httplib-parse-204")
    values["PARSE_10KB"] = num(p10 - h10 if p10 and h10 else None)
    values["PARSE_10KB_X"] = num((p10 - h10) / h10 if p10 and h10 else None, 0)
    l1 = cpu("ka-16", "1KB", "ours-line1")
    values["LINE_1KB_CPU"] = num(l1)
    # One sender, one request in flight: a rate is one over the round trip.
    rate = lambda mode, p, n: med(target(mode, p, n).get("delivered_per_s"))  # noqa: E731
    fpc1, nginx1 = rate("ka-1", "200B", "fpc-line1"), rate("ka-1", "200B", "nginx-204")
    ours1 = rate("ka-1", "200B", "ours-grpc1")
    values["KA1_FPC"], values["KA1_NGINX"], values["KA1_OURS"] = num(fpc1), num(nginx1), num(ours1)
    values["KA1_NGINX_X"] = num(nginx1 / fpc1 if nginx1 and fpc1 else None, 1)
    values["KA1_FPC_RTT"] = num(1e6 / fpc1 if fpc1 else None)
    values["KA1_NGINX_RTT"] = num(1e6 / nginx1 if nginx1 else None)
    values["KA1_OURS_RTT"] = num(1e6 / ours1 if ours1 else None)
    values["KA1_NEEDED_RTT"] = num(1e6 / (50 * fpc1) if fpc1 else None)
    # 10 KB: what 50x the old connector would take, against what parsing
    # the body alone allows (the bare server with nlohmann::json::parse).
    fpc10 = [rate(m, "10KB", "fpc-line1") for m in ("ka-16", "ka-64")]
    fpc10 = [v for v in fpc10 if v]
    values["FPC_10KB"] = "–".join(num(v) for v in sorted(fpc10)) if fpc10 else "n/a"
    values["NEEDED_10KB"] = "–".join(num(50 * v) for v in sorted(fpc10)) if fpc10 else "n/a"
    values["PARSE_10KB_RATE"] = num(rate("ka-16", "10KB", "httplib-parse-204"))
    values["OURS_10KB_RATE"] = num(rate("ka-16", "10KB", "ours-grpc1b"))
    values["OURS_10KB_B_CPU"] = num(cpu("ka-16", "10KB", "ours-grpc1b"))
    g16b_rate = rate("ka-16", "1KB", "ours-grpc16b")
    values["GRPC16B_RATE"] = num(g16b_rate)
    values["GRPC16B_EVENTS"] = num(16 * g16b_rate if g16b_rate else None)
    # Verdicts of target 1: cells with keep-alive senders >= 16 at >= 50x.
    met, missed = [], []
    for mode in ("ka-1", "ka-16", "ka-64"):
        for payload in meta["payload_bytes"]:
            for name in OURS_CONSUMERS:
                ratio = med(target(mode, payload, name).get("ratio_vs_fpc"))
                if ratio is None:
                    continue
                label = f"{mode} {payload} {name.replace('ours-', '')} ({ratio:.0f}×)"
                (met if ratio >= 50 else missed).append(label)
    values["T1_MET"] = ", ".join(met) or "none"
    values["T1_MISSED"] = ", ".join(missed) or "none"
    hv = [cpu("ka-16", p, "httplib-204") for p in meta["payload_bytes"]]
    nv = [cpu("ka-16", p, "nginx-204") for p in meta["payload_bytes"]]
    hv, nv = [v for v in hv if v], [v for v in nv if v]
    ratios = [cpu("ka-16", p, "httplib-204") / cpu("ka-16", p, "nginx-204")
              for p in meta["payload_bytes"]
              if cpu("ka-16", p, "httplib-204") and cpu("ka-16", p, "nginx-204")]
    values["HTTPLIB_X"] = f"{min(ratios):.1f}–{max(ratios):.1f}" if ratios else "n/a"
    hn = [cpu("new-16", p, "httplib-204") for p in meta["payload_bytes"]]
    nn = [cpu("new-16", p, "nginx-204") for p in meta["payload_bytes"]]
    hn, nn = [v for v in hn if v], [v for v in nn if v]
    values["HTTPLIB_NEW"] = f"{min(hn):.0f}–{max(hn):.0f}" if hn else "n/a"
    values["NGINX_NEW"] = f"{min(nn):.0f}–{max(nn):.0f}" if nn else "n/a"
    values["HTTPLIB_CPU_RANGE"] = f"{min(hv):.0f}–{max(hv):.0f}" if hv else "n/a"
    values["NGINX_CPU_RANGE"] = f"{min(nv):.0f}–{max(nv):.0f}" if nv else "n/a"
    default = target("ka-64", "1KB", "ours-grpc1-default-threads")
    if not default:
        values["STARVE_TEXT"] = "The receiver with every flag at its default was not run."
    else:
        values["STARVE_TEXT"] = (
            f"The receiver with every flag at its default (`ours-grpc1-default-threads` row, 64 "
            f"keep-alive senders, 1 KB): {num(med(default.get('accepted_per_s')))} accepted/s, "
            f"{num(default.get('errors'))} errors, {num(default.get('lost'))} lost.")
    # The event loop against cpp-httplib, same receiver, same run.
    gains = []
    for mode in ("ka-16", "ka-64"):
        for p in ("200B", "1KB"):
            ev, hl = target(mode, p, "ours-grpc1"), target(mode, p, "ours-grpc1-httplib")
            if ev and hl and med(hl.get("accepted_per_s")) and cpu(mode, p, "ours-grpc1-httplib"):
                gains.append(f"{mode} {p}: {num(med(hl['accepted_per_s']))} → "
                             f"{num(med(ev['accepted_per_s']))} accepted/s, "
                             f"{num(cpu(mode, p, 'ours-grpc1-httplib'))} → "
                             f"{num(cpu(mode, p, 'ours-grpc1'))} µs per notification")
    values["ENGINE_GAIN"] = "; ".join(gains) or "not measured in this run"
    lat_rows, lat10k = [], None
    for r in summary["latency"]:
        lat_rows.append(f"| {r['target']} | {num(r['rate'])}/s | {rng(r['accepted_per_s'])} | "
                        f"{rng(r['e2e_p50_us'], 2, 1000)} | {rng(r['e2e_p99_us'], 2, 1000)} | "
                        f"{rng(r['e2e_max_us'], 1, 1000)} |")
        if r["target"] == "ours-grpc1" and r["rate"] == 10000:
            lat10k = med(r["accepted_per_s"])
    values["LATENCY"] = "\n".join(lat_rows)
    values["LAT10K"] = num(lat10k)
    ours_1k = cpu("ka-16", "1KB", "ours-grpc1")
    values["CORES_10K"] = num(ours_1k * 10000 / 1e6 if ours_1k else None, 1)
    repl = {(r["target"], r["batch"], r["callers"]): r for r in summary["replier"]}
    for callers in (1, 4, 16):
        r = repl.get(("ours-replier", 1000, callers), {})
        values[f"REPL_RATIO_{callers}"] = num(med(r.get("ratio_vs_fpc")))
    fpc_repl = [med(r["entities_per_s"]) for k, r in repl.items() if k[0] == "fpc-replier"]
    values["FPC_REPL"] = (f"{min(fpc_repl):,.0f}–{max(fpc_repl):,.0f}" if fpc_repl else "n/a")
    values["OURS_REPL_1000"] = ", ".join(
        f"{num(med(repl[('ours-replier', 1000, c)]['entities_per_s']))} ({c} caller{'s' if c > 1 else ''})"
        for c in (1, 4, 16) if ("ours-replier", 1000, c) in repl)
    met, missed = [], []
    for batch in (1000,):
        for callers in (1, 4, 16):
            r = repl.get(("ours-replier", batch, callers))
            ratio = med(r.get("ratio_vs_fpc")) if r else None
            if ratio is None:
                continue
            (met if ratio >= 100 else missed).append(f"{callers} caller{'s' if callers > 1 else ''} "
                                                     f"({ratio:.0f}×)")
    values["T4_VERDICT"] = (f"**Met (≥ 100×) with** {', '.join(met) or 'none'}; "
                            f"**missed with** {', '.join(missed) or 'none'}.")
    cpu_notes = []
    for callers in (1, 4, 16):
        r = repl.get(("ours-replier", 1000, callers))
        if r and med(r.get("replier_cpu_us") or {}) is not None:
            cpu_notes.append(f"{callers}: replier {num(med(r['replier_cpu_us']), 1)} µs, sink "
                             f"{num(med(r['sink_cpu_us']), 1)} µs per entity")
    values["REPL_CPU"] = "; ".join(cpu_notes) or "not recorded in this run"
    # nginx's ceiling needs concurrent senders: with one sender both servers
    # wait on the round trip, so that cell says nothing about the ceiling.
    best = max((med(t.get("ratio_vs_nginx-204") or {}) or 0) for (mode, p), ts in cells.items()
               for n, t in ts.items() if n.startswith("ours-") and mode in ("ka-16", "ka-64"))
    new_conn = [med(t.get("ratio_vs_nginx-204") or {}) for (mode, p), ts in cells.items()
                for n, t in ts.items() if n in ("ours-grpc1", "ours-line1") and mode.startswith("new")
                and p != "10KB"]
    new_conn = [v for v in new_conn if v]
    values["T2_VERDICT"] = (("**Reached**" if best >= 0.5 else "**Not reached**")
                            + f" with 16 or 64 keep-alive senders, where nginx reaches its"
                            f" ceiling (best such cell: {best:.2f} of nginx)."
                            + (f" With a new connection per request, where connection setup costs"
                               f" nginx too, ours reaches {min(new_conn):.2f}–{max(new_conn):.2f}"
                               f" of it (200 B and 1 KB, one consumer)." if new_conn else ""))
    p50s = [med(r["call_p50_us"]) / 1000 for k, r in repl.items()
            if k[0] == "ours-replier" and k[1] in (1, 100) and med(r["call_p50_us"])]
    values["REPL_P50"] = f"{min(p50s):.0f}–{max(p50s):.0f}" if p50s else "n/a"
    b1 = repl.get(("ours-replier", 1, 1))
    values["REPL_B1"] = num(med(b1["entities_per_s"])) if b1 else "n/a"
    lat = {(r["target"], r["rate"]): r for r in summary["latency"]}
    p99 = med(lat.get(("ours-grpc1", 10000), {}).get("e2e_p99_us") or {})
    batch_p99 = med(lat.get(("ours-grpc1b", 10000), {}).get("e2e_p99_us") or {})
    line_p99 = med(lat.get(("ours-line1", 10000), {}).get("e2e_p99_us") or {})
    values["GRPC_P99_10K"] = "n/a" if p99 is None else f"{p99 / 1000:.1f}"
    values["GRPCB_P99_10K"] = "n/a" if batch_p99 is None else f"{batch_p99 / 1000:.1f}"
    values["LINE_P99_10K"] = "n/a" if line_p99 is None else f"{line_p99 / 1000:.1f}"
    verdicts = []
    for name, value in (("one `Subscribe` stream", p99), ("one `SubscribeBatches` stream",
                                                          batch_p99),
                        ("one line client", line_p99)):
        if value is not None:
            verdicts.append(f"{name} {value / 1000:.1f} ms "
                            f"({'reached' if value < 5000 else 'missed'})")
    values["T3_VERDICT"] = ("**Not measured.**" if not verdicts else
                            "p99 at an offered 10 000/s (median of the repetitions): "
                            + "; ".join(verdicts) + ".")
    ours_runs = [r for r in data["runs"] if str(r.get("target", "")).startswith("ours-")
                 and "error" not in r]
    lossy = [r for r in ours_runs if r.get("lost")]
    values["T5_VERDICT"] = (
        f"**Reached**: in all {len(ours_runs)} runs of ours (intake, fixed-rate, "
        "stalled-consumer), every accepted notification reached every consumer" if not lossy else
        f"**Not reached**: {len(lossy)} of {len(ours_runs)} runs of ours lost notifications ("
        + "; ".join(f"{r['target']} {r.get('mode')} {r.get('payload')}: {r['lost']:,} of "
                    f"{r.get('accepted', 0):,}" for r in lossy)
        + "); in every other run every accepted notification reached every consumer")
    notes = [r["harness_note"] for r in data["runs"] if r.get("harness_note")]
    values["HARNESS"] = (" Harness failures, not counted as loss: " + "; ".join(
        f"{r['target']} {r.get('mode')} {r.get('payload')}: {r['harness_note']}"
        for r in data["runs"] if r.get("harness_note")) + "." if notes else "")
    failed = [r for r in data["runs"] if str(r.get("target", "")).startswith("ours-")
              and "error" in r]
    if failed:
        values["HARNESS"] += (" Runs that did not complete, not counted: " + "; ".join(
            f"{r['target']} {r.get('mode')} {r.get('payload')}: {r['error'][:60]}"
            for r in failed) + ".")
    values["FPC_LOST"] = num(sum(t.get("lost", 0) for ts in cells.values()
                                 for n, t in ts.items() if n == "fpc-line1"))
    mem_rows = ["| process | state | peak RSS (VmHWM) MiB | notes |", "|---|---|---|---|"]
    rss_steady = retained = "n/a"
    for r in summary["memory"]:
        notes = []
        if r.get("retained_events") and med(r["retained_events"]) is not None:
            notes.append(f"log retained {rng(r['retained_events'])} events, "
                         f"{rng(r['retained_bytes'], 1, 1048576)} MiB")
        if r.get("accepted") is not None:
            notes.append(f"{r['accepted']} notifications accepted")
        if r.get("lost") is not None:
            notes.append(f"lost by the live subscriber: {r['lost']}")
        if r.get("calls") is not None:
            notes.append(f"16 callers × batches of 1000, {r['calls']} calls all ending at their "
                         f"3 s deadline")
        if r.get("idle_rss_kb"):
            notes.append(f"{r['idle_rss_kb'] / 1024:.1f} MiB before the load")
        mem_rows.append(f"| {r['target']} | {r['state']} | {rng(r['VmHWM_kb'], 1, 1024)} | "
                        f"{'; '.join(notes)} |")
        if r["target"] == "ours-receiver" and r["state"].startswith("after"):
            rss_steady = f"{rng(r['VmHWM_kb'], 0, 1024)} MiB"
            if r.get("retained_bytes"):
                retained = (f"{rng(r['retained_events'])} events / "
                            f"{rng(r['retained_bytes'], 0, 1048576)} MiB")
    values["MEMORY"] = "\n".join(mem_rows)
    fpc_mem = [med(r["VmHWM_kb"]) / 1024 for r in summary["memory"]
               if r["target"] == "fpc-receiver" and med(r["VmHWM_kb"])]
    values["FPC_MEM"] = f"{min(fpc_mem):.0f}–{max(fpc_mem):.0f}" if fpc_mem else "n/a"
    values["RSS_STEADY"], values["RETAINED"] = rss_steady, retained
    steady = next((r for r in summary["memory"] if r["target"] == "ours-receiver"
                   and r["state"].startswith("after")), None)
    ratio = None
    if steady and med(steady.get("retained_bytes") or {}):
        ratio = med(steady["VmHWM_kb"]) * 1024 / med(steady["retained_bytes"])
    values["RSS_RATIO"] = num(ratio, 1)
    values["TABLE"] = data["table"]
    loads = [meta["load_before"][0], meta["load_after"][0]] + [
        x[0] for x in meta.get("load_per_repetition", [])]
    values["LOAD_RANGE"] = f"{min(loads):.0f}–{max(loads):.0f}"
    ceilings = [t["accepted_per_s"] for (mode, p), ts in cells.items() for n, t in ts.items()
                if n == "nginx-204" and mode in ("ka-16", "ka-64")
                and t.get("accepted_per_s", {}).get("median")]
    fpc = [t for (mode, p), ts in cells.items() for n, t in ts.items()
           if n == "fpc-line1" and mode in ("ka-16", "ka-64") and p != "10KB"]
    p99s = [med(t["e2e_p99_us"]) / 1e6 for t in fpc if med(t.get("e2e_p99_us") or {})]
    rates = [med(t["delivered_per_s"]) for t in fpc if med(t.get("delivered_per_s") or {})]
    values["FPC_P99"] = f"{min(p99s):.1f}–{max(p99s):.1f}" if p99s else "n/a"
    values["FPC_RATE"] = f"{min(rates):,.0f}–{max(rates):,.0f}" if rates else "n/a"
    values["NGINX_MIN"] = num(min(c["min"] for c in ceilings) / 1000 if ceilings else None)
    values["NGINX_MAX"] = num(max(c["max"] for c in ceilings) / 1000 if ceilings else None)

    text = (ROOT / "bench/performance.md.in").read_text()
    for key, value in values.items():
        text = text.replace(f"@@{key}@@", value)
    (ROOT / "docs/performance.md").write_text(text)
    png = source.with_suffix(".png")
    if png.exists():
        shutil.copy(png, ROOT / "docs/performance.png")
    left = [line for line in text.splitlines() if "@@" in line]
    if left:
        print("unfilled:", left[:5])
        return 1
    print("wrote docs/performance.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
