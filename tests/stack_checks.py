"""The checks every SAM template of this repository passes: the key tier against the code.

template.yaml (the demo stack) and authorizer.yaml (the authorizer-only stack) deploy the
same authorizer, refresher, keys table, log groups, alarms, dashboard and IAM; each test
file builds a `Stack` for its template and runs these check classes on it
(tests/template_test.py, tests/authorizer_template_test.py), adding what only its
template has. A check class is a mixin (not a TestCase), so unittest runs it once per
stack that subclasses it with `unittest.TestCase`.

Needs the project's .venv: cfn-lint provides the CloudFormation YAML loader that
understands !Ref, !Sub and friends; aws-sam-cli brings samtranslator, which expands the
SAM resources the way CloudFormation's transform will.
"""
import fnmatch
import functools
import json
import re
import subprocess
from pathlib import Path

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent

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
# The tenant registry's items (SPEC.md "Tenants"): writable by the OperatorRoleArn
# parameter's role only, by nobody when it is blank; the functions only read them.
ISSUER_ITEM_PREFIX = "ISSUER#"
OPERATOR_ROLE = "arn:aws:iam::123456789012:role/registry-operator"
TENANT_PARAMETERS = {"TenantRegistry": "TENANT_REGISTRY", "TenantIssuerPattern": "TENANT_ISSUER_PATTERN",
                     "TenantCacheSeconds": "TENANT_CACHE_SECONDS",
                     "TenantLookupsPerSecond": "TENANT_LOOKUPS_PER_SECOND"}
EMF_METRICS_TODAY = {"Allow", "Deny", "Unauthorized", "KeysFromMemory", "KeysFromTable", "KeysFromJwks",
                     "JwksFetches", "JwksErrors", "TableReads", "TableErrors", "TableWrites", "StaleKeysServed"}
# The parameters of the authorizer's and the refresher's configuration, in every stack.
KEY_TIER_PARAMETERS = {"CognitoUserPoolId", "JwtIssuer", "JwksUrl", "JwtAudience", "JwtTokenUse", "PolicyResources",
                       "PrincipalClaim", "ContextClaims", "DenyMode", "AlarmTopicArn", "LogRetentionInDays"}
TRUST_LAMBDA = [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]


@functools.lru_cache(maxsize=None)
def cargo_metadata():
    return json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"],
                                     cwd=ROOT, check=True, capture_output=True, text=True).stdout)


def workspace_binaries():
    return {t["name"] for p in cargo_metadata()["packages"] for t in p["targets"] if "bin" in t["kind"]}


def root_package():
    """The root package's metadata (name, version, license, repository…)."""
    [package] = [p for p in cargo_metadata()["packages"] if Path(p["manifest_path"]).parent == ROOT]
    return package


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


def dynamodb_calls_in_code():
    """The DynamoDB operations the library calls (`.get_item()`, `.scan()`…), as IAM actions."""
    text = "".join(rust_non_test_code(p.relative_to(ROOT)) for p in sorted((ROOT / "src").rglob("*.rs")))
    calls = set(re.findall(r"\.(get_item|put_item|update_item|delete_item|batch_get_item|batch_write_item|"
                           r"transact_get_items|transact_write_items|query|scan|execute_statement)\(\)", text))
    return {"dynamodb:" + "".join(w.capitalize() for w in c.split("_")) for c in calls}


def get_att_arn(value):
    """The logical id of `!GetAtt X.Arn`, else None."""
    if isinstance(value, dict) and list(value) == ["Fn::GetAtt"]:
        target, attribute = value["Fn::GetAtt"]
        return target if attribute == "Arn" else None
    return None


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


def condition_holds(operator, actual, expected):
    """One IAM condition operator on the request's values (`actual`: a list, or None when the
    request carries no such key). Unknown operators fail the test rather than being skipped."""
    if operator == "ForAnyValue:StringLike":
        return actual is not None and any(fnmatch.fnmatchcase(a, p) for a in actual for p in as_list(expected))
    if operator == "ForAllValues:StringLike":
        return actual is None or all(any(fnmatch.fnmatchcase(a, p) for p in as_list(expected)) for a in actual)
    if operator == "Null":
        return (actual is None) == (str(expected).lower() == "true")
    if operator == "ArnNotEquals":
        return actual is None or all(a not in expected for a in actual)
    raise AssertionError(f"condition operator not modelled: {operator}")


class Stack:
    """One SAM template and what it is expected to hold beyond the shared key tier.

    functions: logical id of each function → its role; log_groups: the functions' log
    groups; iam: every AWS::IAM::* resource; outputs: outputs it must have; invoked_by_api:
    the functions its own AWS::Lambda::Permission resources let API Gateway invoke.
    """

    def __init__(self, path, *, functions, log_groups, iam, outputs, parameters=frozenset(), invoked_by_api=frozenset()):
        self.path = ROOT / path
        self.name = path
        self.template = cfn_yaml.load(str(self.path))
        self.resources = self.template["Resources"]
        self.expected_functions = dict(functions)
        self.expected_log_groups = set(log_groups)
        self.expected_iam = set(iam)
        self.expected_outputs = set(outputs)
        self.expected_parameters = KEY_TIER_PARAMETERS | set(parameters)
        self.invoked_by_api = set(invoked_by_api)

    def functions(self):
        return {name: r for name, r in self.resources.items() if r["Type"] == "AWS::Serverless::Function"}

    def roles(self):
        return sorted(name for name, r in self.resources.items() if r["Type"] == "AWS::IAM::Role")

    def role_of(self, function):
        role = get_att_arn(function["Properties"].get("Role"))
        assert role and self.resources[role]["Type"] == "AWS::IAM::Role", f"{function} has no explicit role"
        return role

    def role_statements(self, role):
        """Every statement granted to a role: its inline policies and the IAM policies attached to it."""
        props = self.resources[role]["Properties"]
        assert not props.get("ManagedPolicyArns"), f"{role} has managed policies"
        out = [s for p in props.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
        for resource in self.resources.values():
            if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                if {"Ref": role} in resource["Properties"].get("Roles", []):
                    out.extend(resource["Properties"]["PolicyDocument"]["Statement"])
        return out

    def statements(self, function):
        """What a function may do: its role's statements (functions carry no SAM Policies)."""
        assert "Policies" not in function["Properties"], "permissions live on the explicit roles"
        return self.role_statements(self.role_of(function))

    @functools.cached_property
    def translated(self):
        """The template after the SAM transform (what CloudFormation will create)."""
        return sam_translate(self.template)

    def table_policy(self, operator_role=None):
        """The table's resource policy as deployed with OperatorRoleArn = `operator_role`
        (None: blank): its `HasOperatorRole` branches chosen and the parameter filled in."""
        def resolve(value):
            if isinstance(value, dict):
                if list(value) == ["Fn::If"] and value["Fn::If"][0] == "HasOperatorRole":
                    return resolve(value["Fn::If"][1 if operator_role else 2])
                if value == {"Ref": "OperatorRoleArn"}:
                    return operator_role or ""
                return {k: resolve(v) for k, v in value.items()}
            if isinstance(value, list):
                return [resolve(v) for v in value]
            return value
        return resolve(self.resources["KeysTable"]["Properties"]["ResourcePolicy"]["PolicyDocument"])

    def denied_by_table_policy(self, action, principal_arn, leading_keys, operator_role=None):
        """Evaluates the table's resource policy for one request, as IAM would for these operators.

        `principal_arn` is a logical role id (AuthorizerRole…) or any other ARN; `leading_keys`
        is the request's dynamodb:LeadingKeys, or None when the request carries none;
        `operator_role` the OperatorRoleArn parameter (None: blank).
        """
        def actual_and_expected(key, expected):
            if key == "dynamodb:LeadingKeys":
                return leading_keys, expected
            if key == "aws:PrincipalArn":
                return [principal_arn], {get_att_arn(v) or v for v in as_list(expected)}
            raise AssertionError(f"condition key not modelled: {key}")

        for statement in self.table_policy(operator_role)["Statement"]:
            if statement["Effect"] != "Deny" or action not in as_list(statement["Action"]):
                continue
            if all(condition_holds(op, *actual_and_expected(key, expected))
                   for op, keys in statement.get("Condition", {}).items() for key, expected in keys.items()):
                return True
        return False


def sam_translate(template, parameter_values=None):
    """A template after the SAM transform, offline (no managed policy lookups)."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = json.loads(json.dumps(template))  # a plain copy
    template.setdefault("Globals", {}).setdefault("Function", {})
    if "CodeUri" in template["Globals"]["Function"]:
        template["Globals"]["Function"]["CodeUri"] = "s3://bucket/key"  # as sam validate does
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name="us-east-1"))
    return translator.translate(template, parameter_values=parameter_values or {}, get_managed_policy_map=lambda: {})


def allowed_by(statements, action, leading_keys):
    """Whether identity-policy `statements` allow `action` on the table for a request whose
    dynamodb:LeadingKeys are `leading_keys` (None: the request reports none)."""
    for statement in statements:
        if statement["Effect"] != "Allow" or action not in as_list(statement["Action"]):
            continue
        conditions = statement.get("Condition", {})
        for op, keys in conditions.items():
            for key in keys:
                assert key == "dynamodb:LeadingKeys", f"condition key not modelled: {key}"
        if all(condition_holds(op, leading_keys, expected) for op, keys in conditions.items() for expected in keys.values()):
            return True
    return False


# The checks, one mixin per concern; each test file binds `stack`.

class TemplateMatchesTheCode:
    stack: Stack

    def test_every_function_binary_exists_in_the_workspace(self):
        binaries = workspace_binaries()
        for name, function in self.stack.functions().items():
            self.assertEqual(function["Metadata"]["BuildMethod"], "rust-cargolambda", name)
            self.assertIn(function["Metadata"]["BuildProperties"]["Binary"], binaries, name)
        self.assertEqual(set(self.stack.functions()), set(self.stack.expected_functions))

    def test_functions_run_on_arm64_al2023(self):
        globals_ = self.stack.template["Globals"]["Function"]
        self.assertEqual(globals_["Runtime"], "provided.al2023")
        self.assertEqual(globals_["Architectures"], ["arm64"])

    def test_authorizer_environment_matches_the_variables_the_code_reads(self):
        variables = self.stack.resources["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
        env, read = set(variables), variables_read()
        self.assertLessEqual(env, read, f"set in the template but never read: {env - read}")
        must = {"COGNITO_USER_POOL_ID", "JWT_ISSUER", "JWKS_URL", "JWT_AUDIENCE", "JWT_TOKEN_USE",
                "COGNITO_ISSUER_FORMAT", "COGNITO_REPLICA_REGIONS", "JWT_TYP",
                "POLICY_RESOURCES", "PRINCIPAL_CLAIM", "CONTEXT_CLAIMS", "DENY_MODE", "KEYS_TABLE_NAME"}
        self.assertLessEqual(must, env, f"missing from the template: {must - env}")
        self.assertEqual(variables["KEYS_TABLE_NAME"], {"Ref": "KeysTable"})

    def test_refresher_environment_is_read_by_the_code_and_needs_no_audience(self):
        env = set(self.stack.resources["RefresherFunction"]["Properties"]["Environment"]["Variables"])
        self.assertLessEqual(env, variables_read())
        self.assertNotIn("JWT_AUDIENCE", env)
        self.assertIn("KEYS_TABLE_NAME", env)

    def test_table_key_and_ttl_attribute_are_the_ones_the_code_writes(self):
        table = self.stack.resources["KeysTable"]["Properties"]
        self.assertEqual(table["TimeToLiveSpecification"],
                         {"AttributeName": rust_const("src/keys/record.rs", "EXPIRES_AT"), "Enabled": True})
        self.assertEqual(table["KeySchema"], [{"AttributeName": rust_const("src/keys/record.rs", "PK"), "KeyType": "HASH"}])
        self.assertEqual(table["BillingMode"], "PAY_PER_REQUEST")
        self.assertTrue(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"])

    def test_refresher_runs_every_14_days_and_has_an_errors_alarm(self):
        events = self.stack.resources["RefresherFunction"]["Properties"]["Events"]
        schedules = [e["Properties"]["Schedule"] for e in events.values() if e["Type"] == "Schedule"]
        self.assertEqual(schedules, ["rate(14 days)"])
        alarm = self.stack.resources["RefresherErrorsAlarm"]["Properties"]
        self.assertEqual((alarm["Namespace"], alarm["MetricName"]), ("AWS/Lambda", "Errors"))
        self.assertEqual(alarm["Dimensions"][0]["Value"], {"Ref": "RefresherFunction"})

    def test_outputs_and_parameters(self):
        self.assertLessEqual(self.stack.expected_outputs, set(self.stack.template["Outputs"]))
        self.assertLessEqual(self.stack.expected_parameters, set(self.stack.template["Parameters"]))


class RevocationAndRules:
    stack: Stack

    def test_parameters_turn_revocation_and_rules_on(self):
        env = self.stack.resources["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
        for variable, parameter in [("REVOCATION", "Revocation"), ("REVOCATION_CACHE_SECONDS", "RevocationCacheSeconds"),
                                    ("REVOCATION_ON_ERROR", "RevocationOnError"), ("POLICY_RULES", "PolicyRules"),
                                    ("GROUPS_CLAIM", "GroupsClaim")]:
            self.assertEqual(env[variable], {"Ref": parameter}, variable)
        params = self.stack.template["Parameters"]
        self.assertEqual(params["Revocation"]["Default"], "off")
        self.assertEqual(params["Revocation"]["AllowedValues"], ["off", "on"])
        self.assertEqual(params["RevocationOnError"]["AllowedValues"], ["allow", "deny"])
        self.assertEqual(self.stack.template["Conditions"]["RevocationOn"], {"Fn::Equals": [{"Ref": "Revocation"}, "on"]})

    def test_revocation_errors_alarm_only_with_revocation_on(self):
        alarm = self.stack.resources["RevocationErrorsAlarm"]
        self.assertEqual(alarm["Condition"], "RevocationOn")
        self.assertEqual(alarm["Properties"]["Namespace"], default_metrics_namespace())
        self.assertIn(alarm["Properties"]["MetricName"], emf_metric_names())


class LeastPrivilege:
    stack: Stack

    def test_batch_reads_are_granted_only_when_revocation_or_several_issuers_use_them(self):
        self.assertEqual(self.stack.template["Conditions"]["BatchReads"], {"Fn::Or": [
            {"Condition": "RevocationOn"},
            {"Fn::Equals": [{"Ref": "CognitoIssuerFormat"}, "both"]},
            {"Fn::Not": [{"Fn::Equals": [{"Ref": "CognitoReplicaRegions"}, ""]}]},
        ]})

    def test_iam_is_exactly_get_and_put_on_the_table_plus_batch_get_for_revocation_or_several_issuers(self):
        revocation_only = {"Fn::If": ["BatchReads", "dynamodb:BatchGetItem", {"Ref": "AWS::NoValue"}]}
        registry_only = {"Fn::If": ["TenantRegistryOn", "dynamodb:Scan", {"Ref": "AWS::NoValue"}]}
        for name in ["AuthorizerFunction", "RefresherFunction"]:
            found = [s for s in self.stack.statements(self.stack.resources[name])
                     if not all(a.startswith("logs:") for a in as_list(s["Action"]))]
            self.assertEqual(len(found), 1, name)
            self.assertEqual(found[0]["Effect"], "Allow")
            plain = sorted(a for a in found[0]["Action"] if isinstance(a, str))
            conditional = [a for a in found[0]["Action"] if not isinstance(a, str)]
            self.assertEqual(plain, ["dynamodb:GetItem", "dynamodb:PutItem"], name)
            self.assertEqual(conditional, [revocation_only] if name == "AuthorizerFunction" else [registry_only], name)
            self.assertEqual(found[0]["Resource"], {"Fn::GetAtt": ["KeysTable", "Arn"]}, name)
            self.assertNotIn("Condition", found[0], name)
        for name, function in self.stack.functions().items():
            if name not in ("AuthorizerFunction", "RefresherFunction"):
                self.assertEqual([s for s in self.stack.statements(function)
                                  if not all(a.startswith("logs:") for a in as_list(s["Action"]))], [], name)

    def test_each_function_only_writes_its_own_log_group_and_never_creates_one(self):
        for name, function in self.stack.functions().items():
            log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
            logs = [s for s in self.stack.statements(function) if any(a.startswith("logs:") for a in as_list(s["Action"]))]
            self.assertEqual(len(logs), 1, name)
            self.assertEqual(logs[0]["Effect"], "Allow")
            self.assertEqual(sorted(logs[0]["Action"]), ["logs:CreateLogStream", "logs:PutLogEvents"], name)
            self.assertEqual(logs[0]["Resource"], {"Fn::GetAtt": [log_group, "Arn"]}, name)

    def test_iam_comes_only_from_the_roles_and_policies_the_stack_names(self):
        resources = self.stack.resources
        iam = {n: r for n, r in resources.items() if r["Type"].startswith("AWS::IAM::")}
        self.assertEqual(set(iam), self.stack.expected_iam)
        for name in ["AuthorizerTableAccess", "RefresherTableAccess"]:
            self.assertEqual(iam[name]["Type"], "AWS::IAM::Policy")
        self.assertEqual(resources["AuthorizerTableAccess"]["Properties"]["Roles"], [{"Ref": "AuthorizerRole"}])
        self.assertEqual(resources["RefresherTableAccess"]["Properties"]["Roles"], [{"Ref": "RefresherRole"}])
        self.assertEqual({n: self.stack.role_of(f) for n, f in self.stack.functions().items()}, self.stack.expected_functions)
        self.assertEqual(self.stack.roles(), sorted(self.stack.expected_functions.values()))
        for role in self.stack.roles():
            trust = resources[role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            self.assertEqual(trust, TRUST_LAMBDA, role)
        generated = [n for n, r in self.stack.translated["Resources"].items() if r["Type"].startswith("AWS::IAM::") and n not in iam]
        self.assertEqual(generated, [], "the SAM transform must not add IAM")

    def test_functions_start_only_once_they_may_read_the_table(self):
        self.assertEqual(self.stack.resources["AuthorizerFunction"].get("DependsOn"), "AuthorizerTableAccess")
        self.assertEqual(self.stack.resources["RefresherFunction"].get("DependsOn"), "RefresherTableAccess")

    def test_api_gateway_may_invoke_only_the_functions_the_stack_names(self):
        permissions = {n: r["Properties"] for n, r in self.stack.resources.items() if r["Type"] == "AWS::Lambda::Permission"}
        for permission in permissions.values():
            self.assertEqual(permission["Principal"], "apigateway.amazonaws.com")
            self.assertEqual(permission["Action"], "lambda:InvokeFunction")
        self.assertEqual({p["FunctionName"]["Ref"] for p in permissions.values()}, self.stack.invoked_by_api)

    def test_after_the_transform_only_its_schedule_invokes_the_refresher(self):
        resources = self.stack.translated["Resources"]
        permissions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"
                       and "RefresherFunction" in json.dumps(r["Properties"]["FunctionName"])]
        [schedule] = permissions
        self.assertEqual(schedule["Principal"], "events.amazonaws.com")
        self.assertEqual(schedule["Action"], "lambda:InvokeFunction")
        rule = schedule["SourceArn"]["Fn::GetAtt"][0]
        self.assertEqual(resources[rule]["Properties"]["ScheduleExpression"], "rate(14 days)")


class KeysTableResourcePolicy:
    """The keys table is a trust anchor: only the stack's two functions may write key items."""
    stack: Stack

    def test_denies_every_item_write_of_key_items_to_all_but_the_two_roles(self):
        deny = [s for s in self.stack.table_policy()["Statement"] if s["Effect"] == "Deny"
                and ISSUER_ITEM_PREFIX + "*" not in json.dumps(s)]
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
        self.assertEqual([s for s in self.stack.table_policy()["Statement"] if s["Effect"] != "Deny"], [])
        self.assertNotIn("ForAllValues", json.dumps(self.stack.table_policy()))

    def test_covers_every_key_item_prefix_the_code_writes_and_no_operator_item(self):
        in_code = item_prefixes_in_code()
        self.assertIn("JWKS#", in_code)
        self.assertLessEqual(in_code - OPERATOR_ITEM_PREFIXES, KEY_ITEM_PREFIXES,
                             "a new key item prefix in src/keys/record.rs needs the table's deny")
        self.assertEqual(KEY_ITEM_PREFIXES & OPERATOR_ITEM_PREFIXES, set())

    def test_an_operator_cannot_write_key_items_but_can_write_revocations(self):
        denied = self.stack.denied_by_table_policy
        operator = "arn:aws:iam::123456789012:role/operator"
        jwks, discovery = "JWKS#https://issuer.example/jwks.json", "DISCOVERY#https://issuer.example"
        revoked = "REVOKED#https://issuer.example#sub#alice"
        for action in sorted(ITEM_WRITE_ACTIONS):
            self.assertTrue(denied(action, operator, [jwks]), action)
            self.assertTrue(denied(action, operator, [discovery]), action)
            self.assertTrue(denied(action, operator, None), f"{action} without a reported key")
        self.assertTrue(denied("dynamodb:BatchWriteItem", operator, [revoked, jwks]))
        self.assertFalse(denied("dynamodb:PutItem", operator, [revoked]))
        self.assertFalse(denied("dynamodb:BatchWriteItem", operator, [revoked, "REVOKED#x#jti#1"]))
        self.assertFalse(denied("dynamodb:DeleteItem", operator, [revoked]))
        self.assertFalse(denied("dynamodb:GetItem", operator, [jwks]), "reads stay open")

    def test_the_authorizer_may_write_dpop_replay_items(self):
        # DPOP#{jkt}#{jti} (src/binding/dynamo.rs): one conditional PutItem per proof with
        # DPOP_REPLAY=table. Not a trust anchor: writing one can only refuse a proof.
        self.assertFalse(self.stack.denied_by_table_policy("dynamodb:PutItem", "AuthorizerRole", ["DPOP#abc#jti-1"]))
        self.assertIn("dynamodb:PutItem", {a for s in self.stack.statements(self.stack.resources["AuthorizerFunction"]) for a in as_list(s["Action"])})
        self.assertIn('"DPOP#', rust_non_test_code("src/binding/dynamo.rs"))

    def test_the_stack_functions_are_not_locked_out(self):
        for role in KEY_WRITER_ROLES:
            for keys in (["JWKS#https://issuer.example/jwks.json"], ["DISCOVERY#https://issuer.example"]):
                self.assertFalse(self.stack.denied_by_table_policy("dynamodb:PutItem", role, keys), role)
        for other in [r for r in self.stack.roles() if r not in KEY_WRITER_ROLES] + ["arn:aws:iam::123456789012:role/other"]:
            self.assertTrue(self.stack.denied_by_table_policy("dynamodb:PutItem", other, ["JWKS#x"]), other)

    def test_issuer_items_are_written_by_the_operator_role_only_and_by_nobody_without_one(self):
        issuer = ["ISSUER#https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_T1"]
        jwks = ["JWKS#https://issuer.example/jwks.json"]
        denied = self.stack.denied_by_table_policy
        everyone = list(KEY_WRITER_ROLES) + ["arn:aws:iam::123456789012:role/other", OPERATOR_ROLE]
        for action in sorted(ITEM_WRITE_ACTIONS):
            for principal in everyone:
                self.assertTrue(denied(action, principal, issuer), f"{action} {principal} without an operator role")
            for principal in everyone[:-1]:
                self.assertTrue(denied(action, principal, issuer, OPERATOR_ROLE), f"{action} {principal}")
            self.assertTrue(denied(action, OPERATOR_ROLE, issuer + jwks, OPERATOR_ROLE), action)
        self.assertFalse(denied("dynamodb:PutItem", OPERATOR_ROLE, issuer, OPERATOR_ROLE))
        self.assertFalse(denied("dynamodb:UpdateItem", OPERATOR_ROLE, issuer, OPERATOR_ROLE))
        self.assertTrue(denied("dynamodb:PutItem", OPERATOR_ROLE, jwks, OPERATOR_ROLE),
                        "the operator role still cannot write keys")
        self.assertFalse(denied("dynamodb:GetItem", "AuthorizerRole", issuer), "the functions read them")

    def test_the_tenant_parameters_reach_the_functions_and_need_a_pattern_and_an_operator(self):
        authorizer = self.stack.resources["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
        refresher = self.stack.resources["RefresherFunction"]["Properties"]["Environment"]["Variables"]
        for parameter, variable in TENANT_PARAMETERS.items():
            self.assertEqual(authorizer[variable], {"Ref": parameter}, variable)
        for variable in ("TENANT_REGISTRY", "TENANT_ISSUER_PATTERN"):
            self.assertEqual(refresher[variable], authorizer[variable], variable)
        params = self.stack.template["Parameters"]
        self.assertEqual(params["TenantRegistry"]["Default"], "off")
        self.assertEqual((params["TenantCacheSeconds"]["Default"], params["TenantLookupsPerSecond"]["Default"]), (60, 5))
        self.assertEqual(params["OperatorRoleArn"]["Default"], "")
        rule = self.stack.template["Rules"]["TenantRegistryNeedsPatternAndOperatorRole"]
        self.assertEqual(rule["RuleCondition"], {"Fn::Equals": [{"Ref": "TenantRegistry"}, "on"]})
        asserted = json.dumps(rule["Assertions"])
        self.assertIn("TenantIssuerPattern", asserted)
        self.assertIn("OperatorRoleArn", asserted)

    def test_the_roles_it_names_do_not_depend_on_the_table(self):
        # The table's policy names the roles, so the roles must not reference the table:
        # table access lives in the separate AWS::IAM::Policy resources.
        for role in KEY_WRITER_ROLES:
            self.assertNotIn("KeysTable", json.dumps(self.stack.resources[role]), role)


class Logs:
    stack: Stack

    def test_every_function_logs_to_its_own_group_with_a_retention(self):
        groups = set()
        for name, function in self.stack.functions().items():
            group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
            resource = self.stack.resources[group]
            self.assertEqual(resource["Type"], "AWS::Logs::LogGroup", name)
            self.assertEqual(resource["Properties"]["RetentionInDays"], {"Ref": "LogRetentionInDays"}, name)
            self.assertTrue(resource["Properties"]["LogGroupName"]["Fn::Sub"].startswith("/aws/lambda/${AWS::StackName}/"), name)
            groups.add(group)
        self.assertEqual(groups, self.stack.expected_log_groups)
        every_group = {n for n, r in self.stack.resources.items() if r["Type"] == "AWS::Logs::LogGroup"}
        self.assertEqual(every_group, groups, "a log group no function writes")
        retention = self.stack.template["Parameters"]["LogRetentionInDays"]
        self.assertEqual(retention["Default"], 30)
        self.assertIn(retention["Default"], retention["AllowedValues"])

    def test_no_role_may_create_a_log_group(self):
        for role in self.stack.roles():
            actions = {a for s in self.stack.role_statements(role) for a in as_list(s["Action"])}
            self.assertFalse({a for a in actions if fnmatch.fnmatchcase("logs:CreateLogGroup", a)}, role)


class Dashboard:
    stack: Stack

    def body(self):
        text = self.stack.resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
        variables = set(re.findall(r"\$\{([^}]+)\}", text))
        self.assertLessEqual(variables, {"AWS::Region", "AuthorizerFunction", "RefresherFunction"})
        return json.loads(re.sub(r"\$\{([^}]+)\}", r"<\1>", text))

    def metrics(self):
        return [tuple(m) for w in self.body()["widgets"] if w["type"] == "metric" for m in w["properties"]["metrics"]]

    def test_graphs_only_metrics_the_authorizer_emits_with_its_namespace_and_dimension(self):
        ours = [m for m in self.metrics() if m[0] != "AWS/Lambda"]
        namespace = default_metrics_namespace()
        self.assertNotIn("METRICS_NAMESPACE", self.stack.resources["AuthorizerFunction"]["Properties"]["Environment"]["Variables"],
                         "the dashboard assumes the default namespace")
        for metric in ours:
            self.assertEqual(metric[0], namespace, metric)
            self.assertEqual(metric[2:], ("FunctionName", "<AuthorizerFunction>"), metric)
        graphed = {m[1] for m in ours}
        self.assertLessEqual(graphed, emf_metric_names(), "graphed but never emitted by src/metrics.rs")
        self.assertLessEqual(EMF_METRICS_TODAY, graphed)

    def test_graphs_the_refresher_errors(self):
        self.assertIn(("AWS/Lambda", "Errors", "FunctionName", "<RefresherFunction>"), self.metrics())


class HttpApiAnswers:
    """What the authorizer answers an HTTP API must suit a result cache keyed by identity
    source alone (docs/decisions.md): the template must say which format it answers."""
    stack: Stack

    def test_the_http_api_answer_format_is_explicit(self):
        variables = self.stack.resources["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
        self.assertIn(variables.get("HTTP_API_RESPONSE"), ("iam", "simple"), "unset is `auto`, whose format follows the rules")
        if variables["HTTP_API_RESPONSE"] == "simple":
            self.assertEqual(variables.get("HTTP_API_CACHE"), "off", "simple answers with per-user grants need it")
