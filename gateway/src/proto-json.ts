import { toJsonString, type DescMessage, type MessageShape, type Registry } from '@bufbuild/protobuf';

// Prints messages as Envoy's gRPC-JSON transcoder does, configured as in
// gateway/envoy.yaml: print_options preserve_proto_field_names and
// always_print_primitive_fields, enums by name, no whitespace.

// Protobuf's C++ JSON writer (json/internal/writer.cc, MustEscape) escapes
// these on top of what JSON requires, "to prevent security bugs in
// JavaScript"; JSON.stringify does not. Each UTF-16 unit becomes \uXXXX in
// lower-case hex, which for the astral ones is exactly the surrogate pair
// protobuf writes.
const PROTOBUF_EXTRA_ESCAPES =
  /[<>\u007f-\u009f\u00ad\u0600-\u0603\u06dd\u070f\u17b4\u17b5\u200b-\u200f\u2028-\u202e\u2060-\u2064\u206a-\u206f\ufeff\ufff9-\ufffb]|\ud834[\udd73-\udd7a]|\udb40[\udc01\udc20-\udc7f]/g;

/**
 * Re-escapes JSON text produced by JSON.stringify the way protobuf's writer
 * escapes strings. Safe on whole documents: the characters concerned only
 * ever occur inside strings.
 */
export function escapeLikeProtobuf(json: string): string {
  return json.replace(PROTOBUF_EXTRA_ESCAPES, (match) =>
    Array.from({ length: match.length }, (_, i) => `\\u${match.charCodeAt(i).toString(16).padStart(4, '0')}`).join(''),
  );
}

/** A JSON string literal as protobuf writes one. */
export function protobufJsonString(value: string): string {
  return escapeLikeProtobuf(JSON.stringify(value));
}

/** A message as the transcoder prints it. */
export function printLikeTranscoder<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
  registry: Registry,
): string {
  const json = toJsonString(schema, message, { alwaysEmitImplicit: true, useProtoFieldName: true, registry });
  return escapeLikeProtobuf(json);
}
