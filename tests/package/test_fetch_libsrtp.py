"""deploy/fetch-libsrtp.sh takes its archives from the machine's apt sources.

Each test points apt at a fake configuration directory (APT_CONFIG setting
Dir::Etc) and runs a copy of the script in a scratch tree:
- --print-sources: `deb` entries of sources.list, sources.list.d/*.list and
  *.sources (deb822) become `deb-src` entries of the same URIs, suites,
  components and options; other files are ignored; no entry is an error;
- a whole fetch from a local flat repository (file: URI, a made-up libsrtp2
  source package) unpacks it into subprojects/libsrtp2, removes its private
  state and leaves the apt configuration as it was.
No network: the URIs are example.invalid or file:.
"""
import hashlib
import os
import shutil
import subprocess
import tempfile
import textwrap
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "deploy", "fetch-libsrtp.sh")


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(textwrap.dedent(text).lstrip("\n"))


def digest(directory):
    h = hashlib.sha256()
    for base, dirs, files in sorted(os.walk(directory)):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(base, name)
            h.update(path.encode())
            with open(path, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


class FetchLibsrtp(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="prism-fetch-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.etc = os.path.join(self.dir, "etc")
        os.makedirs(os.path.join(self.etc, "sources.list.d"))
        os.makedirs(os.path.join(self.etc, "apt.conf.d"))
        self.apt_config = os.path.join(self.dir, "apt.conf")
        write(self.apt_config, f'Dir::Etc "{self.etc}/";\n')
        self.tree = os.path.join(self.dir, "tree")
        os.makedirs(os.path.join(self.tree, "deploy"))
        shutil.copy(SCRIPT, os.path.join(self.tree, "deploy"))

    def run_script(self, *args):
        return subprocess.run([os.path.join(self.tree, "deploy", "fetch-libsrtp.sh"), *args],
                              capture_output=True, text=True, timeout=60,
                              env={**os.environ, "APT_CONFIG": self.apt_config, "LC_ALL": "C"})

    def test_derived_sources(self):
        write(os.path.join(self.etc, "sources.list"), """
            # a comment
            deb http://mirror.example.invalid/debian bookworm main contrib
            deb [signed-by=/usr/share/keyrings/k.gpg arch=amd64] http://mirror.example.invalid/debian bookworm-updates main # trailing
            deb-src http://mirror.example.invalid/debian bookworm main contrib
            """)
        write(os.path.join(self.etc, "sources.list.d", "extra.list"), """
            deb http://proxy.example.invalid:3142/security bookworm-security main
            """)
        write(os.path.join(self.etc, "sources.list.d", "ignored.list.disabled"), """
            deb http://ignored.example.invalid/debian bookworm main
            """)
        write(os.path.join(self.etc, "sources.list.d", "debian.sources"), """
            Types: deb
            # a comment inside the stanza
            URIs: http://mirror.example.invalid/debian
            Suites: bookworm bookworm-updates
            Components: main
            Signed-By:
             -----BEGIN PGP PUBLIC KEY BLOCK-----
             .
             AAAA
             -----END PGP PUBLIC KEY BLOCK-----

            types: deb deb-src
            URIs: http://other.example.invalid/debian
            Suites: bookworm
            Components: main
            Enabled: no
            """)
        p = self.run_script("--print-sources")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, textwrap.dedent("""\
            deb-src http://mirror.example.invalid/debian bookworm main contrib
            deb-src [signed-by=/usr/share/keyrings/k.gpg arch=amd64] http://mirror.example.invalid/debian bookworm-updates main
            deb-src http://proxy.example.invalid:3142/security bookworm-security main
            # debian.sources
            Types: deb-src
            # a comment inside the stanza
            URIs: http://mirror.example.invalid/debian
            Suites: bookworm bookworm-updates
            Components: main
            Signed-By:
             -----BEGIN PGP PUBLIC KEY BLOCK-----
             .
             AAAA
             -----END PGP PUBLIC KEY BLOCK-----

            Types: deb-src
            URIs: http://other.example.invalid/debian
            Suites: bookworm
            Components: main
            Enabled: no
            """))
        self.assertFalse(os.path.exists(os.path.join(self.tree, "subprojects")))

    def test_no_sources_is_an_error(self):
        write(os.path.join(self.etc, "sources.list"), "# nothing\n")
        p = self.run_script("--print-sources")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no deb entries", p.stderr)

    def test_fetch_from_the_systems_archive(self):
        # A flat repository holding a made-up libsrtp2 source package.
        src = os.path.join(self.dir, "src", "libsrtp2-9.9.9")
        write(os.path.join(src, "meson.build"), "project('libsrtp2', 'c')\n")
        write(os.path.join(src, "debian", "source", "format"), "3.0 (native)\n")
        write(os.path.join(src, "debian", "changelog"), """
            libsrtp2 (9.9.9) unstable; urgency=medium

              * Test.

             -- Test <test@example.invalid>  Wed, 02 Dec 2026 00:00:00 +0000
            """)
        write(os.path.join(src, "debian", "control"), """
            Source: libsrtp2
            Maintainer: Test <test@example.invalid>

            Package: libsrtp2-test
            Architecture: any
            Description: test
             test
            """)
        repo = os.path.join(self.dir, "repo")
        os.makedirs(repo)
        subprocess.run(["dpkg-source", "-b", src], cwd=repo, check=True, capture_output=True,
                       timeout=60)
        with open(os.path.join(repo, "Sources"), "w") as f:
            subprocess.run(["dpkg-scansources", "."], cwd=repo, check=True, stdout=f,
                           stderr=subprocess.DEVNULL, timeout=60)
        write(os.path.join(self.etc, "sources.list"), f"deb [trusted=yes] file:{repo} ./\n")
        before = digest(self.etc)

        p = self.run_script()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("libsrtp2 (9.9.9)", p.stdout)
        dest = os.path.join(self.tree, "subprojects", "libsrtp2")
        self.assertTrue(os.path.isfile(os.path.join(dest, "meson.build")))
        self.assertEqual(os.listdir(os.path.join(self.tree, "subprojects")), ["libsrtp2"],
                         "the private apt state should be gone")
        self.assertEqual(digest(self.etc), before, "the apt configuration changed")
        # Present: nothing to do, even with no usable sources.
        write(os.path.join(self.etc, "sources.list"), "")
        p = self.run_script()
        self.assertEqual((p.returncode, p.stdout), (0, ""), p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
