# SDKs and clients (docs/sdk.md): generated Python and Go SDKs under sdk/,
# the TypeScript client and taskctl in sdk/typescript.

SDK_GENERATED := sdk/python/src sdk/go/taskproc
SDK_APT := protobuf-compiler protobuf-compiler-grpc protoc-gen-go protoc-gen-go-grpc \
  python3-grpcio python3-protobuf golang-go golang-google-grpc-dev golang-google-protobuf-dev \
  golang-github-golang-protobuf-1-5-dev

.PHONY: sdk check-sdk sdk-toolchain

sdk-toolchain: ## check that the Debian packages the SDKs need are installed
	@missing=""; \
	for tool in /usr/bin/protoc grpc_python_plugin protoc-gen-go protoc-gen-go-grpc go; do \
	  command -v $$tool >/dev/null || missing="$$missing $$tool"; \
	done; \
	/usr/bin/python3 -c 'import grpc, google.protobuf' 2>/dev/null || missing="$$missing python3-grpcio"; \
	test -z "$$missing" || { echo "missing:$$missing"; echo "install with: apt-get install -y $(SDK_APT)"; exit 1; }

sdk: generate sdk-toolchain ## regenerate the Python and Go SDKs (and the TypeScript) from proto/
	rm -rf $(SDK_GENERATED)
	npx buf generate --template buf.gen.sdk.yaml --path proto/taskproc

check-sdk: sdk ## fail if the generated SDKs differ from what is committed
	@git diff --exit-code --stat -- $(SDK_GENERATED) \
	  || { echo "generated SDK code is stale: run 'make sdk' and commit the result"; exit 1; }
	@test -z "$$(git status --porcelain -- $(SDK_GENERATED))" \
	  || { echo "generated SDK files are not committed: run 'make sdk' and commit the result"; exit 1; }
