// Command roundtrip creates, reads, lists, watches and cancels a task over
// plain gRPC with the generated SDK, uses the create options (a request_id
// repeated and reused with other content, a schedule_time,
// BatchCreateTasks), then prints one JSON document describing what the
// service answered (the proof test in test/sdk-go.test.ts reads it).
//
//	roundtrip HOST:PORT CONTENT [FAILED_TASK_ID]
//
// With FAILED_TASK_ID (a task in status failed), it also retries that task.
//
// With TASKPROC_TOKEN set (a JWT, e.g. `npx taskctl token --tenant acme` for
// a task-api started by `make start AUTH_MODE=jwt`), every call carries it as
// the gRPC metadata "authorization: Bearer <token>"; unset, none is sent,
// which a task-api with authentication off does not need.
//
// It exits 1 when an answer is not what the contract promises.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	taskprocv1 "github.com/taskproc/taskproc/sdk/go/taskproc/v1"
)

// bearerToken is per-call credentials: "authorization: Bearer <token>" on
// every call, streams included. RequireTransportSecurity is false only so
// that this proof can reach a local plain-text task-api; across a network,
// dial with TLS (credentials.NewTLS) and let it return true, so the token
// never travels in the clear.
type bearerToken string

func (t bearerToken) GetRequestMetadata(ctx context.Context, uri ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}

func (bearerToken) RequireTransportSecurity() bool { return false }

// dialOptions are plain-text gRPC, plus TASKPROC_TOKEN (when set) on every call.
func dialOptions() []grpc.DialOption {
	options := []grpc.DialOption{grpc.WithInsecure(), grpc.WithBlock()}
	if token := strings.TrimSpace(os.Getenv("TASKPROC_TOKEN")); token != "" {
		options = append(options, grpc.WithPerRPCCredentials(bearerToken(token)))
	}
	return options
}

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

// nextWatched returns the next task of a WatchTask stream, skipping its
// keep-alive messages (no task); io.EOF once the stream ended.
func nextWatched(watch taskprocv1.TaskService_WatchTaskClient) (*taskprocv1.Task, error) {
	for {
		message, err := watch.Recv()
		if err != nil {
			return nil, err
		}
		if message.GetTask() != nil {
			return message.GetTask(), nil
		}
	}
}

type scheduledView struct {
	taskView
	ScheduleTime string `json:"schedule_time"`
}

// createOptions runs the idempotent repeat, the key conflict, a scheduled
// task and a batch, and reports what the service answered.
func createOptions(ctx context.Context, tasks taskprocv1.TaskServiceClient, content string) (map[string]interface{}, error) {
	key := "proof-go-" + randomUUID()
	first, err := tasks.CreateTask(ctx, &taskprocv1.CreateTaskRequest{Content: content, RequestId: key})
	if err != nil {
		return nil, fmt.Errorf("CreateTask with request_id: %w", err)
	}
	repeat, err := tasks.CreateTask(ctx, &taskprocv1.CreateTaskRequest{Content: content, RequestId: key})
	if err != nil {
		return nil, fmt.Errorf("CreateTask repeated: %w", err)
	}
	_, conflict := tasks.CreateTask(ctx, &taskprocv1.CreateTaskRequest{Content: content + " other", RequestId: key})
	scheduled, err := tasks.CreateTask(ctx, &taskprocv1.CreateTaskRequest{
		Content:      content + " later",
		ScheduleTime: timestamppb.New(time.Now().Add(time.Hour)),
	})
	if err != nil {
		return nil, fmt.Errorf("CreateTask with schedule_time: %w", err)
	}
	requests := make([]*taskprocv1.CreateTaskRequest, 3)
	for i := range requests {
		requests[i] = &taskprocv1.CreateTaskRequest{Content: fmt.Sprintf("%s #%d", content, i), RequestId: fmt.Sprintf("%s-%d", key, i)}
	}
	batch, err := tasks.BatchCreateTasks(ctx, &taskprocv1.BatchCreateTasksRequest{Requests: requests})
	if err != nil {
		return nil, fmt.Errorf("BatchCreateTasks: %w", err)
	}
	_, batchEmpty := tasks.BatchCreateTasks(ctx, &taskprocv1.BatchCreateTasksRequest{})
	views := make([]taskView, 0, len(batch.GetTasks()))
	for _, task := range batch.GetTasks() {
		views = append(views, view(task))
	}
	return map[string]interface{}{
		"request_id": key,
		"first_id":   first.GetTask().GetId(),
		"repeat_id":  repeat.GetTask().GetId(),
		"conflict":   codeOf(conflict),
		"scheduled": scheduledView{
			taskView:     view(scheduled.GetTask()),
			ScheduleTime: scheduled.GetTask().GetScheduleTime().AsTime().Format(time.RFC3339Nano),
		},
		"batch":       views,
		"batch_empty": codeOf(batchEmpty),
	}, nil
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
	conn, err := grpc.DialContext(ctx, target, dialOptions()...)
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
	listed, err := tasks.ListTasks(ctx, &taskprocv1.ListTasksRequest{PageSize: 1})
	if err != nil {
		return nil, false, fmt.Errorf("ListTasks: %w", err)
	}
	listedIDs := []string{}
	for _, task := range listed.GetTasks() {
		listedIDs = append(listedIDs, task.GetId())
	}
	// The watch sends the task as it is now, then each change until a final status.
	watch, err := tasks.WatchTask(ctx, &taskprocv1.WatchTaskRequest{TaskId: id})
	if err != nil {
		return nil, false, fmt.Errorf("WatchTask: %w", err)
	}
	first, err := nextWatched(watch)
	if err != nil {
		return nil, false, fmt.Errorf("WatchTask: %w", err)
	}
	watched := []string{first.GetStatus().String()}
	canceled, err := tasks.CancelTask(ctx, &taskprocv1.CancelTaskRequest{TaskId: id})
	if err != nil {
		return nil, false, fmt.Errorf("CancelTask: %w", err)
	}
	for {
		task, err := nextWatched(watch)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, false, fmt.Errorf("WatchTask: %w", err)
		}
		watched = append(watched, task.GetStatus().String())
	}
	_, cancelAgain := tasks.CancelTask(ctx, &taskprocv1.CancelTaskRequest{TaskId: id})
	_, getUnknown := tasks.GetTask(ctx, &taskprocv1.GetTaskRequest{TaskId: randomUUID()})
	_, createEmpty := tasks.CreateTask(ctx, &taskprocv1.CreateTaskRequest{Content: ""})
	options, err := createOptions(ctx, tasks, content)
	if err != nil {
		return nil, false, err
	}
	stats, err := tasks.GetTaskStats(ctx, &taskprocv1.GetTaskStatsRequest{})
	if err != nil {
		return nil, false, fmt.Errorf("GetTaskStats: %w", err)
	}
	statsCanceled := int64(-1)
	for _, count := range stats.GetCounts() {
		if count.GetStatus() == taskprocv1.TaskStatus_TASK_STATUS_CANCELED {
			statsCanceled = count.GetCount()
		}
	}

	report := map[string]interface{}{
		"listed":         listedIDs,
		"watched":        watched,
		"created":        view(created.GetTask()),
		"fetched":        view(fetched.GetTask()),
		"canceled":       view(canceled.GetTask()),
		"cancel_again":   codeOf(cancelAgain),
		"get_unknown":    codeOf(getUnknown),
		"create_empty":   codeOf(createEmpty),
		"create_options": options,
		"stats_canceled": statsCanceled,
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
