import { canonicalJson } from '../../../src/kube/canonical.ts';
import { ApiError } from './errors.ts';

type Json = unknown;
type JsonMap = Record<string, Json>;

function isMap(value: Json): value is JsonMap {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function patchFailed(message: string): ApiError {
  return new ApiError(422, 'Invalid', message);
}

/** RFC 7386 JSON merge patch. */
export function applyMergePatch(target: Json, patch: Json): Json {
  if (!isMap(patch)) return structuredClone(patch);
  const result: JsonMap = isMap(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

interface JsonPatchOp {
  op: string;
  path: string;
  value?: Json;
  from?: string;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw patchFailed(`json patch: invalid path "${pointer}": must start with /`);
  return pointer
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function arrayIndex(token: string, length: number, forInsert: boolean, path: string): number {
  if (forInsert && token === '-') return length;
  if (!/^(0|[1-9][0-9]*)$/.test(token))
    throw patchFailed(`json patch: invalid array index "${token}" in ${path}`);
  const index = Number(token);
  if (index > length || (!forInsert && index === length))
    throw patchFailed(`json patch: array index ${index} out of bounds in ${path}`);
  return index;
}

function parentOf(doc: Json, tokens: string[], path: string): Json {
  let current = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(current)) current = current[arrayIndex(token, current.length, false, path)];
    else if (isMap(current) && token in current) current = current[token];
    else throw patchFailed(`json patch: path ${path} does not exist`);
  }
  return current;
}

function getAt(doc: Json, path: string): Json {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return doc;
  const parent = parentOf(doc, tokens, path);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) return parent[arrayIndex(last, parent.length, false, path)];
  if (isMap(parent) && last in parent) return parent[last];
  throw patchFailed(`json patch: path ${path} does not exist`);
}

function addAt(doc: Json, path: string, value: Json): Json {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return value;
  const parent = parentOf(doc, tokens, path);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, true, path), 0, value);
  else if (isMap(parent)) parent[last] = value;
  else throw patchFailed(`json patch: cannot add at ${path}: parent is not an object or array`);
  return doc;
}

function removeAt(doc: Json, path: string): Json {
  const tokens = parsePointer(path);
  if (tokens.length === 0) throw patchFailed('json patch: cannot remove the whole document');
  const parent = parentOf(doc, tokens, path);
  const last = tokens[tokens.length - 1]!;
  if (Array.isArray(parent)) parent.splice(arrayIndex(last, parent.length, false, path), 1);
  else if (isMap(parent) && last in parent) delete parent[last];
  else throw patchFailed(`json patch: path ${path} does not exist`);
  return doc;
}

/** RFC 6902 JSON patch; failures (including a failed `test`) are 422 like a real server. */
export function applyJsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops))
    throw new ApiError(400, 'BadRequest', 'json patch: the body must be a JSON array of operations');
  let doc = structuredClone(target);
  for (const raw of ops) {
    if (!isMap(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string')
      throw new ApiError(400, 'BadRequest', 'json patch: each operation needs "op" and "path" strings');
    const op = raw as unknown as JsonPatchOp;
    switch (op.op) {
      case 'add':
        doc = addAt(doc, op.path, structuredClone(op.value));
        break;
      case 'remove':
        doc = removeAt(doc, op.path);
        break;
      case 'replace':
        getAt(doc, op.path);
        doc =
          op.path === ''
            ? structuredClone(op.value)
            : addAt(removeAt(doc, op.path), op.path, structuredClone(op.value));
        break;
      case 'move': {
        const value = getAt(doc, op.from ?? '');
        doc = addAt(removeAt(doc, op.from ?? ''), op.path, value);
        break;
      }
      case 'copy':
        doc = addAt(doc, op.path, structuredClone(getAt(doc, op.from ?? '')));
        break;
      case 'test':
        if (canonicalJson(getAt(doc, op.path)) !== canonicalJson(op.value))
          throw patchFailed(`json patch: test operation failed at ${op.path}`);
        break;
      default:
        throw new ApiError(400, 'BadRequest', `json patch: unknown operation "${op.op}"`);
    }
  }
  return doc;
}
