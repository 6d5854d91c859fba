// An existing API defined with the AWS CDK, put behind the jwt-authorizer that
// authorizer.yaml deployed: the function is imported by its ARN (a stack parameter, so
// `cdk synth` looks nothing up) and answers a RestApi (TOKEN), an HttpApi (IAM answers,
// payload 2.0) and a WebSocketApi ($connect). See docs/deploy.md#with-the-aws-cdk.
//
// Copy the parts whose comment starts "The authorizer"; ItemsFunction stands for your
// own backend, the log groups and the request validator for what cdk-nag asks of any API.

import {
  CfnParameter,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Validations,
  aws_apigateway as apigw,
  aws_apigatewayv2 as apigwv2,
  aws_apigatewayv2_authorizers as authorizers,
  aws_apigatewayv2_integrations as integrations,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_logs as logs,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';

/** How long API Gateway may reuse an answer for a token on the REST and HTTP APIs. The
 * answers are IAM policies carrying every route the token grants, so a cached one is
 * right for any route (SPEC.md, docs/decisions.md). With revocation on, a sign-out
 * takes effect within REVOCATION_CACHE_SECONDS plus this. */
export const RESULT_TTL = Duration.minutes(5);
export const STAGE = 'prod';

export class AttachStack extends Stack {
  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);

    // The authorizer: by ARN, the AuthorizerFunctionArn output of the authorizer.yaml
    // stack. sameEnvironment lets CDK add the AWS::Lambda::Permission each API needs to
    // invoke a function this stack does not own (without it, an env-agnostic stack
    // skips them with a warning). For a function in another account, add them there.
    const authorizerArn = new CfnParameter(this, 'AuthorizerFunctionArn', {
      type: 'String',
      description: 'ARN of the authorizer Lambda (the AuthorizerFunctionArn output of the authorizer.yaml stack)',
      allowedPattern: '^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:[A-Za-z0-9_-]+(:[A-Za-z0-9_$-]+)?$',
    });
    const authorizer = lambda.Function.fromFunctionAttributes(this, 'Authorizer', {
      functionArn: authorizerArn.valueAsString,
      sameEnvironment: true,
    });

    const items = itemsFunction(this);

    // The authorizer on a REST API: TOKEN, on the Authorization header, the default of
    // every method.
    const tokenAuthorizer = new apigw.TokenAuthorizer(this, 'TokenAuthorizer', {
      handler: authorizer,
      identitySource: apigw.IdentitySource.header('Authorization'),
      resultsCacheTtl: RESULT_TTL,
    });
    const restApi = new apigw.RestApi(this, 'RestApi', {
      description: 'REST API behind the jwt-authorizer (TOKEN)',
      cloudWatchRole: false,
      deployOptions: {
        stageName: STAGE,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogGroup(this, 'RestApiAccessLogs')),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields(),
      },
      defaultMethodOptions: {
        authorizer: tokenAuthorizer,
        authorizationType: apigw.AuthorizationType.CUSTOM,
      },
    });
    const requestValidator = restApi.addRequestValidator('RequestValidator', {
      validateRequestBody: true,
      validateRequestParameters: true,
    });
    const getItem = restApi.root
      .addResource('items')
      .addResource('{itemId}')
      .addMethod('GET', new apigw.LambdaIntegration(items), {
        requestValidator,
        requestParameters: { 'method.request.path.itemId': true },
      });

    // The authorizer on an HTTP API: IAM answers (responseTypes IAM: not simple) and a
    // result cache keyed by the Authorization header. API Gateway caches an HTTP API
    // answer by identity source alone, whatever the route: simple answers could only
    // go with resultsCacheTtl 0 and HTTP_API_CACHE=off on the authorizer, while
    // authorizer.yaml answers IAM policies (HTTP_API_RESPONSE=iam).
    const httpAuthorizer = new authorizers.HttpLambdaAuthorizer('HttpAuthorizer', authorizer, {
      responseTypes: [authorizers.HttpLambdaResponseType.IAM],
      identitySource: ['$request.header.Authorization'],
      resultsCacheTtl: RESULT_TTL,
    });
    const httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'HTTP API behind the jwt-authorizer (IAM answers)',
      defaultAuthorizer: httpAuthorizer,
      createDefaultStage: false,
    });
    httpApi.addRoutes({
      path: '/items/{itemId}',
      methods: [apigwv2.HttpMethod.GET],
      integration: new integrations.HttpLambdaIntegration('HttpItems', items),
    });
    // HttpLambdaAuthorizer asks for payload 1.0 when the answers are IAM only; the
    // authorizer's HTTP API contract is payload 2.0 (SPEC.md: it tells the kinds apart
    // by their shape), which takes IAM answers as well.
    cfnAuthorizerOf(httpApi).authorizerPayloadFormatVersion = '2.0';
    new apigwv2.HttpStage(this, 'HttpStage', {
      httpApi,
      stageName: STAGE,
      autoDeploy: true,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogGroup(this, 'HttpApiAccessLogs')),
        format: apigw.AccessLogFormat.jsonWithStandardFields(),
      },
    });

    // The authorizer on a WebSocket API: REQUEST, on $connect, with the token in ?auth=
    // (browsers can't set headers on a WebSocket). WebSocket authorizers have no result
    // cache.
    const webSocketApi = new apigwv2.WebSocketApi(this, 'WebSocketApi', {
      description: 'WebSocket API whose $connect is behind the jwt-authorizer',
      connectRouteOptions: {
        integration: new integrations.WebSocketLambdaIntegration('ItemsOnConnect', items),
        authorizer: new authorizers.WebSocketLambdaAuthorizer('WebSocketAuthorizer', authorizer, {
          identitySource: ['route.request.querystring.auth'],
        }),
      },
      defaultRouteOptions: {
        integration: new integrations.WebSocketLambdaIntegration('ItemsOnDefault', items),
      },
    });
    new apigwv2.WebSocketStage(this, 'WebSocketStage', {
      webSocketApi,
      stageName: STAGE,
      autoDeploy: true,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogGroup(this, 'WebSocketApiAccessLogs')),
        format: apigw.AccessLogFormat.custom(
          JSON.stringify({
            requestId: apigw.AccessLogField.contextRequestId(),
            ip: apigw.AccessLogField.contextIdentitySourceIp(),
            requestTime: apigw.AccessLogField.contextRequestTime(),
            routeKey: '$context.routeKey',
            status: apigw.AccessLogField.contextStatus(),
            connectionId: '$context.connectionId',
            principalId: apigw.AccessLogField.contextAuthorizerPrincipalId(),
          }),
        ),
      },
    });

    acknowledgeFindings({ restApi, getItem, webSocketApi });
  }
}

/** The stand-in for your API's backend: echoes the authorizer's context. */
function itemsFunction(scope: Construct): lambda.Function {
  const logGroup = new logs.LogGroup(scope, 'ItemsLogs', {
    retention: logs.RetentionDays.ONE_MONTH,
    removalPolicy: RemovalPolicy.DESTROY,
  });
  // Its own role, writing its own log group only (no managed policy).
  const role = new iam.Role(scope, 'ItemsRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: 'Sample backend: its logs only',
  });
  logGroup.grant(role, 'logs:CreateLogStream', 'logs:PutLogEvents');
  return new lambda.Function(scope, 'ItemsFunction', {
    description: 'Sample backend of the attached APIs',
    runtime: lambda.Runtime.NODEJS_26_X,
    architecture: lambda.Architecture.ARM_64,
    handler: 'index.handler',
    role,
    logGroup,
    code: lambda.Code.fromInline(
      'exports.handler = async (event) => ({ statusCode: 200, body: JSON.stringify({ authorizer: event.requestContext?.authorizer ?? null }) });',
    ),
  });
}

function accessLogGroup(scope: Construct, id: string): logs.LogGroup {
  return new logs.LogGroup(scope, id, { retention: logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
}

function cfnAuthorizerOf(api: apigwv2.HttpApi): apigwv2.CfnAuthorizer {
  const found = api.node.findAll().filter((c): c is apigwv2.CfnAuthorizer => c instanceof apigwv2.CfnAuthorizer);
  if (found.length !== 1) {
    throw new Error(`expected one authorizer on ${api.node.path}, found ${found.length}`);
  }
  return found[0];
}

/** cdk-nag (AWS Solutions pack) findings this example does not fix, each acknowledged on
 * the narrowest construct with its reason (written into the template's Metadata too). */
function acknowledgeFindings({
  restApi,
  getItem,
  webSocketApi,
}: {
  restApi: apigw.RestApi;
  getItem: apigw.Method;
  webSocketApi: apigwv2.WebSocketApi;
}): void {
  Validations.of(getItem).acknowledge({
    id: 'AwsSolutions-COG4',
    reason:
      'Every method is behind the jwt-authorizer, a Lambda TOKEN authorizer that verifies Cognito (or Okta, or any OIDC) ' +
      'tokens itself and answers per-route IAM policies: it replaces a Cognito user pool authorizer.',
  });
  Validations.of(restApi.deploymentStage).acknowledge({
    id: 'AwsSolutions-APIG6',
    reason:
      "Execution logging needs the account's API Gateway CloudWatch Logs role, one per account and Region, set " +
      'outside an application stack; the stage has access logs, and the authorizer logs every decision as JSON.',
  });
  Validations.of(restApi.deploymentStage).acknowledge({
    id: 'AwsSolutions-APIG3',
    reason:
      "A WAFv2 web ACL is the API owner's choice of rules and cost, and this example is about the authorizer: " +
      'associate your web ACL with the stage.',
  });
  const defaultRoute = webSocketApi.node.findChild('$default-Route');
  Validations.of(defaultRoute).acknowledge({
    id: 'AwsSolutions-APIG4',
    reason:
      'A WebSocket API authorizes a connection once, on $connect (behind the jwt-authorizer); $default only carries ' +
      'messages of an authorized connection and cannot take an authorizer.',
  });
}
