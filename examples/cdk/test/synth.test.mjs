// Runs `cdk synth` on examples/cdk offline (no credentials, no lookups, no version check,
// no telemetry) and checks the CloudFormation it synthesizes: every authorizer invokes
// the imported ARN with the identity source and result TTL docs/deploy.md describes, each
// API holds the AWS::Lambda::Permission to invoke it (scoped to its own authorizer), every
// route is behind it, and cdk-nag's AWS Solutions pack found nothing that is neither
// fixed nor acknowledged with a written reason (an unacknowledged finding fails the synth).
//
// Run by scripts/cdk-test.sh: node --test test/synth.test.mjs
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const APP = dirname(dirname(fileURLToPath(import.meta.url)));
const STACK = 'JwtAuthorizerAttachExample';
const PARAMETER = { Ref: 'AuthorizerFunctionArn' };
const TTL = 300;
// The cdk-nag findings the example acknowledges rather than fixes (each with its reason,
// in lib/attach-stack.ts). A new one must be added here on purpose.
const ACKNOWLEDGED = ['AwsSolutions-APIG3', 'AwsSolutions-APIG4', 'AwsSolutions-APIG6', 'AwsSolutions-COG4'];

let out;
let synth;
let resources;

function ofType(type) {
  return Object.entries(resources).filter(([, r]) => r.Type === type);
}

/** The logical ids a value refers to (Ref and Fn::GetAtt, however deep). */
function refs(value, into = new Set()) {
  if (Array.isArray(value)) value.forEach((v) => refs(v, into));
  else if (value && typeof value === 'object') {
    if (typeof value.Ref === 'string') into.add(value.Ref);
    if (Array.isArray(value['Fn::GetAtt'])) into.add(value['Fn::GetAtt'][0]);
    Object.values(value).forEach((v) => refs(v, into));
  }
  return into;
}

function onlyOne(type, where = () => true) {
  const found = ofType(type).filter(([, r]) => where(r.Properties));
  assert.equal(found.length, 1, `one ${type}, found ${found.map(([id]) => id)}`);
  return found[0];
}

before(() => {
  out = mkdtempSync(join(tmpdir(), 'cdk-synth-'));
  synth = spawnSync(join(APP, 'node_modules/.bin/cdk'), ['synth', '--quiet', '--no-notices', '--output', out], {
    cwd: APP,
    encoding: 'utf8',
    env: {
      ...process.env,
      PATH: `${join(APP, 'node_modules/.bin')}${delimiter}${process.env.PATH}`, // tsc, as under npx
      CDK_DISABLE_VERSION_CHECK: 'true',
      CDK_DISABLE_CLI_TELEMETRY: 'true',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
  });
  if (synth.status === 0) {
    resources = JSON.parse(readFileSync(join(out, `${STACK}.template.json`), 'utf8')).Resources;
  }
});

after(() => rmSync(out, { recursive: true, force: true }));

describe('cdk synth', () => {
  test('succeeds offline: cdk-nag left no finding unfixed or unacknowledged', () => {
    assert.equal(synth.status, 0, `cdk synth failed:\n${synth.stdout}\n${synth.stderr}`);
    const report = JSON.parse(readFileSync(join(out, 'validation-report.json'), 'utf8'));
    const violations = report.pluginReports.flatMap((p) => p.violations ?? []);
    assert.deepEqual(violations, []);
  });

  test('needs no context lookup', () => {
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.equal(manifest.missing, undefined, 'a context lookup would need credentials');
    assert.equal(existsSync(join(APP, 'cdk.context.json')), false);
  });

  test('every acknowledged cdk-nag finding has a written reason', () => {
    const acknowledged = new Map();
    for (const [, r] of Object.entries(resources)) {
      for (const rule of r.Metadata?.cdk_nag?.rules_to_suppress ?? []) {
        assert.ok(rule.reason && rule.reason.length >= 40, `${rule.id}: a reason, not a shrug`);
        acknowledged.set(rule.id, rule.reason);
      }
    }
    assert.deepEqual([...acknowledged.keys()].sort(), ACKNOWLEDGED);
  });
});

describe('the authorizer, imported by ARN', () => {
  test('is a parameter, not a resource of this stack', () => {
    assert.equal(ofType('AWS::Lambda::Function').length, 1, 'only the sample backend');
    const [, backend] = ofType('AWS::Lambda::Function')[0];
    assert.equal(backend.Properties.Handler, 'index.handler');
  });

  test('REST API: a TOKEN authorizer on the Authorization header, cached', () => {
    const [id, authorizer] = onlyOne('AWS::ApiGateway::Authorizer');
    const props = authorizer.Properties;
    assert.equal(props.Type, 'TOKEN');
    assert.equal(props.IdentitySource, 'method.request.header.Authorization');
    // IAM answers carry every route the token grants: a cached one is right for any route.
    assert.equal(props.AuthorizerResultTtlInSeconds, TTL);
    assert.ok(refs(props.AuthorizerUri).has('AuthorizerFunctionArn'));
    const methods = ofType('AWS::ApiGateway::Method').filter(([, m]) => m.Properties.HttpMethod !== 'OPTIONS');
    assert.ok(methods.length > 0);
    for (const [name, method] of methods) {
      assert.equal(method.Properties.AuthorizationType, 'CUSTOM', name);
      assert.deepEqual(method.Properties.AuthorizerId, { Ref: id }, name);
    }
  });

  test('HTTP API: payload 2.0 with IAM answers, cached by the Authorization header', () => {
    const [apiId] = onlyOne('AWS::ApiGatewayV2::Api', (p) => p.ProtocolType === 'HTTP');
    const [id, authorizer] = onlyOne('AWS::ApiGatewayV2::Authorizer', (p) => p.ApiId.Ref === apiId);
    const props = authorizer.Properties;
    assert.equal(props.AuthorizerType, 'REQUEST');
    assert.equal(props.AuthorizerPayloadFormatVersion, '2.0');
    assert.deepEqual(props.IdentitySource, ['$request.header.Authorization']);
    assert.ok(refs(props.AuthorizerUri).has('AuthorizerFunctionArn'));
    // API Gateway caches an HTTP API answer by identity source alone, whatever the route:
    // simple answers only with the cache off (SPEC.md); IAM answers may be cached.
    if (props.EnableSimpleResponses) assert.equal(props.AuthorizerResultTtlInSeconds, 0);
    assert.equal(props.EnableSimpleResponses ?? false, false, 'authorizer.yaml answers HTTP APIs with IAM policies');
    assert.equal(props.AuthorizerResultTtlInSeconds, TTL);
    const routes = ofType('AWS::ApiGatewayV2::Route').filter(([, r]) => r.Properties.ApiId.Ref === apiId);
    assert.ok(routes.length > 0);
    for (const [name, route] of routes) {
      assert.equal(route.Properties.AuthorizationType, 'CUSTOM', name);
      assert.deepEqual(route.Properties.AuthorizerId, { Ref: id }, name);
    }
  });

  test('WebSocket API: $connect behind a REQUEST authorizer reading ?auth=', () => {
    const [apiId] = onlyOne('AWS::ApiGatewayV2::Api', (p) => p.ProtocolType === 'WEBSOCKET');
    const [id, authorizer] = onlyOne('AWS::ApiGatewayV2::Authorizer', (p) => p.ApiId.Ref === apiId);
    const props = authorizer.Properties;
    assert.equal(props.AuthorizerType, 'REQUEST');
    assert.deepEqual(props.IdentitySource, ['route.request.querystring.auth']);
    assert.equal(props.AuthorizerResultTtlInSeconds, undefined, 'WebSocket authorizers have no result cache');
    assert.ok(refs(props.AuthorizerUri).has('AuthorizerFunctionArn'));
    const [, connect] = onlyOne('AWS::ApiGatewayV2::Route', (p) => p.ApiId.Ref === apiId && p.RouteKey === '$connect');
    assert.equal(connect.Properties.AuthorizationType, 'CUSTOM');
    assert.deepEqual(connect.Properties.AuthorizerId, { Ref: id });
  });

  test('each API may invoke it, through its own authorizer only', () => {
    const permissions = ofType('AWS::Lambda::Permission').filter(([, p]) => refs(p.Properties.FunctionName).has('AuthorizerFunctionArn'));
    const authorizers = [...ofType('AWS::ApiGateway::Authorizer'), ...ofType('AWS::ApiGatewayV2::Authorizer')];
    assert.equal(permissions.length, 3);
    assert.equal(authorizers.length, 3);
    for (const [id, authorizer] of authorizers) {
      const api = authorizer.Properties.RestApiId?.Ref ?? authorizer.Properties.ApiId.Ref;
      const matching = permissions.filter(([, p]) => refs(p.Properties.SourceArn).has(id));
      assert.equal(matching.length, 1, `one permission for ${id}`);
      const props = matching[0][1].Properties;
      assert.deepEqual(props.FunctionName, PARAMETER);
      assert.equal(props.Action, 'lambda:InvokeFunction');
      assert.equal(props.Principal, 'apigateway.amazonaws.com');
      // arn:{partition}:execute-api:{region}:{account}:{api}/authorizers/{authorizer}
      const parts = props.SourceArn['Fn::Join'][1];
      const text = parts.map((p) => (typeof p === 'string' ? p : `{${[...refs(p)][0]}}`)).join('');
      assert.equal(text, `arn:{AWS::Partition}:execute-api:{AWS::Region}:{AWS::AccountId}:{${api}}/authorizers/{${id}}`);
    }
  });
});
