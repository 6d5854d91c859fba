"""The keys table on moto_server, as template.yaml declares it (partition key `PK`,
on-demand, TTL on `expires_at`): one place for the demo, the benchmarks and the soak."""
import boto3


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
