/**
 * The OTLP trace protobuf types, built with protobufjs once at module load from the schema
 * embedded in ./proto/schema.ts (generated from the .proto files in ./proto/), so the compiled
 * module needs no .proto file beside it at run time.
 */
import protobuf from 'protobufjs';
import { OTLP_TRACE_PROTOS } from './proto/schema.js';

function buildRoot(): protobuf.Root {
  const root = new protobuf.Root();
  for (const [, source] of OTLP_TRACE_PROTOS) protobuf.parse(source, root);
  root.resolveAll();
  return root;
}

export const otlpTraceRoot: protobuf.Root = buildRoot();

/**
 * protobufjs exposes a oneof as a virtual property (`AnyValue.value` = name of the member set) whose
 * setter, called by the generated decoder for every AnyValue, deletes every other member, and whose
 * getter scans Object.keys(). Shadowing it with a plain data property on a prototype between the
 * constructor and protobufjs's prototype makes the decoder's `m.value = "stringValue"` a simple
 * store and lets the walker `switch` on it. The semantics are unchanged (the decoder sets exactly
 * one member per AnyValue); measured ~1.3x faster raw decode, mostly less GC work.
 */
function shadowOneofAccessors(type: protobuf.Type): void {
  if (type.oneofsArray.length === 0) return;
  const ctor = type.ctor; // materializes protobufjs's generated constructor and its prototype
  const props: PropertyDescriptorMap = {};
  for (const oneof of type.oneofsArray) {
    props[oneof.name] = { value: undefined, writable: true, enumerable: false, configurable: true };
  }
  ctor.prototype = Object.create(ctor.prototype as object, props);
}

export const ExportTraceServiceRequest: protobuf.Type = otlpTraceRoot.lookupType(
  'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest',
);
export const ExportTraceServiceResponse: protobuf.Type = otlpTraceRoot.lookupType(
  'opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse',
);
export const Resource: protobuf.Type = otlpTraceRoot.lookupType('opentelemetry.proto.resource.v1.Resource');
export const InstrumentationScope: protobuf.Type = otlpTraceRoot.lookupType(
  'opentelemetry.proto.common.v1.InstrumentationScope',
);
export const Span: protobuf.Type = otlpTraceRoot.lookupType('opentelemetry.proto.trace.v1.Span');
export const AnyValue: protobuf.Type = otlpTraceRoot.lookupType('opentelemetry.proto.common.v1.AnyValue');
shadowOneofAccessors(AnyValue);

// ---------------------------------------------------------------------------------------------
// Shapes of the decoded messages as protobufjs builds them (camelCase fields). Unset scalar and
// repeated fields read as the prototype's defaults ('' / 0 / [] / empty bytes / Long zero);
// unset message fields read null. 64-bit integers arrive as `Long` (protobufjs depends on
// `long`), or as numbers if no Long implementation is present.

export interface LongBits {
  readonly low: number;
  readonly high: number;
  toString(): string;
}
export type Int64 = LongBits | number;

/** Name of the AnyValue member set on the wire; undefined for an empty AnyValue. */
export type AnyValueKind =
  | 'stringValue'
  | 'boolValue'
  | 'intValue'
  | 'doubleValue'
  | 'arrayValue'
  | 'kvlistValue'
  | 'bytesValue'
  | undefined;

export interface PbAnyValue {
  readonly value: AnyValueKind;
  readonly stringValue: string;
  readonly boolValue: boolean;
  readonly intValue: Int64;
  readonly doubleValue: number;
  readonly arrayValue: { readonly values: readonly PbAnyValue[] } | null;
  readonly kvlistValue: { readonly values: readonly PbKeyValue[] } | null;
  readonly bytesValue: Uint8Array;
}
export interface PbKeyValue {
  readonly key: string;
  readonly value: PbAnyValue | null;
}
export interface PbEvent {
  readonly name: string;
  readonly attributes: readonly PbKeyValue[];
}
export interface PbSpan {
  readonly traceId: Uint8Array;
  readonly spanId: Uint8Array;
  readonly parentSpanId: Uint8Array;
  readonly name: string;
  readonly startTimeUnixNano: Int64;
  readonly endTimeUnixNano: Int64;
  readonly attributes: readonly PbKeyValue[];
  readonly events: readonly PbEvent[];
  readonly status: { readonly code: number; readonly message: string } | null;
}
export interface PbScope {
  readonly name: string;
}
export interface PbResource {
  readonly attributes: readonly PbKeyValue[];
}
export interface PbScopeSpans {
  readonly scope: PbScope | null;
  readonly spans: readonly PbSpan[];
}
export interface PbResourceSpans {
  readonly resource: PbResource | null;
  readonly scopeSpans: readonly PbScopeSpans[];
}
export interface PbExportTraceServiceRequest {
  readonly resourceSpans: readonly PbResourceSpans[];
}

