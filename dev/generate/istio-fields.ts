/**
 * Writes src/api/istio-fields.generated.json: the field names Istio knows, at every level of the types
 * Petrel passes through (HTTPRoute parts of a VirtualService, a DestinationRule's trafficPolicy), read
 * from @kubernetes-models/istio's type declarations. A real Istio API server prunes unknown fields
 * silently, and the package's validators ignore them, so lint needs the names to catch a typo such as
 * `uri: {prefx: /api}`. Run with `npx tsx dev/generate/istio-fields.ts` after upgrading the package;
 * test/api-istio.test.ts fails while the file names another version.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ts from 'typescript';

/** A key tree: each known field maps to its own tree; `*` stands for any key of a map. */
export type FieldTree = { [field: string]: FieldTree };

const require = createRequire(import.meta.url);
const root = dirname(require.resolve('@kubernetes-models/istio/package.json'));
const files = {
  VirtualService: join(root, 'networking.istio.io/v1/VirtualService.d.ts'),
  DestinationRule: join(root, 'networking.istio.io/v1/DestinationRule.d.ts'),
};

const program = ts.createProgram(Object.values(files), { strict: true, noEmit: true, skipLibCheck: true });
const checker = program.getTypeChecker();

function interfaceType(file: string, name: string): ts.Type {
  const source = program.getSourceFile(file);
  if (!source) throw new Error(`cannot read ${file}`);
  for (const statement of source.statements) {
    if (ts.isInterfaceDeclaration(statement) && statement.name.text === name)
      return checker.getTypeAtLocation(statement.name);
  }
  throw new Error(`${name} not found in ${file}`);
}

function propertyType(type: ts.Type, name: string): ts.Type {
  const symbol = checker.getPropertyOfType(type, name);
  if (!symbol) throw new Error(`no property ${name}`);
  return checker.getNonNullableType(checker.getTypeOfSymbol(symbol));
}

function elementType(type: ts.Type): ts.Type {
  const element = checker.getIndexTypeOfType(type, ts.IndexKind.Number);
  if (!element) throw new Error('not an array');
  return element;
}

function isPlainObject(type: ts.Type): boolean {
  if (type.isUnion()) return type.types.some(isPlainObject);
  if (checker.isArrayType(type)) return false;
  return (type.flags & ts.TypeFlags.Object) !== 0 || type.isIntersection();
}

function tree(type: ts.Type, depth: number): FieldTree {
  const out: FieldTree = {};
  if (depth > 12) return out;
  let target = checker.getNonNullableType(type);
  while (checker.isArrayType(target)) target = checker.getNonNullableType(elementType(target));
  if (!isPlainObject(target)) return out;
  for (const symbol of checker.getPropertiesOfType(target)) {
    const child = checker.getNonNullableType(checker.getTypeOfSymbol(symbol));
    out[symbol.name] = tree(child, depth + 1);
  }
  const index = checker.getIndexTypeOfType(target, ts.IndexKind.String);
  if (index) out['*'] = tree(index, depth + 1);
  return out;
}

const vsSpec = propertyType(interfaceType(files.VirtualService, 'IVirtualService'), 'spec');
const httpRoute = elementType(propertyType(vsSpec, 'http'));
const drSpec = propertyType(interfaceType(files.DestinationRule, 'IDestinationRule'), 'spec');

const fields = {
  httpRoute: tree(httpRoute, 0),
  trafficPolicy: tree(propertyType(drSpec, 'trafficPolicy'), 0),
};
const version = (require('@kubernetes-models/istio/package.json') as { version: string }).version;
const out = join(import.meta.dirname, '../../src/api/istio-fields.generated.json');
writeFileSync(
  out,
  `${JSON.stringify({ source: `@kubernetes-models/istio ${version}`, ...fields }, null, 1)}\n`,
);
console.log(`wrote ${out}`);
