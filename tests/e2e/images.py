"""Images the e2e runs: stand-ins for the two upstream bases (built from Debian packages) and the server image.

Docker Hub is out of reach here, so the upstream images the render names are replaced by local stand-ins:
- `python`: Debian bookworm's Python 3.11 with `python`/`python3` in /usr/local/bin like the official image;
  passed to `app/Dockerfile` through its `BASE_IMAGE` argument (the Dockerfile itself is built unchanged).
- `postgres`: PostgreSQL 17 from Debian trixie with our entrypoint (`postgres/docker-entrypoint.sh`), which
  implements the official image's documented contract.
- `pgvector`: the same plus Debian's `postgresql-17-pgvector`, standing in for `pgvector/pgvector:pg17` (the
  store's semantic search, `test_pgvector.py`); the default `postgres` stand-in stays without it, as upstream.
The root filesystems come from `mmdebstrap` (cached as tarballs under `.e2e-cache/`, keyed by their inputs) and
become images with `podman import`. Every tag made here is listed in `Images.tags` for the caller to remove.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.podman import podman

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CACHE = ROOT / ".e2e-cache"
MIRROR = "http://deb.debian.org/debian"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
TAG_PREFIX = "localhost/langgraph-e2e"

PG_MAJOR = 17
POSTGRES_ENTRYPOINT = HERE / "postgres" / "docker-entrypoint.sh"


@dataclass(frozen=True)
class RootFs:
    """A Debian root filesystem made by mmdebstrap, and the image configuration `podman import` gives it."""

    name: str
    suite: str
    packages: tuple[str, ...]
    hooks: tuple[str, ...]
    changes: tuple[str, ...]
    files: tuple[Path, ...] = ()
    """Host files the hooks copy in; their contents are part of the cache key."""

    def key(self) -> str:
        digest = hashlib.sha256(repr((self.suite, self.packages, self.hooks, self.changes)).encode())
        for path in self.files:
            digest.update(path.read_bytes())
        return digest.hexdigest()[:16]


PYTHON_ROOTFS = RootFs(
    name="python",
    suite="bookworm",
    packages=("python3.11", "python3.11-venv", "ca-certificates"),
    # The official image's interpreter is /usr/local/bin/python (the Dockerfile runs `python -m venv`).
    hooks=(
        'ln -s /usr/bin/python3.11 "$1/usr/local/bin/python"',
        'ln -s /usr/bin/python3.11 "$1/usr/local/bin/python3"',
    ),
    changes=("ENV LANG=C.UTF-8", 'CMD ["python3"]'),
)


def postgres_rootfs(name: str = "postgres", extensions: tuple[str, ...] = ()) -> RootFs:
    """PostgreSQL `PG_MAJOR` from Debian trixie laid out as the official image, plus the Debian packages of
    `extensions` (e.g. `postgresql-17-pgvector`). `name` must not start with another root filesystem's name and a
    dash: `rootfs_tarball` removes stale tarballs by that prefix."""
    return RootFs(
        name=name,
        suite="trixie",
        packages=(f"postgresql-{PG_MAJOR}", "libnss-wrapper", *extensions),
        hooks=(
            # Debian's package makes a cluster of its own; the official image has none.
            'rm -rf "$1/etc/postgresql" "$1/var/lib/postgresql"',
            # As the official image: listen on every address, data and socket directories writable by any uid.
            f"sed -ri \"s!^#?(listen_addresses)\\s*=\\s*\\S+.*!\\1 = '*'!\" "
            f'"$1/usr/share/postgresql/{PG_MAJOR}/postgresql.conf.sample"',
            'mkdir -p "$1/var/lib/postgresql/data" "$1/var/run/postgresql"',
            'chmod 1777 "$1/var/lib/postgresql/data" && chmod 3777 "$1/var/run/postgresql"',
            f'install -m 0755 {POSTGRES_ENTRYPOINT} "$1/usr/local/bin/docker-entrypoint.sh"',
        ),
        changes=(
            f"ENV PG_MAJOR={PG_MAJOR}",
            f"ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/postgresql/{PG_MAJOR}/bin",
            "ENV PGDATA=/var/lib/postgresql/data",
            "ENV LANG=C.UTF-8",
            'ENTRYPOINT ["docker-entrypoint.sh"]',
            'CMD ["postgres"]',
            "STOPSIGNAL SIGINT",
            "EXPOSE 5432",
        ),
        files=(POSTGRES_ENTRYPOINT,),
    )


POSTGRES_ROOTFS = postgres_rootfs()
"""The stand-in for the render's `postgres` image: exactly the official image's contents, no extensions."""
PGVECTOR_ROOTFS = postgres_rootfs("pgvector", (f"postgresql-{PG_MAJOR}-pgvector",))
"""The stand-in for `pgvector/pgvector:pg17`: the same with the `vector` extension installed."""


def rootfs_tarball(rootfs: RootFs, log) -> Path:
    """The cached tarball of `rootfs`, made with mmdebstrap when missing."""
    tarball = CACHE / f"{rootfs.name}-{rootfs.suite}-{rootfs.key()}.tar"
    if tarball.exists():
        log(f"base {rootfs.name}: cached root filesystem {tarball.relative_to(ROOT)}")
        return tarball
    if not shutil.which("mmdebstrap"):
        raise RuntimeError("mmdebstrap is not installed (apt-get install mmdebstrap)")
    CACHE.mkdir(exist_ok=True)
    log(f"base {rootfs.name}: mmdebstrap {rootfs.suite} {' '.join(rootfs.packages)} (about a minute)")
    partial = tarball.with_suffix(".partial.tar")
    command = ["mmdebstrap", "--quiet", "--variant=minbase", f"--include={','.join(rootfs.packages)}"]
    command += [f"--customize-hook={hook}" for hook in rootfs.hooks]
    command += [rootfs.suite, str(partial), MIRROR]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"mmdebstrap of the {rootfs.name} base failed:\n{result.stderr[-3000:]}")
    partial.rename(tarball)
    for stale in CACHE.glob(f"{rootfs.name}-*.tar"):
        if stale != tarball:
            stale.unlink()  # made from inputs that have changed since
    return tarball


@dataclass
class Images:
    """Local tags of the images a run uses; `tags` is everything created, for cleanup."""

    run_id: str
    python: str = ""
    postgres: str = ""
    server: str = ""
    tags: list[str] = field(default_factory=list)

    def import_base(self, rootfs: RootFs, log) -> str:
        tarball = rootfs_tarball(rootfs, log)
        tag = f"{TAG_PREFIX}/{rootfs.name}:{self.run_id}"
        args = ["import", "--quiet"]
        for change in rootfs.changes:
            args += ["--change", change]
        podman(*args, str(tarball), tag)
        self.tags.append(tag)
        log(f"base {rootfs.name}: imported as {tag}")
        return tag

    def build(self, log) -> None:
        self.python = self.import_base(PYTHON_ROOTFS, log)
        self.postgres = self.import_base(POSTGRES_ROOTFS, log)
        self.server = f"{TAG_PREFIX}/server:{self.run_id}"
        log(f"image server: podman build app/Dockerfile --build-arg BASE_IMAGE={self.python}")
        with tempfile.TemporaryDirectory(prefix="e2e-pip-") as config_dir:
            # pip inside the build trusts the host's CA bundle through mounts for RUN steps only.
            pip_conf = Path(config_dir) / "pip.conf"
            pip_conf.write_text(f"[global]\ncert = {HOST_CA_BUNDLE}\n")
            os.chmod(pip_conf, 0o644)
            mounts = [f"--volume={pip_conf}:/etc/pip.conf:ro"]
            if HOST_CA_BUNDLE.exists():
                mounts.append(f"--volume={HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro")
            self.tags.append(self.server)
            podman(
                "build",
                "--quiet",
                "--layers=false",
                "--pull=never",
                f"--build-arg=BASE_IMAGE={self.python}",
                *mounts,
                "--file",
                str(ROOT / "app" / "Dockerfile"),
                "--tag",
                self.server,
                str(ROOT / "app"),
                timeout=900,
            )
        log(f"image server: built {self.server}")
