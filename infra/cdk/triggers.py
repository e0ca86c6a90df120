"""Asynchronous triggers: SQS queues (each with its DLQ) and table stream consumers."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.manifest import EventRule, QueueSpec, Schedule, StreamConsumer

# The longest SQS allows: time for operators to look at what failed.
DLQ_RETENTION = Duration.days(14)


def _dlq(scope: Construct, id: str) -> sqs.Queue:
    return sqs.Queue(
        scope,
        id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DLQ_RETENTION,
    )


def build_queue(scope: Construct, spec: QueueSpec) -> sqs.Queue:
    """The queue with its DLQ; built before the functions, which may send to it."""
    dlq = _dlq(scope, f"{spec.name}Dlq")
    return sqs.Queue(
        scope,
        spec.name,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=Duration.seconds(spec.visibility_timeout_seconds),
        dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=spec.max_receive_count, queue=dlq),
    )


def subscribe(queue: sqs.Queue, spec: QueueSpec, consumer: lambda_.Function) -> None:
    """The queue's consumer: Lambda's event source mapping, reporting batch item failures,
    gathering a batch for up to the spec's window (none: invoked at the first message)."""
    # A received message stays invisible while its batch is gathered and then processed.
    if consumer.timeout and spec.visibility_timeout_seconds < (
        consumer.timeout.to_seconds() + spec.max_batching_window_seconds
    ):
        raise ValueError(
            f"{spec.name}: visibility timeout below {consumer.node.id}'s timeout and the batching "
            "window would redeliver messages still being processed"
        )
    window = spec.max_batching_window_seconds
    consumer.add_event_source(
        sources.SqsEventSource(
            queue,
            batch_size=spec.batch_size,
            max_batching_window=Duration.seconds(window) if window else None,
            report_batch_item_failures=True,
        )
    )


def build_stream_consumer(
    scope: Construct, spec: StreamConsumer, table: dynamodb.ITable, consumer: lambda_.Function
) -> sqs.Queue:
    # Receives the metadata of batches that still fail after retries and bisection.
    dlq = _dlq(scope, f"{spec.function}StreamDlq")
    consumer.add_event_source(
        sources.DynamoEventSource(
            table,
            starting_position=lambda_.StartingPosition.LATEST,
            batch_size=spec.batch_size,
            retry_attempts=spec.max_retry_attempts,
            bisect_batch_on_error=True,
            report_batch_item_failures=True,
            on_failure=sources.SqsDlq(dlq),
            filters=[lambda_.FilterCriteria.filter(spec.filter_pattern())],
        )
    )
    Validations.of(dlq).acknowledge(
        Acknowledgment(
            id="AwsSolutions-SQS3",
            reason="This queue is itself a dead-letter destination (the stream mapping's "
            "on-failure target); a DLQ of a DLQ would only hide failures further.",
        )
    )
    if consumer.role is not None:
        Validations.of(consumer.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="Active tracing (xray:PutTraceSegments/PutTelemetryRecords) and "
                "dynamodb:ListStreams support no resource-level permissions; the stream "
                "itself is read through its own ARN.",
            )
        )
    return dlq


def build_event_rule(scope: Construct, spec: EventRule, bus: events.IEventBus, queue: sqs.IQueue) -> events.Rule:
    """Domain events of the listed detail types, delivered to a queue (its DLQ catches failures)."""
    return events.Rule(
        scope,
        spec.name,
        event_bus=bus,
        event_pattern=events.EventPattern(detail_type=list(spec.detail_types)),
        targets=[targets.SqsQueue(queue)],
    )


def build_schedule(scope: Construct, spec: Schedule, function: lambda_.IFunction) -> events.Rule:
    """A rule on the default bus that invokes the function on the schedule (EventBridge retries, then drops)."""
    return events.Rule(
        scope,
        spec.name,
        schedule=events.Schedule.expression(spec.expression),
        targets=[targets.LambdaFunction(function, retry_attempts=2)],
    )
