"""First start of the object store (docker-compose.yml `objectstore-init`), through Garage's admin API
(v2, HTTP, standard library only: no `mc`, no root key). Idempotent: run on every `compose up`.

1. the node gets its role in the cluster layout (one node: a single-host store), if it has none;
2. the publication bucket (PUBLISH_URL's) is created, if missing;
3. the pipeline's key (publication_s3_credentials, the AWS credentials file the workers read) is
   imported, if missing, and allowed read and write on that bucket only (not owner: it cannot
   delete the bucket or change who may use it).

Environment: GARAGE_ADMIN_URL, GARAGE_ADMIN_TOKEN_FILE, AWS_SHARED_CREDENTIALS_FILE, PUBLISH_URL,
GARAGE_CAPACITY (bytes given to the node, default 100 GB; only used on first start).
"""

from __future__ import annotations

import configparser
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

KEY_NAME = "twotowns-pipeline"


class Admin:
    """A client of Garage's admin API v2."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url.rstrip("/"), token

    def call(self, name: str, body: dict | None = None, **query: str) -> dict | None:
        """POST (with a body) or GET /v2/<name>; None on 404 (no such bucket or key)."""
        url = f"{self.url}/v2/{name}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST", headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read()
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise RuntimeError(f"{name}: HTTP {e.code}: {e.read()[:500]!r}") from e
        return json.loads(text) if text else {}

    def wait(self, attempts: int = 60, pause: float = 2.0) -> dict:
        """The cluster status, once the admin API answers."""
        for attempt in range(attempts):
            try:
                return self.call("GetClusterStatus")
            except (urllib.error.URLError, ConnectionError) as e:
                if attempt == attempts - 1:
                    raise RuntimeError(f"the object store's admin API does not answer: {e}") from e
                time.sleep(pause)
        raise AssertionError("unreachable")


def ensure_layout(admin: Admin, capacity: int) -> str:
    """Give the (only) node a role, if no node has one. Returns what was done."""
    layout = admin.call("GetClusterLayout")
    if layout["roles"]:
        return f"layout v{layout['version']} kept"
    nodes = admin.wait()["nodes"]
    if len(nodes) != 1:
        raise RuntimeError(f"expected one Garage node (single-host store), found {len(nodes)}")
    admin.call("UpdateClusterLayout", {"roles": [
        {"id": nodes[0]["id"], "zone": "dc1", "capacity": capacity, "tags": ["twotowns"]}]})
    admin.call("ApplyClusterLayout", {"version": layout["version"] + 1})
    return f"layout v{layout['version'] + 1} applied"


def ensure_bucket(admin: Admin, bucket: str) -> str:
    """The bucket's id, created if missing."""
    info = admin.call("GetBucketInfo", globalAlias=bucket)
    if info is None:
        info = admin.call("CreateBucket", {"globalAlias": bucket})
    return info["id"]


def ensure_key(admin: Admin, bucket_id: str, key_id: str, secret: str) -> None:
    """The pipeline's key imported (if missing) and allowed read and write on the bucket, nothing more."""
    if admin.call("GetKeyInfo", id=key_id) is None:
        admin.call("ImportKey", {"accessKeyId": key_id, "secretAccessKey": secret, "name": KEY_NAME})
    admin.call("AllowBucketKey", {"bucketId": bucket_id, "accessKeyId": key_id,
                                  "permissions": {"read": True, "write": True, "owner": False}})


def read_credentials(path: Path) -> tuple[str, str]:
    """(access key id, secret) of the [default] profile of an AWS credentials file."""
    parser = configparser.ConfigParser()
    parser.read_string(path.read_text())
    return parser["default"]["aws_access_key_id"].strip(), parser["default"]["aws_secret_access_key"].strip()


def bucket_of(publish_url: str) -> str:
    parts = urllib.parse.urlsplit(publish_url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"PUBLISH_URL must be s3://<bucket>[/prefix], not {publish_url!r}")
    return parts.netloc


def main() -> int:
    env = os.environ
    admin = Admin(env["GARAGE_ADMIN_URL"], Path(env["GARAGE_ADMIN_TOKEN_FILE"]).read_text().strip())
    admin.wait()
    print(ensure_layout(admin, int(env.get("GARAGE_CAPACITY") or 100 * 10**9)))
    bucket = bucket_of(env["PUBLISH_URL"])
    bucket_id = ensure_bucket(admin, bucket)
    key_id, secret = read_credentials(Path(env["AWS_SHARED_CREDENTIALS_FILE"]))
    ensure_key(admin, bucket_id, key_id, secret)
    print(f"bucket {bucket}: key {key_id} may read and write it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
