#!/usr/bin/env python3
"""The Core's dashboard in a real browser: Debian's chromium, headless, driven over its DevTools
protocol (cdp.py), loads the page of a running `swarmsync-core run --http`; the test reads what
the page's script drew (the services and channels of the snapshot, the wiring graph with each
channel's depth on its edge, the job counter moving), then saves a screenshot.

    dashboard_test.py SWARMSYNC_CORE_BIN [SCREENSHOT.png]

Exit status: 0 passed, 1 failed (the reason on stderr), 77 skipped (no chromium: the reason).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

SKIP = 77


def fail(why):
    print("FAILED: " + why, file=sys.stderr)
    sys.exit(1)


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def counter(page, name):
    """The page's job counter `name`, as a number (None while it is not drawn)."""
    text = page.evaluate('(document.querySelector(\'#jobs [data-name="%s"] b\') || {}).textContent || ""' % name)
    return int(text.replace(",", "")) if text else None


def start_run(core, *extra):
    """A run that lasts (recurring cron jobs, cron time 600 times faster, 60 s at most) with the
    dashboard on a free port; its base URL and the rest of what it said first."""
    run = subprocess.Popen([core, "run", "--count", "400", "--cron-share", "0.5", "--cron-speed", "600",
                            "--duration", "60s", "--http", "127.0.0.1:0", "--json", *extra],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = run.stderr.readline()
    m = re.search(r"dashboard at (http://127\.0\.0\.1:\d+)/", line)
    if not m:
        run.kill()
        fail("the run did not say where its dashboard is: " + line)
    return run, m.group(1)


def stop_run(run):
    if run.poll() is None:
        run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=60)
    if run.returncode != 0:
        fail("the run exited with %d: %s" % (run.returncode, err[-2000:]))
    if not json.loads(out)["stop_reason"].startswith("signal"):
        fail("the run stopped for another reason: " + out[-500:])


def control(core, browser):
    """With --control: the restart button is refused without the token, and restarts with it; the
    swap button swaps a service in."""
    run, base = start_run(core, "--control")
    try:
        m = re.match(r"control token: ([0-9a-f]{32}) ", run.stderr.readline())
        if not m:
            fail("the run printed no control token")
        token = m.group(1)
        with cdp.Browser(browser, base + "/") as page:
            page.wait_for('!!document.querySelector(\'button.restart[data-service="scheduler"]\')')
            page.evaluate('document.querySelector(\'button.restart[data-service="scheduler"]\').click()')
            refused = page.wait_for('(t => t.startsWith("401") && t)(document.getElementById("answer").textContent)')
            if counter_of(page, "scheduler") != 0:
                fail("a restart without the token happened")
            page.evaluate('document.getElementById("token").value = "%s"' % token)
            page.evaluate('document.querySelector(\'button.restart[data-service="scheduler"]\').click()')
            accepted = page.wait_for('(t => /^20[02] /.test(t) && t)(document.getElementById("answer").textContent)')
            page.wait_for('Array.from(document.querySelectorAll("#services tr")).some(tr =>'
                          ' tr.cells[0].textContent === "scheduler" && tr.cells[2].textContent === "1")', timeout=20)
            page.wait_for('document.getElementById("happenings").textContent.includes("scheduler restarted")')
            # A swap: a new instance of the Dispatcher's code, counted as a swap, its duration shown.
            page.evaluate('document.querySelector(\'button.swap[data-service="dispatcher"]\').click()')
            swapped = page.wait_for('(t => /^20[02] swap/.test(t) && t)(document.getElementById("answer").textContent)')
            page.wait_for('Array.from(document.querySelectorAll("#services tr")).some(tr =>'
                          ' tr.cells[0].textContent === "dispatcher" && tr.cells[4].textContent === "1"'
                          ' && / ms$/.test(tr.cells[5].textContent))', timeout=20)
            page.wait_for('document.getElementById("happenings").textContent.includes("dispatcher swapped in")')
        print("control: without the token %r; with it %r; the scheduler restarted once; the dispatcher %r once"
              % (refused, accepted, swapped))
    finally:
        stop_run(run)


def counter_of(page, service):
    """The restarts the page shows for `service`."""
    return int(page.evaluate('Array.from(document.querySelectorAll("#services tr")).filter(tr =>'
                             ' tr.cells[0].textContent === "%s").map(tr => tr.cells[2].textContent)[0] || "-1"'
                             % service))


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    core = sys.argv[1]
    shot = sys.argv[2] if len(sys.argv) > 2 else None
    browser = chromium()
    if browser is None:
        print("SKIPPED: no chromium on this machine (scripts/setup.sh installs it)", file=sys.stderr)
        return SKIP

    run, base = start_run(core)
    try:
        state = json.load(urllib.request.urlopen(base + "/api/state", timeout=10))
        services = [s["name"] for s in state["services"]]
        channels = [c["name"] for c in state["channels"]]

        with cdp.Browser(browser, base + "/") as page:
            page.wait_for('document.getElementById("status").textContent.startsWith("live")')
            shown_services = page.evaluate(
                'Array.from(document.querySelectorAll("#services tr td:first-child")).map(td => td.textContent)')
            shown_channels = page.evaluate(
                'Array.from(document.querySelectorAll("#channels tr td:first-child")).map(td => td.textContent)')
            if shown_services != services:
                fail("the page shows the services %s, the snapshot %s" % (shown_services, services))
            if shown_channels != channels:
                fail("the page shows the channels %s, the snapshot %s" % (shown_channels, channels))
            edges = page.wait_for('document.querySelectorAll("#wiring svg g.edge").length')
            # The next event after the graph arrived labels its edges with their channels' depths.
            page.wait_for('Array.from(document.querySelectorAll("#wiring g.edge text"))'
                          '.some(t => /^ToScheduler \\[\\d+\\]$/.test(t.textContent))', timeout=10)
            page.wait_for('!!document.querySelector(\'#jobs [data-name="runs"] b\')')
            done_first = done_later = counter(page, "runs")
            deadline = time.monotonic() + 20
            while done_later <= done_first and time.monotonic() < deadline:
                time.sleep(0.2)
                done_later = counter(page, "runs")
            if done_later <= done_first:
                fail("the runs counter did not move in 20 s: %d" % done_first)
            if shot:
                with open(shot, "wb") as f:
                    f.write(page.screenshot(1400, 1000))
        print("dashboard: %d services, %d channels, %d edges, runs finished %d then %d%s" %
              (len(services), len(channels), edges, done_first, done_later, ", screenshot " + shot if shot else ""))
    finally:
        stop_run(run)
    control(core, browser)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except cdp.DevToolsError as e:
        fail(str(e))
