"""Checks template.yaml against the code, so the deployment cannot drift from it.

Run by scripts/test.sh with the project's .venv (cfn-lint provides the CloudFormation
YAML loader that understands !Ref, !Sub and friends; aws-sam-cli brings samtranslator,
which expands the SAM resources the way CloudFormation's transform will):
python -m unittest tests/template_test.py
"""
import fnmatch
import functools
import json
import re
import subprocess
import unittest
from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = cfn_yaml.load(str(ROOT / "template.yaml"))
RESOURCES = TEMPLATE["Resources"]

# Every action that writes items of a table (TransactWriteItems is authorized as the
# PutItem/UpdateItem/DeleteItem it contains).
ITEM_WRITE_ACTIONS = {
    "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete",
}
KEY_WRITER_ROLES = {"AuthorizerRole", "RefresherRole"}
# The items the key tier reads keys from (SPEC.md "The key tiers"); REVOKED# items are
# written by operators (SPEC.md "Revocation") and must stay writable by them.
KEY_ITEM_PREFIXES = {"JWKS#", "DISCOVERY#"}
OPERATOR_ITEM_PREFIXES = {"REVOKED#"}
EMF_METRICS_TODAY = {"Allow", "Deny", "Unauthorized", "KeysFromMemory", "KeysFromTable", "KeysFromJwks",
                     "JwksFetches", "JwksErrors", "TableReads", "TableErrors", "TableWrites", "StaleKeysServed"}


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


def rust_non_test_code(path):
    return (ROOT / path).read_text().split("#[cfg(test)]")[0]


def emf_metric_names():
    """Metric names the EMF line carries: the ("Name", …) pairs src/metrics.rs builds it from,
    and the outcome metrics of src/outcome.rs (`Outcome::metric`)."""
    names = set(re.findall(r'\(\s*"([A-Z][A-Za-z0-9]+)"\s*,', rust_non_test_code("src/metrics.rs")))
    assert names, "no metric names found in src/metrics.rs"
    outcome = rust_non_test_code("src/outcome.rs")
    metric = outcome[outcome.index("fn metric("):]
    outcomes = set(re.findall(r'=>\s*"([A-Z][A-Za-z]+)"', metric[:metric.index("\n    }\n")]))
    assert outcomes == {"Allow", "Deny", "Unauthorized"}, outcomes
    return names | outcomes


def default_metrics_namespace():
    match = re.search(r'"METRICS_NAMESPACE"\s*\)\s*\.unwrap_or_else\(\|\|\s*"([^"]+)"', (ROOT / "src/config/mod.rs").read_text())
    assert match, "METRICS_NAMESPACE default not found in src/config/mod.rs"
    return match.group(1)


def item_prefixes_in_code():
    """Partition-key prefixes (`"JWKS#…"`) that the key tier's item code spells out."""
    return set(re.findall(r'"([A-Z]+#)', rust_non_test_code("src/keys/record.rs")))


def get_att_arn(value):
    """The logical id of `!GetAtt X.Arn`, else None."""
    if isinstance(value, dict) and list(value) == ["Fn::GetAtt"]:
        target, attribute = value["Fn::GetAtt"]
        return target if attribute == "Arn" else None
    return None


def role_of(function):
    role = get_att_arn(function["Properties"].get("Role"))
    assert role and RESOURCES[role]["Type"] == "AWS::IAM::Role", f"{function} has no explicit role"
    return role


def role_statements(role):
    """Every statement granted to a role: its inline policies and the IAM policies attached to it."""
    props = RESOURCES[role]["Properties"]
    assert not props.get("ManagedPolicyArns"), f"{role} has managed policies"
    out = [s for p in props.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    for resource in RESOURCES.values():
        if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            if {"Ref": role} in resource["Properties"].get("Roles", []):
                out.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return out


def statements(function):
    """What a function may do: its role's statements (functions carry no SAM Policies)."""
    assert "Policies" not in function["Properties"], "permissions live on the explicit roles"
    return role_statements(role_of(function))


def as_list(value):
    """A value or list of values, with each `Fn::If` replaced by the values of both branches
    (an `AWS::NoValue` branch adds nothing): everything the list may hold once deployed."""
    out = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict) and "Fn::If" in item:
            out.extend(v for branch in item["Fn::If"][1:] for v in as_list(branch) if v != {"Ref": "AWS::NoValue"})
        else:
            out.append(item)
    return out


@functools.lru_cache(maxsize=None)
def translated():
    """The template after the SAM transform (what CloudFormation will create)."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = json.loads(json.dumps(TEMPLATE))  # a plain copy
    template["Globals"]["Function"]["CodeUri"] = "s3://bucket/key"  # as sam validate does
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name="us-east-1"))
    return translator.translate(template, parameter_values={}, get_managed_policy_map=lambda: {})


def table_policy():
    return RESOURCES["KeysTable"]["Properties"]["ResourcePolicy"]["PolicyDocument"]


def denied_by_table_policy(action, principal_arn, leading_keys):
    """Evaluates the table's resource policy for one request, as IAM would for these operators.

    `principal_arn` is a logical role id (AuthorizerRole…) or any other ARN; `leading_keys`
    is the request's dynamodb:LeadingKeys, or None when the request carries none. Unknown
    condition operators fail the test rather than being skipped.
    """
    def principal_values(values):
        return {get_att_arn(v) or v for v in as_list(values)}

    def holds(operator, key, expected):
        if key == "dynamodb:LeadingKeys":
            actual = leading_keys
        elif key == "aws:PrincipalArn":
            actual, expected = [principal_arn], principal_values(expected)
        else:
            raise AssertionError(f"condition key not modelled: {key}")
        if operator == "ForAnyValue:StringLike":
            return actual is not None and any(fnmatch.fnmatchcase(a, p) for a in actual for p in as_list(expected))
        if operator == "Null":
            return (actual is None) == (str(expected).lower() == "true")
        if operator == "ArnNotEquals":
            return actual is None or all(a not in expected for a in actual)
        raise AssertionError(f"condition operator not modelled: {operator}")

    for statement in table_policy()["Statement"]:
        if statement["Effect"] != "Deny" or action not in as_list(statement["Action"]):
            continue
        if all(holds(op, key, expected)
               for op, keys in statement.get("Condition", {}).items() for key, expected in keys.items()):
            return True
    return False


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
                "COGNITO_ISSUER_FORMAT", "COGNITO_REPLICA_REGIONS", "JWT_TYP",
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

    def test_outputs_and_parameters(self):
        self.assertLessEqual({"RestApiUrl", "WebSocketUrl", "HttpApiUrl", "KeysTableName", "DashboardName"},
                             set(TEMPLATE["Outputs"]))
        params = set(TEMPLATE["Parameters"])
        self.assertLessEqual({"CognitoUserPoolId", "JwtIssuer", "JwksUrl", "JwtAudience", "JwtTokenUse", "PolicyResources",
                              "PrincipalClaim", "ContextClaims", "DenyMode", "AuthorizerResultTtl", "AlarmTopicArn",
                              "LogRetentionInDays"}, params)

    def test_sample_events_exist_for_every_kind_and_the_schedule(self):
        for name in ["rest-token", "rest-request", "websocket-connect", "http-api", "refresher-schedule"]:
            json.loads((ROOT / "events" / f"{name}.json").read_text())


class RevocationAndRules(unittest.TestCase):
    def test_parameters_turn_revocation_and_rules_on(self):
        env = RESOURCES["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
        for variable, parameter in [("REVOCATION", "Revocation"), ("REVOCATION_CACHE_SECONDS", "RevocationCacheSeconds"),
                                    ("REVOCATION_ON_ERROR", "RevocationOnError"), ("POLICY_RULES", "PolicyRules"),
                                    ("GROUPS_CLAIM", "GroupsClaim")]:
            self.assertEqual(env[variable], {"Ref": parameter}, variable)
        params = TEMPLATE["Parameters"]
        self.assertEqual(params["Revocation"]["Default"], "off")
        self.assertEqual(params["Revocation"]["AllowedValues"], ["off", "on"])
        self.assertEqual(params["RevocationOnError"]["AllowedValues"], ["allow", "deny"])
        self.assertEqual(TEMPLATE["Conditions"]["RevocationOn"], {"Fn::Equals": [{"Ref": "Revocation"}, "on"]})

    def test_revocation_errors_alarm_only_with_revocation_on(self):
        alarm = RESOURCES["RevocationErrorsAlarm"]
        self.assertEqual(alarm["Condition"], "RevocationOn")
        self.assertEqual(alarm["Properties"]["Namespace"], default_metrics_namespace())
        self.assertIn(alarm["Properties"]["MetricName"], emf_metric_names())


class LeastPrivilege(unittest.TestCase):
    def test_batch_reads_are_granted_only_when_revocation_or_several_issuers_use_them(self):
        self.assertEqual(TEMPLATE["Conditions"]["BatchReads"], {"Fn::Or": [
            {"Condition": "RevocationOn"},
            {"Fn::Equals": [{"Ref": "CognitoIssuerFormat"}, "both"]},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "CognitoReplicaRegions"}, ""]}]},
        ]})

    def test_iam_is_exactly_get_and_put_on_the_table_plus_batch_get_for_revocation_or_several_issuers(self):
        revocation_only = {"Fn::If": ["BatchReads", "dynamodb:BatchGetItem", {"Ref": "AWS::NoValue"}]}
        for name in ["AuthorizerFunction", "RefresherFunction"]:
            found = [s for s in statements(RESOURCES[name]) if not all(a.startswith("logs:") for a in as_list(s["Action"]))]
            self.assertEqual(len(found), 1, name)
            self.assertEqual(found[0]["Effect"], "Allow")
            plain = sorted(a for a in found[0]["Action"] if isinstance(a, str))
            conditional = [a for a in found[0]["Action"] if not isinstance(a, str)]
            self.assertEqual(plain, ["dynamodb:GetItem", "dynamodb:PutItem"], name)
            self.assertEqual(conditional, [revocation_only] if name == "AuthorizerFunction" else [], name)
            self.assertEqual(found[0]["Resource"], {"Fn::GetAtt": ["KeysTable", "Arn"]}, name)
            self.assertNotIn("Condition", found[0], name)
        self.assertEqual([s for s in statements(RESOURCES["HelloFunction"]) if not s["Action"][0].startswith("logs:")], [])

    def test_each_function_only_writes_its_own_log_group_and_never_creates_one(self):
        for name, function in functions().items():
            log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
            logs = [s for s in statements(function) if any(a.startswith("logs:") for a in as_list(s["Action"]))]
            self.assertEqual(len(logs), 1, name)
            self.assertEqual(logs[0]["Effect"], "Allow")
            self.assertEqual(sorted(logs[0]["Action"]), ["logs:CreateLogStream", "logs:PutLogEvents"], name)
            self.assertEqual(logs[0]["Resource"], {"Fn::GetAtt": [log_group, "Arn"]}, name)

    def test_iam_comes_only_from_the_three_roles_and_the_two_table_policies(self):
        iam = {n: r for n, r in RESOURCES.items() if r["Type"].startswith("AWS::IAM::")}
        self.assertEqual(set(iam), {"AuthorizerRole", "RefresherRole", "HelloRole", "AuthorizerTableAccess", "RefresherTableAccess"})
        for name in ["AuthorizerTableAccess", "RefresherTableAccess"]:
            self.assertEqual(iam[name]["Type"], "AWS::IAM::Policy")
        self.assertEqual(RESOURCES["AuthorizerTableAccess"]["Properties"]["Roles"], [{"Ref": "AuthorizerRole"}])
        self.assertEqual(RESOURCES["RefresherTableAccess"]["Properties"]["Roles"], [{"Ref": "RefresherRole"}])
        self.assertEqual({n: role_of(f) for n, f in functions().items()},
                         {"AuthorizerFunction": "AuthorizerRole", "RefresherFunction": "RefresherRole", "HelloFunction": "HelloRole"})
        for role in ["AuthorizerRole", "RefresherRole", "HelloRole"]:
            trust = RESOURCES[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            self.assertEqual(trust, [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}], role)
        generated = [n for n, r in translated()["Resources"].items() if r["Type"].startswith("AWS::IAM::") and n not in iam]
        self.assertEqual(generated, [], "the SAM transform must not add IAM")

    def test_functions_start_only_once_they_may_read_the_table(self):
        self.assertEqual(RESOURCES["AuthorizerFunction"].get("DependsOn"), "AuthorizerTableAccess")
        self.assertEqual(RESOURCES["RefresherFunction"].get("DependsOn"), "RefresherTableAccess")

    def test_api_gateway_may_invoke_the_authorizer_and_nothing_else_is_granted(self):
        permissions = {n: r["Properties"] for n, r in RESOURCES.items() if r["Type"] == "AWS::Lambda::Permission"}
        for permission in permissions.values():
            self.assertEqual(permission["Principal"], "apigateway.amazonaws.com")
            self.assertEqual(permission["Action"], "lambda:InvokeFunction")
        targets = {p["FunctionName"]["Ref"] for p in permissions.values()}
        self.assertEqual(targets, {"AuthorizerFunction", "HelloFunction"})

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
            apis = [api for api in ("RestApi", "WebSocketApi", "HttpApi") if re.search(rf'\b{api}\b', text)]
            self.assertEqual(len(apis), 1, text)
            return apis[0], text

        authorizer_apis = []
        for permission in by_function["AuthorizerFunction"]:
            self.assertEqual(permission["Principal"], "apigateway.amazonaws.com")
            api, text = api_of(permission["SourceArn"])
            self.assertIn("/authorizers/", text)
            authorizer_apis.append(api)
        self.assertEqual(sorted(authorizer_apis), ["HttpApi", "RestApi", "WebSocketApi"])
        for permission in by_function["HelloFunction"]:
            self.assertEqual(permission["Principal"], "apigateway.amazonaws.com")
            api_of(permission["SourceArn"])
        [schedule] = by_function["RefresherFunction"]
        self.assertEqual(schedule["Principal"], "events.amazonaws.com")
        rule = schedule["SourceArn"]["Fn::GetAtt"][0]
        self.assertEqual(resources[rule]["Properties"]["ScheduleExpression"], "rate(14 days)")


class KeysTableResourcePolicy(unittest.TestCase):
    """The keys table is a trust anchor: only the stack's two functions may write key items."""

    def test_denies_every_item_write_of_key_items_to_all_but_the_two_roles(self):
        deny = [s for s in table_policy()["Statement"] if s["Effect"] == "Deny"]
        self.assertEqual(len(deny), 2)
        for statement in deny:
            self.assertEqual(statement["Principal"], "*")
            self.assertEqual(statement["Resource"], "*")
            self.assertEqual(set(statement["Action"]), ITEM_WRITE_ACTIONS)
            exempt = statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
            self.assertEqual({get_att_arn(v) for v in exempt}, KEY_WRITER_ROLES)
            self.assertEqual(len(exempt), 2)
        by_key = {op: keys["dynamodb:LeadingKeys"] for s in deny for op, keys in s["Condition"].items()
                  if "dynamodb:LeadingKeys" in keys}
        self.assertEqual(set(by_key), {"ForAnyValue:StringLike", "Null"},
                         "a deny on any matching key, and a deny when no key is reported")
        self.assertEqual(set(by_key["ForAnyValue:StringLike"]), {p + "*" for p in KEY_ITEM_PREFIXES})
        self.assertEqual(by_key["Null"], "true")

    def test_grants_nothing(self):
        self.assertEqual([s for s in table_policy()["Statement"] if s["Effect"] != "Deny"], [])
        self.assertNotIn("ForAllValues", json.dumps(table_policy()))

    def test_covers_every_key_item_prefix_the_code_writes_and_no_operator_item(self):
        in_code = item_prefixes_in_code()
        self.assertIn("JWKS#", in_code)
        self.assertLessEqual(in_code - OPERATOR_ITEM_PREFIXES, KEY_ITEM_PREFIXES,
                             "a new key item prefix in src/keys/record.rs needs the table's deny")
        self.assertEqual(KEY_ITEM_PREFIXES & OPERATOR_ITEM_PREFIXES, set())

    def test_an_operator_cannot_write_key_items_but_can_write_revocations(self):
        operator = "arn:aws:iam::123456789012:role/operator"
        jwks, discovery = "JWKS#https://issuer.example/jwks.json", "DISCOVERY#https://issuer.example"
        revoked = "REVOKED#https://issuer.example#sub#alice"
        for action in sorted(ITEM_WRITE_ACTIONS):
            self.assertTrue(denied_by_table_policy(action, operator, [jwks]), action)
            self.assertTrue(denied_by_table_policy(action, operator, [discovery]), action)
            self.assertTrue(denied_by_table_policy(action, operator, None), f"{action} without a reported key")
        self.assertTrue(denied_by_table_policy("dynamodb:BatchWriteItem", operator, [revoked, jwks]))
        self.assertFalse(denied_by_table_policy("dynamodb:PutItem", operator, [revoked]))
        self.assertFalse(denied_by_table_policy("dynamodb:BatchWriteItem", operator, [revoked, "REVOKED#x#jti#1"]))
        self.assertFalse(denied_by_table_policy("dynamodb:DeleteItem", operator, [revoked]))
        self.assertFalse(denied_by_table_policy("dynamodb:GetItem", operator, [jwks]), "reads stay open")

    def test_the_stack_functions_are_not_locked_out(self):
        for role in KEY_WRITER_ROLES:
            for keys in (["JWKS#https://issuer.example/jwks.json"], ["DISCOVERY#https://issuer.example"]):
                self.assertFalse(denied_by_table_policy("dynamodb:PutItem", role, keys), role)
        self.assertTrue(denied_by_table_policy("dynamodb:PutItem", "HelloRole", ["JWKS#x"]))

    def test_the_roles_it_names_do_not_depend_on_the_table(self):
        # The table's policy names the roles, so the roles must not reference the table:
        # table access lives in the separate AWS::IAM::Policy resources.
        for role in KEY_WRITER_ROLES:
            self.assertNotIn("KeysTable", json.dumps(RESOURCES[role]), role)


class Logs(unittest.TestCase):
    def test_every_function_logs_to_its_own_group_with_a_retention(self):
        groups = set()
        for name, function in functions().items():
            group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
            resource = RESOURCES[group]
            self.assertEqual(resource["Type"], "AWS::Logs::LogGroup", name)
            self.assertEqual(resource["Properties"]["RetentionInDays"], {"Ref": "LogRetentionInDays"}, name)
            self.assertTrue(resource["Properties"]["LogGroupName"]["Fn::Sub"].startswith("/aws/lambda/${AWS::StackName}/"), name)
            groups.add(group)
        self.assertEqual(groups, {"AuthorizerLogGroup", "RefresherLogGroup", "HelloLogGroup"})
        retention = TEMPLATE["Parameters"]["LogRetentionInDays"]
        self.assertEqual(retention["Default"], 30)
        self.assertIn(retention["Default"], retention["AllowedValues"])

    def test_no_role_may_create_a_log_group(self):
        for role in ["AuthorizerRole", "RefresherRole", "HelloRole"]:
            actions = {a for s in role_statements(role) for a in as_list(s["Action"])}
            self.assertFalse({a for a in actions if fnmatch.fnmatchcase("logs:CreateLogGroup", a)}, role)


class Dashboard(unittest.TestCase):
    def body(self):
        text = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
        variables = set(re.findall(r"\$\{([^}]+)\}", text))
        self.assertLessEqual(variables, {"AWS::Region", "AuthorizerFunction", "RefresherFunction"})
        return json.loads(re.sub(r"\$\{([^}]+)\}", r"<\1>", text))

    def metrics(self):
        return [tuple(m) for w in self.body()["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]]

    def test_graphs_only_metrics_the_authorizer_emits_with_its_namespace_and_dimension(self):
        ours = [m for m in self.metrics() if m[0] != "AWS/Lambda"]
        namespace = default_metrics_namespace()
        self.assertNotIn("METRICS_NAMESPACE", RESOURCES["AuthorizerFunction"]["Properties"]["Environment"]["Variables"],
                         "the dashboard assumes the default namespace")
        for metric in ours:
            self.assertEqual(metric[0], namespace, metric)
            self.assertEqual(metric[2:], ("FunctionName", "<AuthorizerFunction>"), metric)
        graphed = {m[1] for m in ours}
        self.assertLessEqual(graphed, emf_metric_names(), "graphed but never emitted by src/metrics.rs")
        self.assertLessEqual(EMF_METRICS_TODAY, graphed)

    def test_graphs_the_refresher_errors(self):
        self.assertIn(("AWS/Lambda", "Errors", "FunctionName", "<RefresherFunction>"), self.metrics())


class HttpApi(unittest.TestCase):
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


if __name__ == "__main__":
    unittest.main()
