"""Each test's stack is the just-provisioned one, whatever the test before it did (the
``aws`` fixture copies the provisioned backends once per process instead of provisioning)."""

from __future__ import annotations

import json

import boto3
from moto.awslambda.models import lambda_backends

from infra.local.provision import LocalResources
from tests.integration import conftest


def _dirty(res: LocalResources) -> None:
    ddb, sqs, lam, secrets = (boto3.client(s) for s in ("dynamodb", "sqs", "lambda", "secretsmanager"))
    ddb.put_item(TableName=res.table_name, Item={"pk": {"S": "LEFTOVER"}, "sk": {"S": "X"}})
    queue = next(iter(res.queues.values()))
    sqs.send_message(QueueUrl=queue.dlq_url, MessageBody="leftover")
    function = next(iter(res.functions.values()))
    lam.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=1)
    secrets.put_secret_value(SecretId=res.api_keys_secret_id, SecretString=json.dumps({"leftover": {}}))


def _pristine(res: LocalResources) -> None:
    ddb, sqs, lam, secrets = (boto3.client(s) for s in ("dynamodb", "sqs", "lambda", "secretsmanager"))
    assert ddb.scan(TableName=res.table_name)["Items"] == []
    queue = next(iter(res.queues.values()))
    attributes = sqs.get_queue_attributes(QueueUrl=queue.dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"
    function = next(iter(res.functions.values()))
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=function)
    assert "leftover" not in secrets.get_secret_value(SecretId=res.api_keys_secret_id)["SecretString"]
    # Event source mappings find their function by ARN in a weak-valued index of moto's: it
    # holds this stack's functions, not another test's (or none).
    backend = lambda_backends[res.account_id][res.region]
    for arn in res.functions.values():
        assert backend.get_function_by_arn(arn) is backend.get_function(arn)


def test_the_next_test_gets_the_provisioned_stack_whatever_this_one_changed(aws: LocalResources) -> None:
    _dirty(aws)
    again = conftest._provisioned()  # what the next test's fixture does
    assert again == aws
    _pristine(again)
    _dirty(again)
    _pristine(conftest._provisioned())
