"""The Debian package (debian/): built for real, then its contents checked.

Copies the tree (the files git tracks or would track: `git ls-files`, so
uncommitted edits count and build directories do not) and the fetched
subprojects/libsrtp2 into a scratch directory, runs `dpkg-buildpackage -b
-uc -us` there (DEB_BUILD_OPTIONS=nocheck parallel=2: the test suites run
elsewhere) and checks:
- lintian: no error (E:) tag; warnings and infos are printed;
- `dpkg-deb -c`: the three programs, the four manual pages, the systemd
  unit, /etc/prism/prism.conf, sysusers.d and tmpfiles.d entries, the
  documentation; no libSRTP header, static library, shared object or
  pkg-config file;
- `dpkg-deb -f`: Version from meson.build, no libsrtp2 in Depends, the
  embedded libSRTP named in Built-Using;
- `dpkg-deb -e`: the conffile, valid maintainer scripts, the user created
  before /run/prism, the unit enabled and started;
- `dpkg-deb -x`: the unit's ExecStart, User and RuntimeDirectory agree with
  the binary, sysusers and tmpfiles entries; the relay runs and prints the
  version; libSRTP inside it is the OpenSSL build, not linked dynamically.
And, without building: every dependency('NAME') of the project's meson.build
files is in debian/control's Build-Depends (the Debian package owning
NAME.pc), so a new library cannot be forgotten there.
Nothing is written into the source tree except subprojects/libsrtp2, which
deploy/fetch-libsrtp.sh fetches if it is missing (from the machine's apt
sources, as deploy/setup.sh does).

Environment: PRISM_VERSION (meson's project version).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_TIMEOUT_S = 1500

REQUIRED = {
    "./usr/bin/prism", "./usr/bin/prismctl", "./usr/bin/prism-bench",
    "./usr/share/man/man8/prism.8.gz", "./usr/share/man/man5/prism.conf.5.gz",
    "./usr/share/man/man1/prismctl.1.gz", "./usr/share/man/man1/prism-bench.1.gz",
    "./lib/systemd/system/prism.service", "./etc/prism/prism.conf",
    "./usr/lib/sysusers.d/prism.conf", "./usr/lib/tmpfiles.d/prism.conf",
    "./usr/share/doc/prism/copyright", "./usr/share/doc/prism/configuration.md.gz",
    "./usr/share/doc/prism/signaling.md.gz",
    "./usr/share/bash-completion/completions/prismctl",
}


def run(argv, **kw):
    kw.setdefault("timeout", 120)
    return subprocess.run(argv, capture_output=True, text=True, **kw)


def export_tree(dest):
    """Copies the tree as git sees it (tracked and untracked-not-ignored files,
    working-tree contents) plus subprojects/libsrtp2 into `dest`."""
    p = run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"])
    if p.returncode != 0:
        raise RuntimeError(f"git ls-files failed (the test needs a git checkout): {p.stderr}")
    for rel in filter(None, p.stdout.split("\0")):
        src = os.path.join(ROOT, rel)
        if not os.path.lexists(src):  # deleted in the working tree
            continue
        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, rel), follow_symlinks=False)
    shutil.copytree(os.path.join(ROOT, "subprojects", "libsrtp2"),
                    os.path.join(dest, "subprojects", "libsrtp2"), symlinks=True)


def unit_fields(text):
    fields = {}
    for line in text.split("\n"):
        m = re.match(r"(\w+)=(.*)", line)
        if m:
            fields.setdefault(m.group(1), m.group(2))
    return fields


class BuildDependsTest(unittest.TestCase):
    def test_every_meson_dependency_is_a_build_dependency(self):
        files = run(["git", "-C", ROOT, "ls-files", "--cached", "--others", "--exclude-standard",
                     "meson.build", "*/meson.build"]).stdout.split()
        names = set()
        for rel in files:
            with open(os.path.join(ROOT, rel)) as f:
                names.update(re.findall(r"\bdependency\('([^']+)'", f.read()))
        names.discard("threads")  # the C library's, not a package
        self.assertGreaterEqual(len(names), 8, names)
        with open(os.path.join(ROOT, "debian", "control")) as f:
            control = f.read()
        m = re.search(r"(?m)^Build-Depends:((?:\n? .*)+)", control)
        declared = {re.match(r"\s*([a-z0-9.+-]+)", alt).group(1)
                    for item in m.group(1).split(",") if item.strip()
                    for alt in item.split("|")}
        for name in sorted(names):
            pc = run(["pkg-config", "--path", name]).stdout.strip()
            self.assertTrue(pc, f"pkg-config does not know {name}")
            owner = run(["dpkg", "-S", os.path.realpath(pc)]).stdout.split(":")[0]
            self.assertIn(owner, declared, f"meson dependency('{name}') ({pc}, package "
                                           f"{owner}) is not in debian/control Build-Depends")


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.version = os.environ["PRISM_VERSION"]
        fetch = run([os.path.join(ROOT, "deploy", "fetch-libsrtp.sh")], timeout=600)
        if fetch.returncode != 0:
            raise RuntimeError(f"deploy/fetch-libsrtp.sh failed: {fetch.stderr}")
        with open(os.path.join(ROOT, "subprojects", "libsrtp2", "debian", "changelog")) as f:
            cls.srtp_version = re.match(r"libsrtp2 \(([^)]+)\)", f.readline()).group(1)
        cls.dir = tempfile.mkdtemp(prefix="prism-package-")
        src = os.path.join(cls.dir, f"prism-{cls.version}")
        export_tree(src)
        env = {**os.environ, "DEB_BUILD_OPTIONS": "nocheck parallel=2", "LC_ALL": "C.UTF-8"}
        env.pop("MAKEFLAGS", None)
        log = os.path.join(cls.dir, "build.log")
        with open(log, "w") as out:
            rc = subprocess.run(["dpkg-buildpackage", "-b", "-uc", "-us"], cwd=src, env=env,
                                stdout=out, stderr=subprocess.STDOUT,
                                timeout=BUILD_TIMEOUT_S).returncode
        if rc != 0:
            with open(log) as f:
                tail = f.read()[-6000:]
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise RuntimeError(f"dpkg-buildpackage exited {rc}:\n{tail}")
        debs = [f for f in os.listdir(cls.dir) if re.fullmatch(r"prism_[^_]+_[^_]+\.deb", f)]
        changes = [f for f in os.listdir(cls.dir) if f.endswith(".changes")]
        assert len(debs) == 1 and len(changes) == 1, os.listdir(cls.dir)
        cls.deb = os.path.join(cls.dir, debs[0])
        cls.changes = os.path.join(cls.dir, changes[0])
        cls.root = os.path.join(cls.dir, "root")
        subprocess.run(["dpkg-deb", "-x", cls.deb, cls.root], check=True, timeout=60)
        cls.control = os.path.join(cls.dir, "control")
        subprocess.run(["dpkg-deb", "-e", cls.deb, cls.control], check=True, timeout=60)
        installed = run(["dpkg-deb", "-f", cls.deb, "Installed-Size"]).stdout.strip()
        print(f"{os.path.basename(cls.deb)}: {os.path.getsize(cls.deb)} bytes, "
              f"{installed} KiB installed", file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def field(self, name):
        return run(["dpkg-deb", "-f", self.deb, name]).stdout.strip()

    def read(self, path):
        with open(os.path.join(self.root, path.lstrip("/"))) as f:
            return f.read()

    def test_lintian(self):
        p = run(["lintian", "--pedantic", "--display-info", self.changes], timeout=600)
        tags = [line for line in p.stdout.split("\n") if re.match(r"[EWIPX]: ", line)]
        print("lintian:\n" + ("\n".join(tags) or "(no tags)"), file=sys.stderr)
        self.assertIn(p.returncode, (0, 1), f"lintian did not run: {p.stderr}")
        errors = [t for t in tags if t.startswith("E: ")]
        self.assertEqual(errors, [], "lintian errors")

    def test_contents(self):
        listing = run(["dpkg-deb", "-c", self.deb]).stdout.split("\n")
        entries = {}
        for line in filter(None, listing):
            cols = line.split()
            entries[cols[5]] = cols[0]
        self.assertEqual(sorted(REQUIRED - set(entries)), [], "missing from the package")
        for prog in ("prism", "prismctl", "prism-bench"):
            self.assertEqual(entries[f"./usr/bin/{prog}"], "-rwxr-xr-x")
        bad = [p for p in entries
               if re.search(r"srtp|/include/|\.a$|\.pc$|\.so(\.|$)|pkgconfig", p)]
        self.assertEqual(bad, [], "libSRTP's headers, libraries or pkg-config files shipped")

    def test_fields(self):
        self.assertEqual(self.field("Package"), "prism")
        self.assertEqual(re.sub(r"-[^-]*$", "", self.field("Version")), self.version,
                         "debian/changelog's version should be meson.build's")
        depends = self.field("Depends")
        for lib in ("libssl3", "libnice10", "libuv1", "libjansson4"):
            self.assertIn(lib, depends)
        self.assertNotIn("srtp", depends, "Debian's NSS-built libsrtp2 must not be used")
        self.assertEqual(self.field("Built-Using"), f"libsrtp2 (= {self.srtp_version})")

    def test_maintainer_scripts(self):
        names = set(os.listdir(self.control))
        self.assertLessEqual({"postinst", "prerm", "postrm", "conffiles"}, names)
        with open(os.path.join(self.control, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/prism/prism.conf"])
        for name in ("preinst", "postinst", "prerm", "postrm"):
            if name in names:
                p = run(["sh", "-n", os.path.join(self.control, name)])
                self.assertEqual(p.returncode, 0, f"{name}: {p.stderr}")
        with open(os.path.join(self.control, "postinst")) as f:
            postinst = f.read()
        steps = ["systemd-sysusers ${DPKG_ROOT:+--root=\"$DPKG_ROOT\"} prism.conf",
                 "--create prism.conf", "deb-systemd-helper enable 'prism.service'",
                 "deb-systemd-invoke $_dh_action 'prism.service'"]
        at = [postinst.find(s) for s in steps]
        self.assertNotIn(-1, at, f"postinst lacks a step of {steps}:\n{postinst}")
        self.assertEqual(at, sorted(at), "postinst: user, then /run/prism, then the unit")
        with open(os.path.join(self.control, "postrm")) as f:
            self.assertIn("prism.service", f.read())

    def test_unit_agrees_with_the_layout(self):
        unit = unit_fields(self.read("/lib/systemd/system/prism.service"))
        exec_start = unit["ExecStart"].split()
        self.assertEqual(exec_start, ["/usr/bin/prism", "--config", "/etc/prism/prism.conf"])
        self.assertTrue(os.access(os.path.join(self.root, "usr/bin/prism"), os.X_OK))
        self.assertEqual((unit["User"], unit["Group"]), ("prism", "prism"))
        sysusers = self.read("/usr/lib/sysusers.d/prism.conf")
        self.assertRegex(sysusers, r"(?m)^u prism - ")
        tmpfiles = self.read("/usr/lib/tmpfiles.d/prism.conf")
        self.assertRegex(tmpfiles, rf"(?m)^d /run/{unit['RuntimeDirectory']} "
                                   rf"{unit['RuntimeDirectoryMode']} prism prism -$")
        conf = self.read("/etc/prism/prism.conf")
        self.assertRegex(conf, rf"(?m)^socket = /run/{unit['RuntimeDirectory']}/")
        self.assertRegex(conf, rf"(?m)^audit_file = /var/log/{unit['LogsDirectory']}/")

    def test_programs(self):
        prism = os.path.join(self.root, "usr", "bin", "prism")
        p = run([prism, "--version"])
        self.assertEqual((p.returncode, p.stdout), (0, f"prism {self.version}\n"), p.stderr)
        for prog in ("prism", "prism-bench"):
            path = os.path.join(self.root, "usr", "bin", prog)
            needed = run(["readelf", "-d", path]).stdout
            self.assertIn("libssl.so.3", needed)
            self.assertNotIn("srtp", needed, f"{prog} links a shared libsrtp")
            with open(path, "rb") as f:
                data = f.read()
            self.assertIn(b"AES-128 counter mode using openssl", data,
                          f"{prog}: libSRTP should be the OpenSSL build")
            self.assertNotIn(b"counter mode using NSS", data)
        p = run([os.path.join(self.root, "usr", "bin", "prismctl"), "--help"])
        self.assertEqual(p.returncode, 0, p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
