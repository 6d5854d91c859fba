"""Checks examples/sam/template.yaml, the snippet docs/deploy.md tells you to copy to put
an existing SAM API behind the authorizer-only stack's function, by ARN.

After the SAM transform (what CloudFormation will create): every route is behind the
authorizer, each authorizer invokes the ARN given as a parameter with the identity source
and result TTL docs/deploy.md describes (the HTTP API with IAM answers, SPEC.md), and each
API holds an AWS::Lambda::Permission to invoke that function, scoped to its own
authorizers. scripts/test.sh also runs cfn-lint and sam validate --lint on it.

Run by scripts/test.sh with the project's .venv: python -m unittest tests/attach_sam_test.py
"""
import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_checks import ROOT, sam_translate  # noqa: E402
from cfnlint.decode import cfn_yaml  # noqa: E402

TEMPLATE = cfn_yaml.load(str(ROOT / "examples/sam/template.yaml"))
ARN = "arn:aws:lambda:us-east-1:123456789012:function:jwt-authorizer-AuthorizerFunction-AbC123"
# SAM resolves parameters inside AWS::Serverless::Api's authorizers when it knows their
# values (as `sam deploy` does), and keeps a Ref elsewhere: both mean the parameter.
PARAMETERS = {"AuthorizerFunctionArn": ARN, "AuthorizerResultTtl": 300}
RESOURCES = sam_translate(TEMPLATE, PARAMETERS)["Resources"]
THE_ARN = (ARN, {"Ref": "AuthorizerFunctionArn"})


def uri_function(uri):
    """The function ARN inside an authorizer URI (`Fn::Sub` with or without variables)."""
    sub = uri["Fn::Sub"]
    if isinstance(sub, list):
        text, variables = sub
        assert text.endswith("/functions/${__FunctionArn__}/invocations"), text
        return variables["__FunctionArn__"]
    assert sub.endswith("/functions/${AuthorizerFunctionArn}/invocations"), sub
    return {"Ref": "AuthorizerFunctionArn"}


def permissions_for_the_authorizer():
    return [r["Properties"] for r in RESOURCES.values()
            if r["Type"] == "AWS::Lambda::Permission" and r["Properties"]["FunctionName"] in THE_ARN]


def api_of(source_arn):
    text = json.dumps(source_arn)
    apis = [api for api in ("RestApi", "HttpApi", "WebSocketApi") if f'"Ref": "{api}"' in text or f"${{{api}}}" in text]
    assert len(apis) == 1, text
    return apis[0]


class Parameters(unittest.TestCase):
    def test_the_authorizer_comes_by_arn_and_nothing_of_it_is_created_here(self):
        param = TEMPLATE["Parameters"]["AuthorizerFunctionArn"]
        self.assertEqual(param["Type"], "String")
        self.assertNotIn("Default", param)
        self.assertRegex(ARN, param["AllowedPattern"])
        self.assertNotRegex("arn:aws:lambda:us-east-1:123456789012:layer:x", param["AllowedPattern"])
        functions = [n for n, r in TEMPLATE["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
        self.assertEqual(functions, ["ItemsFunction"], "the authorizer lives in its own stack")


class RestApi(unittest.TestCase):
    def body(self):
        return RESOURCES["RestApi"]["Properties"]["Body"]

    def test_token_and_request_authorizers_invoke_the_arn_with_a_result_cache(self):
        schemes = self.body()["securityDefinitions"]
        self.assertEqual(set(schemes), {"TokenAuthorizer", "RequestAuthorizer"})
        token = schemes["TokenAuthorizer"]["x-amazon-apigateway-authorizer"]
        self.assertEqual((token["type"], schemes["TokenAuthorizer"]["name"]), ("token", "Authorization"))
        request = schemes["RequestAuthorizer"]["x-amazon-apigateway-authorizer"]
        self.assertEqual((request["type"], request["identitySource"]), ("request", "method.request.header.Authorization"))
        for authorizer in (token, request):
            self.assertIn(uri_function(authorizer["authorizerUri"]), THE_ARN)
            # IAM answers carry every granted route: a cached one is right for any route.
            self.assertEqual(authorizer["authorizerResultTtlInSeconds"], 300)

    def test_every_route_is_behind_an_authorizer(self):
        routes = {(path, method): op.get("security") for path, ops in self.body()["paths"].items() for method, op in ops.items()}
        self.assertEqual(routes, {("/items/{itemId}", "get"): [{"TokenAuthorizer": []}],
                                  ("/reports/{reportId}", "get"): [{"RequestAuthorizer": []}]})


class HttpApi(unittest.TestCase):
    def test_iam_answers_with_a_result_cache_keyed_by_the_authorization_header(self):
        body = RESOURCES["HttpApi"]["Properties"]["Body"]
        scheme = body["components"]["securitySchemes"]["JwtAuthorizer"]["x-amazon-apigateway-authorizer"]
        self.assertEqual(scheme["type"], "request")
        self.assertEqual(scheme["authorizerPayloadFormatVersion"], "2.0")
        self.assertEqual(scheme["identitySource"], ["$request.header.Authorization"])
        self.assertIn(uri_function(scheme["authorizerUri"]), THE_ARN)
        # API Gateway caches an HTTP API answer by identity source alone: a simple answer
        # may be cached only with a TTL of 0 (SPEC.md, docs/decisions.md).
        simple = scheme.get("enableSimpleResponses", False)
        self.assertFalse(simple, "authorizer.yaml answers HTTP APIs with IAM policies")
        self.assertEqual(scheme["authorizerResultTtlInSeconds"], {"Ref": "AuthorizerResultTtl"})
        routes = [(p, m, op["security"]) for p, ops in body["paths"].items() for m, op in ops.items()]
        self.assertEqual(routes, [("/items/{itemId}", "get", [{"JwtAuthorizer": []}])])


class WebSocketApi(unittest.TestCase):
    def test_connect_uses_the_arn_with_the_auth_query_parameter(self):
        authorizer = RESOURCES["WebSocketAuthorizer"]["Properties"]
        self.assertEqual(authorizer["AuthorizerType"], "REQUEST")
        self.assertEqual(authorizer["IdentitySource"], ["route.request.querystring.auth"])
        self.assertNotIn("AuthorizerResultTtlInSeconds", authorizer, "WebSocket authorizers have no result cache")
        self.assertEqual(uri_function(authorizer["AuthorizerUri"]), {"Ref": "AuthorizerFunctionArn"})
        routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::ApiGatewayV2::Route"}
        self.assertEqual(routes["$connect"]["AuthorizationType"], "CUSTOM")
        self.assertEqual(routes["$connect"]["AuthorizerId"], {"Ref": "WebSocketAuthorizer"})


class InvokePermissions(unittest.TestCase):
    def test_each_api_may_invoke_the_authorizer_through_its_authorizers_only(self):
        apis = []
        for permission in permissions_for_the_authorizer():
            self.assertEqual(permission["Action"], "lambda:InvokeFunction")
            self.assertEqual(permission["Principal"], "apigateway.amazonaws.com")
            self.assertIn("/authorizers/", json.dumps(permission["SourceArn"]))
            apis.append(api_of(permission["SourceArn"]))
        # SAM adds one per REST authorizer and one for the HTTP API; the WebSocket one is
        # written out in the template (nothing generates it).
        self.assertEqual(sorted(apis), ["HttpApi", "RestApi", "RestApi", "WebSocketApi"])
        websocket = RESOURCES["WebSocketAuthorizerPermission"]["Properties"]
        self.assertEqual(websocket["FunctionName"], {"Ref": "AuthorizerFunctionArn"})
        self.assertIn("/authorizers/${WebSocketAuthorizer}", websocket["SourceArn"]["Fn::Sub"])


if __name__ == "__main__":
    unittest.main()
