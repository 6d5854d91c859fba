"""Checks template.yaml against the code, so the deployment cannot drift from it.

Run by scripts/test.sh with the project's .venv (cfn-lint provides the CloudFormation
YAML loader that understands !Ref, !Sub and friends):  python -m unittest tests/template_test.py
"""
import json
import re
import subprocess
import unittest
from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = cfn_yaml.load(str(ROOT / "template.yaml"))
RESOURCES = TEMPLATE["Resources"]


def functions():
    return {name: r for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}


def workspace_binaries():
    meta = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                                     cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    return {t["name"] for p in meta["packages"] for t in p["targets"] if "bin" in t["kind"]}


def variables_read(path="src/config"):
    """Environment variables the configuration reads through its Env (get/number/choice)."""
    text = "".join(p.read_text() for p in sorted((ROOT / path).glob("*.rs")))
    return set(re.findall(r'env\s*\.(?:get|number|choice)\(\s*"([A-Z][A-Z0-9_]+)"', text))


def rust_const(path, name):
    match = re.search(rf'pub const {name}: &str = "([^"]+)";', (ROOT / path).read_text())
    assert match, f"{name} not found in {path}"
    return match.group(1)


def statements(function):
    out = []
    for policy in function["Properties"].get("Policies", []):
        assert isinstance(policy, dict), f"only inline policies are allowed, got {policy!r}"
        out.extend(policy["Statement"])
    return out


class TemplateMatchesTheCode(unittest.TestCase):
    def test_every_function_binary_exists_in_the_workspace(self):
        binaries = workspace_binaries()
        for name, function in functions().items():
            self.assertEqual(function["Metadata"]["BuildMethod"], "rust-cargolambda", name)
            self.assertIn(function["Metadata"]["BuildProperties"]["Binary"], binaries, name)
        self.assertEqual({f["Metadata"]["BuildProperties"]["Binary"] for f in functions().values()},
                         {"authorizer", "refresher", "hello"})

    def test_functions_run_on_arm64_al2023(self):
        globals_ = TEMPLATE["Globals"]["Function"]
        self.assertEqual(globals_["Runtime"], "provided.al2023")
        self.assertEqual(globals_["Architectures"], ["arm64"])

    def test_authorizer_environment_matches_the_variables_the_code_reads(self):
        env = set(RESOURCES["AuthorizerFunction"]["Properties"]["Environment"]["Variables"])
        read = variables_read()
        self.assertLessEqual(env, read, f"set in the template but never read: {env - read}")
        must = {"COGNITO_USER_POOL_ID", "JWT_ISSUER", "JWKS_URL", "JWT_AUDIENCE", "JWT_TOKEN_USE",
                "POLICY_RESOURCES", "PRINCIPAL_CLAIM", "CONTEXT_CLAIMS", "DENY_MODE", "KEYS_TABLE_NAME"}
        self.assertLessEqual(must, env, f"missing from the template: {must - env}")
        self.assertEqual(RESOURCES["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]["KEYS_TABLE_NAME"],
                         {"Ref": "KeysTable"})

    def test_refresher_environment_is_read_by_the_code_and_needs_no_audience(self):
        env = set(RESOURCES["RefresherFunction"]["Properties"]["Environment"]["Variables"])
        self.assertLessEqual(env, variables_read())
        self.assertNotIn("JWT_AUDIENCE", env)
        self.assertIn("KEYS_TABLE_NAME", env)

    def test_table_key_and_ttl_attribute_are_the_ones_the_code_writes(self):
        table = RESOURCES["KeysTable"]["Properties"]
        self.assertEqual(table["TimeToLiveSpecification"],
                         {"AttributeName": rust_const("src/keys/record.rs", "EXPIRES_AT"), "Enabled": True})
        self.assertEqual(table["KeySchema"], [{"AttributeName": rust_const("src/keys/record.rs", "PK"), "KeyType": "HASH"}])
        self.assertEqual(table["BillingMode"], "PAY_PER_REQUEST")
        self.assertTrue(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"])

    def test_refresher_runs_every_14_days_and_has_an_errors_alarm(self):
        events = RESOURCES["RefresherFunction"]["Properties"]["Events"]
        schedules = [e["Properties"]["Schedule"] for e in events.values() if e["Type"] == "Schedule"]
        self.assertEqual(schedules, ["rate(14 days)"])
        alarm = RESOURCES["RefresherErrorsAlarm"]["Properties"]
        self.assertEqual((alarm["Namespace"], alarm["MetricName"]), ("AWS/Lambda", "Errors"))
        self.assertEqual(alarm["Dimensions"][0]["Value"], {"Ref": "RefresherFunction"})

    def test_iam_is_exactly_get_and_put_on_the_table(self):
        for name in ["AuthorizerFunction", "RefresherFunction"]:
            found = statements(RESOURCES[name])
            self.assertEqual(len(found), 1, name)
            self.assertEqual(found[0]["Effect"], "Allow")
            self.assertEqual(sorted(found[0]["Action"]), ["dynamodb:GetItem", "dynamodb:PutItem"], name)
            self.assertEqual(found[0]["Resource"], {"Fn::GetAtt": ["KeysTable", "Arn"]}, name)
        self.assertEqual(statements(RESOURCES["HelloFunction"]), [])
        roles = [n for n, r in RESOURCES.items() if r["Type"] in ("AWS::IAM::Role", "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")]
        self.assertEqual(roles, [], "IAM comes only from the functions' inline policies")

    def test_api_gateway_may_invoke_the_authorizer_and_nothing_else_is_granted(self):
        permissions = {n: r["Properties"] for n, r in RESOURCES.items() if r["Type"] == "AWS::Lambda::Permission"}
        for permission in permissions.values():
            self.assertEqual(permission["Principal"], "apigateway.amazonaws.com")
            self.assertEqual(permission["Action"], "lambda:InvokeFunction")
        targets = {p["FunctionName"]["Ref"] for p in permissions.values()}
        self.assertEqual(targets, {"AuthorizerFunction", "HelloFunction"})

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
        routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::ApiGatewayV2::Route"}
        self.assertEqual(set(routes), {"$connect", "$default", "$disconnect"})
        self.assertEqual(routes["$connect"]["AuthorizationType"], "CUSTOM")

    def test_outputs_and_parameters(self):
        self.assertEqual(set(TEMPLATE["Outputs"]) >= {"RestApiUrl", "WebSocketUrl", "KeysTableName"}, True)
        params = set(TEMPLATE["Parameters"])
        self.assertLessEqual({"CognitoUserPoolId", "JwtIssuer", "JwksUrl", "JwtAudience", "JwtTokenUse", "PolicyResources",
                              "PrincipalClaim", "ContextClaims", "DenyMode", "AuthorizerResultTtl", "AlarmTopicArn"}, params)

    def test_sample_events_exist_for_every_kind_and_the_schedule(self):
        for name in ["rest-token", "rest-request", "websocket-connect", "http-api", "refresher-schedule"]:
            json.loads((ROOT / "events" / f"{name}.json").read_text())


if __name__ == "__main__":
    unittest.main()
