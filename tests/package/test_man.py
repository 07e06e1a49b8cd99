"""The manual pages (man/) agree with the programs and the configuration.

- Options: every long option a program's --help prints appears in its page's
  OPTIONS section and every long option OPTIONS names appears in --help
  (--help itself need not be listed in its own output). prism-bench is
  compared per subcommand too: `prism-bench SUB --help` against the page's
  `## SUB` subsection.
- Keys: the keys relay/base/config.c reads, those docs/configuration.md's
  tables describe and those the built prism.conf(5) describes are the same
  sets, for the groups ([control], [media], ...) and for [client NAME].
  prism.conf(5) takes its key descriptions from docs/configuration.md at
  build time (man/md2scd.py), so this catches a key missing from the
  Markdown tables or a template section that lost them.
- No scdoc line starts with "." (scdoc drops the dot, or roff takes the line
  as a request).

Environment: PRISM, PRISMCTL, PRISM_BENCH (binaries), PRISM_MAN_BUILD (the
build directory of man/, holding the generated prism.conf.5.scd).
"""
import os
import re
import subprocess
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAN = os.path.join(ROOT, "man")
CONFIG_C = os.path.join(ROOT, "relay", "base", "config.c")
CONFIGURATION_MD = os.path.join(ROOT, "docs", "configuration.md")
LONG_OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*[a-z0-9]")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def help_text(*argv):
    p = subprocess.run(list(argv) + ["--help"], capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} --help exited {p.returncode}: {p.stderr}")
    return p.stdout


def section(scd, name, level="#"):
    """The text of `level name` up to the next heading of that level or above."""
    m = re.search(rf"(?m)^{level} {re.escape(name)}\n(.*?)(?=^#{{1,{len(level)}}} |\Z)", scd, re.S)
    if m is None:
        raise AssertionError(f"no '{level} {name}' section")
    return m.group(1)


def options(text):
    return set(LONG_OPTION.findall(text.replace("\\", ""))) - {"--help"}


def config_c_keys():
    src = read(CONFIG_C)
    keys = set(f"{g}.{k}" for g, k in re.findall(r'\{"(\w+)", "(\w+)", KEY_', src))
    client = set(re.findall(r'strcmp\((?:ckeys\[i\]|key), "(\w+)"\)', src))
    if len(keys) < 10 or len(client) < 4:
        raise AssertionError("could not read the key tables of relay/base/config.c")
    return keys, client


def md_table_keys(body):
    """The first-column `names` of the Markdown tables in `body`."""
    found = set()
    for line in body.split("\n"):
        if line.startswith("| `"):
            first = line.split("|")[1]
            found.update(re.findall(r"`([\w.]+)`", first))
    return found


def scd_entry_keys(body):
    """The bold terms starting an entry (a line, not indented) in scdoc text."""
    found = set()
    for line in body.replace("\\", "").split("\n"):
        if line.startswith("*"):
            found.update(re.findall(r"\*([\w.]+)\*", line.split(" (")[0]))
    return found


class OptionsTest(unittest.TestCase):
    def compare(self, page, help_out, page_text):
        in_help, in_page = options(help_out), options(page_text)
        self.assertEqual(sorted(in_help - in_page), [], f"{page}: in --help, not in OPTIONS")
        self.assertEqual(sorted(in_page - in_help), [], f"{page}: in OPTIONS, not in --help")

    def test_prism(self):
        scd = read(os.path.join(MAN, "prism.8.scd"))
        opts = section(scd, "OPTIONS")
        self.assertIn("*--help*", opts)
        self.compare("prism(8)", help_text(os.environ["PRISM"]), opts)

    def test_prismctl(self):
        scd = read(os.path.join(MAN, "prismctl.1.scd"))
        opts = section(scd, "OPTIONS")
        self.assertIn("*--help*", opts)
        self.compare("prismctl(1)", help_text(os.environ["PRISMCTL"]), opts)

    def test_prism_bench(self):
        bench = os.environ["PRISM_BENCH"]
        scd = read(os.path.join(MAN, "prism-bench.1.scd"))
        opts = section(scd, "OPTIONS")
        self.assertIn("*--help*", opts)
        self.compare("prism-bench(1)", help_text(bench), opts)
        subcommands = re.findall(r"(?m)^## (\w+)$", opts)
        self.assertEqual(subcommands, ["control", "run", "idle"])
        for sub in subcommands:
            with self.subTest(subcommand=sub):
                self.compare(f"prism-bench(1) {sub}", help_text(bench, sub),
                             section(opts, sub, "##"))


class KeysTest(unittest.TestCase):
    def test_configuration_md_matches_config_c(self):
        keys, client = config_c_keys()
        doc = read(CONFIGURATION_MD)
        self.assertEqual(md_table_keys(section(doc, "Keys", "##")), keys,
                         "docs/configuration.md's Keys table vs relay/base/config.c")
        self.assertEqual(md_table_keys(section(doc, "`[client NAME]` groups", "##")), client,
                         "docs/configuration.md's [client NAME] table vs relay/base/config.c")

    def test_prism_conf_5_matches_config_c(self):
        keys, client = config_c_keys()
        scd = read(os.path.join(os.environ["PRISM_MAN_BUILD"], "prism.conf.5.scd"))
        self.assertEqual(scd_entry_keys(section(scd, "KEYS")), keys,
                         "prism.conf(5) KEYS vs relay/base/config.c")
        self.assertEqual(scd_entry_keys(section(scd, "CLIENT GROUPS")), client,
                         "prism.conf(5) CLIENT GROUPS vs relay/base/config.c")


class ScdocTest(unittest.TestCase):
    def test_no_line_starts_with_a_dot(self):
        pages = [os.path.join(MAN, f) for f in os.listdir(MAN) if ".scd" in f]
        pages.append(os.path.join(os.environ["PRISM_MAN_BUILD"], "prism.conf.5.scd"))
        self.assertGreaterEqual(len(pages), 5)
        for path in pages:
            for n, line in enumerate(read(path).split("\n"), 1):
                self.assertFalse(line.lstrip("\t").startswith("."),
                                 f"{path}:{n}: scdoc drops a leading '.': {line}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
