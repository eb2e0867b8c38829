import { create, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import type { HandlerContext } from '@connectrpc/connect';
import type { TaskChange } from '@taskproc/core';
import type { Task as TaskMessage } from '@taskproc/contract';
import { toTaskMessage } from '../task-view.js';

/**
 * One change goes to every watcher of its task (or tenant), so its response
 * is made once per change and response type, and the same message object
 * is yielded to every stream: connect takes a message of the method's
 * output type as it is (a plain object would be copied into a new message
 * per stream).
 *
 * connect still serializes each stream's message itself. For streams in
 * the binary format (gRPC, gRPC-Web and Connect with +proto) the shared
 * message is therefore pre-encoded: it sets no field and carries the
 * response's encoding as unknown fields, which protobuf-es writes verbatim
 * (writeUnknownFields, on by default), so each stream's serialization is a
 * copy of the same bytes instead of an encoding of the task. JSON streams
 * get the real message (the JSON codec skips unknown fields).
 *
 * A change object is only ever handed to watchers of its own task's tenant
 * (the hub checks the row's tenant before pushing), and the cache is keyed
 * by that object, so a shared response never crosses tenants.
 */
export class SharedResponses<Schema extends DescMessage> {
  private readonly binary = new WeakMap<TaskChange, MessageShape<Schema>>();
  private readonly json = new WeakMap<TaskChange, MessageShape<Schema>>();
  /** A message without a task: the keep-alive (and WatchTasks' first message). */
  readonly empty: MessageShape<Schema>;

  constructor(
    private readonly schema: Schema,
    private readonly withTask: (task: TaskMessage) => MessageShape<Schema>,
  ) {
    this.empty = create(schema);
  }

  /** The response carrying this change's task, in the form the stream's format wants. */
  of(change: TaskChange, format: WireFormat): MessageShape<Schema> {
    const cache = format === 'binary' ? this.binary : this.json;
    let response = cache.get(change);
    if (response) return response;
    const message = this.withTask(toTaskMessage(change.task));
    response = format === 'binary' ? preEncoded(this.schema, message) : message;
    cache.set(change, response);
    return response;
  }
}

export type WireFormat = 'binary' | 'json';

/**
 * The format connect serializes this call's messages in. Binary only for
 * the content types that certainly mean it; anything else gets real
 * messages, which are right in every format.
 */
export function wireFormatOf(context: HandlerContext): WireFormat {
  const type = context.requestHeader.get('content-type') ?? '';
  return /^application\/(?:grpc|grpc-web|connect)(?:\+proto)?\s*(?:;|$)/i.test(type) ? 'binary' : 'json';
}

/** A message of `schema` with no field set whose binary encoding is exactly that of `message`. */
export function preEncoded<Schema extends DescMessage>(schema: Schema, message: MessageShape<Schema>): MessageShape<Schema> {
  const bytes = toBinary(schema, message);
  const reader = new BinaryReader(bytes);
  const unknown: NonNullable<MessageShape<Schema>['$unknown']> = [];
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    const start = reader.pos;
    reader.skip(wireType, no);
    unknown.push({ no, wireType, data: bytes.subarray(start, reader.pos) });
  }
  const shell = create(schema);
  shell.$unknown = unknown;
  return shell;
}
