import { Code } from '@connectrpc/connect';

// Envoy's fixed gRPC-to-HTTP table (Grpc::Utility::grpcToHttpStatus), which
// its gRPC-JSON transcoder applies to every gRPC status.
const HTTP_STATUS_OF_CODE: Readonly<Record<number, number>> = {
  [Code.Canceled]: 499,
  [Code.Unknown]: 500,
  [Code.InvalidArgument]: 400,
  [Code.DeadlineExceeded]: 504,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 409,
  [Code.PermissionDenied]: 403,
  [Code.ResourceExhausted]: 429,
  [Code.FailedPrecondition]: 400,
  [Code.Aborted]: 409,
  [Code.OutOfRange]: 400,
  [Code.Unimplemented]: 501,
  [Code.Internal]: 500,
  [Code.Unavailable]: 503,
  [Code.DataLoss]: 500,
  [Code.Unauthenticated]: 401,
};

/** The HTTP status Envoy answers for a gRPC status code (0 is 200; unknown codes 500). */
export function httpStatusOfGrpcCode(code: number): number {
  if (code === 0) return 200;
  return HTTP_STATUS_OF_CODE[code] ?? 500;
}
