"""Creates, reads and cancels a task over plain gRPC with the generated SDK.

Usage: PYTHONPATH=sdk/python/src python3 sdk/python/examples/roundtrip.py HOST:PORT CONTENT [FAILED_TASK_ID]

With FAILED_TASK_ID (a task in status failed), it also retries that task.

Prints one JSON document describing what the service answered (the proof test
in test/sdk-python.test.ts reads it) and exits 0, or exits 1 when an answer is
not what the contract promises.
"""

import json
import sys
import uuid

import grpc

from taskproc.v1 import task_pb2, task_pb2_grpc

TIMEOUT_S = 10


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
    with grpc.insecure_channel(target) as channel:
        tasks = task_pb2_grpc.TaskServiceStub(channel)
        created = tasks.CreateTask(task_pb2.CreateTaskRequest(content=content), timeout=TIMEOUT_S).task
        fetched = tasks.GetTask(task_pb2.GetTaskRequest(task_id=created.id), timeout=TIMEOUT_S).task
        canceled = tasks.CancelTask(task_pb2.CancelTaskRequest(task_id=created.id), timeout=TIMEOUT_S).task
        report = {
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
    sys.exit(main(*sys.argv[1:]))
