"""A minimal W3C WebDriver client for Debian's chromedriver + headless Chromium.

Python 3 standard library only (urllib): CI installs Debian packages and
nothing else. Covers what the browser tests need and no more: start
chromedriver on a free loopback port, open a session with the flags of
../shared/CLIENTS.md, navigate, run scripts (W3C /execute/sync and
/execute/async), read the browser console, quit, and clean up every process it
started even when a test fails half-way.

    with Browser() as b:
        b.get("http://127.0.0.1:8080/")
        b.execute("return document.title")
        b.execute_async("const done = arguments[arguments.length - 1]; done(42)")

Chromium must run in a private network namespace holding only `lo`
(CLIENTS.md): call private_netns() first thing in a test script; it re-runs
the script under `unshare -n` when the machine has other interfaces.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
# /usr/bin/chromium is Debian's wrapper script; chromedriver wants the binary.
CHROMIUM = os.environ.get("CHROMIUM") or next(
    (p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium") if os.path.exists(p)),
    "/usr/lib/chromium/chromium")

# CLIENTS.md: without --allow-loopback-in-peer-connection Chromium gathers no
# candidate on `lo`; the mDNS feature would hide the addresses it gathers.
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required", "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]


class WebDriverError(Exception):
    """An error answered by chromedriver: `error` is the W3C error code
    ("javascript error", "script timeout", ...)."""

    def __init__(self, error, message):
        super().__init__(f"{error}: {message}")
        self.error = error
        self.message = message


def available():
    """None when chromedriver and Chromium are installed, else why not."""
    for p in (CHROMEDRIVER, CHROMIUM):
        if not os.access(p, os.X_OK):
            return f"{p} is not installed (apt-get install chromium chromium-driver)"
    return None


def private_netns():
    """Makes sure this process runs in a network namespace holding only `lo`.

    If other interfaces are visible and we are root, re-executes the current
    script under `unshare -n` with `lo` up and never returns (exits with the
    child's status). In a namespace already (as CI runs the suite), or when
    re-exec is impossible, returns and the caller carries on."""
    # /proc/net/dev shows this process's namespace (/sys/class/net shows the
    # namespace sysfs was mounted in).
    with open("/proc/net/dev") as f:
        ifaces = [line.split(":")[0].strip() for line in f if ":" in line]
    ifaces = [i for i in ifaces if i != "lo"]
    if not ifaces or os.environ.get("PRISM_NETNS") == "1":
        return
    if os.geteuid() != 0 or not shutil.which("unshare"):
        sys.stderr.write(f"warning: interfaces {ifaces} visible and no way to hide "
                         "them; WebRTC may pick a non-loopback address\n")
        return
    env = dict(os.environ, PRISM_NETNS="1")
    cmd = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" "$@"',
           sys.executable, os.path.abspath(sys.argv[0]), *sys.argv[1:]]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvpe("unshare", cmd, env)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One chromedriver process and one Chromium session (one page).

    `extra_flags` are appended to CHROMIUM_FLAGS. Each Browser has its own
    profile directory, removed by quit()."""

    def __init__(self, extra_flags=(), script_timeout_s=60):
        self.profile = tempfile.mkdtemp(prefix="prism-chromium-")
        self.port = free_port()
        self.log = open(os.path.join(self.profile, "chromedriver.log"), "w+")
        # Its own process group, so cleanup can reach Chromium's children
        # even if chromedriver dies first.
        self.driver = subprocess.Popen(
            [CHROMEDRIVER, f"--port={self.port}", "--allowed-ips=127.0.0.1"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"
        self.session = None
        try:
            self._wait_driver()
            caps = {"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:loggingPrefs": {"browser": "ALL"},
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": CHROMIUM_FLAGS + [f"--user-data-dir={self.profile}/data",
                                              *extra_flags],
                },
            }}}
            self.session = self._call("POST", "/session", caps)["sessionId"]
            self._call("POST", f"/session/{self.session}/timeouts",
                       {"script": int(script_timeout_s * 1000)})
        except BaseException:
            self.quit()
            raise

    def _wait_driver(self, timeout_s=20):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.driver.poll() is not None:
                raise RuntimeError(f"chromedriver exited with {self.driver.returncode}: "
                                   + self.driver_log())
            try:
                if self._call("GET", "/status").get("ready"):
                    return
            except (OSError, WebDriverError):
                pass
            time.sleep(0.05)
        raise RuntimeError("chromedriver did not become ready: " + self.driver_log())

    def _call(self, method, path, body=None, timeout_s=120):
        """One WebDriver command; returns its `value` or raises WebDriverError."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as r:
                reply = json.load(r)
        except urllib.error.HTTPError as e:
            try:
                reply = json.load(e)
            except ValueError:
                raise WebDriverError("http", f"{e.code} {e.reason}") from None
        value = reply.get("value")
        if isinstance(value, dict) and "error" in value:
            raise WebDriverError(value["error"], value.get("message", ""))
        return value

    def get(self, url):
        """Navigates the page to `url` and waits for it to load."""
        self._call("POST", f"/session/{self.session}/url", {"url": url})

    def execute(self, script, *args):
        """Runs `script` (a function body) in the page and returns its result."""
        return self._call("POST", f"/session/{self.session}/execute/sync",
                          {"script": script, "args": list(args)})

    def execute_async(self, script, *args):
        """Runs `script`; it ends by calling its last argument with the result.
        Fails with WebDriverError("script timeout") after script_timeout_s."""
        return self._call("POST", f"/session/{self.session}/execute/async",
                          {"script": script, "args": list(args)})

    def call(self, expr, *args):
        """Awaits a JavaScript expression that may be a promise, e.g.
        call("window.prismDemo.join(arguments[0], arguments[1])", "b", "Ann").
        A rejection is raised as WebDriverError("javascript error")."""
        script = ("const done = arguments[arguments.length - 1];"
                  f"Promise.resolve().then(() => ({expr}))"
                  ".then(v => done({ok: v === undefined ? null : v}),"
                  " e => done({err: String(e && e.stack || e)}));")
        r = self.execute_async(script, *args)
        if "err" in r:
            raise WebDriverError("javascript error", r["err"])
        return r["ok"]

    def console(self):
        """Browser console entries since the last call (chromedriver extension)."""
        try:
            return self._call("POST", f"/session/{self.session}/se/log", {"type": "browser"})
        except (OSError, WebDriverError):
            return []

    def driver_log(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    def quit(self):
        """Ends the session, then makes sure chromedriver and every Chromium
        process it started are gone, and removes the profile. Idempotent."""
        if self.session is not None:
            try:
                self._call("DELETE", f"/session/{self.session}", timeout_s=15)
            except (OSError, WebDriverError):
                pass
            self.session = None
        if self.driver.poll() is None:
            self.driver.terminate()
            try:
                self.driver.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.driver.kill()
                self.driver.wait()
        self._kill_leftovers()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def _kill_leftovers(self):
        """SIGKILLs what is left of our process group, and any process whose
        command line names our profile directory (Chromium's zygote and
        renderers may leave the group). Touches nothing else."""
        try:
            os.killpg(self.driver.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        marker = f"--user-data-dir={self.profile}".encode()
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if marker in f.read():
                        os.kill(int(pid), signal.SIGKILL)
            except (OSError, ProcessLookupError):
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.quit()


def unittest_main():
    """unittest.main(), but exits 77 (meson: skipped) when every test skipped."""
    r = unittest.main(exit=False, verbosity=2).result
    if r.testsRun and len(r.skipped) == r.testsRun and r.wasSuccessful():
        sys.exit(77)
    sys.exit(0 if r.wasSuccessful() else 1)
