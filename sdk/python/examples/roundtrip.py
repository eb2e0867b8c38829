"""Creates, reads, lists, watches and cancels a task over plain gRPC with the
generated SDK, then uses the create options: a request_id repeated (same
task) and reused with other content (ALREADY_EXISTS), a schedule_time, and
BatchCreateTasks.

Usage: PYTHONPATH=sdk/python/src python3 sdk/python/examples/roundtrip.py HOST:PORT CONTENT [FAILED_TASK_ID]

With FAILED_TASK_ID (a task in status failed), it also retries that task.

With TASKPROC_TOKEN set (a JWT, e.g. `npx taskctl token --tenant acme` for a
task-api started by `make start AUTH_MODE=jwt`), every call carries it as
the gRPC metadata `authorization: Bearer <token>`; unset, none is sent,
which a task-api with authentication off does not need.

Prints one JSON document describing what the service answered (the proof test
in test/sdk-python.test.ts reads it) and exits 0, or exits 1 when an answer is
not what the contract promises.
"""

import collections
import datetime
import json
import os
import sys
import uuid

import grpc
from google.protobuf import timestamp_pb2

from taskproc.v1 import task_pb2, task_pb2_grpc

TIMEOUT_S = 10


class _CallDetails(
    collections.namedtuple("_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")),
    grpc.ClientCallDetails,
):
    pass


class BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds `authorization: Bearer <token>` to the metadata of every call, server streams included.

    Over TLS, grpc.composite_channel_credentials(grpc.ssl_channel_credentials(),
    grpc.access_token_call_credentials(token)) does the same; gRPC sends call
    credentials over TLS only, hence this interceptor for the plain channel here.
    """

    def __init__(self, token):
        self._header = ("authorization", "Bearer " + token)

    def _with_token(self, details):
        metadata = list(details.metadata or []) + [self._header]
        return _CallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with_token(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._with_token(details), request)


def open_channel(target):
    """A plain-text channel to target, carrying TASKPROC_TOKEN (when set) with every call."""
    channel = grpc.insecure_channel(target)
    token = os.environ.get("TASKPROC_TOKEN", "").strip()
    return (grpc.intercept_channel(channel, BearerToken(token)) if token else channel), channel


def task_view(task):
    return {
        "id": task.id,
        "content": task.content,
        "status": task_pb2.TaskStatus.Name(task.status),
        "created_at": task.created_at.ToJsonString(),
        # An unset Timestamp means "no change of status yet".
        "updated_at": task.updated_at.ToJsonString() if task.HasField("updated_at") else None,
    }


def error_code(call):
    """Runs call and returns the gRPC status code name it failed with."""
    try:
        call()
    except grpc.RpcError as error:
        return error.code().name
    raise SystemExit("expected the call to fail, but it succeeded")


def watched_tasks(stream):
    """The tasks of a WatchTask stream, without its keep-alive messages (no task)."""
    return (message.task for message in stream if message.HasField("task"))


def create_options(tasks, content):
    """Idempotent repeat, key conflict, a scheduled task and a batch; what the service answered."""
    key = "proof-python-" + str(uuid.uuid4())
    first = tasks.CreateTask(task_pb2.CreateTaskRequest(content=content, request_id=key), timeout=TIMEOUT_S).task
    repeat = tasks.CreateTask(task_pb2.CreateTaskRequest(content=content, request_id=key), timeout=TIMEOUT_S).task
    at = timestamp_pb2.Timestamp()
    at.FromDatetime(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))
    scheduled = tasks.CreateTask(task_pb2.CreateTaskRequest(content=content + " later", schedule_time=at), timeout=TIMEOUT_S).task
    batch = tasks.BatchCreateTasks(
        task_pb2.BatchCreateTasksRequest(
            requests=[task_pb2.CreateTaskRequest(content=content + " #" + str(i), request_id=key + "-" + str(i)) for i in range(3)]
        ),
        timeout=TIMEOUT_S,
    ).tasks
    return {
        "request_id": key,
        "first_id": first.id,
        "repeat_id": repeat.id,
        "conflict": error_code(
            lambda: tasks.CreateTask(task_pb2.CreateTaskRequest(content=content + " other", request_id=key), timeout=TIMEOUT_S)
        ),
        "scheduled": {**task_view(scheduled), "schedule_time": scheduled.schedule_time.ToJsonString()},
        "batch": [task_view(task) for task in batch],
        "batch_empty": error_code(lambda: tasks.BatchCreateTasks(task_pb2.BatchCreateTasksRequest(), timeout=TIMEOUT_S)),
    }


def retry_report(tasks, canceled_id, failed_id):
    """RetryTask: refused for a canceled task; a failed one (if given) goes back to pending."""
    report = {
        "retry_canceled": error_code(
            lambda: tasks.RetryTask(task_pb2.RetryTaskRequest(task_id=canceled_id), timeout=TIMEOUT_S)
        ),
    }
    if failed_id:
        retried = tasks.RetryTask(task_pb2.RetryTaskRequest(task_id=failed_id), timeout=TIMEOUT_S).task
        report["retried"] = task_view(retried)
    return report


def main(target, content, failed_id=None):
    channel, underlying = open_channel(target)
    with underlying:
        tasks = task_pb2_grpc.TaskServiceStub(channel)
        created = tasks.CreateTask(task_pb2.CreateTaskRequest(content=content), timeout=TIMEOUT_S).task
        fetched = tasks.GetTask(task_pb2.GetTaskRequest(task_id=created.id), timeout=TIMEOUT_S).task
        listed = tasks.ListTasks(task_pb2.ListTasksRequest(page_size=1), timeout=TIMEOUT_S)
        # The watch sends the task as it is now, then each change until a final status.
        watch = watched_tasks(tasks.WatchTask(task_pb2.WatchTaskRequest(task_id=created.id), timeout=TIMEOUT_S))
        watched = [next(watch)]
        canceled = tasks.CancelTask(task_pb2.CancelTaskRequest(task_id=created.id), timeout=TIMEOUT_S).task
        watched.extend(watch)
        stats = tasks.GetTaskStats(task_pb2.GetTaskStatsRequest(), timeout=TIMEOUT_S)
        report = {
            "listed": [task.id for task in listed.tasks],
            "watched": [task_pb2.TaskStatus.Name(task.status) for task in watched],
            "created": task_view(created),
            "fetched": task_view(fetched),
            "canceled": task_view(canceled),
            "cancel_again": error_code(
                lambda: tasks.CancelTask(task_pb2.CancelTaskRequest(task_id=created.id), timeout=TIMEOUT_S)
            ),
            "get_unknown": error_code(
                lambda: tasks.GetTask(task_pb2.GetTaskRequest(task_id=str(uuid.uuid4())), timeout=TIMEOUT_S)
            ),
            "create_empty": error_code(
                lambda: tasks.CreateTask(task_pb2.CreateTaskRequest(content=""), timeout=TIMEOUT_S)
            ),
            "create_options": create_options(tasks, content),
            "stats_canceled": next(c.count for c in stats.counts if c.status == task_pb2.TASK_STATUS_CANCELED),
        }
        report.update(retry_report(tasks, created.id, failed_id))
    print(json.dumps(report))
    ok = (
        created.status == task_pb2.TASK_STATUS_PENDING
        and fetched.id == created.id
        and canceled.status == task_pb2.TASK_STATUS_CANCELED
    )
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    try:
        sys.exit(main(*sys.argv[1:]))
    except grpc.RpcError as error:
        # e.g. UNAUTHENTICATED: missing bearer token (authentication on, TASKPROC_TOKEN unset)
        sys.exit("roundtrip.py: " + error.code().name + ": " + error.details())
