"""Node.js packages for the interop tests (tests/interop/node/package.json,
pinned by its package-lock.json), installed once per build directory with
`npm ci` from the npm registry. The install is locked so that two tests
started at once by ctest -j do not install over each other."""
import fcntl
import os
import shutil
import subprocess

from harness import SRC

PKG = os.path.join(SRC, "tests", "interop", "node")


def node_dir():
    """The directory holding node_modules/ with the pinned packages; the
    scripts of tests/interop/node are copied beside it."""
    base = os.path.abspath(os.environ.get("GATEHOUSE_NODE_DIR") or os.path.join(
        os.environ.get("GATEHOUSE_BUILD") or os.path.dirname(os.environ.get("GATEHOUSE_BIN", "/tmp/x")),
        "interop-node"))
    os.makedirs(base, exist_ok=True)
    with open(os.path.join(base, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = os.path.join(base, ".installed")
        want = open(os.path.join(PKG, "package-lock.json")).read()
        have = open(stamp).read() if os.path.exists(stamp) else None
        if have != want:
            for f in ("package.json", "package-lock.json"):
                shutil.copy(os.path.join(PKG, f), base)
            for npm in (shutil.which("npm"),):
                if npm is None:
                    raise RuntimeError("npm is not installed (scripts/install-deps.sh --test installs it)")
            r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=base,
                               capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                raise RuntimeError("npm ci failed: " + r.stderr[-2000:])
            with open(stamp, "w") as f:
                f.write(want)
        for f in os.listdir(PKG):
            if f.endswith((".js", ".mjs")):
                shutil.copy(os.path.join(PKG, f), base)
    return base


def run_node(script, env, timeout=60):
    """Runs one of tests/interop/node's scripts; returns (exit code, stdout, stderr)."""
    d = node_dir()
    e = dict(os.environ)
    e.update(env)
    r = subprocess.run(["node", os.path.join(d, script)], cwd=d, env=e, capture_output=True,
                       text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr
