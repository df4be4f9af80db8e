// Validate real HTTP responses against docs/openapi.yaml.
//
// assertMatchesSpec(method, pathTemplate, status, response, body) finds the
// documented response for that operation and status, checks the media type
// (application/json vs application/problem+json vs text/plain) and validates
// the body with Ajv's JSON Schema 2020-12 validator, which is the schema
// dialect of OpenAPI 3.1. An undocumented operation or status is a failure:
// the spec must say what the server really answers.
//
// checkedClient(api) wraps a tests/api/lib/fixture.mjs client so that every
// response it gets is validated the same way (the path template is found from
// the request path); checkedSchool(s) wraps every user of a createSchool()
// result. Each validated (method, path template, status) is appended to
// VALIDATED_LOG (one file per test process under os.tmpdir()), so which
// operations were checked against real responses can be listed after a run.
import { appendFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { ROOT } from './server.mjs';

export const SPEC_PATH = path.join(ROOT, 'docs', 'openapi.yaml');
/** Where this process records each validated "METHOD /path/template STATUS" line. */
export const VALIDATED_LOG = path.join(os.tmpdir(), `dnevnik-openapi-validated-${process.pid}.txt`);

let cache = null;

// Component schema $refs point into the OpenAPI document; each compiled
// schema carries all component schemas as $defs so those refs resolve.
function rewriteRefs(node) {
  if (Array.isArray(node)) return node.map(rewriteRefs);
  if (node === null || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')) {
      out[k] = `#/$defs/${v.slice('#/components/schemas/'.length)}`;
    } else {
      out[k] = rewriteRefs(v);
    }
  }
  return out;
}

function load() {
  if (cache) return cache;
  const spec = parse(readFileSync(SPEC_PATH, 'utf8'));
  const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
  addFormats(ajv);
  // OpenAPI's own annotation keywords that may appear inside schemas.
  ajv.addVocabulary(['example', 'discriminator', 'xml', 'externalDocs']);
  const defs = rewriteRefs(spec.components?.schemas ?? {});
  cache = { spec, ajv, defs, compiled: new Map() };
  return cache;
}

function deref(spec, obj) {
  let seen = 0;
  while (obj && typeof obj.$ref === 'string') {
    assert.ok(obj.$ref.startsWith('#/'), `only local $refs are supported: ${obj.$ref}`);
    obj = obj.$ref
      .slice(2)
      .split('/')
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((o, k) => (o == null ? undefined : o[k]), spec);
    assert.ok(++seen < 20, 'reference cycle in the spec');
  }
  return obj;
}

/** The documented response object (dereferenced) for an operation and status. */
export function documentedResponse(method, pathTemplate, status) {
  const { spec } = load();
  const item = spec.paths?.[pathTemplate];
  assert.ok(item, `docs/openapi.yaml does not document the path ${pathTemplate}`);
  const op = item[method.toLowerCase()];
  assert.ok(op, `docs/openapi.yaml does not document ${method.toUpperCase()} ${pathTemplate}`);
  const responses = op.responses ?? {};
  const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => k in responses);
  assert.ok(
    key,
    `docs/openapi.yaml does not document status ${status} for ${method.toUpperCase()} ${pathTemplate} ` +
      `(documented: ${Object.keys(responses).join(', ')})`,
  );
  return deref(spec, responses[key]);
}

function mediaTypeOf(response) {
  const h = response?.headers ?? {};
  const ct = typeof h.get === 'function' ? h.get('content-type') : h['content-type'];
  return ct ? String(ct).split(';')[0].trim().toLowerCase() : null;
}

/**
 * Assert that a real response matches the spec.
 *   method, pathTemplate: as documented, e.g. 'GET', '/api/v1/classes/{class_id}'
 *   status: the status the test expects (must equal response.status)
 *   response: {status, headers} from tests/api/lib/server.mjs request() or fetch()
 *   body: the parsed JSON body (or the text for non-JSON media types);
 *         defaults to response.json() / response.text
 */
export function assertMatchesSpec(method, pathTemplate, status, response, body) {
  const { spec, ajv, defs, compiled } = load();
  assert.equal(response.status, status, `${method} ${pathTemplate}: expected status ${status}, got ${response.status}`);
  const doc = documentedResponse(method, pathTemplate, status);
  const content = doc.content;
  const label = `${method.toUpperCase()} ${pathTemplate} ${status}`;
  if (!content || Object.keys(content).length === 0) {
    const text = typeof response.text === 'string' ? response.text : '';
    assert.equal(body === undefined ? text : body ?? '', '', `${label}: documented without a body, but got one`);
    record(label);
    return;
  }
  const mt = mediaTypeOf(response);
  assert.ok(mt, `${label}: the response has no content-type`);
  assert.ok(mt in content, `${label}: content-type ${mt} is not documented (documented: ${Object.keys(content).join(', ')})`);
  const schema = deref(spec, content[mt].schema);
  if (!schema) {
    record(label);
    return;
  }
  if (body === undefined) {
    body = mt.endsWith('json') ? response.json() : response.text;
  }
  const cacheKey = `${label} ${mt}`;
  let validate = compiled.get(cacheKey);
  if (!validate) {
    validate = ajv.compile({ ...rewriteRefs(schema), $defs: defs });
    compiled.set(cacheKey, validate);
  }
  if (!validate(body)) {
    const why = validate.errors.map((e) => `  ${e.instancePath || '(root)'} ${e.message} ${JSON.stringify(e.params)}`);
    assert.fail(`${label}: the body does not match docs/openapi.yaml:\n${why.join('\n')}\nbody: ${JSON.stringify(body).slice(0, 2000)}`);
  }
  record(label);
}

function record(label) {
  try {
    appendFileSync(VALIDATED_LOG, `${label}\n`);
  } catch {
    // the record is a report aid; a full or read-only tmpdir must not fail a test
  }
}

/**
 * The documented path template a concrete request path belongs to, e.g.
 * '/api/v1/classes/7/journal?subject_id=1' -> '/api/v1/classes/{class_id}/journal'.
 * A literal segment wins over a parameter (/api/v1/me/lessons is not /api/v1/me).
 */
export function templateFor(method, requestPath) {
  const { spec } = load();
  const segs = requestPath.split('?')[0].split('/');
  let best = null;
  let bestParams = Infinity;
  for (const [tpl, item] of Object.entries(spec.paths ?? {})) {
    if (!item[method.toLowerCase()]) continue;
    const t = tpl.split('/');
    if (t.length !== segs.length) continue;
    let params = 0;
    const match = t.every((seg, i) => {
      if (/^\{[^}]+\}$/.test(seg)) return ++params && segs[i] !== '';
      return seg === segs[i];
    });
    if (match && params < bestParams) [best, bestParams] = [tpl, params];
  }
  assert.ok(best, `docs/openapi.yaml documents no ${method.toUpperCase()} operation for ${requestPath}`);
  return best;
}

/** A fixture client (get/post/put/patch/del/raw) whose every response must match the spec. */
export function checkedClient(api) {
  if (api.specChecked) return api;
  const check = async (method, p, promise) => {
    const res = await promise;
    assertMatchesSpec(method, templateFor(method, p), res.status, res);
    return res;
  };
  return {
    ...api,
    specChecked: true,
    get: (p, headers) => check('GET', p, api.get(p, headers)),
    post: (p, body, headers) => check('POST', p, api.post(p, body, headers)),
    put: (p, body, headers) => check('PUT', p, api.put(p, body, headers)),
    patch: (p, body, headers) => check('PATCH', p, api.patch(p, body, headers)),
    del: (p, headers) => check('DELETE', p, api.del(p, headers)),
    raw: (method, p, body, headers) => check(method, p, api.raw(method, p, body, headers)),
  };
}

/** Wrap the api of every user of a createSchool() result with checkedClient (in place); returns s. */
export function checkedSchool(s) {
  for (const u of [s.sysadmin, s.admin, ...(s.teachers ?? []), ...(s.students ?? []), ...(s.parents ?? [])]) {
    if (u?.api) u.api = checkedClient(u.api);
  }
  return s;
}
