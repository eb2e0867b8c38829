// Command roundtrip creates, reads and cancels a task over plain gRPC with the
// generated SDK, then prints one JSON document describing what the service
// answered (the proof test in test/sdk-go.test.ts reads it).
//
//	roundtrip HOST:PORT CONTENT [FAILED_TASK_ID]
//
// With FAILED_TASK_ID (a task in status failed), it also retries that task.
//
// It exits 1 when an answer is not what the contract promises.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	taskprocv1 "github.com/taskproc/taskproc/sdk/go/taskproc/v1"
)

type taskView struct {
	ID        string  `json:"id"`
	Content   string  `json:"content"`
	Status    string  `json:"status"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt *string `json:"updated_at"`
}

func view(task *taskprocv1.Task) taskView {
	v := taskView{
		ID:        task.GetId(),
		Content:   task.GetContent(),
		Status:    task.GetStatus().String(),
		CreatedAt: task.GetCreatedAt().AsTime().Format(time.RFC3339Nano),
	}
	// An unset Timestamp means "no change of status yet".
	if task.UpdatedAt != nil {
		updated := task.GetUpdatedAt().AsTime().Format(time.RFC3339Nano)
		v.UpdatedAt = &updated
	}
	return v
}

// codeOf returns the gRPC status code name err carries ("OK" for nil).
func codeOf(err error) string {
	return status.Code(err).String()
}

func randomUUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// retryReport calls RetryTask: refused for the canceled task; the failed one
// (when given) goes back to pending.
func retryReport(ctx context.Context, tasks taskprocv1.TaskServiceClient, canceledID, failedID string) (map[string]interface{}, error) {
	_, retryCanceled := tasks.RetryTask(ctx, &taskprocv1.RetryTaskRequest{TaskId: canceledID})
	report := map[string]interface{}{"retry_canceled": codeOf(retryCanceled)}
	if failedID != "" {
		retried, err := tasks.RetryTask(ctx, &taskprocv1.RetryTaskRequest{TaskId: failedID})
		if err != nil {
			return nil, fmt.Errorf("RetryTask: %w", err)
		}
		report["retried"] = view(retried.GetTask())
	}
	return report, nil
}

func run(target, content, failedID string) (map[string]interface{}, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, target, grpc.WithInsecure(), grpc.WithBlock())
	if err != nil {
		return nil, false, fmt.Errorf("connect to %s: %w", target, err)
	}
	defer conn.Close()
	tasks := taskprocv1.NewTaskServiceClient(conn)

	created, err := tasks.CreateTask(ctx, &taskprocv1.CreateTaskRequest{Content: content})
	if err != nil {
		return nil, false, fmt.Errorf("CreateTask: %w", err)
	}
	id := created.GetTask().GetId()
	fetched, err := tasks.GetTask(ctx, &taskprocv1.GetTaskRequest{TaskId: id})
	if err != nil {
		return nil, false, fmt.Errorf("GetTask: %w", err)
	}
	canceled, err := tasks.CancelTask(ctx, &taskprocv1.CancelTaskRequest{TaskId: id})
	if err != nil {
		return nil, false, fmt.Errorf("CancelTask: %w", err)
	}
	_, cancelAgain := tasks.CancelTask(ctx, &taskprocv1.CancelTaskRequest{TaskId: id})
	_, getUnknown := tasks.GetTask(ctx, &taskprocv1.GetTaskRequest{TaskId: randomUUID()})
	_, createEmpty := tasks.CreateTask(ctx, &taskprocv1.CreateTaskRequest{Content: ""})

	report := map[string]interface{}{
		"created":      view(created.GetTask()),
		"fetched":      view(fetched.GetTask()),
		"canceled":     view(canceled.GetTask()),
		"cancel_again": codeOf(cancelAgain),
		"get_unknown":  codeOf(getUnknown),
		"create_empty": codeOf(createEmpty),
	}
	retries, err := retryReport(ctx, tasks, id, failedID)
	if err != nil {
		return nil, false, err
	}
	for key, value := range retries {
		report[key] = value
	}
	ok := created.GetTask().GetStatus() == taskprocv1.TaskStatus_TASK_STATUS_PENDING &&
		fetched.GetTask().GetId() == id &&
		canceled.GetTask().GetStatus() == taskprocv1.TaskStatus_TASK_STATUS_CANCELED
	return report, ok, nil
}

func main() {
	if len(os.Args) != 3 && len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: roundtrip HOST:PORT CONTENT [FAILED_TASK_ID]")
		os.Exit(2)
	}
	failedID := ""
	if len(os.Args) == 4 {
		failedID = os.Args[3]
	}
	report, ok, err := run(os.Args[1], os.Args[2], failedID)
	if err != nil {
		fmt.Fprintln(os.Stderr, "roundtrip:", err)
		os.Exit(1)
	}
	out, _ := json.Marshal(report)
	fmt.Println(string(out))
	if !ok {
		os.Exit(1)
	}
}
