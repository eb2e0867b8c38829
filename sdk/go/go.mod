// The import path is a placeholder until the repository has a public home:
// change it here and in buf.gen.sdk.yaml, then run `make sdk`.
module github.com/taskproc/taskproc/sdk/go

go 1.19

// The releases Debian bookworm ships, which `make test` builds against in
// GOPATH mode; newer ones work too. The generated code also imports
// google.golang.org/genproto/googleapis/api/annotations (Debian: a 2020-04
// snapshot): `go mod tidy` in your module resolves it.
require (
	google.golang.org/grpc v1.33.3
	google.golang.org/protobuf v1.28.1
)
