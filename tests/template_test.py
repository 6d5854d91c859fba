"""Checks template.yaml (the demo stack) against the code, so the deployment cannot drift from it.

The key tier's checks (least privilege, the keys table's policy, logs, dashboard…) are
shared with authorizer.yaml in tests/stack_checks.py; this file runs them on template.yaml
and adds what only the demo has: the three APIs and the hello function.

Run by scripts/test.sh with the project's .venv: python -m unittest tests/template_test.py
"""
import json
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stack_checks  # noqa: E402
from stack_checks import ROOT, Stack  # noqa: E402

STACK = Stack(
    "template.yaml",
    functions={"AuthorizerFunction": "AuthorizerRole", "RefresherFunction": "RefresherRole", "HelloFunction": "HelloRole"},
    log_groups={"AuthorizerLogGroup", "RefresherLogGroup", "HelloLogGroup"},
    iam={"AuthorizerRole", "RefresherRole", "HelloRole", "AuthorizerTableAccess", "RefresherTableAccess"},
    outputs={"RestApiUrl", "DpopApiUrl", "WebSocketUrl", "HttpApiUrl", "KeysTableName", "DashboardName"},
    parameters={"AuthorizerResultTtl", "StageName"},
    invoked_by_api={"AuthorizerFunction", "HelloFunction"},
)
TEMPLATE = STACK.template
RESOURCES = STACK.resources


def translated():
    return STACK.translated


class TemplateMatchesTheCode(stack_checks.TemplateMatchesTheCode, unittest.TestCase):
    stack = STACK

    def test_the_demo_runs_the_three_binaries(self):
        self.assertEqual({f["Metadata"]["BuildProperties"]["Binary"] for f in STACK.functions().values()},
                         {"authorizer", "refresher", "hello"})

    def test_sample_events_exist_for_every_kind_and_the_schedule(self):
        for name in ["rest-token", "rest-request", "websocket-connect", "http-api", "refresher-schedule",
                     "rest-request-dpop", "http-api-dpop", "rest-request-mtls"]:
            json.loads((ROOT / "events" / f"{name}.json").read_text())


class RevocationAndRules(stack_checks.RevocationAndRules, unittest.TestCase):
    stack = STACK


class LeastPrivilege(stack_checks.LeastPrivilege, unittest.TestCase):
    stack = STACK

    def test_after_the_transform_only_the_three_apis_invoke_authorizer_and_hello_and_only_the_schedule_the_refresher(self):
        resources = translated()["Resources"]
        by_function = {}
        for name, permission in ((n, r["Properties"]) for n, r in resources.items() if r["Type"] == "AWS::Lambda::Permission"):
            function = permission["FunctionName"].get("Ref") or permission["FunctionName"]["Fn::GetAtt"][0]
            self.assertEqual(permission["Action"], "lambda:InvokeFunction", name)
            self.assertIn("SourceArn", permission, name)
            by_function.setdefault(function, []).append(permission)
        self.assertEqual(set(by_function), {"AuthorizerFunction", "HelloFunction", "RefresherFunction"})

        def api_of(source_arn):
            text = json.dumps(source_arn)
            apis = [api for api in ("RestApi", "DpopApi", "WebSocketApi", "HttpApi") if re.search(rf'\b{api}\b', text)]
            self.assertEqual(len(apis), 1, text)
            return apis[0], text

        authorizer_apis = []
        for permission in by_function["AuthorizerFunction"]:
            self.assertEqual(permission["Principal"], "apigateway.amazonaws.com")
            api, text = api_of(permission["SourceArn"])
            self.assertIn("/authorizers/", text)
            authorizer_apis.append(api)
        self.assertEqual(sorted(authorizer_apis), ["DpopApi", "HttpApi", "RestApi", "WebSocketApi"])
        for permission in by_function["HelloFunction"]:
            self.assertEqual(permission["Principal"], "apigateway.amazonaws.com")
            api_of(permission["SourceArn"])
        [schedule] = by_function["RefresherFunction"]
        self.assertEqual(schedule["Principal"], "events.amazonaws.com")
        rule = schedule["SourceArn"]["Fn::GetAtt"][0]
        self.assertEqual(resources[rule]["Properties"]["ScheduleExpression"], "rate(14 days)")


class KeysTableResourcePolicy(stack_checks.KeysTableResourcePolicy, unittest.TestCase):
    stack = STACK


class Logs(stack_checks.Logs, unittest.TestCase):
    stack = STACK


class Dashboard(stack_checks.Dashboard, unittest.TestCase):
    stack = STACK


class HttpApi(stack_checks.HttpApiAnswers, unittest.TestCase):
    stack = STACK

    def authorizer(self):
        auth = RESOURCES["HttpApi"]["Properties"]["Auth"]
        self.assertEqual(auth["DefaultAuthorizer"], "JwtAuthorizer")
        return auth["Authorizers"]["JwtAuthorizer"]

    def test_uses_the_same_authorizer_function_with_payload_2_and_the_authorization_header(self):
        self.assertEqual(RESOURCES["HttpApi"]["Type"], "AWS::Serverless::HttpApi")
        authorizer = self.authorizer()
        self.assertEqual(authorizer["FunctionArn"], {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]})
        self.assertEqual(authorizer["AuthorizerPayloadFormatVersion"], "2.0")
        self.assertEqual(authorizer["Identity"]["Headers"], ["Authorization"])
        self.assertIs(authorizer["EnableFunctionDefaultPermissions"], True)

    def test_a_cached_answer_cannot_be_applied_to_another_route(self):
        # API Gateway caches an HTTP API answer by identity source alone. Safe: IAM answers
        # (which carry every granted resource) or simple answers with the cache off.
        authorizer = self.authorizer()
        simple = authorizer.get("EnableSimpleResponses", False)
        variables = RESOURCES["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
        # Unset is `auto`, whose format follows the rules: the template must say which.
        answer = variables.get("HTTP_API_RESPONSE", "auto")
        self.assertEqual(answer, "simple" if simple else "iam", "the function must answer in the format the API expects")
        if simple:
            self.assertEqual(authorizer["Identity"].get("ReauthorizeEvery"), 0)
            self.assertEqual(variables.get("HTTP_API_CACHE"), "off", "simple answers with per-user grants need it")
        else:
            self.assertEqual(authorizer["Identity"]["ReauthorizeEvery"], {"Ref": "AuthorizerResultTtl"})

    def test_get_hello_is_its_only_route_and_it_is_behind_the_authorizer(self):
        events = {n: e for n, e in RESOURCES["HelloFunction"]["Properties"]["Events"].items() if e["Type"] == "HttpApi"}
        self.assertEqual(list(events), ["HttpHello"])
        props = events["HttpHello"]["Properties"]
        self.assertEqual((props["ApiId"], props["Path"], props["Method"]), ({"Ref": "HttpApi"}, "/hello/{userId}", "GET"))
        self.assertNotIn("Auth", props)
        self.assertEqual(props.get("PayloadFormatVersion", "2.0"), "2.0")

    def test_after_the_transform_every_route_requires_the_lambda_authorizer(self):
        body = translated()["Resources"]["HttpApi"]["Properties"]["Body"]
        routes = [(path, method, op) for path, ops in body["paths"].items() for method, op in ops.items()]
        self.assertEqual([(p, m) for p, m, _ in routes], [("/hello/{userId}", "get")])
        for _, _, op in routes:
            self.assertEqual(op["security"], [{"JwtAuthorizer": []}])
        scheme = body["components"]["securitySchemes"]["JwtAuthorizer"]["x-amazon-apigateway-authorizer"]
        self.assertEqual(scheme["type"], "request")
        self.assertEqual(scheme["authorizerPayloadFormatVersion"], "2.0")
        self.assertEqual(scheme["identitySource"], ["$request.header.Authorization"])
        self.assertFalse(scheme.get("enableSimpleResponses", False))
        self.assertEqual(scheme["authorizerResultTtlInSeconds"], {"Ref": "AuthorizerResultTtl"})
        self.assertIn("AuthorizerFunction", json.dumps(scheme["authorizerUri"]))


class RestAndWebSocket(unittest.TestCase):
    def test_rest_api_uses_the_authorizer_by_default_with_an_open_health_route(self):
        auth = RESOURCES["RestApi"]["Properties"]["Auth"]
        self.assertEqual(auth["DefaultAuthorizer"], "JwtAuthorizer")
        authorizer = auth["Authorizers"]["JwtAuthorizer"]
        self.assertEqual(authorizer["FunctionArn"], {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]})
        self.assertEqual(authorizer["FunctionPayloadType"], "TOKEN")
        self.assertEqual(authorizer["Identity"]["Header"], "Authorization")
        self.assertEqual(authorizer["Identity"]["ReauthorizeEvery"], {"Ref": "AuthorizerResultTtl"})
        events = RESOURCES["HelloFunction"]["Properties"]["Events"]
        self.assertEqual((events["Hello"]["Properties"]["Path"], events["Hello"]["Properties"]["Method"]), ("/hello/{userId}", "GET"))
        self.assertEqual(events["Health"]["Properties"]["Auth"], {"Authorizer": "NONE"})

    def test_websocket_connect_uses_the_same_authorizer_with_the_auth_query_parameter(self):
        authorizer = RESOURCES["WebSocketAuthorizer"]["Properties"]
        self.assertEqual(authorizer["AuthorizerType"], "REQUEST")
        self.assertEqual(authorizer["IdentitySource"], ["route.request.querystring.auth"])
        self.assertIn("AuthorizerFunction.Arn", json.dumps(authorizer["AuthorizerUri"]))
        routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in RESOURCES.values()
                  if r["Type"] == "AWS::ApiGatewayV2::Route" and r["Properties"]["ApiId"] == {"Ref": "WebSocketApi"}}
        self.assertEqual(set(routes), {"$connect", "$default", "$disconnect"})
        self.assertEqual(routes["$connect"]["AuthorizationType"], "CUSTOM")


class DpopRoute(unittest.TestCase):
    """The DPoP route (docs/dpop.md): a REQUEST authorizer that sees the DPoP header, no
    result cache (every proof is new), and a 401 naming the DPoP scheme and algorithms."""

    def authorizer(self):
        auth = RESOURCES["DpopApi"]["Properties"]["Auth"]
        self.assertEqual(auth["DefaultAuthorizer"], "DpopAuthorizer")
        return auth["Authorizers"]["DpopAuthorizer"]

    def test_a_request_authorizer_with_the_dpop_header_and_the_cache_off(self):
        authorizer = self.authorizer()
        self.assertEqual(authorizer["FunctionArn"], {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]})
        self.assertEqual(authorizer["FunctionPayloadType"], "REQUEST")
        self.assertEqual(authorizer["Identity"]["Headers"], ["Authorization", "DPoP"])
        self.assertEqual(authorizer["Identity"]["ReauthorizeEvery"], 0)

    def test_after_the_transform_the_route_is_behind_it_with_no_result_cache(self):
        resources = translated()["Resources"]
        body = resources["DpopApi"]["Properties"]["Body"]
        self.assertEqual(list(body["paths"]), ["/hello/{userId}"])
        self.assertEqual(body["paths"]["/hello/{userId}"]["get"]["security"], [{"DpopAuthorizer": []}])
        scheme = body["securityDefinitions"]["DpopAuthorizer"]["x-amazon-apigateway-authorizer"]
        self.assertEqual(scheme["type"], "request")
        self.assertEqual(scheme["authorizerResultTtlInSeconds"], 0)
        self.assertEqual(scheme["identitySource"], "method.request.header.Authorization, method.request.header.DPoP")
        events = RESOURCES["HelloFunction"]["Properties"]["Events"]
        self.assertEqual(events["DpopHello"]["Properties"]["RestApiId"], {"Ref": "DpopApi"})

    def test_the_401_names_the_dpop_scheme_and_algorithms_when_dpop_is_not_off(self):
        responses = translated()["Resources"]["DpopApi"]["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
        header = responses["UNAUTHORIZED"]["responseParameters"]["gatewayresponse.header.WWW-Authenticate"]
        condition, dpop, bearer = header["Fn::If"]
        self.assertEqual(condition, "DpopOn")
        self.assertEqual(bearer, "'Bearer'")
        self.assertEqual(dpop["Fn::Sub"][0], "'DPoP algs=\"${Algs}\"'")
        self.assertIn("ES256,EdDSA,RS256,PS256", json.dumps(dpop))
        self.assertEqual(TEMPLATE["Conditions"]["DpopOn"], {"Fn::Not": [{"Fn::Equals": [{"Ref": "Dpop"}, "off"]}]})

    def test_the_dpop_parameters_reach_the_authorizer(self):
        variables = RESOURCES["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
        for variable, parameter in [("DPOP", "Dpop"), ("DPOP_ALGORITHMS", "DpopAlgorithms"),
                                    ("DPOP_MAX_AGE_SECONDS", "DpopMaxAgeSeconds"), ("DPOP_REPLAY", "DpopReplay"),
                                    ("DPOP_REPLAY_ON_ERROR", "DpopReplayOnError"), ("DPOP_ORIGINS", "DpopOrigins")]:
            self.assertEqual(variables[variable], {"Ref": parameter}, variable)
        self.assertEqual(TEMPLATE["Parameters"]["Dpop"]["Default"], "off")
        self.assertEqual(TEMPLATE["Parameters"]["Dpop"]["AllowedValues"], ["off", "on", "required"])


if __name__ == "__main__":
    unittest.main()
