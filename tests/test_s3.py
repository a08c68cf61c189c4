"""Artifacts through an S3-compatible DVC remote: a moto server on 127.0.0.1.

DVC's S3 support comes from the dvc-s3 package (the ``test`` extra installs it with
``moto[server]``). Skipped, with the reason, only where the server cannot start.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import gitlog
from tests.conftest import git, run_cli
from tests.dvcsetup import dvc, make_dvc_project

BUCKET = "artifacts"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def s3_endpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 with one bucket; credentials in the environment."""
    for module in ("moto", "flask", "dvc_s3", "boto3"):
        pytest.importorskip(module, reason=f"{module} is not installed (pip install -e "
                            "'.[test]' brings moto[server] and dvc-s3)")
    port = _free_port()
    log = (tmp_path / "moto.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                               str(port)], stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(endpoint, timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.skip(f"the moto S3 server did not start on {endpoint} (see "
                                f"{tmp_path / 'moto.log'})")
                time.sleep(0.2)
        env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1",
               # never ask the instance-metadata address for credentials: loopback only
               "AWS_EC2_METADATA_DISABLED": "true",
               "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
               "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config")}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        import boto3

        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


def test_push_pull_and_get_through_an_s3_remote(s3_endpoint: str, tmp_path: Path) -> None:
    origin = tmp_path / "origin.git"
    git(tmp_path, "-c", "init.defaultBranch=main", "init", "-q", "--bare", str(origin))
    a = make_dvc_project(tmp_path / "a")
    dvc(a, "remote", "add", "-d", "s3", f"s3://{BUCKET}/store")
    dvc(a, "remote", "modify", "s3", "endpointurl", s3_endpoint)
    git(a, "commit", "-q", "-am", "S3 remote for artifacts")
    git(a, "remote", "add", "origin", str(origin))
    git(a, "push", "-q", "origin", "main")
    payload = os.urandom(300_000)
    (a / "model.bin").write_bytes(payload)
    with gitlog.start("s3exp", repo=a) as run:
        record = run.log_artifact(a / "model.bin")

    proc = run_cli("push", "s3exp", cwd=a)
    assert proc.returncode == 0, proc.stderr
    import boto3

    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=s3_endpoint)
            .list_objects_v2(Bucket=BUCKET)["Contents"]]
    md5 = record["md5"]
    assert keys == [f"store/files/md5/{md5[:2]}/{md5[2:]}"]

    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(origin), str(b))
    proc = run_cli("pull", "--all", "--no-artifacts", cwd=b)
    assert proc.returncode == 0, proc.stderr
    no_credentials = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    proc = run_cli("get", "s3exp", "model.bin", "-o", str(tmp_path / "nope.bin"), cwd=b,
                   env=no_credentials)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0].endswith(
        f"no valid credentials for DVC remote 's3' (s3://{BUCKET}/store)")
    assert "AWS_ACCESS_KEY_ID" in proc.stderr.splitlines()[1]
    proc = run_cli("get", "s3exp", "model.bin", "-o", str(tmp_path / "got.bin"), cwd=b)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "got.bin").read_bytes() == payload
