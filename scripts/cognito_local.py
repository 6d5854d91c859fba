#!/usr/bin/env python3
"""Create a Cognito user pool, app client and users in a local moto_server and
print their tokens as one JSON object on stdout.

Run (moto_server must already be listening, e.g. via start_moto in
scripts/lib/tools.sh):

    python3 scripts/cognito_local.py --endpoint http://127.0.0.1:PORT \
        --region us-east-1 [--username alice] [--other-username bob]

Output keys: pool_id, client_id, region, issuer (the `iss` claim moto puts in
its tokens), jwks_url (checked to answer with a JWKS), and users: a list of
{username, sub, access_token, id_token}. Needs only the stdlib and boto3.
Uses dummy AWS credentials unless some are set. On error: one line on stderr,
exit status 1.
"""

import argparse
import base64
import json
import os
import sys
import urllib.request
import uuid

PASSWORD = "Local-Passw0rd!"  # satisfies the default pool password policy


def fail(msg):
    print(f"cognito_local: error: {msg}", file=sys.stderr)
    sys.exit(1)


def jwt_part(token, index):
    """Decode one part (0 = header, 1 = payload) of a JWT, without verifying it."""
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def make_user(idp, pool_id, client_id, username, groups=()):
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username=username,
        TemporaryPassword=PASSWORD + "tmp",
        MessageAction="SUPPRESS",
        UserAttributes=[
            {"Name": "email", "Value": f"{username}@example.com"},
            {"Name": "email_verified", "Value": "true"},
        ],
    )
    idp.admin_set_user_password(
        UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True
    )
    for group in groups:
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
    auth = idp.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    if "AuthenticationResult" not in auth:
        fail(f"no tokens for {username}: got challenge {auth.get('ChallengeName')}")
    tokens = auth["AuthenticationResult"]
    access, id_token = tokens["AccessToken"], tokens["IdToken"]
    return {
        "username": username,
        "sub": jwt_part(access, 1)["sub"],
        "access_token": access,
        "id_token": id_token,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--endpoint", required=True, help="moto_server URL, http://127.0.0.1:PORT")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--username", default="alice")
    ap.add_argument("--other-username", help="also create this second user")
    ap.add_argument("--group", action="append", default=[],
                    help="create this group and put the first user in it (repeatable); "
                         "its tokens then carry cognito:groups")
    args = ap.parse_args()
    endpoint = args.endpoint.rstrip("/")

    # moto accepts any credentials; never pick up real ones by accident.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_SESSION_TOKEN", "testing")

    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        fail("boto3 is not installed (run ensure_python_tools from scripts/lib/tools.sh)")

    try:
        idp = boto3.client(
            "cognito-idp",
            region_name=args.region,
            endpoint_url=endpoint,
            config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
        )
        pool_id = idp.create_user_pool(PoolName=f"local-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
        client_id = idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName="local-client",
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]

        for group in args.group:
            idp.create_group(GroupName=group, UserPoolId=pool_id)
        names = [args.username] + ([args.other_username] if args.other_username else [])
        users = [make_user(idp, pool_id, client_id, name, args.group if i == 0 else ())
                 for i, name in enumerate(names)]

        issuer = jwt_part(users[0]["access_token"], 1)["iss"]
        jwks_url = f"{endpoint}/{pool_id}/.well-known/jwks.json"
        with urllib.request.urlopen(jwks_url, timeout=10) as resp:
            status, jwks = resp.status, json.load(resp)
        if status != 200 or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
            fail(f"{jwks_url} did not answer 200 with a non-empty JSON 'keys' array")
    except SystemExit:
        raise
    except Exception as exc:  # boto/urllib/JSON errors: one line, exit 1
        fail(f"{type(exc).__name__}: {' '.join(str(exc).split())}")

    json.dump(
        {
            "pool_id": pool_id,
            "client_id": client_id,
            "region": args.region,
            "issuer": issuer,
            "jwks_url": jwks_url,
            "users": users,
        },
        sys.stdout,
        indent=2,
    )
    print()


if __name__ == "__main__":
    main()
