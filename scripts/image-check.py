#!/usr/bin/env python3
"""`make image-check`: prove deploy/Dockerfile without a container engine.

Reads the Dockerfile and does what a builder would, in Debian 12 roots made with
debootstrap: each stage starts from a copy of the base root; COPY copies the source tree
(less .dockerignore) or another stage's files; RUN runs in the stage's root (chroot, in a
mount namespace of its own). The runtime stage's root is then checked: every shared
library of leadhubd and its plugins resolves inside it; and the daemon is started there as
its ENTRYPOINT and CMD say, as its USER, as PID 1 of a PID namespace, with the root
read-only, a tmpfs on /tmp, the configuration and the secrets mounted as Kubernetes mounts
them; it must answer /readyz 200 against a PostgreSQL on this machine and stop cleanly on
SIGTERM.

Because the steps come from the Dockerfile, the two cannot drift: an instruction this
check does not know fails it, and so does a Dockerfile that breaks the image's rules
(a base not pinned by digest, a root or missing USER, a shell-form ENTRYPOINT, missing OCI
labels). `--static` stops after those rules (seconds, no root needed).

Usage: scripts/image-check.py [--dockerfile FILE] [--static] [--keep] [--work DIR]
Needs root, debootstrap, unshare and chroot (util-linux, coreutils), and the network to
Debian's mirror. Takes a few minutes: debootstrap, the build stage's packages, make.
"""
import argparse
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KNOWN = {"ARG", "FROM", "WORKDIR", "COPY", "RUN", "ENV", "USER", "EXPOSE", "ENTRYPOINT",
         "CMD", "LABEL"}
OCI_LABELS = ("org.opencontainers.image.title", "org.opencontainers.image.version",
              "org.opencontainers.image.base.name")


class CheckError(Exception):
    pass


def say(message):
    print(f"image-check: {message}", flush=True)


# --- the Dockerfile ------------------------------------------------------------------------
def read_instructions(path):
    """(line number, INSTRUCTION, text) with continuations joined and comments dropped."""
    result = []
    pending, start = "", 0
    with open(path, encoding="utf-8") as f:
        for number, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            if pending and line.lstrip().startswith("#"):
                continue  # a comment inside a continued instruction
            if not pending:
                start = number
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            pending += line
            word, _, rest = pending.strip().partition(" ")
            result.append((start, word.upper(), rest.strip()))
            pending = ""
    if pending:
        raise CheckError(f"{path}: ends inside a continued instruction")
    return result


def substitute(text, args):
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m.group(1) or m.group(2), m.group(0)),
                  text)


def parse_dockerfile(path):
    """Stages in order: {name, base, steps: [(kind, ...)], user, entrypoint, cmd, labels}."""
    args, stages = {}, []
    for number, word, rest in read_instructions(path):
        where = f"{os.path.relpath(path, SRC)}:{number}"
        if word not in KNOWN:
            raise CheckError(f"{where}: {word} is an instruction this check does not know: teach "
                             "scripts/image-check.py what it does, so that the check and the "
                             "Dockerfile stay one")
        if word == "ARG":
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip().strip('"')
            continue
        if word == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            if not m:
                raise CheckError(f"{where}: FROM {rest}: expected IMAGE [AS NAME]")
            stages.append({"name": m.group(2) or str(len(stages)), "base": substitute(m.group(1), args),
                           "steps": [], "user": None, "entrypoint": None, "cmd": None,
                           "labels": {}, "where": where, "env": {}})
            continue
        if not stages:
            raise CheckError(f"{where}: {word} before FROM")
        stage = stages[-1]
        if word == "WORKDIR":
            stage["steps"].append(("workdir", rest))
        elif word == "ENV":
            name, _, value = rest.partition("=")
            stage["env"][name.strip()] = value.strip().strip('"')
        elif word == "COPY":
            parts = shlex.split(rest)
            source = None
            while parts and parts[0].startswith("--"):
                option = parts.pop(0)
                if option.startswith("--from="):
                    source = option[len("--from="):]
                else:
                    raise CheckError(f"{where}: COPY {option} is not an option this check knows")
            if len(parts) != 2:
                raise CheckError(f"{where}: COPY takes one source and one destination here")
            stage["steps"].append(("copy", source, parts[0], parts[1], where))
        elif word == "RUN":
            stage["steps"].append(("run", rest, where))
        elif word == "USER":
            stage["user"] = (rest, where)
        elif word in ("ENTRYPOINT", "CMD"):
            try:
                value = json.loads(rest)
            except ValueError:
                value = rest  # shell form: refused below for the entrypoint
            stage[word.lower()] = (value, where)
        elif word == "LABEL":
            for item in shlex.split(rest):
                key, _, value = item.partition("=")
                stage["labels"][key] = value
        # EXPOSE documents the port; nothing to do
    return stages


def check_rules(stages):
    """The image's rules, before anything is built."""
    if len(stages) < 2:
        raise CheckError("the Dockerfile needs a build stage and a runtime stage")
    for stage in stages:
        if not re.fullmatch(r"debian:12[\w.-]*@sha256:[0-9a-f]{64}", stage["base"]):
            raise CheckError(f"{stage['where']}: base {stage['base']} is not Debian 12 pinned by "
                             "digest (debian:12-slim@sha256:...)")
    runtime = stages[-1]
    if runtime["user"] is None:
        raise CheckError("the runtime stage sets no USER: it would run as root")
    user, where = runtime["user"]
    m = re.fullmatch(r"(\d+)(?::(\d+))?", user)
    if not m or int(m.group(1)) == 0 or (m.group(2) is not None and int(m.group(2)) == 0):
        raise CheckError(f"{where}: USER {user}: must be a fixed numeric non-root uid[:gid] "
                         "(Kubernetes' runAsNonRoot can only verify a number)")
    if runtime["entrypoint"] is None or not isinstance(runtime["entrypoint"][0], list):
        raise CheckError("the runtime stage's ENTRYPOINT must be the exec form "
                         '["/usr/bin/leadhubd"]: no shell between the daemon and its signals')
    entrypoint = runtime["entrypoint"][0]
    if entrypoint[:1] != ["/usr/bin/leadhubd"]:
        raise CheckError(f"{runtime['entrypoint'][1]}: the entrypoint must be /usr/bin/leadhubd, "
                         f"not {entrypoint[:1]}")
    if runtime["cmd"] is not None and not isinstance(runtime["cmd"][0], list):
        raise CheckError(f"{runtime['cmd'][1]}: CMD must be the exec form")
    missing = [label for label in OCI_LABELS if label not in runtime["labels"]]
    if missing:
        raise CheckError(f"the runtime stage lacks the OCI labels {', '.join(missing)}")
    deployment = os.path.join(SRC, "deploy/kubernetes/base/deployment.yaml")
    with open(deployment, encoding="utf-8") as f:
        run_as = set(re.findall(r"runAsUser:\s*(\d+)", f.read()))
    if run_as != {m.group(1)}:
        raise CheckError(f"{where}: USER {user}, but {os.path.relpath(deployment, SRC)} runs as "
                         f"{', '.join(sorted(run_as)) or 'nobody in particular'}: make them one")
    for kind, *rest in runtime["steps"]:
        if kind == "copy" and rest[0] is None:
            raise CheckError(f"{rest[3]}: the runtime stage copies from the source tree: it "
                             "holds only what a build stage built")


# --- roots -----------------------------------------------------------------------------------
def run(command, **kwargs):
    result = subprocess.run(command, **kwargs)
    if result.returncode != 0:
        raise CheckError(f"failed (exit {result.returncode}): {' '.join(map(str, command))}")
    return result


def debian_mirror():
    """The mirror apt already uses here."""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            continue
        m = re.search(r"^URIs:\s*(\S+)", text, re.MULTILINE) or \
            re.search(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s", text, re.MULTILINE)
        if m and "security" not in m.group(1):
            return m.group(1)
    return "http://deb.debian.org/debian"


# The build machine's CA bundle. A machine whose HTTPS goes through a TLS-inspecting proxy
# trusts the proxy's CA there; a builder on such a network is given it the same way (a
# build secret), so RUN steps see it, through NODE_EXTRA_CA_CERTS, on a tmpfs over /run
# that never becomes part of a stage (npm fetches over HTTPS; apt uses the http mirror).
BUILD_CA = "/etc/ssl/certs/ca-certificates.crt"


def in_root(root, script, workdir="/", env=None, user=None, log=None, build_ca=False):
    """Runs `sh -c script` chrooted in root, with /proc, /dev and /sys of a private mount
    namespace, its output to `log` (a path) when given; returns the finished process.
    build_ca: offer the build machine's CA bundle (BUILD_CA) to the script."""
    environment = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   "HOME": "/root", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    mounts = f"mount -t proc proc {root}/proc && mount --rbind /dev {root}/dev && " \
             f"mount --rbind /sys {root}/sys && "
    if build_ca and os.path.isfile(BUILD_CA):
        environment["NODE_EXTRA_CA_CERTS"] = "/run/build-ca.crt"
        mounts += (f"mkdir -p {root}/run && mount -t tmpfs -o size=8m tmpfs {root}/run && "
                   f"cp {BUILD_CA} {root}/run/build-ca.crt && ")
    environment.update(env or {})
    inner = f"cd {shlex.quote(workdir)} && {script}"
    chroot = ["chroot"] + ([f"--userspec={user}"] if user else []) + [root, "/usr/bin/env", "-i"] + \
        [f"{k}={v}" for k, v in environment.items()] + ["/bin/sh", "-c", inner]
    setup = mounts + "exec " + " ".join(shlex.quote(a) for a in chroot)
    if log is None:
        return subprocess.run(["unshare", "--mount", "--fork", "--pid", "sh", "-c", setup])
    with open(log, "w", encoding="utf-8") as out:
        return subprocess.run(["unshare", "--mount", "--fork", "--pid", "sh", "-c", setup],
                              stdout=out, stderr=subprocess.STDOUT)


def dockerignore():
    """.dockerignore's entries (paths from the top of the tree; no patterns are used)."""
    try:
        with open(os.path.join(SRC, ".dockerignore"), encoding="utf-8") as f:
            return {line.strip().strip("/") for line in f
                    if line.strip() and not line.startswith("#")}
    except OSError:
        return set()


def ignore_function():
    ignored = dockerignore()

    def ignore(directory, names):
        relative = os.path.relpath(directory, SRC)
        return [n for n in names if os.path.normpath(os.path.join(relative, n)) in ignored]
    return ignore


def context_digest():
    """Names, sizes and times of what `COPY .` would send: a changed file rebuilds."""
    ignore = ignore_function()
    entries = []
    for directory, names, files in os.walk(SRC):
        skipped = set(ignore(directory, names + files))
        names[:] = sorted(n for n in names if n not in skipped)
        for name in sorted(f for f in files if f not in skipped):
            path = os.path.join(directory, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            entries.append(f"{os.path.relpath(path, SRC)} {st.st_size} {st.st_mtime_ns}")
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


def copy_context(destination):
    """The source tree as `COPY . dst` sends it: less .dockerignore's entries."""
    shutil.copytree(SRC, destination, symlinks=True, ignore=ignore_function(),
                    dirs_exist_ok=True)


def copy_between(source_root, source, root, destination, where):
    """Docker's COPY: a directory's contents into the destination directory; a file to a
    file path (or into a directory when the destination ends with /)."""
    origin = os.path.join(source_root, source.lstrip("/"))
    target = os.path.join(root, destination.lstrip("/"))
    if os.path.isdir(origin):
        shutil.copytree(origin, target, symlinks=True, dirs_exist_ok=True)
    elif os.path.isfile(origin):
        if destination.endswith("/"):
            os.makedirs(target, exist_ok=True)
            target = os.path.join(target, os.path.basename(origin))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(origin, target)
    else:
        raise CheckError(f"{where}: COPY {source}: not in the source stage (the build did not "
                         "produce it)")


def build_stages(stages, work):
    base = os.path.join(work, "debootstrap")
    if not os.path.isfile(os.path.join(base, "etc/debian_version")):
        mirror = debian_mirror()
        say(f"debootstrap --variant=minbase bookworm ({mirror})")
        started = time.monotonic()
        run(["debootstrap", "--variant=minbase", "bookworm", base, mirror],
            stdout=subprocess.DEVNULL)
        say(f"  done in {time.monotonic() - started:.0f} s")
    roots = {}
    context = context_digest()
    for stage in stages:
        root = os.path.join(work, f"stage-{stage['name']}")
        # A stage built before in this work folder from the same instructions, source tree
        # and earlier stages is used again (the broken-input tests rebuild only what they
        # break); anything else is built from scratch.
        # (the steps without their file:line, which says where, not what)
        steps = [step[:-1] if step[0] in ("copy", "run") else step for step in stage["steps"]]
        marker = json.dumps({"base": stage["base"], "steps": steps, "env": stage["env"],
                             "context": context, "from": sorted(
                                 (name, open(os.path.join(r, ".image-check-stage"),
                                             encoding="utf-8").read()) for name, r in roots.items())})
        marker_path = os.path.join(root, ".image-check-stage")
        if os.path.isfile(marker_path):
            with open(marker_path, encoding="utf-8") as f:
                if f.read() == marker:
                    say(f"[{stage['name']}] unchanged since the last build in {work}: reused")
                    roots[stage["name"]] = root
                    continue
        if os.path.exists(root):
            shutil.rmtree(root)
        run(["cp", "-a", base, root])
        shutil.copy2("/etc/resolv.conf", os.path.join(root, "etc/resolv.conf"))
        workdir = "/"
        for step in stage["steps"]:
            if step[0] == "workdir":
                workdir = os.path.join(workdir, step[1])
                os.makedirs(os.path.join(root, workdir.lstrip("/")), exist_ok=True)
            elif step[0] == "copy":
                _, source_stage, source, destination, where = step
                if source_stage is None:
                    if source != ".":
                        raise CheckError(f"{where}: only `COPY . DIR` from the source tree")
                    copy_context(os.path.join(root, destination.lstrip("/")))
                elif source_stage not in roots:
                    raise CheckError(f"{where}: no earlier stage {source_stage}")
                else:
                    copy_between(roots[source_stage], source, root, destination, where)
            elif step[0] == "run":
                _, command, where = step
                say(f"[{stage['name']}] RUN {' '.join(command.split())[:80]}")
                started = time.monotonic()
                log = os.path.join(work, f"run-{stage['name']}-{where.split(':')[-1]}.log")
                result = in_root(root, command, workdir, stage["env"], log=log,
                                 build_ca=True)
                if result.returncode != 0:
                    with open(log, encoding="utf-8", errors="replace") as f:
                        tail = "".join(f.readlines()[-40:])
                    raise CheckError(f"{where}: RUN failed (exit {result.returncode}); its "
                                     f"output ends:\n{tail}")
                say(f"  done in {time.monotonic() - started:.0f} s")
        roots[stage["name"]] = root
        with open(marker_path, "w", encoding="utf-8") as f:
            f.write(marker)
    return roots


# --- the runtime root ------------------------------------------------------------------------
def check_libraries(root):
    """Every shared library of leadhubd and its plugins resolves inside the root."""
    result = subprocess.run(["chroot", root, "/bin/sh", "-c",
                             "ldd /usr/bin/leadhubd /usr/lib/leadhub/plugins/*.so"],
                            capture_output=True, text=True)
    if result.returncode != 0 or "not found" in result.stdout:
        raise CheckError("shared libraries missing in the runtime root:\n" + result.stdout +
                         result.stderr)
    plugins = os.listdir(os.path.join(root, "usr/lib/leadhub/plugins"))
    say(f"runtime root: leadhubd and {len(plugins)} plugin(s), every library found")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def start_daemon(stage, root, work, database_url):
    """The daemon as the container runtime would start it; returns (process, port)."""
    port = free_port()
    config = os.path.join(work, "etc-leadhub")
    secrets = os.path.join(work, "secrets")
    shutil.rmtree(config, ignore_errors=True)
    shutil.rmtree(secrets, ignore_errors=True)
    # the cluster's configuration (deploy/kubernetes/base/config), listening on a free port
    shutil.copytree(os.path.join(SRC, "deploy/kubernetes/base/config"), config)
    main = os.path.join(config, "leadhub.yaml")
    with open(main, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"^listen: .*$", f"listen: 127.0.0.1:{port}", text, flags=re.MULTILINE)
    with open(main, "w", encoding="utf-8") as f:
        f.write(text)
    os.makedirs(secrets)
    for name in set(re.findall(r"/run/secrets/leadhub/(\w+)", text + "".join(
            open(os.path.join(config, "conf.d", n), encoding="utf-8").read()
            for n in os.listdir(os.path.join(config, "conf.d"))))):
        with open(os.path.join(secrets, name), "w", encoding="utf-8") as f:
            f.write(database_url if name == "database_url" else f"stand-in-{name}")
    for path in (config, secrets):
        os.chmod(path, 0o755)
        for name in os.listdir(path):
            if os.path.isfile(os.path.join(path, name)):
                os.chmod(os.path.join(path, name), 0o644)
    # mount points, as a runtime creates them
    for mountpoint in ("etc/leadhub", "run/secrets/leadhub", "tmp", "proc", "dev"):
        os.makedirs(os.path.join(root, mountpoint), exist_ok=True)
    user = stage["user"][0]
    command = stage["entrypoint"][0] + (stage["cmd"][0] if stage["cmd"] else [])
    setup = " && ".join([
        f"mount --bind {root} {root}",
        f"mount -o remount,bind,ro {root}",
        f"mount -t tmpfs -o size=16m,mode=1777 tmpfs {root}/tmp",
        f"mount --bind -o ro {config} {root}/etc/leadhub",
        f"mount --bind -o ro {secrets} {root}/run/secrets/leadhub",
        f"mount --bind -o ro {config}/conf.d {root}/etc/leadhub/conf.d",
        f"mount -t proc proc {root}/proc",
        f"mount --rbind /dev {root}/dev",
        # a write to the root must fail, or the root is not read-only
        f"! touch {root}/usr/.leadhub-write-test 2>/dev/null",
        "exec chroot --userspec=" + user + " " + root + " " +
        " ".join(shlex.quote(a) for a in command),
    ])
    log = open(os.path.join(work, "daemon.log"), "w", encoding="utf-8")
    process = subprocess.Popen(["unshare", "--mount", "--fork", "--pid", "sh", "-c", setup],
                               stdout=log, stderr=subprocess.STDOUT)
    return process, port


def daemon_pid(unshare_pid):
    """The daemon: the forked child of unshare (PID 1 of its namespace)."""
    try:
        with open(f"/proc/{unshare_pid}/task/{unshare_pid}/children", encoding="utf-8") as f:
            children = f.read().split()
        return int(children[0]) if children else None
    except OSError:
        return None


def check_runtime(stage, root, work):
    check_libraries(root)
    pgdir = os.path.join(work, "pg")
    os.makedirs(pgdir, exist_ok=True)
    os.chmod(work, 0o755)
    database_url = run([os.path.join(SRC, "scripts/pg.sh"), "start", pgdir],
                       capture_output=True, text=True).stdout.strip()
    process = None
    try:
        process, port = start_daemon(stage, root, work, database_url)
        deadline = time.monotonic() + 120
        status, body = 0, ""
        while time.monotonic() < deadline and process.poll() is None:
            status, body = http_status(f"http://127.0.0.1:{port}/readyz")
            if status == 200:
                break
            time.sleep(0.5)
        if status != 200:
            with open(os.path.join(work, "daemon.log"), encoding="utf-8") as f:
                log = f.read()
            raise CheckError(f"the daemon in the runtime root did not get ready (/readyz {status} "
                             f"{body}); its output:\n{log[-4000:]}")
        pid = daemon_pid(process.pid)
        with open(f"/proc/{pid}/status", encoding="utf-8") as f:
            uids = re.search(r"^Uid:\s+(\d+)", f.read(), re.MULTILINE).group(1)
        expected = stage["user"][0].split(":")[0]
        if uids != expected:
            raise CheckError(f"the daemon runs as uid {uids}, not {expected}")
        say(f"the daemon answers /readyz 200 as uid {uids}, PID 1 of its namespace, root "
            "read-only")
        status, body = http_status(f"http://127.0.0.1:{port}/console/")
        if status != 200 or "<html" not in body.lower():
            raise CheckError(f"the image serves no console at /console/ ({status})")
        say("the console is served at /console/")
        os.kill(pid, signal.SIGTERM)
        code = process.wait(timeout=60)
        if code != 0:
            raise CheckError(f"the daemon exited {code} on SIGTERM, not 0")
        say("SIGTERM: drained and exited 0")
        process = None
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        subprocess.run([os.path.join(SRC, "scripts/pg.sh"), "stop", pgdir])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dockerfile", default=os.path.join(SRC, "deploy/Dockerfile"))
    parser.add_argument("--static", action="store_true", help="the Dockerfile's rules only")
    parser.add_argument("--keep", action="store_true", help="keep the roots (--work) afterwards")
    parser.add_argument("--work", help="where the roots go (default: a new temporary folder)")
    options = parser.parse_args()
    work = options.work or tempfile.mkdtemp(prefix="leadhub-image-check.", dir="/var/tmp")
    try:
        stages = parse_dockerfile(options.dockerfile)
        check_rules(stages)
        say(f"{os.path.relpath(options.dockerfile, SRC)}: {len(stages)} stages, the image's "
            "rules hold")
        if options.static:
            return 0
        if os.geteuid() != 0:
            raise CheckError("building the roots needs root (debootstrap, chroot, mounts)")
        for tool in ("debootstrap", "unshare", "chroot"):
            if shutil.which(tool) is None:
                raise CheckError(f"{tool} is missing (apt-get install debootstrap)")
        started = time.monotonic()
        roots = build_stages(stages, work)
        check_runtime(stages[-1], roots[stages[-1]["name"]], work)
        say(f"ok in {time.monotonic() - started:.0f} s")
        return 0
    except CheckError as error:
        print(f"image-check: FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        if not options.keep and not options.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
