import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { createFileRegistry, fromBinary, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

// Envoy's configuration schema, compiled offline: Envoy's API protos ship in
// @grpc/grpc-js-xds (deps/), protoc in the npm package "protoc".

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const XDS_DEPS = join(require.resolve('@grpc/grpc-js-xds/package.json'), '..', 'deps');
const PROTOC = require.resolve('protoc/protoc.cjs');
const PROTOC_INCLUDE = join(require.resolve('protoc/package.json'), '..', 'include');

/** The bootstrap and every typed_config type gateway/envoy.yaml uses. */
export const ENVOY_SCHEMA_FILES = [
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/grpc_json_transcoder/v3/transcoder.proto',
  'envoy/extensions/filters/http/lua/v3/lua.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/jwt_authn/v3/config.proto',
  'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/filters/http/header_mutation/v3/header_mutation.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
];

/** Compiles Envoy's schema into a registry that resolves the `@type` of every Any used. */
export async function loadEnvoySchema(): Promise<FileRegistry> {
  const work = await mkdtemp(join(tmpdir(), 'envoy-schema-'));
  try {
    // The protoc-gen-validate copy bundled with @grpc/grpc-js-xds predates
    // StringRules.ignore_empty, which the bundled Envoy API already uses in
    // its validation annotations. Those annotations are not what this check
    // is about, so a copy with the field added shadows the bundled file.
    const validate = await readFile(join(XDS_DEPS, 'protoc-gen-validate/validate/validate.proto'), 'utf8');
    await mkdir(join(work, 'validate'));
    await writeFile(
      join(work, 'validate/validate.proto'),
      validate.replace(/^message StringRules \{$/m, 'message StringRules {\n    optional bool ignore_empty = 26;'),
    );
    // Likewise, the bundled Envoy API predates PrintOptions.stream_sse_style_delimited
    // (field 6 of PrintOptions in Envoy's transcoder.proto), which envoy.yaml's
    // watch route uses; a copy with the field added shadows the bundled file.
    const transcoderPath = 'envoy/extensions/filters/http/grpc_json_transcoder/v3/transcoder.proto';
    const transcoder = await readFile(join(XDS_DEPS, 'envoy-api', transcoderPath), 'utf8');
    if (!transcoder.includes('stream_sse_style_delimited')) {
      await mkdir(join(work, dirname(transcoderPath)), { recursive: true });
      await writeFile(
        join(work, transcoderPath),
        transcoder.replace(/^(\s*)bool stream_newline_delimited = 5;$/m, '$1bool stream_newline_delimited = 5;\n$1bool stream_sse_style_delimited = 6;'),
      );
    }
    const out = join(work, 'envoy.binpb');
    const includes = [work, 'envoy-api', 'xds', 'googleapis', 'protoc-gen-validate']
      .map((dir) => (dir === work ? dir : join(XDS_DEPS, dir)))
      .concat(PROTOC_INCLUDE)
      .map((dir) => `-I${dir}`);
    await run(process.execPath, [PROTOC, ...includes, '--include_imports', `--descriptor_set_out=${out}`, ...ENVOY_SCHEMA_FILES]);
    return createFileRegistry(fromBinary(FileDescriptorSetSchema, await readFile(out)));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The descriptor set of proto/, built as `make generate` builds packages/contract/descriptor.binpb. */
export async function buildContractDescriptor(repositoryRoot: string): Promise<FileRegistry> {
  const work = await mkdtemp(join(tmpdir(), 'contract-descriptor-'));
  try {
    const out = join(work, 'descriptor.binpb');
    await run(join(repositoryRoot, 'node_modules/.bin/buf'), ['build', '--as-file-descriptor-set', '-o', out], { cwd: repositoryRoot });
    return createFileRegistry(fromBinary(FileDescriptorSetSchema, await readFile(out)));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
