"""Helpers for the infrastructure tests: a Batch-ready moto account, a snapshot of what the account
holds, and a small HTTP proxy in front of moto that can refuse one operation (403) or rewrite what
an answer says (a compute environment that never becomes VALID). Real HTTP all the way; nothing of
batchdeploy is mocked."""

from __future__ import annotations

import http.client
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

READ_ONLY_BATCH = ("/v1/describe", "/v1/listjobs", "/v1/listtagsforresource")


def prepare_account(aws) -> dict:
    """What a Fargate compute environment needs in moto: a subnet, a security group, a service role."""
    ec2 = aws.client("ec2")
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]
    role = aws.client("iam").create_role(RoleName="batch-service", AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    return {"SUBNET_ID": subnet, "SECURITY_GROUP_ID": group, "SERVICE_ROLE": role}


FARGATE_CE = {
    "type": "MANAGED",
    "state": "ENABLED",
    "computeResources": {
        "type": "FARGATE",
        "maxvCpus": 4,
        "subnets": ["${SUBNET_ID}"],
        "securityGroupIds": ["${SECURITY_GROUP_ID}"],
    },
    "serviceRole": "${SERVICE_ROLE}",
}
QUEUE = {"priority": 1, "state": "ENABLED", "computeEnvironmentOrder": [{"order": 1}]}
JOB_DEFINITION = {
    "type": "container",
    "containerProperties": {
        "image": "busybox:${VERSION}",
        "command": ["echo", "Ref::word"],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
    },
    "parameters": {"word": "hello"},
}


def snapshot(aws) -> dict:
    """Everything create/delete could touch, as AWS describes it (ACTIVE job definitions only:
    AWS keeps deregistered revisions as INACTIVE)."""
    batch = aws.client("batch")
    s3 = aws.client("s3")
    ecr = aws.client("ecr")

    def key(items, name):
        return sorted(items, key=lambda d: d[name])

    return {
        "compute_environments": key(
            batch.describe_compute_environments()["computeEnvironments"], "computeEnvironmentName"
        ),
        "job_queues": key(batch.describe_job_queues()["jobQueues"], "jobQueueName"),
        "job_definitions": key(
            batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"], "jobDefinitionArn"
        ),
        "buckets": sorted(b["Name"] for b in s3.list_buckets()["Buckets"]),
        "repositories": key(ecr.describe_repositories()["repositories"], "repositoryName"),
    }


def changing_requests(requests) -> list[tuple[str, str, int]]:
    """Requests from the moto log that could change something (Batch and S3 are told apart by path;
    JSON-protocol services such as ECR all POST to /, so they are left out and checked otherwise)."""
    out = []
    for method, path, status in requests:
        if path.startswith("/v1/"):
            if not path.startswith(READ_ONLY_BATCH):
                out.append((method, path, status))
        elif method not in ("GET", "HEAD") and path != "/":
            out.append((method, path, status))
    return out


class FaultProxy:
    """An HTTP proxy on a loopback port in front of the moto server.

    `deny` maps a request path (e.g. "/v1/createjobqueue") to an error code answered with 403;
    `rewrite` maps a path to a function that edits the parsed JSON answer.
    """

    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.deny: dict[str, str] = {}
        self.rewrite: dict = {}
        self.seen: list[tuple[str, str]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                proxy.seen.append((self.command, path))
                if path in proxy.deny:
                    code = proxy.deny[path]
                    payload = json.dumps(
                        {
                            "__type": code,
                            "message": f"User: arn:aws:iam::123456789012:user/test is not authorized to perform: {path}",
                        }
                    ).encode()
                    self.send_response(403)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("x-amzn-ErrorType", code)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=30)
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")
                }
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                if path in proxy.rewrite and answer.status == 200:
                    data = json.dumps(proxy.rewrite[path](json.loads(data))).encode()
                self.send_response(answer.status)
                for k, v in answer.getheaders():
                    if k.lower() not in (
                        "content-length",
                        "connection",
                        "transfer-encoding",
                        "server",
                        "date",
                    ):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def ce_status(status: str, reason: str):
    """A rewrite for /v1/describecomputeenvironments: every compute environment reports `status`."""

    def edit(answer):
        for ce in answer.get("computeEnvironments", []):
            ce["status"] = status
            ce["statusReason"] = reason
        return answer

    return edit
