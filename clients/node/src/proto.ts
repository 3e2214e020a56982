// The Herald service definition and the google.rpc error-detail decoder,
// loaded at run time from the protos the build copied into the package's
// proto/ folder (scripts/build.js). The loader options match the ones the
// TypeScript types in generated/ were made with.
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as protobuf from 'protobufjs';
import type {ProtoGrpcType} from './generated/herald';
import type {HeraldDefinition} from './generated/herald/v1/Herald';

// dist/proto.js -> <package>/proto
const protoDir = path.join(__dirname, '..', 'proto');

let service: HeraldDefinition | undefined;

// The method definitions of herald.v1.Herald (path, serializers), loaded once.
export function heraldService(): HeraldDefinition {
  if (service === undefined) {
    const definition = protoLoader.loadSync('herald/v1/herald.proto', {
      keepCase: false,
      longs: Number,
      enums: String,
      defaults: true,
      oneofs: true,
      includeDirs: [protoDir],
    });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
    service = loaded.herald.v1.Herald.service;
  }
  return service;
}

interface DecodedStatus {
  details?: Array<{typeUrl?: string; type_url?: string; value?: Uint8Array}>;
}

let rpcTypes: {status: protobuf.Type; retryInfo: protobuf.Type} | undefined;

function loadRpcTypes(): {status: protobuf.Type; retryInfo: protobuf.Type} {
  if (rpcTypes === undefined) {
    const root = new protobuf.Root();
    // Imports are resolved against proto/; google/protobuf/*.proto come
    // from protobufjs's own copy of the well-known types.
    root.resolvePath = (_origin, target) => path.join(protoDir, target);
    root.loadSync(['google/rpc/status.proto', 'google/rpc/error_details.proto'], {keepCase: true});
    rpcTypes = {status: root.lookupType('google.rpc.Status'), retryInfo: root.lookupType('google.rpc.RetryInfo')};
  }
  return rpcTypes;
}

const kRetryInfoTypeUrl = 'type.googleapis.com/google.rpc.RetryInfo';

// The retry delay of a google.rpc.RetryInfo in a serialized google.rpc.Status
// (the grpc-status-details-bin trailer), in milliseconds; undefined when
// there is none or the bytes cannot be read.
export function retryDelayFromStatusDetails(bytes: Uint8Array): number | undefined {
  try {
    const types = loadRpcTypes();
    const status = types.status.decode(bytes) as unknown as DecodedStatus;
    for (const any of status.details ?? []) {
      if ((any.type_url ?? any.typeUrl) !== kRetryInfoTypeUrl || any.value === undefined) continue;
      const info = types.retryInfo.toObject(types.retryInfo.decode(any.value), {longs: Number}) as {
        retry_delay?: {seconds?: number; nanos?: number};
      };
      const delay = info.retry_delay;
      if (delay === undefined) return 0;
      return (delay.seconds ?? 0) * 1000 + Math.ceil((delay.nanos ?? 0) / 1e6);
    }
  } catch {
    // Unreadable details: the error is still reported, just without a delay.
  }
  return undefined;
}
