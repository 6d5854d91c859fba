"""Checks authorizer.yaml, the authorizer-only stack (docs/deploy.md#authorizer-only).

It runs the key tier's checks of template.yaml (tests/stack_checks.py: least privilege,
the keys table's policy, retention, dashboard, against the code), holds every resource it
shares with template.yaml equal to template.yaml's, and checks what only it has: no API,
the operator's managed policy, the outputs an attaching stack needs, and the Serverless
Application Repository metadata `sam publish` reads.

Run by scripts/test.sh with the project's .venv: python -m unittest tests/authorizer_template_test.py
"""
import json
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stack_checks  # noqa: E402
from stack_checks import ROOT, Stack, allowed_by, as_list, dynamodb_calls_in_code, root_package  # noqa: E402

STACK = Stack(
    "authorizer.yaml",
    functions={"AuthorizerFunction": "AuthorizerRole", "RefresherFunction": "RefresherRole"},
    log_groups={"AuthorizerLogGroup", "RefresherLogGroup"},
    iam={"AuthorizerRole", "RefresherRole", "AuthorizerTableAccess", "RefresherTableAccess", "OperatorPolicy"},
    outputs={"AuthorizerFunctionArn", "KeysTableName", "KeysTableArn", "OperatorPolicyArn", "DashboardName"},
)
DEMO = Stack(
    "template.yaml",
    functions={"AuthorizerFunction": "AuthorizerRole", "RefresherFunction": "RefresherRole", "HelloFunction": "HelloRole"},
    log_groups={"AuthorizerLogGroup", "RefresherLogGroup", "HelloLogGroup"},
    iam=set(), outputs=set(),
)
RESOURCES = STACK.resources
# What template.yaml has that the authorizer-only stack leaves out: the sample APIs and hello.
DEMO_ONLY = {"HelloLogGroup", "HelloRole", "HelloFunction", "RestApi", "HttpApi", "WebSocketApi", "WebSocketAuthorizer",
             "WebSocketIntegration", "ConnectRoute", "DefaultRoute", "DefaultRouteResponse", "DisconnectRoute",
             "WebSocketStage", "WebSocketAuthorizerPermission", "WebSocketHelloPermission", "DpopApi"}
AUTHORIZER_ONLY = {"OperatorPolicy"}
# Parameters of template.yaml that only its APIs use.
DEMO_ONLY_PARAMETERS = {"AuthorizerResultTtl", "StageName"}
# Conditions of template.yaml that only its APIs use (the DPoP route's 401 response).
DEMO_ONLY_CONDITIONS = {"DpopOn", "HasDpopAlgorithms"}


class TemplateMatchesTheCode(stack_checks.TemplateMatchesTheCode, unittest.TestCase):
    stack = STACK


class RevocationAndRules(stack_checks.RevocationAndRules, unittest.TestCase):
    stack = STACK


class LeastPrivilege(stack_checks.LeastPrivilege, unittest.TestCase):
    stack = STACK


class KeysTableResourcePolicy(stack_checks.KeysTableResourcePolicy, unittest.TestCase):
    stack = STACK


class Logs(stack_checks.Logs, unittest.TestCase):
    stack = STACK


class Dashboard(stack_checks.Dashboard, unittest.TestCase):
    stack = STACK


class HttpApiAnswers(stack_checks.HttpApiAnswers, unittest.TestCase):
    stack = STACK

    def test_answers_http_apis_with_iam_policies(self):
        # An HTTP API attached to it sets EnableSimpleResponses false and may cache
        # (docs/deploy.md, examples/sam/template.yaml, examples/cdk).
        variables = RESOURCES["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(variables["HTTP_API_RESPONSE"], "iam")
        self.assertNotIn("HTTP_API_CACHE", variables)


class SameAsTheDemoStack(unittest.TestCase):
    """The authorizer-only stack is template.yaml without the sample APIs: what they share
    must not drift apart."""

    def test_it_is_template_yaml_without_the_apis_and_hello(self):
        self.assertEqual(set(DEMO.resources) - DEMO_ONLY, set(RESOURCES) - AUTHORIZER_ONLY)
        self.assertLessEqual(DEMO_ONLY, set(DEMO.resources), "a resource listed as demo-only is gone from template.yaml")
        for name in set(RESOURCES) - AUTHORIZER_ONLY:
            self.assertEqual(RESOURCES[name], DEMO.resources[name], name)

    def test_it_has_no_api_and_nothing_may_invoke_the_authorizer_yet(self):
        types = {r["Type"] for r in STACK.translated["Resources"].values()}
        self.assertFalse({t for t in types if t.startswith(("AWS::ApiGateway", "AWS::Serverless::Api", "AWS::Serverless::HttpApi"))})
        invoked = [r["Properties"] for r in STACK.translated["Resources"].values() if r["Type"] == "AWS::Lambda::Permission"]
        self.assertEqual([p["FunctionName"] for p in invoked], [{"Ref": "RefresherFunction"}],
                         "each attaching API adds its own permission to invoke the authorizer")

    def test_same_globals_conditions_and_parameters(self):
        self.assertEqual(STACK.template["Globals"], DEMO.template["Globals"])
        demo_conditions = {k: v for k, v in DEMO.template["Conditions"].items() if k not in DEMO_ONLY_CONDITIONS}
        self.assertEqual(STACK.template["Conditions"], demo_conditions)
        params, demo = STACK.template["Parameters"], DEMO.template["Parameters"]
        self.assertEqual(set(params), set(demo) - DEMO_ONLY_PARAMETERS)
        for name, param in params.items():
            def strip(p, name=name):
                # The text may differ (no API here); so may PolicyResources' default: the
                # demo's names its own routes, here every route of the caller's stage.
                return {k: v for k, v in p.items() if k != "Description" and not (name == "PolicyResources" and k == "Default")}
            self.assertEqual(strip(param), strip(demo[name]), name)
        self.assertEqual(params["PolicyResources"]["Default"], "*")
        text = json.dumps(STACK.template)
        for name in DEMO_ONLY_PARAMETERS:
            self.assertNotRegex(text, rf'"Ref": "{name}"|\$\{{{name}\}}', name)


class OperatorPolicy(unittest.TestCase):
    """What an operator's role needs to run authorizer-admin: revoke, keys, explain."""

    def policy(self):
        return RESOURCES["OperatorPolicy"]

    def test_is_a_managed_policy_attached_to_nothing_and_output_by_arn(self):
        policy = self.policy()
        self.assertEqual(policy["Type"], "AWS::IAM::ManagedPolicy")
        for key in ("Roles", "Users", "Groups", "ManagedPolicyName"):
            self.assertNotIn(key, policy["Properties"], "the operator attaches it; a name would clash between stacks")
        self.assertEqual(STACK.template["Outputs"]["OperatorPolicyArn"]["Value"], {"Ref": "OperatorPolicy"})

    def test_grants_table_reads_revocation_writes_and_the_authorizer_environment_only(self):
        statements = self.policy()["Properties"]["PolicyDocument"]["Statement"]
        by_resource = {}
        for statement in statements:
            self.assertEqual(statement["Effect"], "Allow")
            for action in as_list(statement["Action"]):
                by_resource.setdefault(json.dumps(statement["Resource"]), set()).add(action)
        self.assertEqual(by_resource, {
            json.dumps({"Fn::GetAtt": ["KeysTable", "Arn"]}): {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Scan",
                                                                "dynamodb:PutItem", "dynamodb:UpdateItem"},
            json.dumps({"Fn::GetAtt": ["AuthorizerFunction", "Arn"]}): {"lambda:GetFunctionConfiguration"},
        })

    def test_covers_every_table_call_the_code_makes(self):
        # authorizer-admin is the library: revoke reads then writes REVOKED# items, keys
        # scans, explain reads keys and revocations (and never writes). A new call (a
        # DeleteItem, a Query) must be weighed here first.
        calls = dynamodb_calls_in_code()
        self.assertEqual(calls, {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchGetItem", "dynamodb:Scan",
                                 "dynamodb:UpdateItem"})
        statements = self.policy()["Properties"]["PolicyDocument"]["Statement"]
        for call in calls - {"dynamodb:UpdateItem"}:
            keys = ["REVOKED#https://issuer.example#sub#alice"]
            self.assertTrue(allowed_by(statements, call, keys), call)
        # issuers disable|enable update the status of an ISSUER# item.
        self.assertTrue(allowed_by(statements, "dynamodb:UpdateItem", ["ISSUER#https://issuer.example"]))

    def test_may_write_revocation_and_issuer_items_and_nothing_else(self):
        statements = self.policy()["Properties"]["PolicyDocument"]["Statement"]
        revoked, jwks = "REVOKED#https://issuer.example#sub#alice", "JWKS#https://issuer.example/jwks.json"
        issuer = "ISSUER#https://issuer.example"
        self.assertTrue(allowed_by(statements, "dynamodb:PutItem", [revoked]))
        self.assertTrue(allowed_by(statements, "dynamodb:PutItem", [issuer]))
        self.assertTrue(allowed_by(statements, "dynamodb:UpdateItem", [issuer]))
        for keys in ([jwks], ["DISCOVERY#https://issuer.example"], [revoked, jwks], [issuer, jwks]):
            self.assertFalse(allowed_by(statements, "dynamodb:PutItem", keys), keys)
        self.assertFalse(allowed_by(statements, "dynamodb:PutItem", None), "a write that reports no key")
        for action in stack_checks.ITEM_WRITE_ACTIONS - {"dynamodb:PutItem"}:
            self.assertFalse(allowed_by(statements, action, [revoked]), action)
        for action in stack_checks.ITEM_WRITE_ACTIONS - {"dynamodb:PutItem", "dynamodb:UpdateItem"}:
            self.assertFalse(allowed_by(statements, action, [issuer]), action)
        # The table itself lets only OperatorRoleArn write issuers.
        self.assertTrue(STACK.denied_by_table_policy("dynamodb:PutItem", "arn:aws:iam::123456789012:role/operator", [issuer],
                                                     stack_checks.OPERATOR_ROLE))
        # And the table's own policy lets that revocation write through, while it still
        # denies key items whatever an identity policy says.
        operator = "arn:aws:iam::123456789012:role/operator"
        self.assertFalse(STACK.denied_by_table_policy("dynamodb:PutItem", operator, [revoked]))
        self.assertTrue(STACK.denied_by_table_policy("dynamodb:PutItem", operator, [jwks]))


class Outputs(unittest.TestCase):
    def test_what_an_attaching_stack_and_an_operator_need(self):
        outputs = {name: o["Value"] for name, o in STACK.template["Outputs"].items()}
        self.assertEqual(outputs["AuthorizerFunctionArn"], {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]})
        self.assertEqual(outputs["AuthorizerFunctionName"], {"Ref": "AuthorizerFunction"})
        self.assertEqual(outputs["KeysTableName"], {"Ref": "KeysTable"})
        self.assertEqual(outputs["KeysTableArn"], {"Fn::GetAtt": ["KeysTable", "Arn"]})
        self.assertEqual(outputs["OperatorPolicyArn"], {"Ref": "OperatorPolicy"})


class ServerlessApplicationRepository(unittest.TestCase):
    """`Metadata: AWS::ServerlessRepo::Application`, as `sam publish` reads and checks it."""

    def metadata(self):
        return STACK.template["Metadata"]["AWS::ServerlessRepo::Application"]

    def test_sam_publish_accepts_the_metadata(self):
        from samcli.vendor.serverlessrepo.parser import get_app_metadata

        app = get_app_metadata(json.loads(json.dumps(STACK.template)))
        # What publish_application validates, for a new application and a new version.
        self.assertTrue(app.validate(["author", "description", "name"]))
        self.assertTrue(app.validate(["semantic_version"]))

    def test_fields_within_the_repository_limits(self):
        meta = self.metadata()
        self.assertRegex(meta["Name"], r"^[A-Za-z0-9-]{1,140}$")
        self.assertRegex(meta["Author"], r"^[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?$")
        self.assertLessEqual(len(meta["Author"]), 127)
        self.assertLessEqual(len(meta["Description"]), 256)
        self.assertLessEqual(len(meta["Labels"]), 10)
        for label in meta["Labels"]:
            self.assertRegex(label, r"^[a-zA-Z0-9+\-_:/@]{1,127}$")

    def test_version_and_licence_are_cargo_toml_s(self):
        meta, package = self.metadata(), root_package()
        self.assertEqual(meta["SemanticVersion"], package["version"])
        self.assertIn(meta["SpdxLicenseId"], re.split(r"\s+OR\s+", package["license"]),
                      "the SAR licence is one of Cargo.toml's choices")
        licence = (ROOT / meta["LicenseUrl"]).read_text()
        self.assertIn({"Apache-2.0": "Apache License\n                           Version 2.0", "MIT": "MIT License"}[meta["SpdxLicenseId"]],
                      licence)
        self.assertTrue((ROOT / meta["ReadmeUrl"]).is_file())

    def test_source_code_url_is_cargo_toml_s_repository(self):
        # Cargo.toml names no repository yet: then the metadata names none either (no
        # placeholder URL); once it does, the two must match.
        self.assertEqual(self.metadata().get("SourceCodeUrl"), root_package().get("repository"))


if __name__ == "__main__":
    unittest.main()
