// Re-exports of the code buf generates into src/gen (see buf.gen.yaml).
export * from './gen/taskproc/v1/task_pb.js';
export * as health from './gen/grpc/health/v1/health_pb.js';
export * as reflection from './gen/grpc/reflection/v1/reflection_pb.js';
export { file_google_api_annotations, http } from './gen/google/api/annotations_pb.js';
export * from './gen/google/api/http_pb.js';
