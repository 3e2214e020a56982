#!/usr/bin/python3
"""Static checks of the repository's Dockerfile (no Docker engine needed, no
image built): what it copies exists and is not excluded by .dockerignore,
packages come only from scripts/debian-packages.txt through
scripts/install-deps, the build uses scripts/build, the runtime stage is
Debian 12 slim with only the @runtime entries, runs as the fixed non-root
UID the Kubernetes manifests expect, and those entries own every shared
library herald and heraldctl link against.

  dockerfile_test.py [-v]     with HERALD_BIN / HERALDCTL_BIN set to the built
                              binaries for the shared-library check
Also tests install-deps' list syntax (alternatives, @runtime) on lists made here.
"""
import fnmatch
import glob
import os
import re
import shlex
import subprocess
import tempfile
import unittest

import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DOCKERFILE = os.path.join(ROOT, "Dockerfile")
DOCKERIGNORE = os.path.join(ROOT, ".dockerignore")
INSTALL_DEPS = os.path.join(ROOT, "scripts", "install-deps")
UID = 10001
# In every debian:12-slim image: libraries no package list needs to name.
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1"}


def instructions(path=DOCKERFILE):
    """(keyword, arguments) of every instruction, continuation lines joined."""
    with open(path) as f:
        text = f.read()
    result = []
    current = ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if current and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        keyword, _, arguments = current.strip().partition(" ")
        result.append((keyword.upper(), arguments.strip()))
        current = ""
    return result


def stages(path=DOCKERFILE):
    """[(from_arguments, [(keyword, arguments), ...]), ...] per FROM."""
    result = []
    for keyword, arguments in instructions(path):
        if keyword == "FROM":
            result.append((arguments, []))
        elif keyword in ("ARG",) and not result:
            continue
        else:
            result[-1][1].append((keyword, arguments))
    return result


def copy_sources(arguments):
    """The sources of a COPY/ADD without --from (JSON or shell form)."""
    words = shlex.split(arguments)
    if any(w.startswith("--from=") for w in words):
        return []
    words = [w for w in words if not w.startswith("--")]
    return words[:-1]


def ignored(relative, patterns):
    """Whether .dockerignore excludes `relative` (Docker's rules: the last
    matching pattern wins, `!` re-includes, a match on a parent excludes)."""
    parts = relative.strip("/").split("/")
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        body = body.strip("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if fnmatch.fnmatchcase(prefix, body) or (body.startswith("**/") and fnmatch.fnmatchcase(parts[depth - 1], body[3:])):
                excluded = not negate
                break
    return excluded


def dockerignore_patterns():
    with open(DOCKERIGNORE) as f:
        return [l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")]


def install_deps(*args, env_list=None):
    env = dict(os.environ)
    if env_list is not None:
        env["INSTALL_DEPS_LIST"] = env_list
    return subprocess.run([INSTALL_DEPS, *args], capture_output=True, text=True, env=env, timeout=60)


class DockerfileTest(unittest.TestCase):
    def setUp(self):
        self.stages = stages()
        self.assertGreaterEqual(len(self.stages), 2, "a multi-stage Dockerfile")
        self.build = self.stages[0][1]
        self.runtime = self.stages[-1][1]

    def test_debian_12_stages(self):
        self.assertRegex(self.stages[0][0], r"^(debian:12|debian:bookworm)(\S*) AS build$")
        self.assertRegex(self.stages[-1][0], r"^(debian:12-slim|debian:bookworm-slim) AS runtime$")

    def test_copied_files_exist_and_are_in_the_build_context(self):
        patterns = dockerignore_patterns()
        for keyword, arguments in instructions():
            if keyword not in ("COPY", "ADD"):
                continue
            for source in copy_sources(arguments):
                if source == ".":
                    continue
                matches = glob.glob(os.path.join(ROOT, source))
                self.assertTrue(matches, f"{keyword} {arguments}: {source} does not exist")
                self.assertFalse(ignored(source, patterns), f"{keyword} {arguments}: .dockerignore excludes {source}")

    def test_dockerignore_keeps_build_outputs_and_git_out(self):
        patterns = dockerignore_patterns()
        for path in ["build/CMakeCache.txt", "build-fuzz/x", ".git/HEAD", "herald-data/redis/appendonly.aof",
                     "deploy/kubernetes/validate/node_modules/yaml/package.json"]:
            self.assertTrue(ignored(path, patterns), f".dockerignore lets {path} in")
        for path in ["scripts/install-deps", "scripts/debian-packages.txt", "CMakeLists.txt", "runtime/main.cc",
                     "examples/workflows/welcome.yaml", "deploy/kubernetes/CMakeLists.txt"]:
            self.assertFalse(ignored(path, patterns), f".dockerignore excludes {path}, which the build needs")

    def runs(self, stage):
        return [arguments for keyword, arguments in stage if keyword == "RUN"]

    def test_packages_come_only_from_the_shared_list(self):
        for keyword, arguments in instructions():
            if keyword == "RUN":
                self.assertNotRegex(arguments, r"\bapt(-get)?\s+install\b", "install packages with scripts/install-deps")
                self.assertNotRegex(arguments, r"\b(curl|wget)\b", "nothing is downloaded outside the package list")
        build = " && ".join(self.runs(self.build))
        self.assertRegex(build, r"(^|\s)scripts/install-deps(\s|&|$)", "the build stage installs with scripts/install-deps")
        self.assertNotIn("--runtime", build)
        self.assertRegex(build, r"\bscripts/build herald heraldctl\b", "the build stage builds with scripts/build")
        runtime = " && ".join(self.runs(self.runtime))
        self.assertRegex(runtime, r"install-deps --runtime\b", "the runtime stage installs only @runtime entries")
        copied = [a for k, a in self.runtime if k == "COPY" and "install-deps" in a]
        self.assertTrue(copied and "scripts/debian-packages.txt" in copied[0],
                        "the runtime stage copies install-deps with the package list")

    def test_binaries_come_from_the_build_tree(self):
        build = " ".join(self.runs(self.build))
        # The CMake targets' output paths (runtime/CMakeLists.txt, cli/CMakeLists.txt).
        self.assertIn("build/runtime/herald ", build)
        self.assertIn("build/cli/heraldctl ", build)
        for binary in ("HERALD_BIN", "HERALDCTL_BIN"):
            if os.environ.get(binary):
                # Where CMake puts the target inside any build tree.
                relative = "/".join(os.path.normpath(os.environ[binary]).split(os.sep)[-2:])
                self.assertIn(f"build/{relative} ", build, f"{binary} is built at {relative}")
        self.assertTrue(any(k == "COPY" and "--from=build" in a for k, a in self.runtime))

    def test_runtime_runs_herald_as_the_fixed_non_root_uid(self):
        users = [a for k, a in self.runtime if k == "USER"]
        self.assertEqual(users, [f"{UID}:{UID}"], "numeric, so runAsNonRoot can verify it")
        run = " ".join(self.runs(self.runtime))
        self.assertIn(f"--uid {UID}", run)
        self.assertIn(f"--gid {UID}", run)
        entrypoint = [a for k, a in self.runtime if k == "ENTRYPOINT"]
        self.assertEqual(entrypoint, ['["/usr/local/bin/herald"]'])
        # The Kubernetes manifests run the same UID.
        for path in glob.glob(os.path.join(ROOT, "deploy", "kubernetes", "base", "*.yaml")):
            with open(path) as f:
                for document in yaml.safe_load_all(f):
                    if (document or {}).get("kind") != "Deployment":
                        continue
                    security = document["spec"]["template"]["spec"]["securityContext"]
                    self.assertEqual((security["runAsUser"], security["runAsGroup"]), (UID, UID), path)

    def test_exposed_ports_are_the_fixed_ones(self):
        exposed = " ".join(a for k, a in self.runtime if k == "EXPOSE").split()
        self.assertEqual(sorted(exposed), ["50051", "50061", "9464"])


@unittest.skipUnless(os.environ.get("HERALD_BIN") and os.environ.get("HERALDCTL_BIN"),
                     "HERALD_BIN and HERALDCTL_BIN name the built binaries")
class RuntimePackagesTest(unittest.TestCase):
    def owners(self, binary):
        """soname -> the Debian package that owns the library ldd resolves."""
        dynamic = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, timeout=30)
        self.assertEqual(dynamic.returncode, 0, dynamic.stderr)
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic.stdout)
        self.assertTrue(needed, f"{binary} links no shared library?")
        ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=30).stdout
        paths = {}
        for soname in needed:
            match = re.search(rf"^\s*{re.escape(soname)} => (\S+)", ldd, re.M)
            self.assertTrue(match, f"{binary}: ldd does not resolve {soname}")
            # dpkg knows a file by the path its package ships (/lib or /usr/lib
            # on a merged /usr).
            candidates = {match.group(1), os.path.realpath(match.group(1))}
            candidates |= {p[4:] if p.startswith("/usr/") else "/usr" + p for p in candidates}
            paths[soname] = candidates
        # One dpkg-query for every path: each call reads the whole database.
        query = subprocess.run(["dpkg-query", "-S", *sorted(set().union(*paths.values()))],
                               capture_output=True, text=True, timeout=60)
        owner_of = {}
        for line in query.stdout.splitlines():
            package, _, path = line.partition(": ")
            if path and not line.startswith("diversion"):
                owner_of[path.strip()] = package.split(":")[0].split(",")[0].strip()
        result = {}
        for soname, candidates in paths.items():
            owners = {owner_of[p] for p in candidates if p in owner_of}
            self.assertTrue(owners, f"{binary}: no package owns {soname} ({sorted(candidates)})")
            result[soname] = owners.pop()
        return result

    def test_runtime_entries_own_every_shared_library(self):
        listed = install_deps("--runtime", "--list")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        runtime = {name for line in listed.stdout.split() for name in line.split("|")}
        for binary in (os.environ["HERALD_BIN"], os.environ["HERALDCTL_BIN"]):
            for soname, package in self.owners(binary).items():
                self.assertTrue(package in runtime or package in BASE_IMAGE_PACKAGES,
                                f"{os.path.basename(binary)} needs {soname} from {package}: mark it @runtime "
                                "in scripts/debian-packages.txt")

    def test_no_compiler_or_dev_package_at_runtime(self):
        listed = install_deps("--runtime", "--list").stdout.split()
        for entry in listed:
            self.assertFalse(re.search(r"-dev$|^(gcc|g\+\+|clang|cmake|build-essential)", entry), entry)


class InstallDepsListTest(unittest.TestCase):
    """scripts/install-deps' list syntax, on lists made here (--print and
    --list install nothing)."""

    def setUp(self):
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status}\t${Package}\t${Provides}\n"],
                                capture_output=True, text=True, timeout=60).stdout
        installed, provided = set(), set()
        for line in status.splitlines():
            state, package, provides = (line.split("\t") + ["", ""])[:3]
            if state == "install ok installed":
                installed.add(package)
                provided.update(p.split("(")[0].strip() for p in provides.split(",") if p.strip())
        self.installed = sorted(installed)[0]
        self.virtual = sorted(provided - installed)[0] if provided - installed else None
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def list_file(self, text):
        path = os.path.join(self.dir.name, "packages.txt")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_alternatives_and_runtime_marks(self):
        path = self.list_file(
            "# a comment\n"
            f"{self.installed}\n"
            f"herald-test-missing-a | {self.installed}\n"
            "herald-test-missing-b | herald-test-missing-c\n"
            "herald-test-missing-d @runtime\n"
            f"{self.installed} @runtime\n"
            "herald-test-missing-b\n"
            "\n")
        printed = install_deps("--print", env_list=path)
        self.assertEqual(printed.returncode, 0, printed.stderr)
        # Satisfied alternatives are skipped, the first of the others is
        # installed, each once.
        self.assertEqual(printed.stdout.split(), ["herald-test-missing-b", "herald-test-missing-d"])
        runtime = install_deps("--runtime", "--print", env_list=path)
        self.assertEqual(runtime.stdout.split(), ["herald-test-missing-d"])
        listed = install_deps("--runtime", "--list", env_list=path)
        self.assertEqual(listed.stdout.split(), ["herald-test-missing-d", self.installed])

    def test_a_provided_virtual_package_satisfies_an_entry(self):
        if self.virtual is None:
            self.skipTest("no installed package provides a virtual package")
        path = self.list_file(f"{self.virtual}\n")
        self.assertEqual(install_deps("--print", env_list=path).stdout.split(), [])

    def test_bad_entries_are_refused_with_their_line(self):
        for text, message in [("pkg @build\n", "unknown marker"), ("Not_A_Package\n", "is not a Debian package name"),
                              ("a | \n", "is not a Debian package name")]:
            result = install_deps("--print", env_list=self.list_file("# first\n" + text))
            self.assertEqual(result.returncode, 2, text)
            self.assertIn(":2:", result.stderr)
            self.assertIn(message, result.stderr)
        self.assertEqual(install_deps("--bogus").returncode, 2)


if __name__ == "__main__":
    unittest.main()
