"""The keys table on moto_server, as template.yaml declares it (partition key `PK`,
on-demand, TTL on `expires_at`), its keys item, and the fake AWS environment a function
or `authorizer-admin` needs to reach it: one place for the demo, the benchmarks and the
soak."""
import time

import boto3

# KEYS_TTL_SECONDS's default (15 days): how long a keys item written here stays live.
KEYS_ITEM_TTL = 1_296_000

# Credentials and region that moto accepts; metadata lookups off, so nothing waits on them.
FAKE_AWS = {"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing", "AWS_EC2_METADATA_DISABLED": "true"}


def aws_env(endpoint: str) -> dict:
    """The environment of a process that reaches DynamoDB at `endpoint` with fake credentials."""
    return {"AWS_ENDPOINT_URL": endpoint, **FAKE_AWS}


def keys_item_key(jwks_url: str) -> dict:
    """The key of the keys item of `jwks_url` (src/keys/record.rs: `JWKS#{url}`)."""
    return {"PK": {"S": f"JWKS#{jwks_url}"}}


def put_keys_item(dynamodb, table: str, jwks_url: str, jwks: str) -> None:
    """Stores `jwks` as the keys item of `jwks_url`, fetched now and live for KEYS_ITEM_TTL."""
    now = int(time.time())
    dynamodb.put_item(TableName=table, Item={**keys_item_key(jwks_url), "jwks": {"S": jwks},
                                             "fetched_at": {"N": str(now)},
                                             "expires_at": {"N": str(now + KEYS_ITEM_TTL)}})


def dynamodb_client(moto: str):
    """A boto3 DynamoDB client for moto_server at `moto` (fake credentials)."""
    return boto3.client("dynamodb", endpoint_url=moto, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def create_keys_table(dynamodb, name: str, fresh: bool = False) -> None:
    """Creates the table `name`; an existing one is kept, or dropped first when `fresh`."""
    if fresh:
        try:
            dynamodb.delete_table(TableName=name)
        except dynamodb.exceptions.ResourceNotFoundException:
            pass
    try:
        dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}])
    except dynamodb.exceptions.ResourceInUseException:
        return
    dynamodb.update_time_to_live(TableName=name,
                                 TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})
