import { create, toBinary, type DescExtension, type DescFile } from '@bufbuild/protobuf';
import { nestedTypes } from '@bufbuild/protobuf/reflect';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { Code, type ServiceImpl } from '@connectrpc/connect';
import { reflection } from '@taskproc/contract';

type ReflectionRequest = reflection.ServerReflectionRequest;
type ReflectionResponse = reflection.ServerReflectionResponse['messageResponse'];

/**
 * The standard grpc.reflection.v1.ServerReflection service, which lets stock
 * tools (buf curl, grpcurl, Postman) discover our API without the .proto files.
 *
 * `files`: the descriptors of the files whose services we serve (e.g.
 * `file_taskproc_v1_task`, `health.file_grpc_health_v1_health`). Their imports
 * are found through them; the reflection file itself is always added.
 *
 * Each request on the stream gets one response:
 * - list_services: the full name of every service in `files`.
 * - file_by_filename / file_containing_symbol / file_containing_extension: the
 *   serialized FileDescriptorProto of the file, followed by those of its
 *   transitive imports not yet sent on this stream (as grpc-go does; clients
 *   cache what they got).
 * - all_extension_numbers_of_type: the field numbers of known extensions.
 * - anything unknown: an error_response (NOT_FOUND, or INVALID_ARGUMENT for an
 *   empty request); the stream stays open.
 */
export function createReflectionService(
  files: readonly DescFile[],
): ServiceImpl<typeof reflection.ServerReflection> {
  const index = indexFiles([...files, reflection.file_grpc_reflection_v1_reflection]);

  return {
    async *serverReflectionInfo(requests) {
      const sentFiles = new Set<string>();
      for await (const request of requests) {
        yield create(reflection.ServerReflectionResponseSchema, {
          validHost: request.host,
          originalRequest: request,
          messageResponse: answer(index, request, sentFiles),
        });
      }
    },
  };
}

interface DescriptorIndex {
  fileByName: Map<string, DescFile>;
  /** Every fully qualified symbol (message, field, enum, enum value, service, method...) to its file. */
  fileBySymbol: Map<string, DescFile>;
  /** Extensions by extendee type name, then field number. */
  extensions: Map<string, Map<number, DescExtension>>;
  services: string[];
}

function indexFiles(served: readonly DescFile[]): DescriptorIndex {
  const index: DescriptorIndex = {
    fileByName: new Map(),
    fileBySymbol: new Map(),
    extensions: new Map(),
    services: [],
  };
  const visit = (file: DescFile, isServed: boolean): void => {
    if (index.fileByName.has(file.proto.name)) return;
    index.fileByName.set(file.proto.name, file);
    for (const type of nestedTypes(file)) {
      index.fileBySymbol.set(type.typeName, file);
      switch (type.kind) {
        case 'service':
          if (isServed) index.services.push(type.typeName);
          for (const method of type.methods) index.fileBySymbol.set(`${type.typeName}.${method.name}`, file);
          break;
        case 'message':
          for (const field of type.fields) index.fileBySymbol.set(`${type.typeName}.${field.name}`, file);
          for (const oneof of type.oneofs) index.fileBySymbol.set(`${type.typeName}.${oneof.name}`, file);
          break;
        case 'enum': {
          // Enum values live in the scope enclosing their enum, as in C++.
          const scope = type.typeName.slice(0, type.typeName.length - type.name.length);
          for (const value of type.values) index.fileBySymbol.set(`${scope}${value.name}`, file);
          break;
        }
        case 'extension': {
          const byNumber = index.extensions.get(type.extendee.typeName) ?? new Map<number, DescExtension>();
          byNumber.set(type.number, type);
          index.extensions.set(type.extendee.typeName, byNumber);
          break;
        }
      }
    }
    for (const dependency of file.dependencies) visit(dependency, false);
  };
  // Served files first, so one also imported by another still counts as served.
  for (const file of served) visit(file, true);
  return index;
}

function answer(index: DescriptorIndex, request: ReflectionRequest, sentFiles: Set<string>): ReflectionResponse {
  const { messageRequest } = request;
  switch (messageRequest.case) {
    case 'listServices':
      return {
        case: 'listServicesResponse',
        value: create(reflection.ListServiceResponseSchema, {
          service: index.services.map((name) => ({ name })),
        }),
      };
    case 'fileByFilename':
      return filesOf(index.fileByName.get(messageRequest.value), sentFiles, `file "${messageRequest.value}"`);
    case 'fileContainingSymbol':
      return filesOf(
        index.fileBySymbol.get(withoutLeadingDot(messageRequest.value)),
        sentFiles,
        `symbol "${messageRequest.value}"`,
      );
    case 'fileContainingExtension': {
      const { containingType, extensionNumber } = messageRequest.value;
      const extension = index.extensions.get(withoutLeadingDot(containingType))?.get(extensionNumber);
      return filesOf(extension?.file, sentFiles, `extension ${extensionNumber} of "${containingType}"`);
    }
    case 'allExtensionNumbersOfType': {
      const typeName = withoutLeadingDot(messageRequest.value);
      const known = index.fileBySymbol.get(typeName);
      if (!known) return errorResponse(Code.NotFound, `type "${messageRequest.value}" not found`);
      return {
        case: 'allExtensionNumbersResponse',
        value: create(reflection.ExtensionNumberResponseSchema, {
          baseTypeName: typeName,
          extensionNumber: [...(index.extensions.get(typeName)?.keys() ?? [])],
        }),
      };
    }
    case undefined:
      return errorResponse(Code.InvalidArgument, 'empty request');
  }
}

/** The file first, then its transitive imports not sent before on this stream, each once. */
function filesOf(file: DescFile | undefined, sentFiles: Set<string>, what: string): ReflectionResponse {
  if (!file) return errorResponse(Code.NotFound, `${what} not found`);
  const encoded: Uint8Array[] = [];
  const inThisResponse = new Set<string>();
  const queue = [file];
  for (let next = queue.shift(); next; next = queue.shift()) {
    const name = next.proto.name;
    if (inThisResponse.has(name) || (next !== file && sentFiles.has(name))) continue;
    inThisResponse.add(name);
    sentFiles.add(name);
    encoded.push(toBinary(FileDescriptorProtoSchema, next.proto));
    queue.push(...next.dependencies);
  }
  return {
    case: 'fileDescriptorResponse',
    value: create(reflection.FileDescriptorResponseSchema, { fileDescriptorProto: encoded }),
  };
}

function errorResponse(code: Code, errorMessage: string): ReflectionResponse {
  return { case: 'errorResponse', value: create(reflection.ErrorResponseSchema, { errorCode: code, errorMessage }) };
}

// Clients may send fully qualified names with the leading dot of descriptor references.
function withoutLeadingDot(name: string): string {
  return name.startsWith('.') ? name.slice(1) : name;
}
