type Json = unknown;
type JsonMap = Record<string, Json>;

function isMap(value: Json): value is JsonMap {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * patchMergeKey of the built-in kinds, by field name. Field names are unambiguous across the kinds
 * the sandbox serves, except `ports` (containerPort in pod specs, port in Services).
 */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  conditions: 'type',
  ownerReferences: 'uid',
  hostAliases: 'ip',
  resourceClaims: 'name',
  topologySpreadConstraints: 'topologyKey',
};

/** Lists of scalars with patchStrategy merge. */
const MERGED_SCALAR_LISTS = new Set(['finalizers']);

function mergeKeyFor(field: string, items: Json[]): string | undefined {
  if (field === 'ports')
    return items.some((i) => isMap(i) && 'containerPort' in i) ? 'containerPort' : 'port';
  return MERGE_KEYS[field];
}

function withoutDirectives(item: Json): Json {
  if (!isMap(item)) return structuredClone(item);
  const copy: JsonMap = {};
  for (const [k, v] of Object.entries(item)) if (!k.startsWith('$')) copy[k] = structuredClone(v);
  return copy;
}

function mergeList(original: Json, patch: Json[], field: string): Json[] {
  if (patch.some((i) => isMap(i) && i.$patch === 'replace'))
    return patch.filter((i) => !(isMap(i) && i.$patch === 'replace')).map(withoutDirectives);
  const base = Array.isArray(original) ? structuredClone(original) : [];
  if (MERGED_SCALAR_LISTS.has(field)) {
    for (const value of patch) if (!base.includes(value)) base.push(value);
    return base;
  }
  const key = mergeKeyFor(field, [...base, ...patch]);
  if (!key || !patch.every(isMap)) return patch.map(withoutDirectives);
  for (const item of patch as JsonMap[]) {
    const index = base.findIndex((b) => isMap(b) && b[key] === item[key]);
    if (item.$patch === 'delete') {
      if (index >= 0) base.splice(index, 1);
    } else if (index >= 0) base[index] = applyStrategicMergePatch(base[index], item);
    else base.push(withoutDirectives(item));
  }
  return base;
}

function reorder(list: Json, order: Json[], field: string): Json {
  if (!Array.isArray(list)) return list;
  const key = mergeKeyFor(field, list);
  const identity = (item: Json): Json => (key && isMap(item) ? item[key] : item);
  const wanted = order.map(identity);
  const ordered = wanted.flatMap((id) => list.filter((item) => identity(item) === id));
  const rest = list.filter((item) => !wanted.includes(identity(item)));
  return [...ordered, ...rest];
}

/**
 * Kubernetes strategic merge patch for the built-in kinds: maps merge, lists with a merge key merge
 * item by item, and the directives kubectl sends ($patch, $retainKeys, $setElementOrder/,
 * $deleteFromPrimitiveList/) are honoured. Returns undefined when the patch deletes the value.
 */
export function applyStrategicMergePatch(original: Json, patch: Json): Json {
  if (!isMap(patch)) return structuredClone(patch);
  if (patch.$patch === 'replace') return withoutDirectives(patch);
  if (patch.$patch === 'delete') return undefined;
  const result: JsonMap = isMap(original) ? { ...original } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) continue;
    if (value === null) delete result[key];
    else if (Array.isArray(value)) result[key] = mergeList(result[key], value, key);
    else if (isMap(value)) {
      const merged = applyStrategicMergePatch(result[key], value);
      if (merged === undefined) delete result[key];
      else result[key] = merged;
    } else result[key] = value;
  }
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$deleteFromPrimitiveList/') && Array.isArray(value)) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      const list = result[field];
      if (Array.isArray(list)) result[field] = list.filter((v) => !value.includes(v));
    }
    if (key.startsWith('$setElementOrder/') && Array.isArray(value)) {
      const field = key.slice('$setElementOrder/'.length);
      result[field] = reorder(result[field], value, field);
    }
  }
  const retain = patch.$retainKeys;
  if (Array.isArray(retain))
    for (const key of Object.keys(result)) if (!retain.includes(key)) delete result[key];
  return result;
}
