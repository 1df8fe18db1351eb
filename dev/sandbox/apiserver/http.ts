import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { parse as parseYaml } from 'yaml';
import type { AdminApi } from './admin.ts';
import {
  type DeleteOptions,
  type FieldValidation,
  PATCH_CONTENT_TYPES,
  type ResourceApi,
  type WriteOptions,
  type WriteResult,
} from './api.ts';
import { readBytes } from './body.ts';
import type { TimerSet } from './clock.ts';
import {
  AGGREGATED_CONTENT_TYPE,
  aggregatedDiscovery,
  apiGroupDocument,
  apiGroupList,
  apiVersions,
  openApiV3Document,
  openApiV3Root,
  resourceList,
  SERVER_VERSION,
} from './discovery.ts';
import { ApiError, badRequest, methodNotAllowed, statusBody, unsupportedMediaType } from './errors.ts';
import type { FaultInjector } from './faults.ts';
import { decodeProtobufDeleteOptions, decodeProtobufObject, PROTOBUF_CONTENT_TYPE } from './protobuf.ts';
import type { RequestLog, RequestLogEntry } from './request-log.ts';
import type { ResourceRegistry } from './resources.ts';
import { scaleOf, writeScale } from './scale.ts';
import { parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { toTable } from './table.ts';
import type { KubeObject, ResourceType, Verb } from './types.ts';
import type { WatchHub } from './watch.ts';

export interface HttpContext {
  registry: ResourceRegistry;
  api: ResourceApi;
  watches: WatchHub;
  faults: FaultInjector;
  requestLog: RequestLog;
  admin: AdminApi;
  timers: TimerSet;
  logger: Logger;
  token?: string;
  serverAddress: () => string;
}

interface ResourceRoute {
  group: string;
  version: string;
  namespace?: string;
  plural: string;
  name?: string;
  subresource?: string;
}

type Route =
  | { kind: 'discovery'; group: string; version: string }
  | ({ kind: 'resource' } & ResourceRoute)
  | { kind: 'other' };

function parseRoute(segments: string[]): Route {
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === 'api' && segments.length >= 2) {
    group = '';
    version = segments[1]!;
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 3) {
    group = segments[1]!;
    version = segments[2]!;
    rest = segments.slice(3);
  } else return { kind: 'other' };
  if (rest.length === 0) return { kind: 'discovery', group, version };
  const namespaceSubresource = rest.length === 3 && (rest[2] === 'status' || rest[2] === 'finalize');
  if (rest[0] === 'namespaces' && rest.length >= 3 && !namespaceSubresource) {
    return {
      kind: 'resource',
      group,
      version,
      namespace: rest[1],
      plural: rest[2]!,
      name: rest[3],
      subresource: rest[4],
    };
  }
  return { kind: 'resource', group, version, plural: rest[0]!, name: rest[1], subresource: rest[2] };
}

function notFoundPath(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource', {});
}

/** Marks a request as answered, so handlers can `return send(...)` on every path. */
type Sent = 'sent';

function send(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): Sent {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
  return 'sent';
}

async function readBody(req: IncomingMessage): Promise<string> {
  return (await readBytes(req)).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest(`the request body is not valid JSON: ${(error as Error).message}`);
  }
}

async function readObject(req: IncomingMessage): Promise<unknown> {
  const body = await readBytes(req);
  const text = body.toString('utf8');
  const mediaType = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  switch (mediaType) {
    case PROTOBUF_CONTENT_TYPE:
      return decodeProtobufObject(body);
    case 'application/json':
    case '*/*':
      return parseJson(text);
    case 'application/yaml':
      try {
        return parseYaml(text);
      } catch (error) {
        throw badRequest(`the request body is not valid YAML: ${(error as Error).message}`);
      }
    default:
      throw unsupportedMediaType(mediaType, ['application/json', 'application/yaml']);
  }
}

function fieldValidation(query: URLSearchParams): FieldValidation | undefined {
  const value = query.get('fieldValidation');
  if (value === null || value === '') return undefined;
  if (value === 'Ignore' || value === 'Warn' || value === 'Strict') return value;
  throw badRequest(
    `fieldValidation: unsupported value "${value}": supported values are Ignore, Warn, Strict`,
  );
}

function writeOptions(query: URLSearchParams): WriteOptions {
  const dryRun = query.getAll('dryRun');
  if (dryRun.some((d) => d !== 'All')) throw badRequest('dryRun: the only supported value is "All"');
  return { dryRun: dryRun.length > 0, fieldValidation: fieldValidation(query) };
}

function warningHeaders(warnings: string[]): Record<string, string> {
  return warnings.length ? { Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ') } : {};
}

function wantsTable(req: IncomingMessage): boolean {
  return /as=Table/.test(req.headers.accept ?? '');
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!match) return false;
  const given = Buffer.from(match[1]!.trim());
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function verbFor(method: string, route: ResourceRoute, query: URLSearchParams): Verb {
  const watch = query.get('watch');
  switch (method) {
    case 'GET':
      if (watch === 'true' || watch === '1') return 'watch';
      return route.name ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return route.name ? 'delete' : 'deletecollection';
    default:
      throw methodNotAllowed();
  }
}

/** The request handler: auth, admin endpoint, discovery, then resources with faults and logging. */
export function createHandler(ctx: HttpContext) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let entry: RequestLogEntry | undefined;
    try {
      const url = new URL(req.url ?? '/', 'http://sandbox');
      const method = req.method ?? 'GET';
      const segments = url.pathname
        .split('/')
        .filter((s) => s.length > 0)
        .map(decodeURIComponent);
      if (ctx.token && !tokenMatches(req.headers.authorization, ctx.token)) {
        send(res, 401, statusBody(401, 'Unauthorized', 'Unauthorized'));
        return;
      }
      if (segments[0] === '_sandbox') {
        await ctx.admin.handle(method, segments.slice(1), url.searchParams, req, res);
        return;
      }
      const route = parseRoute(segments);
      if (route.kind === 'resource') {
        const verb = verbFor(method, route, url.searchParams);
        const resource = route.subresource ? `${route.plural}/${route.subresource}` : route.plural;
        entry = ctx.requestLog.record({
          time: ctx.timers.now(),
          verb,
          resource,
          group: route.group,
          namespace: route.namespace,
          name: route.name,
          path: url.pathname,
          userAgent: req.headers['user-agent'],
        });
        const delay = ctx.faults.latencyFor(verb, resource);
        if (delay > 0) await new Promise<void>((resolve) => ctx.timers.after(delay, resolve));
        const fault = ctx.faults.errorFor(verb, resource);
        if (fault) throw fault;
        await handleResource(ctx, req, res, route, verb, url.searchParams);
      } else {
        entry = ctx.requestLog.record({
          time: ctx.timers.now(),
          verb: method.toLowerCase(),
          path: url.pathname,
          userAgent: req.headers['user-agent'],
        });
        handleNonResource(ctx, req, res, route, segments, method);
      }
    } catch (error) {
      const apiError =
        error instanceof ApiError
          ? error
          : new ApiError(500, 'InternalError', `Internal error occurred: ${(error as Error).message}`);
      if (!(error instanceof ApiError))
        ctx.logger.error({ err: error, path: req.url }, 'sandbox request failed');
      if (!res.headersSent) send(res, apiError.code, apiError.toStatus(), apiError.headers);
      else res.end();
      if (apiError.headers.Connection === 'close') res.once('finish', () => req.socket.destroy());
    } finally {
      if (entry) {
        const logged = entry;
        if (res.headersSent) logged.code = res.statusCode;
        else
          res.once('finish', () => {
            logged.code = res.statusCode;
          });
      }
    }
  };
}

function handleNonResource(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: Route,
  segments: string[],
  method: string,
): Sent {
  if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed();
  const path = segments.join('/');
  const aggregated =
    /as=APIGroupDiscoveryList/.test(req.headers.accept ?? '') && /v=v2(;|,|$)/.test(req.headers.accept ?? '');
  if (path === 'version') return send(res, 200, SERVER_VERSION);
  if (path === 'healthz' || path === 'livez' || path === 'readyz') {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end('ok');
    return 'sent';
  }
  if (path === 'api') {
    if (aggregated)
      return send(res, 200, aggregatedDiscovery(ctx.registry, true), {
        'Content-Type': AGGREGATED_CONTENT_TYPE,
      });
    return send(res, 200, apiVersions(ctx.serverAddress()));
  }
  if (path === 'apis') {
    if (aggregated)
      return send(res, 200, aggregatedDiscovery(ctx.registry, false), {
        'Content-Type': AGGREGATED_CONTENT_TYPE,
      });
    return send(res, 200, apiGroupList(ctx.registry));
  }
  if (segments[0] === 'apis' && segments.length === 2) {
    const doc = apiGroupDocument(ctx.registry, segments[1]!);
    if (!doc) throw notFoundPath();
    return send(res, 200, doc);
  }
  if (route.kind === 'discovery') {
    if (!ctx.registry.groups().some((g) => g.group === route.group && g.versions.includes(route.version)))
      throw notFoundPath();
    return send(res, 200, resourceList(ctx.registry, route.group, route.version));
  }
  if (path === 'openapi/v3') return send(res, 200, openApiV3Root(ctx.registry));
  if (segments[0] === 'openapi' && segments[1] === 'v3') {
    const rest = segments.slice(2);
    const [group, version] = rest[0] === 'api' ? ['', rest[1]] : [rest[1] ?? '', rest[2]];
    if (!version || !ctx.registry.groups().some((g) => g.group === group && g.versions.includes(version)))
      throw notFoundPath();
    return send(res, 200, openApiV3Document(ctx.registry, group, version));
  }
  throw notFoundPath();
}

/** DeleteOptions arrive as JSON, as protobuf (typed clients such as helm's), or not at all. */
async function readDeleteBody(req: IncomingMessage): Promise<unknown> {
  const body = await readBytes(req);
  if (body.length === 0) return undefined;
  const mediaType = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim().toLowerCase();
  if (mediaType === PROTOBUF_CONTENT_TYPE) return decodeProtobufDeleteOptions(body);
  const text = body.toString('utf8');
  return text.trim() ? parseJson(text) : undefined;
}

function deleteOptions(query: URLSearchParams, body: unknown): DeleteOptions {
  const fromBody = (body && typeof body === 'object' ? body : {}) as {
    propagationPolicy?: string;
    preconditions?: { uid?: string; resourceVersion?: string };
    dryRun?: string[];
  };
  const policy = query.get('propagationPolicy') ?? fromBody.propagationPolicy;
  if (policy !== undefined && policy !== 'Orphan' && policy !== 'Background' && policy !== 'Foreground')
    throw badRequest(
      `propagationPolicy: unsupported value "${policy}": supported values are Orphan, Background, Foreground`,
    );
  return {
    propagationPolicy: policy,
    preconditions: fromBody.preconditions,
    dryRun: query.getAll('dryRun').length > 0 || (fromBody.dryRun?.length ?? 0) > 0,
  };
}

async function handleResource(
  ctx: HttpContext,
  req: IncomingMessage,
  res: ServerResponse,
  route: ResourceRoute,
  verb: Verb,
  query: URLSearchParams,
): Promise<Sent> {
  const type = ctx.registry.lookup(route.group, route.version, route.plural);
  if (!type) throw notFoundPath();
  if (route.namespace !== undefined && !type.namespaced) throw notFoundPath();
  const namespace = type.namespaced ? route.namespace : undefined;
  if (type.namespaced && namespace === undefined && verb !== 'list' && verb !== 'watch') throw notFoundPath();
  const info = type.versions.find((v) => v.name === route.version)!;
  const sub = route.subresource;
  if (sub !== undefined && !((sub === 'status' && info.hasStatus) || (sub === 'scale' && info.hasScale)))
    throw notFoundPath();
  const { api } = ctx;
  const version = route.version;
  const sendWritten = (result: WriteResult): Sent =>
    send(res, result.status, api.present(type, version, result.object), warningHeaders(result.warnings));

  if (sub === 'scale') {
    const name = route.name!;
    if (verb === 'get') return send(res, 200, scaleOf(api.get(type, namespace, name)));
    const body = await readChange(req, verb);
    return send(res, 200, writeScale(api, type, version, namespace, name, body, writeOptions(query)));
  }

  switch (verb) {
    case 'get': {
      const object = api.present(type, version, api.get(type, namespace, route.name!));
      if (wantsTable(req))
        return send(
          res,
          200,
          toTable(
            type,
            version,
            [object],
            object.metadata.resourceVersion ?? '',
            ctx.timers.now(),
            includeObject(query),
          ),
        );
      return send(res, 200, object);
    }
    case 'list': {
      const labels = parseLabelSelector(query.get('labelSelector') ?? undefined);
      const fields = parseFieldSelector(query.get('fieldSelector') ?? undefined, type.fieldSelectors);
      const { items, resourceVersion } = api.list(type, namespace, labels, fields);
      const presented = items.map((o) => api.present(type, version, o));
      if (wantsTable(req))
        return send(
          res,
          200,
          toTable(type, version, presented, resourceVersion, ctx.timers.now(), includeObject(query)),
        );
      return send(res, 200, {
        kind: type.listKind,
        apiVersion: type.group ? `${type.group}/${version}` : version,
        metadata: { resourceVersion },
        items: presented,
      });
    }
    case 'watch': {
      const labels = parseLabelSelector(query.get('labelSelector') ?? undefined);
      const fields = parseFieldSelector(query.get('fieldSelector') ?? undefined, type.fieldSelectors);
      const rv = query.get('resourceVersion') ?? undefined;
      if (rv && !/^\d+$/.test(rv))
        throw badRequest(`resourceVersion: invalid value "${rv}": must be a decimal number`);
      const timeout = query.get('timeoutSeconds');
      ctx.watches.serve(
        {
          type,
          version,
          namespace,
          labels,
          fields,
          resourceVersion: rv,
          allowBookmarks: query.get('allowWatchBookmarks') === 'true',
          timeoutSeconds: timeout ? Number(timeout) : undefined,
        },
        res,
      );
      return 'sent';
    }
    case 'create': {
      if (route.name) throw methodNotAllowed();
      const body = await readObject(req);
      const result = api.create(type, version, namespace, body, writeOptions(query));
      return sendWritten(result);
    }
    case 'update': {
      const body = await readObject(req);
      const result = api.update(
        type,
        version,
        namespace,
        route.name!,
        body,
        sub === 'status' ? 'status' : undefined,
        writeOptions(query),
      );
      return sendWritten(result);
    }
    case 'patch': {
      const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      const patchType = PATCH_CONTENT_TYPES[mediaType];
      if (!patchType) {
        const accepted = [
          'application/json-patch+json',
          'application/merge-patch+json',
          'application/apply-patch+yaml',
        ];
        if (type.builtin) accepted.push('application/strategic-merge-patch+json');
        throw unsupportedMediaType(mediaType, accepted);
      }
      const patch = parseJson(await readBody(req));
      const result = api.patch(
        type,
        version,
        namespace,
        route.name!,
        patchType,
        patch,
        sub === 'status' ? 'status' : undefined,
        writeOptions(query),
      );
      return sendWritten(result);
    }
    case 'delete': {
      const options = deleteOptions(query, await readDeleteBody(req));
      const result = api.delete(type, namespace, route.name!, options);
      const body =
        result.object.kind === 'Status' ? result.object : api.present(type, version, result.object);
      return send(res, result.status === 202 ? 200 : result.status, body);
    }
    case 'deletecollection': {
      const options = deleteOptions(query, await readDeleteBody(req));
      const labels = parseLabelSelector(query.get('labelSelector') ?? undefined);
      const fields = parseFieldSelector(query.get('fieldSelector') ?? undefined, type.fieldSelectors);
      const { items, resourceVersion } = api.list(type, namespace, labels, fields);
      const deleted: KubeObject[] = [];
      for (const object of items) {
        const result = api.delete(type, object.metadata.namespace, object.metadata.name ?? '', options);
        deleted.push(api.present(type, version, result.object.kind === 'Status' ? object : result.object));
      }
      return send(res, 200, {
        kind: type.listKind,
        apiVersion: type.group ? `${type.group}/${version}` : version,
        metadata: { resourceVersion },
        items: deleted,
      });
    }
  }
}

function includeObject(query: URLSearchParams): 'None' | 'Metadata' | 'Object' {
  const value = query.get('includeObject');
  if (value === 'None' || value === 'Object') return value;
  return 'Metadata';
}

async function readChange(
  req: IncomingMessage,
  verb: Verb,
): Promise<
  | { kind: 'update'; body: unknown }
  | { kind: 'patch'; patchType: 'json' | 'merge' | 'strategic'; patch: unknown }
> {
  if (verb === 'update') return { kind: 'update', body: await readObject(req) };
  if (verb !== 'patch') throw methodNotAllowed();
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const patchType = PATCH_CONTENT_TYPES[mediaType];
  if (!patchType) throw unsupportedMediaType(mediaType, Object.keys(PATCH_CONTENT_TYPES));
  return { kind: 'patch', patchType, patch: parseJson(await readBody(req)) };
}

export type { ResourceType };
