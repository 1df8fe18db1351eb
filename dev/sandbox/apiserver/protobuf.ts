import { badRequest, unsupportedMediaType } from './errors.ts';

/**
 * Just enough of the Kubernetes protobuf encoding to read the request bodies kubectl's imperative
 * generators send (`kubectl create namespace|configmap|secret`). Other kinds answer 415, which
 * kubectl reports; manifests (JSON) work for every kind.
 */

export const PROTOBUF_CONTENT_TYPE = 'application/vnd.kubernetes.protobuf';
const MAGIC = [0x6b, 0x38, 0x73, 0x00];

type Field = { wire: 0; value: bigint } | { wire: 2; value: Buffer } | { wire: 1 | 5; value: Buffer };

function readVarint(buf: Buffer, at: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (let i = at; i < buf.length && shift < 70n; i++) {
    const byte = buf[i]!;
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return [result, i + 1];
    shift += 7n;
  }
  throw badRequest('protobuf body: truncated varint');
}

function fields(buf: Buffer): Map<number, Field[]> {
  const out = new Map<number, Field[]>();
  let at = 0;
  while (at < buf.length) {
    const [tag, next] = readVarint(buf, at);
    at = next;
    const number = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    let field: Field;
    if (wire === 0) {
      const [value, after] = readVarint(buf, at);
      at = after;
      field = { wire: 0, value };
    } else if (wire === 2) {
      const [length, after] = readVarint(buf, at);
      const end = after + Number(length);
      if (end > buf.length) throw badRequest('protobuf body: truncated field');
      field = { wire: 2, value: buf.subarray(after, end) };
      at = end;
    } else if (wire === 1 || wire === 5) {
      const size = wire === 1 ? 8 : 4;
      field = { wire, value: buf.subarray(at, at + size) };
      at += size;
    } else throw badRequest(`protobuf body: unsupported wire type ${wire}`);
    const list = out.get(number) ?? [];
    list.push(field);
    out.set(number, list);
  }
  return out;
}

function bytes(f: Map<number, Field[]>, n: number): Buffer | undefined {
  const last = f.get(n)?.at(-1);
  return last?.wire === 2 ? last.value : undefined;
}

function str(f: Map<number, Field[]>, n: number): string | undefined {
  return bytes(f, n)?.toString('utf8');
}

function strings(f: Map<number, Field[]>, n: number): string[] | undefined {
  const list = f
    .get(n)
    ?.filter((x) => x.wire === 2)
    .map((x) => (x.value as Buffer).toString('utf8'));
  return list?.length ? list : undefined;
}

function bool(f: Map<number, Field[]>, n: number): boolean | undefined {
  const last = f.get(n)?.at(-1);
  return last?.wire === 0 ? last.value !== 0n : undefined;
}

function map<T>(f: Map<number, Field[]>, n: number, value: (b: Buffer) => T): Record<string, T> | undefined {
  const entries = f.get(n)?.filter((x) => x.wire === 2);
  if (!entries?.length) return undefined;
  const out: Record<string, T> = {};
  for (const entry of entries) {
    const e = fields(entry.value as Buffer);
    out[str(e, 1) ?? ''] = value(bytes(e, 2) ?? Buffer.alloc(0));
  }
  return out;
}

function compact<T extends Record<string, unknown>>(object: T): T {
  for (const key of Object.keys(object)) if (object[key] === undefined) delete object[key];
  return object;
}

function objectMeta(buf: Buffer | undefined): Record<string, unknown> {
  if (!buf) return {};
  const f = fields(buf);
  const owners = f.get(13)?.map((x) => {
    const o = fields(x.value as Buffer);
    return compact({
      apiVersion: str(o, 5),
      kind: str(o, 1),
      name: str(o, 3),
      uid: str(o, 4),
      controller: bool(o, 6),
      blockOwnerDeletion: bool(o, 7),
    });
  });
  return compact({
    name: str(f, 1),
    generateName: str(f, 2),
    namespace: str(f, 3),
    resourceVersion: str(f, 6),
    labels: map(f, 11, (b) => b.toString('utf8')),
    annotations: map(f, 12, (b) => b.toString('utf8')),
    ownerReferences: owners,
    finalizers: strings(f, 14),
  });
}

const KINDS: Record<string, (f: Map<number, Field[]>) => Record<string, unknown>> = {
  'v1/Namespace': (f) => {
    const spec = bytes(f, 2);
    return compact({
      metadata: objectMeta(bytes(f, 1)),
      spec: spec ? compact({ finalizers: strings(fields(spec), 1) }) : undefined,
    });
  },
  'v1/ConfigMap': (f) =>
    compact({
      metadata: objectMeta(bytes(f, 1)),
      data: map(f, 2, (b) => b.toString('utf8')),
      binaryData: map(f, 3, (b) => b.toString('base64')),
      immutable: bool(f, 4),
    }),
  'v1/Secret': (f) =>
    compact({
      metadata: objectMeta(bytes(f, 1)),
      data: map(f, 2, (b) => b.toString('base64')),
      type: str(f, 3),
      stringData: map(f, 4, (b) => b.toString('utf8')),
      immutable: bool(f, 5),
    }),
};

/** Decodes a `k8s\0`-prefixed runtime.Unknown envelope into the JSON form of the object. */
export function decodeProtobufObject(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !MAGIC.every((b, i) => body[i] === b))
    throw badRequest('protobuf body: missing the k8s\\0 prefix');
  const envelope = fields(body.subarray(4));
  const typeMeta = fields(bytes(envelope, 1) ?? Buffer.alloc(0));
  const apiVersion = str(typeMeta, 1) ?? '';
  const kind = str(typeMeta, 2) ?? '';
  const decode = KINDS[`${apiVersion}/${kind}`];
  if (!decode) throw unsupportedMediaType(PROTOBUF_CONTENT_TYPE, ['application/json', 'application/yaml']);
  const object = decode(fields(bytes(envelope, 2) ?? Buffer.alloc(0)));
  return { apiVersion, kind, ...object };
}

/** Decodes a protobuf meta/v1 DeleteOptions (propagationPolicy, preconditions, dryRun). */
export function decodeProtobufDeleteOptions(body: Buffer): Record<string, unknown> {
  if (body.length < 4 || !MAGIC.every((b, i) => body[i] === b))
    throw badRequest('protobuf body: missing the k8s\\0 prefix');
  const envelope = fields(body.subarray(4));
  const f = fields(bytes(envelope, 2) ?? Buffer.alloc(0));
  const pre = bytes(f, 2);
  const preconditions = pre
    ? compact({ uid: str(fields(pre), 1), resourceVersion: str(fields(pre), 2) })
    : undefined;
  return compact({ propagationPolicy: str(f, 4), preconditions, dryRun: strings(f, 5) });
}
