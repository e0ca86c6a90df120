"""Where moto's DynamoDB differs from DynamoDB in ways the OMS depends on, the local
stack corrects it. Each patch names what it fixes; ``install()`` applies them once.

1. Requests are serialized. moto's table is a plain dict: two threads writing at once can
   break a read that iterates it, and a conditional write is check-then-act. One lock
   makes every request atomic, as DynamoDB's conditional writes are.
2. Transactions check every condition first and write only if all hold. moto applies the
   items one by one and "rolls back" by restoring a deep copy of the whole table taken
   before each transaction: O(table size) per call, and the stream has already seen
   (and Lambda already received) the writes it rolled back.
3. Responses are written as JSON directly. moto's generic, shape-driven serializer spends
   seconds on a query of a few thousand items; DynamoDB's results are already in wire
   format, so ``json.dumps`` gives the same bytes' meaning at a fraction of the cost. Such
   a result is answered without looking up the operation's model and protocol, which only
   choose a serializer.
6. Messages sent to a queue with a Lambda trigger reach the consumer from background
   threads, as Lambda's poller does, instead of inside ``SendMessage`` (a bulk import of a
   few thousand rows otherwise held its HTTP request past the API's timeout); each queue
   has a poller of its own (one thread for all queues made carrier events wait behind
   every outbound webhook and e-mail). As Lambda's, a standard queue's poller works more
   batches at once while messages wait beyond what those running take, up to five
   (``_poll_batches``): one batch at a time, the outbound webhooks of a 200-order run
   fell 5.6 s behind their events. A FIFO queue's batches go one at a time, in order.
5. The server finds a request's service without listing moto's package directory on
   disk under a global lock for every request, and keeps connections alive
   (``KeepAliveRequestHandler``): werkzeug's development server closes every connection
   after one response, so each SDK call opened a TCP connection and the server started
   a thread for it (a third of the emulator's HTTP cost per request).
4. Stream records reach their Lambda consumers from background threads, in order, as a
   real stream does, instead of inside the write that produced them (which held the
   request lock and made every write wait for its consumers); each mapping has its own.
7. The Step Functions interpreter parses a definition with ANTLR and builds its
   evaluation components once, not once per execution (0.2 s and 32 ms of CPU for
   OrderLifecycle). The components hold no execution's state: everything an execution
   changes lives in its own ``Environment``, which is why a Map already runs its
   iterations at once through one shared set of components.
8. The interpreter's Lambda client (every Lambda task calls Lambda through it) is created
   once per region instead of once per call (a client costs tens of ms).
9. A query reads only its partition. moto's query starts from every item of the table,
   sorted (``all_items``), and then keeps those of the partition: O(n log n) comparisons
   of typed values per query, the emulator's largest cost once the table holds a few
   thousand items. A table query now starts from its partition's items; an index query
   from the items whose index partition key has the queried value, kept per table by
   every write through its stream (``_IndexPartitions``; a table without a stream reads
   every item, unsorted). moto still matches every condition on them and sorts them by
   the index's keys and the table's keys, so the answer and its order are the same.
10. An update expression's syntax tree is copied node by node before it is validated
   (the validation rewrites the copy), not with ``copy.deepcopy``: the generic deep copy
   of a tree of a few dozen nodes was 40 % of the emulator's CPU while orders shipped.
11. The interpreter's Lambda tasks call moto's Lambda backend in this process instead of
   through a boto3 client and HTTP to this same server: the request is the same
   (function, payload, invocation type) and reaches the same adapter, and an error the
   service answers reaches the interpreter as the same ``ClientError``; what goes is
   serializing, signing, sending and parsing each task's payload twice (a quarter of the
   emulator's CPU per order). The request is still counted (``requests_meter``).
12. JSONPath expressions are compiled once, not at every use: the interpreter compiled
   each state's paths (InputPath, Parameters, ResultPath, ...) at every evaluation, and
   EventBridge's input transformation per event and target; jsonpath_ng builds its whole
   parser for each. A compiled expression is read-only (finding or updating a document
   does not change it), so one serves every execution.
13. The update-expression validators' traversal asks each processor for its map of node
   classes to methods once per traversal, not once per node (it rebuilt the dict and the
   tuple of its keys for every node of every update), and which class of the map takes a
   node is looked up once per processor class and node class, as is whether a clause
   search descends into a node: moto asked the ABC machinery ``isinstance`` for each
   (5 million calls in 3,000 updates, 1.7 of their 4.7 ms under a profiler).
14. An update expression is parsed once per expression string, not at every request
   (moto parsed it twice per UpdateItem: in the response handler and in the backend).
   The parsed tree is read-only: the validator rewrites a copy of it (patch 10).
15. A response class's method names are listed once per class, not by ``inspect`` at
   every request.
16. A stream consumer's filter patterns are parsed once, into one check each, not for
   every record.
17. A JSON-protocol request (``X-Amz-Target``) of the services the handlers call goes to
   the service's moto response class directly (``DirectDispatch``), as moto's Flask app
   for that service would route it: the same ``dispatch`` with the same request, without
   the dispatcher finding the service, Flask's request and response objects, its URL
   map and CORS hooks (a fifth of the emulator's CPU per request).
18. A query's matching items are not deep-copied before they are answered. moto copies
   them so the answer cannot change the table; but the answer is built from them (into
   new dicts) and serialized while the request still holds the lock (patch 1), and
   projection builds new items, so nothing written to the copy would ever reach the
   table. Copying the items of each query was 8 % of the emulator's CPU.
19. Results are turned into plain values (``dynamo_to_dict``) without asking every string
   of every item whether it has a ``to_json`` method (a failed attribute lookup, with its
   exception, per value): dicts (an item's attributes are moto's ``LimitedSizeDict``),
   lists, scalars and DynamoDB values are converted as moto converts them; anything else
   still goes to moto's function.
20. ``SendTaskFailure`` keeps its ``cause``: moto's response handler passed only the error
   to the interpreter, so a Catch saw no cause (the workflow's branches carry their detail
   in it: shared/workflow.py ``branch_task``).
21. A condition expression is cut into tokens once per expression string, not at every
   request: moto's lexer builds its list of token patterns again for every token (a
   typical condition took 1.1 ms to parse, 0.33 ms with its tokens kept). The tokens
   hold only the expression's own text; names and values are resolved after, on every
   request as before.
22. A received message's retention is checked against the queue's retention period, not
   against the whole attribute map moto builds for it twice per message (each
   attribute's name converted from camel case, the visible and delayed messages counted):
   an eighth of the emulator's CPU while queue consumers ran.
23. A queue's consumer receives its messages in batches, as Lambda's poller reads them:
   every visible message up to the mapping's batch size in one invocation. moto invoked
   the function once per message, whatever the batch size, so a burst of ten webhook
   events cost ten invocations. With ``ReportBatchItemFailures`` the messages a batch
   reports come back and the rest are deleted; a batch that fails as a whole (or names a
   message it did not hold, or never reached the function) comes back whole. A failed
   message is tried again when the next message arrives, as moto does. Batches hold what
   is there when the poller looks: it does not wait out ``MaximumBatchingWindowInSeconds``.
24. An item's size is added up once when the item is built, and without wrapping every
   value of a map in a new ``DynamoType`` (which converts its whole subtree again) to
   size it. moto summed the whole item again for each attribute it set (O(n²) in the
   attributes per item built) to refuse an item over its limit at the attribute that
   crosses it; the total is only ever larger, so checking it once refuses the same items.
   An update still checks at each attribute it sets, as moto does.
25. A value's plain form (``to_regular_json``: every stream record's images, an item's
   JSON) is built in one pass over it. moto deep-copied a map's or a list's whole subtree
   and then converted each member, which copied that member's subtree again: a value
   nested d deep was copied d times. Every write's stream record holds the old and the
   new item in full: building one took 150 µs on average in the lifecycle benchmark, 93 µs now.
26. An item's size is kept on the item until an update changes it. A query sizes every
   item it answers twice (for its 1 MB page limit) by walking all of the item's values:
   two thirds of a query's CPU, for items that mostly had not changed since the last
   query of their partition. Items are built with their size (patch 24), a copy keeps
   its item's; an update, which changes its item in place, sizes it again for its stream
   record, and drops the kept size where it writes no record or where moto refused it
   after changing the item in part.
27. An update expression's checks that read only the expression and its names (one
   clause of each kind, no two actions on overlapping paths, no key attribute set) run
   once per expression, names and table key: they walked the whole tree at every update,
   three times over for the clause count. The checks that read the values and the item
   run at every update as before; an expression that fails a check is checked again
   each time, so it fails each time.
28. An item and its values are deep-copied by one recursive pass over them, without the
   ``copy`` module's memo and dispatch for every value. moto copies every item it updates
   (the stream's old image), 0.16 ms for an order header; 0.05 ms now. The copy is the
   same: keys, maps and lists copied, sets as new lists, scalars shared.
29. A JSON-protocol request's parameters are read against the operation's shapes
   looking only at the members a value has. moto's parser visits every member of every
   structure it meets: each of a DynamoDB item's values is an ``AttributeValue`` of ten
   members, so an item of a hundred values took a thousand lookups. The result is the
   same: the modelled members a value has, not null, in the shape's order; blobs
   decoded, numbers converted, as moto's parser does.
30. A request's header block is read into its ``HTTPMessage`` directly, not through the
   ``email`` package's feed parser (70 µs of the endpoint's 640 µs of CPU for a
   ``GetItem``). The message holds the same headers in the same order with the same
   values; a block the direct reading does not cover (folded lines, a name the feed
   parser would not take, a stray carriage return, a multipart or message content type)
   still goes to the feed parser.
31. An SQS queue's attribute names are converted to moto's attribute names once, not at
   every message sent: moto builds the queue's whole attribute map to read one of them,
   converting fourteen names character by character each time (a fifth of a send).
32. Work at every request that answers nothing. A plain JSON DynamoDB request (the SDK's:
   no query string, not compressed) sets up moto's handler without moto's form parsing,
   the query string it makes of a JSON body (the DynamoDB handler reads its parsed
   parameters only) and werkzeug's IRI decoding of the URL: every other attribute is set
   as ``setup_class`` sets it. Request ids and receipt handles are drawn in one call, not
   one character at a time; an answer's body is searched for an XML ``RequestId`` only if
   it has one. A stream record's ``SizeBytes`` is its keys' and images' item sizes, kept
   on the items, not the length of the record's JSON dumped again. A GetItem through the
   endpoint took 179 µs of CPU in the emulator's process, 122 µs with these.
33. A condition expression is parsed once per expression, names and the values it names,
   not at every request (moto's response handler parsed each to check its names, and the
   backend parsed it again to evaluate it): the tree is only read when it is evaluated,
   and holds its own copies of the values. Most conditions name no value or the same
   ones (``attribute_not_exists(pk)``, a status): parsing was a fifth of the emulator's
   DynamoDB CPU once updates took plans (patch 35).
34. Whether an SQS message is visible, or still delayed, is read from the clock directly:
   moto built two datetimes for each message at each look (its queue's poller looks at
   every message it holds, those in flight too, at every receive).
35. An update expression is applied by a plan compiled once per expression, names and
   table (``update_plans``), not by copying its syntax tree and walking it eight times:
   the plan computes every new value with moto's own operations before it writes, and
   leaves to moto's path every update moto would refuse and every shape it does not
   cover.
36. A value's comparable form (``cast_value``: what hashing a key, comparing two values and
   sorting use) is read by its type directly for strings, binaries, booleans and numbers;
   moto asked five predicates in turn first. Looking items up by their keys hashed values
   311,000 times in one lifecycle run's 5,433 requests: a tenth of the emulator's
   DynamoDB CPU.
37. An event source's batch (a stream's records, a queue's messages) reaches its
   function's adapter as the event it is. moto's invoke took it as JSON text: the poller
   dumped the batch and the function parsed it back before the adapter dumped it again
   to hand it to the environment (stream batches hold every record's old and new item:
   the round trip was a tenth of the emulator's CPU in the lifecycle benchmark, 5 ms an
   order). The event is the one moto makes, and reaches the environment as every event
   does (``environments``: as the value it is).
38. An item's attributes are turned into their answer's plain values (patch 19) once, and
   kept on the item until an update changes it in place (``_update_item``, refused
   updates and transactions' updates included); a put or a delete replaces or removes
   the item itself. Every GetItem, BatchGetItem, Query and Scan answered each item's
   values afresh: an order's items are read whole many times between its writes (the
   conversion was 6 % of the emulator's CPU). The item's JSON text is kept with them
   once written, and an answer is its other members' JSON with each item's text in its
   place: the same text ``json.dumps`` writes (patch 3). Answers are built and serialized
   under the request lock (patch 1), and nothing changes what was answered. A write's
   stream record takes its images from the same values (moto's own images are equal to
   them): the new item's are made once for its record and the reads after it, and an
   update's old image is the values kept from before it, not the copy's converted again.
39. Sending a message does not count the queue's messages. moto's ``send_message``
   builds the queue's whole attribute map to read one attribute of it
   (``ContentBasedDeduplication``), and three of the map's values are counts of the
   messages the queue holds, each a pass over all of them, those in flight too: a
   twentieth of the emulator's CPU while events fanned out to busy queues. The counts
   read while a message is sent are 0; nothing reads them there. ``GetQueueAttributes``
   still counts.
40. moto's clock readings (``utcnow``, ``unix_time``, ``utcfromtimestamp``) give the same
   values without importing ``datetime.UTC`` and building the epoch at every call. Every
   message sent, received or made visible again, every event put and every stream record
   reads the clock, most of them twice: together 3 % of the emulator's samples, two
   thirds of it those imports and the epoch.
41. An EventBridge rule matches an event as it is. moto wrote each event to JSON and
   parsed it back for every rule on the bus before comparing it with the rule's pattern;
   the event is already made of JSON's types (its detail parsed from the request), so
   the round trip changed nothing it compares.
42. A stream batch its function fails is handled as Lambda's poller handles it, by the
   mapping's settings: from the lowest sequence number a ``ReportBatchItemFailures``
   answer names, bisected when the invocation failed (``BisectBatchOnFunctionError``,
   spending no retry), tried again up to ``MaximumRetryAttempts`` times, then described
   to the on-failure destination (``<Function>StreamDlq``) in Lambda's format and passed
   over. The mapping's later batches wait meanwhile. moto invoked each batch once and
   dropped it whatever the function answered.
43. An execution runs its program, and a state with no timeout of its own (the default
   99,999,999 s) runs its task, in the execution's thread. moto started a thread for the
   program and one for each such state, each only to wait for the other with no time
   limit that could pass: a thread started for nothing at every task, and three idle
   threads, not two, for each execution waiting for a task token. Idle threads cost the
   emulator (a tenth more CPU an order with 1,860 of them: docs/decisions.md). A state
   with a timeout keeps moto's thread, which enforces it.
44. An execution started without a name is named with a UUID, as Step Functions names it.
   moto's executing backend named it ``None``, so a second unnamed execution of the same
   state machine was answered with the first (the same input, while it ran) or refused
   as a duplicate of it.
45. A DynamoDB request whose body names no binary value and holds no null is read with
   ``json.loads`` alone, where its operation's input has no blob but an attribute value's
   ``B`` and ``BS``, no timestamp and no float (every item operation): the values moto's
   parser reads of it (patch 29) are the same, since what that parser adds for these
   operations is decoding binary values and dropping nulls. A structure's members stay in
   the order they came; moto reads them by name. Reading against the shapes was a fifth of
   the emulator's CPU for a GetItem. Any other request is read against the shapes.
46. An action's method name (``camelcase_to_underscores``) is worked out once per action,
   not a character at a time at every request, by the same cache as patch 31's names.
"""

from __future__ import annotations

import base64
import copy
import functools
import http.client
import io
import json
import logging
import os
import queue
import re
import string
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast
from urllib.parse import urlparse

from botocore.exceptions import ClientError
from moto.core.parse import PROTOCOL_PARSERS, JSONParser
from moto.core.request import Request as MotoRequest
from moto.core.responses import EmptyResult
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    ItemSizeTooLarge,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.models.table import StreamRecord, StreamShard, Table
from moto.dynamodb.models.utilities import bytesize
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.moto_api import recorder
from moto.moto_server.werkzeug_app import MotoRequestHandler
from moto.sqs.models import Queue as SqsQueue
from moto.sqs.models import SQSBackend, sqs_backends
from moto.utilities.aws_headers import gen_amzn_requestid_long
from moto.utilities.utils import get_partition
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES, http_date

from infra.local import update_plans, wire

log = logging.getLogger(__name__)
_LOCK = threading.RLock()
_DIGITS_AND_LETTERS = string.ascii_letters + string.digits
_REQUEST_ID = re.compile(r"(?<=<RequestId>).*(?=<\/RequestId>)")
_installed = False


def dynamodb_lock() -> threading.RLock:
    """Held while a DynamoDB request runs: whoever reads or writes the tables directly takes it."""
    return _LOCK


def _serialized(method: Any) -> Any:
    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(self, *args, **kwargs)

    return call


# What a request's thread is doing in the emulator (patch 35: an update under way).
_request_scope = threading.local()
# (expression, names, the values it names) -> its parsed tree and the names and values it
# found (patch 33); a value placeholder as moto's condition lexer reads one.
_parsed_conditions: dict[tuple[Any, ...], tuple[Any, tuple[str, ...], tuple[str, ...]]] = {}
_VALUE_PLACEHOLDER = re.compile(r":[A-z0-9\-_]+")
_placeholders: dict[str, tuple[str, ...]] = {}


_ORIGINAL_CONDITION_PARSE: Any = None


def _patch_condition_reuse() -> None:
    global _ORIGINAL_CONDITION_PARSE
    from moto.dynamodb.comparisons import ConditionExpressionParser

    original = _ORIGINAL_CONDITION_PARSE = ConditionExpressionParser.parse

    def parse(self: ConditionExpressionParser) -> Any:
        expression = self.condition_expression
        if not expression:
            return original(self)
        names, values = self.expression_attribute_names, self.expression_attribute_values
        used = _placeholders.get(expression)
        if used is None:
            if len(_placeholders) > 4096:
                _placeholders.clear()
            used = _placeholders[expression] = tuple(dict.fromkeys(_VALUE_PLACEHOLDER.findall(expression)))
        try:
            key = (
                expression,
                frozenset(names.items()) if names else None,
                tuple(repr(values[p]) if values and p in values else None for p in used),
            )
            found = _parsed_conditions.get(key)
        except TypeError:  # names that are not strings: moto answers them as it does
            return original(self)
        if found is None:  # one that does not parse raises each time, unkept
            # The tree holds the values it names: its own copies, which no later write can change.
            if values is not None:
                self.expression_attribute_values = {p: copy.deepcopy(values[p]) for p in used if p in values}
            tree = original(self)
            self.expression_attribute_values = values
            if len(_parsed_conditions) > 4096:
                _parsed_conditions.clear()
            found = _parsed_conditions[key] = (
                tree,
                tuple(self.expr_attr_names_found),
                tuple(self.expr_attr_values_found),
            )
        self.expr_attr_names_found, self.expr_attr_values_found = list(found[1]), list(found[2])
        return found[0]

    ConditionExpressionParser.parse = parse  # type: ignore[method-assign]


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    seen: set[tuple[str, str]] = set()
    plan: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    errors: list[tuple[Any, Any, Any]] = []
    for entry in transact_items:
        if len(entry) != 1:
            raise TransactWriteSingleOpException()
        op_type, op = next(iter(entry.items()))
        table = self.get_table(op["TableName"])
        if op_type == "Put":
            key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = op["Item"][table.range_key_attr]
        else:
            key = op["Key"]
        marker = (op["TableName"], str(sorted(key.items())))
        if marker in seen:
            raise MultipleTransactionsException()
        seen.add(marker)
        current = self.get_item(op["TableName"], key)
        condition = op.get("ConditionExpression")
        if condition is not None:
            expr = get_filter_expression(
                condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            )
            if not expr.expr(current):
                old = None
                if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                    old = current.to_json()["Attributes"]
                errors.append(("ConditionalCheckFailed", ConditionalCheckFailed().message, old))
                continue
        errors.append((None, None, None))
        plan.append((op_type, op, key))
    if any(code for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    for op_type, op, key in plan:
        names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        if op_type == "Put":
            self.put_item(op["TableName"], op["Item"], expression_attribute_names=names)
        elif op_type == "Delete":
            self.delete_item(op["TableName"], key)
        elif op_type == "Update":
            self.update_item(
                op["TableName"],
                key,
                update_expression=op["UpdateExpression"],
                expression_attribute_names=names or {},
                expression_attribute_values=values or {},
            )


Matcher = Callable[[Any], bool]


def _matcher(pattern: Any) -> Matcher:
    """Lambda event filtering, the subset the manifest uses: nested keys and lists of exact
    values, made into one check per pattern (patch 16), each key looked up once per record."""
    if isinstance(pattern, dict):
        checks = [(key, _matcher(inner)) for key, inner in pattern.items()]

        def all_keys(value: Any) -> bool:
            if not isinstance(value, dict):
                return False
            # A loop, not all() over a generator: a quarter of the time, per record and mapping.
            for key, check in checks:  # noqa: SIM110
                if key not in value or not check(value[key]):
                    return False
            return True

        return all_keys
    values = list(pattern)
    return lambda value: value in values


@functools.lru_cache(maxsize=256)
def _filter(text: str) -> Matcher:
    return _matcher(json.loads(text))


def _mapping_filter(esm: Any) -> Matcher:
    """Whether a record reaches the mapping's function: when any of its filters matches (no
    filter: every record does). Read once per batch, not once per record."""
    checks = [_filter(f["Pattern"]) for f in (getattr(esm, "filter_criteria", None) or {}).get("Filters") or []]
    if not checks:
        return lambda record: True
    return lambda record: any(check(record) for check in checks)


def _iso_millis(moment: datetime | float) -> str:
    """ISO 8601 to the millisecond, as Lambda writes times in its failure records."""
    if not isinstance(moment, datetime):  # epoch seconds
        moment = _utcfromtimestamp(float(moment))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class _StreamBatch:
    """What Lambda's stream poller does with a batch its function fails (patch 42): with
    ``ReportBatchItemFailures`` it goes on from the lowest sequence number reported; a batch
    whose invocation failed is split in two (``BisectBatchOnFunctionError``, which spends no
    retry) or tried again; records still failing after ``MaximumRetryAttempts`` retries are
    described to the mapping's on-failure destination and passed over. The mapping's later
    batches wait meanwhile: a shard's records are handled in order."""

    def __init__(self, functions: Any, shard: StreamShard, arn: str, esm: Any, region: str):
        self.functions, self.shard, self.arn, self.esm, self.region = functions, shard, arn, esm, region
        retries = esm.max_retry_attempts
        self.retries = None if retries is None or int(retries) < 0 else int(retries)  # None: until they succeed
        self.partial = "ReportBatchItemFailures" in (esm.function_response_types or [])

    def deliver(self, records: list[StreamRecord]) -> None:
        # (batch, retries spent on it, invocations its records were in); the next is last.
        pending: list[tuple[list[StreamRecord], int, int]] = [(records, 0, 0)]
        while pending:
            batch, spent, invoked = pending.pop()
            failed_from, invocation_failed = self._invoke(batch)
            invoked += 1
            if failed_from is None:
                continue
            rest = batch[failed_from:]
            if invocation_failed and self.esm.bisect_on_error and len(rest) > 1:
                half = len(rest) // 2
                pending += [(rest[half:], spent, invoked), (rest[:half], spent, invoked)]
                continue
            if self.retries is not None and spent >= self.retries:
                self._discard(rest, invoked, invocation_failed)
                continue
            if self.retries is None:
                time.sleep(1.0)  # retried until it succeeds: not at full speed
            pending.append((rest, spent + 1, invoked))

    def _invoke(self, batch: list[StreamRecord]) -> tuple[int | None, bool]:
        """Where the batch failed from (None: it did not), and whether the invocation itself failed."""
        try:
            payload, errored = _invoke_polled(
                self.functions, self.arn, _stream_event(batch, self.region, self.esm.event_source_arn)
            )
        except Exception:
            log.exception("stream delivery failed")
            return 0, True
        if errored:
            return 0, True
        if not self.partial:
            return None, False
        try:
            failures = json.loads(payload).get("batchItemFailures") if payload else None
        except (ValueError, AttributeError):
            return None, False  # not a batch response: Lambda takes the batch as done
        if not failures:
            return None, False
        positions = {r.record["dynamodb"]["SequenceNumber"]: i for i, r in enumerate(batch)}
        try:
            return min(positions[str(f["itemIdentifier"])] for f in failures), False
        except (KeyError, TypeError):
            return 0, False  # an identifier that names no record of the batch: all of it failed

    def _discard(self, records: list[StreamRecord], invocations: int, invocation_failed: bool) -> None:
        """The records' description to the on-failure destination (an SQS queue's ARN), as Lambda sends it."""
        destination = ((self.esm.destination_config or {}).get("OnFailure") or {}).get("Destination")
        log.error("%s: %d stream records passed over after %d invocations", self.arn, len(records), invocations)
        if not destination:
            return
        first, last = records[0].record["dynamodb"], records[-1].record["dynamodb"]
        description = {
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": self.arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": invocations,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                **({"functionError": "Unhandled"} if invocation_failed else {}),
            },
            "version": "1.0",
            "timestamp": _iso_millis(_utcnow()),
            "DDBStreamBatchInfo": {
                "shardId": self.shard.id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso_millis(first["ApproximateCreationDateTime"]),
                "approximateArrivalOfLastRecord": _iso_millis(last["ApproximateCreationDateTime"]),
                "batchSize": len(records),
                "streamArn": self.esm.event_source_arn,
            },
        }
        _, _, _, region, account, name = destination.split(":")
        sqs_backends[account][region].send_message(queue_name=name, message_body=json.dumps(description))


class _StreamDelivery:
    """Stream records to their mappings: each mapping reads the stream on its own thread,
    in write order, as each consumer of a real stream has its own iterator (one slow
    consumer, say the read models, does not hold back the others)."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[StreamShard, list[StreamRecord]]] = queue.Queue()
        self.idle = threading.Event()
        self.idle.set()
        self._pending = 0  # records not yet dispatched plus batches not yet delivered
        self._pending_lock = threading.Lock()
        self._consumers: dict[str, queue.Queue[tuple[StreamShard, str, Any, list[StreamRecord]]]] = {}
        threading.Thread(target=self._run, name="dynamodb-stream", daemon=True).start()

    def _done(self, n: int) -> None:
        with self._pending_lock:
            self._pending -= n
            if self._pending == 0:
                self.idle.set()

    def _consumer(self, arn: str) -> queue.Queue[tuple[StreamShard, str, Any, list[StreamRecord]]]:
        found = self._consumers.get(arn)
        if found is None:
            found = self._consumers[arn] = queue.Queue()
            threading.Thread(target=self._deliver, args=(found,), name=f"dynamodb-stream {arn}", daemon=True).start()
        return found

    def _deliver(self, batches: queue.Queue[tuple[StreamShard, str, Any, list[StreamRecord]]]) -> None:
        from moto.awslambda.utils import get_backend

        while True:
            shard, arn, esm, records = batches.get()
            # What arrived while the last batch ran goes in one batch, as Lambda's poller
            # reads every record available since its last read (up to the batch size).
            merged = 1
            size = int(getattr(esm, "batch_size", 100) or 100)
            while len(records) < size and not batches.empty():
                more_shard, _, _, more = batches.queue[0]
                if more_shard is not shard or len(records) + len(more) > size:
                    break
                batches.get_nowait()
                records = records + more
                merged += 1
            try:
                region = arn.split(":")[3]
                _StreamBatch(get_backend(shard.account_id, region), shard, arn, esm, region).deliver(records)
            except Exception:  # a consumer's failure must not stop the stream
                log.exception("stream delivery failed")
            finally:
                self._done(merged)

    def _run(self) -> None:
        while True:
            shard, records = self.queue.get()
            # Coalesce what is waiting for the same shard into one batch, like a poller.
            while not self.queue.empty() and len(records) < 100:
                more_shard, more = self.queue.get_nowait()
                if more_shard is not shard:
                    self.queue.put((more_shard, more))
                    break
                records += more
            batches = 0
            try:
                for arn, esm in list(shard.table.lambda_event_source_mappings.items()):
                    size = int(getattr(esm, "batch_size", 100) or 100)
                    passes = _mapping_filter(esm)
                    wanted = [r for r in records if passes(r.record)]
                    for start in range(0, len(wanted), size):
                        with self._pending_lock:
                            self._pending += 1
                        batches += 1
                        self._consumer(arn).put((shard, arn, esm, wanted[start : start + size]))
            except Exception:
                log.exception("stream dispatch failed")
            finally:
                self._done(len(records))

    def add(self, shard: StreamShard, record: StreamRecord) -> None:
        with self._pending_lock:
            self._pending += 1
            self.idle.clear()
        self.queue.put((shard, [record]))


_delivery: _StreamDelivery | None = None


class _IndexPartitions:
    """The keys of a table's items by the value of each index's partition key attribute.

    Every write to a table with a stream passes through its stream (``_stream_add``, the
    old and the new item), so the entries follow the table without a pass over it; an index
    query starts from its partition's items instead of every item of the table.
    """

    def __init__(self, table: Table):
        self.table = table
        self.attributes = {
            key["AttributeName"] for index in table.all_indexes() for key in index.schema if key["KeyType"] == "HASH"
        }
        self.keys: dict[tuple[str, Any], dict[tuple[Any, Any], None]] = {}
        for item in _ORIGINAL_ALL_ITEMS(table):
            self.add(item)

    def add(self, item: Any) -> None:
        attrs, key = item.attrs, (item.hash_key, item.range_key)
        for name in self.attributes:
            value = attrs.get(name)
            if value is not None:
                self.keys.setdefault((name, value), {})[key] = None

    def remove(self, item: Any) -> None:
        attrs, key = item.attrs, (item.hash_key, item.range_key)
        for name in self.attributes:
            value = attrs.get(name)
            if value is not None:
                found = self.keys.get((name, value))
                if found is not None:
                    found.pop(key, None)
                    if not found:
                        del self.keys[(name, value)]

    def items(self, name: str, value: Any) -> list[Any]:
        stored = self.table.items
        if self.table.range_key_attr:
            return [stored[h][r] for h, r in self.keys.get((name, value), ())]
        return [stored[h] for h, _ in self.keys.get((name, value), ())]


def _index_partitions(table: Table) -> _IndexPartitions | None:
    """The table's index partitions, built at its first index query; None for a table
    without a stream (its writes would not reach them: its index queries read every item)."""
    if table.stream_shard is None:
        table.__dict__.pop("_index_partitions", None)
        return None
    found: _IndexPartitions | None = table.__dict__.get("_index_partitions")
    if found is None:
        found = table.__dict__["_index_partitions"] = _IndexPartitions(table)
    return found


def items_replaced(table: Table) -> None:
    """Items were written into the table around its API (a restore): its index partitions are rebuilt."""
    table.__dict__.pop("_index_partitions", None)


_IMAGES = {"NEW_IMAGE": (False, True), "OLD_IMAGE": (True, False), "NEW_AND_OLD_IMAGES": (True, True)}


def _stream_record(table: Table, view: str, event_name: str, old: Any, new: Any, seq: int) -> StreamRecord:
    """moto's stream record, sized by its keys and images as DynamoDB sizes items (patch 32),
    each image's size kept on its item, instead of the length of the record's JSON."""
    from moto.moto_api._internal import mock_random

    written = old if old is not None else new
    keys = {table.hash_key_attr: written.hash_key.to_json()}
    size = bytesize(table.hash_key_attr) + _value_size(written.hash_key)
    if table.range_key_attr is not None:
        keys[table.range_key_attr] = written.range_key.to_json()
        size += bytesize(table.range_key_attr) + _value_size(written.range_key)
    dynamodb: dict[str, Any] = {
        "StreamViewType": view,
        "ApproximateCreationDateTime": _utcnow(),
        "SequenceNumber": str(seq),
        "SizeBytes": 0,
        "Keys": keys,
    }
    with_old, with_new = _IMAGES.get(view, (False, False))
    if with_new and new is not None:
        dynamodb["NewImage"] = _image(new)
        size += new.size()
    if with_old and old is not None:
        dynamodb["OldImage"] = _image(old)
        size += old.size()
    dynamodb["SizeBytes"] = size
    record = cast(StreamRecord, StreamRecord.__new__(StreamRecord))  # tracked by moto, as its own are
    record.record = {
        "eventID": mock_random.uuid4().hex,
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "eventVersion": "1.0",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb,
    }
    return record


def item_values(item: Item) -> Any:
    """The item's typed attributes as the emulator answers them, kept on the item (patch 38),
    or moto's own conversion where the patches are not installed. Not to be changed."""
    if _ORIGINAL_TO_DICT is None:
        return item.to_json()["Attributes"]
    return _to_dict(item.attrs)


def _image(item: Item) -> dict[str, Any]:
    """A stream record's image of the item: its answered values (patch 38), made once and
    kept for the reads after the write, in a plain dict as an event crosses to its function."""
    return dict(_to_dict(item.attrs))


def _stream_add(self: StreamShard, old: Any, new: Any) -> None:
    if new is not None and getattr(_request_scope, "updating", False):
        new.__dict__.pop("_size", None)  # kept from before the update changed the item in place (patch 26)
        # Its answered values are those of before the update: the copy taken before it has them (patch 38).
        before = new.attrs.__dict__.pop("_plain", None)
        if before is not None and old is not None:
            old.attrs.__dict__.setdefault("_plain", before)
    partitions: _IndexPartitions | None = self.table.__dict__.get("_index_partitions")
    if partitions is not None:
        if old is not None:
            partitions.remove(old)
        if new is not None:
            partitions.add(new)
    view = self.table.stream_specification["StreamViewType"]  # type: ignore[index]
    event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    seq = len(self.items) + self.starting_sequence_number
    record = _stream_record(self.table, view, event_name, old, new, seq)
    self.items.append(record)
    if self.table.lambda_event_source_mappings and _delivery is not None:
        _delivery.add(self, record)


def wait_for_streams(timeout: float = 10.0) -> bool:
    """True once every stream record written so far has been delivered."""
    return _delivery.idle.wait(timeout) if _delivery else True


# Each triggered queue has a poller thread of its own: one queue's consumer (outbound
# webhooks, say) does not hold back another's (carrier events). Within a queue, messages
# are handed over one poll at a time, as moto does (a failed batch is tried again when the
# next message arrives; polls at once would take fewer turns at it).
_queue_pollers: dict[str, ThreadPoolExecutor] = {}
_queue_pollers_lock = threading.Lock()
_queue_pending: set[Future[None]] = set()
_polls_waiting: set[str] = set()  # queues whose next poll is submitted and not started yet
_polls_running: Counter[str] = Counter()  # queue -> polls working its batches now
_arrivals: Counter[str] = Counter()  # queue -> messages added so far
# Lambda "starts processing five batches at a time with five concurrent invocations" of a
# standard queue's consumer while messages are available, and reads fewer when traffic is
# low; locally a poll is added while a full batch waits for each one running, up to five.
CONCURRENT_BATCHES = 5
# moto's receive checks a message visible and then marks it received: two polls of one
# queue receiving at once could both take it.
_receiving = threading.Lock()
_original_add_message = SqsQueue.add_message
_original_send_message = SQSBackend.send_message
# Set while this thread sends a message (patch 39).
_sending = threading.local()


def _send_message(self: SQSBackend, *args: Any, **kwargs: Any) -> Any:
    _sending.active = True
    try:
        return _original_send_message(self, *args, **kwargs)
    finally:
        _sending.active = False


def _uncounted_while_sending(count: property) -> property:
    """A queue's message count, not worked out for ``send_message``, which builds the queue's
    whole attribute map to read only ``ContentBasedDeduplication`` from it (patch 39)."""
    counted = count.fget
    assert counted is not None

    def read(queue: SqsQueue) -> int:
        return 0 if getattr(_sending, "active", False) else int(counted(queue))

    return property(read)


def _poller(queue: SqsQueue) -> ThreadPoolExecutor:
    with _queue_pollers_lock:
        found = _queue_pollers.get(queue.queue_arn)
        if found is None:
            batches = 1 if queue.fifo_queue else CONCURRENT_BATCHES
            found = _queue_pollers[queue.queue_arn] = ThreadPoolExecutor(
                max_workers=batches, thread_name_prefix=f"sqs-poller {queue.name}"
            )
        return found


def _another_poll_wanted(queue: SqsQueue) -> bool:
    """Whether a message just added needs a poll submitted (under ``_queue_pollers_lock``):
    none waits to start, and either none runs (a running one takes what arrived before it
    stops, ``_poll_batches``) or a full batch waits for each running one."""
    arn = queue.queue_arn
    if arn in _polls_waiting:
        return False
    running = _polls_running[arn]
    if not running:
        return True
    if running >= CONCURRENT_BATCHES:
        return False
    batch = max((int(esm.batch_size) for esm in queue.lambda_event_source_mappings.values()), default=10)
    return len(queue.messages) >= batch * running


def _add_message(self: SqsQueue, message: Any) -> None:
    if not self.lambda_event_source_mappings:
        _original_add_message(self, message)
        return
    if self.fifo_queue:  # moto's own path: it drops a duplicate before the message is stored
        future = _poller(self).submit(_original_add_message, self, message)
    else:
        with self._messages_lock:
            self._messages.append(message)
            self._messages_lock.notify_all()
        with _queue_pollers_lock:
            _arrivals[self.queue_arn] += 1
            if not _another_poll_wanted(self):
                return  # a poll waiting to start or one running finds this message too
            _polls_waiting.add(self.queue_arn)
        future = _poller(self).submit(_poll_batches, self)
    _queue_pending.add(future)
    future.add_done_callback(_queue_pending.discard)


def _poll_batches(queue: SqsQueue) -> None:
    """Hand the queue's visible messages to each of its consumers, a batch per invocation,
    until no message has arrived since it last looked."""
    arn = queue.queue_arn
    with _queue_pollers_lock:
        _polls_waiting.discard(arn)
        _polls_running[arn] += 1
        seen = _arrivals[arn]
    try:
        while True:
            _poll_once(queue)
            with _queue_pollers_lock:
                # Leaving in the same hold of the lock as the look: a message added after it
                # sees no poll running and submits one.
                if _arrivals[arn] == seen:
                    _polls_running[arn] -= 1
                    return
                seen = _arrivals[arn]
    except BaseException:
        with _queue_pollers_lock:
            _polls_running[arn] -= 1
        raise


def _poll_once(queue: SqsQueue) -> None:
    from moto.awslambda.utils import get_backend

    sqs = sqs_backends[queue.account_id][queue.region]
    functions = get_backend(queue.account_id, queue.region)
    for function_arn, esm in list(queue.lambda_event_source_mappings.items()):
        if not esm.enabled:
            continue
        visibility = queue.visibility_timeout  # type: ignore[attr-defined]  # set from the queue's attributes
        while True:
            with _receiving:
                messages = sqs.receive_message(queue.name, esm.batch_size, 0, visibility)
            if not messages:
                break
            failed = _failed_messages(functions, function_arn, queue, messages)
            for message in messages:
                if message.id in failed:
                    sqs.change_message_visibility(queue.name, str(message.receipt_handle), visibility_timeout=0)
                else:
                    sqs.delete_message(queue.name, str(message.receipt_handle))
            if failed:
                break  # tried again when the next message arrives


def _failed_messages(functions: Any, function_arn: str, queue: SqsQueue, messages: list[Any]) -> set[str]:
    """Invoke the consumer with one batch; the ids of the messages that come back."""
    event = {"Records": [_sqs_record(message, queue) for message in messages]}
    ids = {message.id for message in messages}
    try:
        payload, errored = _invoke_polled(functions, function_arn, event)
    except Exception:  # the poller must go on; the batch comes back as after any failure
        log.exception("queue delivery failed")
        return ids
    if not errored:
        return set()
    try:
        reported = {str(failure["itemIdentifier"]) for failure in json.loads(payload)["batchItemFailures"]}
    except (KeyError, TypeError, ValueError):
        return ids  # the function failed: the whole batch
    return reported if reported and reported <= ids else ids


def _invoke_polled(functions: Any, function_arn: str, event: dict[str, Any]) -> tuple[str, bool]:
    """A poller's batch to its function (patch 37): the function's answer, and whether it erred."""
    payload, errored, _logs = functions.get_function(function_arn, None)._invoke_lambda(event=event)
    return payload, errored


def _stream_event(records: list[StreamRecord], region: str, source: str) -> dict[str, Any]:
    """The event Lambda's stream poller makes of a batch, as moto's ``send_dynamodb_items``
    makes it (``tests/infra/test_local_stack.py`` compares the two)."""
    out = []
    for record in records:
        plain = record.to_json()
        dynamodb = dict(plain["dynamodb"])  # a copy: the stored record keeps its datetime
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = _unix_time(created)
        out.append(
            {
                "eventID": plain["eventID"],
                "eventName": plain["eventName"],
                "eventVersion": plain["eventVersion"],
                "eventSource": plain["eventSource"],
                "awsRegion": region,
                "dynamodb": dynamodb,
                "eventSourceARN": source,
            }
        )
    return {"Records": out}


def _sqs_record(message: Any, queue: SqsQueue) -> dict[str, Any]:
    attributes = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": message.sender_id,
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    return {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": message.body_md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue.queue_arn,
        "awsRegion": queue.region,
    }


def wait_for_queues(timeout: float = 10.0) -> bool:
    """True once every message sent to a triggered queue so far has been handed over."""
    _done, not_done = wait(list(_queue_pending), timeout=timeout)
    return not not_done


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, datetime):
        return value.timestamp()
    return str(value)


def _json(value: Any) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"))


def _fast_result(self: DynamoResult, context: Any) -> tuple[int, dict[str, str], str]:
    return 200, {"Content-Type": "application/x-amz-json-1.0"}, _answer_text(self.result)


_ORIGINAL_SERIALIZED: Any = None


def _dynamodb_serialized(self: DynamoHandler, action_result: Any) -> Any:
    """``BaseResponse.serialized`` for DynamoDB: a result written as its JSON (patch 3) needs
    no serializer, so the operation's model and protocol are not looked up for it."""
    if type(action_result) is not DynamoResult:
        return _ORIGINAL_SERIALIZED(self, action_result)  # an error, or a result moto serializes
    status, headers, body = _fast_result(action_result, None)
    headers.update(self.response_headers)
    return status, headers, body


class _Answered(dict[str, Any]):
    """An item's answered values (patch 38), with their JSON text once it is first written."""

    __slots__ = ("text",)

    def __init__(self, values: Iterable[tuple[str, Any]]):
        super().__init__(values)
        self.text: str | None = None


def _item_text(item: Any) -> str:
    if type(item) is not _Answered:
        return _json(item)
    if item.text is None:
        item.text = _json(item)
    return item.text


def _items_text(items: Any) -> str:
    return "[" + ",".join(map(_item_text, items)) + "]" if type(items) is list else _json(items)


def _answer_text(result: Any) -> str:
    """``json.dumps(result)`` as patch 3 wrote it, each answered item's text written once (patch 38)."""
    if type(result) is not dict or not ("Item" in result or "Items" in result or "Responses" in result):
        return _json(result)
    parts = []
    for key, value in result.items():
        if key == "Item":
            text = _item_text(value)
        elif key == "Items":
            text = _items_text(value)
        elif key == "Responses" and type(value) is dict:  # BatchGetItem's, by table
            text = "{" + ",".join(_json(table) + ":" + _items_text(items) for table, items in value.items()) + "}"
        else:
            text = _json(value)
        parts.append(_json(key) + ":" + text)
    return "{" + ",".join(parts) + "}"


_query_scope = threading.local()
_ORIGINAL_QUERY: Any = None
_ORIGINAL_ALL_ITEMS: Any = None


def _query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    _query_scope.table, _query_scope.partition = self, None if index_name else hash_key
    conditions = kwargs.get("hash_key_conditions")
    _query_scope.index_partition = conditions[0] if index_name and conditions else None
    _query_scope.answering = True
    try:
        return _ORIGINAL_QUERY(self, hash_key, *args, **kwargs)
    finally:
        _query_scope.table = None
        _query_scope.answering = False


class _TableCopy:
    """The ``copy`` module as moto's table module sees it: a query's list of results is
    copied shallowly (patch 18); every other copy (backups, scans) is a deep one."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        if isinstance(value, list) and getattr(_query_scope, "answering", False):
            return list(value)
        return copy.deepcopy(value, memo)


def _all_items(self: Table) -> list[Any]:
    if getattr(_query_scope, "table", None) is not self:
        return list(_ORIGINAL_ALL_ITEMS(self))
    _query_scope.table = None  # the query's own call only
    partition = _query_scope.partition
    if partition is not None:
        found = self.items.get(partition)
        if found is None:
            return []
        return list(found.values()) if self.range_key_attr else [found]
    index_partition = _query_scope.index_partition
    partitions = _index_partitions(self) if index_partition is not None else None
    if partitions is not None and index_partition[0] in partitions.attributes:
        return partitions.items(*index_partition)
    if self.range_key_attr:
        return [item for bucket in self.items.values() for item in bucket.values()]
    return list(self.items.values())


_NODE: Any = None
_PRIMITIVE = (str, int, float, bool, type(None))
# Node classes whose attributes, apart from children and parent, hold only plain values.
_plain_nodes: dict[type, bool] = {}


def _copy_tree(node: Any, parent: Any = None) -> Any:
    """A copy of an expression's syntax tree: each node's plain attributes shared, its children copied."""
    clone = object.__new__(type(node))
    attributes = clone.__dict__
    attributes.update(node.__dict__)
    attributes["parent"] = parent
    children = node.children
    if isinstance(children, list):
        attributes["children"] = [
            child if isinstance(child, _PRIMITIVE) else _copy_tree(child, clone) for child in children
        ]
    return clone


def _copyable(node: Any) -> bool:
    """Every node of the tree is of a plain kind (a class seen once is remembered)."""
    plain = _plain_nodes.get(type(node))
    if plain is None:
        plain = _plain_nodes[type(node)] = all(
            isinstance(v, _PRIMITIVE) for k, v in node.__dict__.items() if k not in ("children", "parent")
        )
    if not plain or not isinstance(node.children, (list, type(None))):
        return False
    return all(isinstance(c, _PRIMITIVE) or (isinstance(c, _NODE) and _copyable(c)) for c in node.children or ())


def _fast_deepcopy(value: Any, memo: Any = None) -> Any:
    if memo is None and isinstance(value, _NODE) and _copyable(value):
        return _copy_tree(value)
    return copy.deepcopy(value, memo)


class KeepAliveRequestHandler(MotoRequestHandler):
    """moto's request handler, answering over a connection the client may use again.

    werkzeug writes ``Connection: close`` on every response (its server cannot tell where
    an unread request body ends and the next request begins). Here the body is read in
    full, by its Content-Length, before the application runs, and the response is sent
    with its length: the connection then stays open for the client's next request, as
    HTTP/1.1 and the SDK's connection pool expect. Requests whose body length is not
    known up front (chunked, ``Expect: 100-continue``) take werkzeug's path and close.

    The headers and the body leave in two writes: with Nagle's algorithm on, the body
    waited for the client's delayed acknowledgement of the headers, 40 ms on Linux, on
    every request over a kept-alive connection.
    """

    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or self.headers.get("Expect"):
            super().run_wsgi()
            self.close_connection = True
            return
        body = self.rfile.read(int(length)) if length else b""
        self.environ = environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            code, reason, headers, payload = wire.application_answer(self.server.app, environ, self.command)
        except Exception:
            if self.server.passthrough_errors:
                raise
            log.exception("the AWS endpoint failed on %s %s", self.command, self.path)
            code, reason, headers, payload = wire.INTERNAL_ERROR
            self.close_connection = True
        self.send_response(code, reason)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # werkzeug formats the line (path decoding, colours) before the logger drops it.
        if logging.getLogger("werkzeug").isEnabledFor(logging.INFO):
            super().log_request(code, size)


class _ServerRequest(MotoRequest):
    from_wsgi_server = True  # what moto's Flask app's request class says


_DYNAMODB_JSON = "application/x-amz-json-1.0"


def _plain_json(environ: dict[str, Any]) -> bool:
    """A request as the SDK sends DynamoDB's: JSON, no query string, not compressed, a Host."""
    return (
        environ.get("CONTENT_TYPE") == _DYNAMODB_JSON
        and not environ.get("QUERY_STRING")
        and "HTTP_CONTENT_ENCODING" not in environ
        and "HTTP_HOST" in environ
    )


def set_up_json_request(handler: Any, request: MotoRequest, full_url: str) -> None:
    """What moto's ``setup_class`` sets on a response handler, for a plain JSON request
    (patch 32): the form is empty for a JSON body, as werkzeug parses it, and the query
    string moto makes of the body, which the DynamoDB handler never reads, is left empty."""
    raw = _body(request)
    handler.is_werkzeug_request = request.from_wsgi_server
    handler.normalized_request = request
    handler.parsed_url = urlparse(full_url)
    handler.form_data = ImmutableMultiDict()
    handler.raw_body = raw
    handler.body = raw if handler.use_raw_body else raw.decode("utf-8")
    handler.uri = full_url
    handler.path = handler.parsed_url.path
    handler.raw_path = request.raw_path
    handler.querystring = handler.data = {}
    handler.method = request.method
    handler.region = handler.get_region_from_url(request, full_url)
    handler.partition = get_partition(handler.region)
    handler.uri_match = {}
    handler.headers = request.headers
    handler.response_headers = {"server": "amazon.com"}
    if not handler.is_werkzeug_request:
        handler.response_headers["date"] = http_date(_utcnow())
    if handler.automated_parameter_parsing and (action := handler._get_action()):
        params = _parameters_as_sent(action, raw)
        if params is None:
            handler.parse_parameters(request)
        else:
            handler.params = params
    handler.access_key = handler.get_access_key()
    handler.current_account = _current_account(handler)
    _iam().mark_account_as_visited(
        account_id=handler.current_account,
        access_key=handler.access_key,
        service=handler.service_name,
        region=handler.region,
    )


def _body(request: MotoRequest) -> bytes:
    """``request.get_data()``: the input's bytes up to its Content-Length, read without
    werkzeug's stream wrappers where the length is given (patch 32)."""
    environ = request.environ
    try:
        length = int(environ["CONTENT_LENGTH"])
    except (KeyError, ValueError):
        return request.get_data()
    if length < 0 or environ.get("wsgi.input_terminated"):
        return request.get_data()
    raw: bytes = environ["wsgi.input"].read(length)
    request._cached_data = raw  # what get_data answers from now on, as werkzeug keeps it
    return raw


def _current_account(handler: Any) -> str:
    """moto's ``get_current_account`` with the access key the handler has already read (patch 32)."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if "x-moto-account-id" in handler.headers:
        return str(handler.headers["x-moto-account-id"])
    return str(_iam().get_account_id_from(handler.access_key))


@functools.cache
def _iam() -> Any:
    """moto's IAM models, imported at the first request as moto imports them."""
    import moto.iam.models

    return moto.iam.models


# The ways a JSON body can name a binary attribute value's member (B, BS), escapes included,
# and null: a body with none of them reads the same with and without the shapes (patch 45).
_READ_BY_SHAPE = (b'"B"', b'"BS"', b"\\u0042", b"B\\u0053", b"null")


def _parameters_as_sent(action: str, raw: bytes) -> dict[str, Any] | None:
    """The request's parameters as moto's parser reads them, or None where only the shapes tell (patch 45)."""
    if not _reads_as_sent(action) or any(token in raw for token in _READ_BY_SHAPE):
        return None
    try:
        params = json.loads(raw)
    except ValueError:
        return None  # moto's parser answers what it answers of a body that is not JSON
    return params if type(params) is dict else None


@functools.cache
def _reads_as_sent(action: str) -> bool:
    """Whether the DynamoDB operation's input holds no blob but an attribute value's, no
    timestamp and no float: what moto's parser would convert (patch 45)."""
    from moto.core.responses import get_service_model

    try:
        shape = get_service_model("dynamodb").operation_model(action).input_shape
    except Exception:  # not an operation of the model: moto answers it its own way
        return False
    return shape is not None and _only_attribute_blobs(shape, None, set())


def _only_attribute_blobs(shape: Any, member: str | None, seen: set[str]) -> bool:
    kind = shape.type_name
    if kind in ("timestamp", "float", "double"):
        return False
    if kind == "blob":
        return member in ("B", "BS")  # an AttributeValue's binary members (BS: a list of blobs)
    if kind == "structure":
        if shape.name in seen:  # AttributeValue holds itself (L, M)
            return True
        seen.add(shape.name)
        return all(_only_attribute_blobs(m, name, seen) for name, m in shape.members.items())
    if kind == "list":
        return _only_attribute_blobs(shape.member, member, seen)
    if kind == "map":
        return _only_attribute_blobs(shape.key, None, seen) and _only_attribute_blobs(shape.value, None, seen)
    return True


def _patch_name_conversions() -> None:
    """Patches 31 and 46: a name's moto form (``camelcase_to_underscores``, a pure function
    of the name) worked out once, where moto converts at every request or message: an
    action's method name, an SQS queue's attribute names."""
    import moto.core.responses as responses
    from moto.core.utils import camelcase_to_underscores
    from moto.sqs import models as sqs_models

    converted = functools.lru_cache(maxsize=1024)(camelcase_to_underscores)
    responses.camelcase_to_underscores = converted
    sqs_models.camelcase_to_underscores = converted


def plain_json_url(environ: dict[str, Any]) -> str:
    """A plain JSON request's URL (``raw_url`` without werkzeug's IRI decoding of the host)."""
    return f"{environ.get('wsgi.url_scheme', 'http')}://{environ['HTTP_HOST']}/"


def _dynamodb_dispatch(request: MotoRequest, environ: dict[str, Any]) -> Any:
    handler = DynamoHandler()
    set_up_json_request(handler, request, plain_json_url(environ))
    return handler.call_action()


class DirectDispatch:
    """WSGI middleware in front of moto's dispatcher application (patch 17)."""

    def __init__(self, app: Any):
        self.app = app
        self._handlers: dict[str, Any] | None = None

    def handlers(self) -> dict[str, Any]:
        if self._handlers is None:
            from moto.dynamodb.responses import DynamoHandler as Dynamo
            from moto.events.responses import EventsHandler
            from moto.sqs.responses import SQSResponse
            from moto.stepfunctions.responses import StepFunctionResponse

            self._handlers = {
                "DynamoDB_20120810": Dynamo.dispatch,
                "AWSEvents": EventsHandler.dispatch,
                "AmazonSQS": SQSResponse.dispatch,
                "AWSStepFunctions": StepFunctionResponse.dispatch,
            }
        return self._handlers

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        prefix = environ.get("HTTP_X_AMZ_TARGET", "").partition(".")[0]
        dispatch = self.handlers().get(prefix) if prefix else None
        if dispatch is None or environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != "/":
            return self.app(environ, start_response)
        request = _ServerRequest(environ)
        try:
            recorder._record_request(request)
            if prefix == "DynamoDB_20120810" and _plain_json(environ):
                result = _dynamodb_dispatch(request, environ)
            else:
                result = dispatch(request, request.raw_url, dict(request.headers))
        except HTTPException as exc:
            return exc(environ, start_response)
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
        status, headers, body = result if len(result) == 3 else (200, {}, result)
        status = int(status)
        header_list = [(name, str(value)) for name, value in headers.items()]
        if not any(name.lower() == "access-control-allow-origin" for name, _ in header_list):
            header_list.append(("Access-Control-Allow-Origin", "*"))  # as flask-cors adds
        if isinstance(body, str):
            body = body.encode()
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN')}", header_list)
        return [body or b""]


_SCALARS = (str, int, float, bool, type(None))
_ORIGINAL_TO_DICT: Any = None
_DYNAMO_TYPE: Any = None
_DICTS: tuple[type, ...] = (dict,)


def _to_dict(value: Any) -> Any:
    kind = type(value)
    if kind is LimitedSizeDict:  # an item's attributes: converted once until an update (patch 38)
        plain = value.__dict__.get("_plain")
        if plain is None:
            plain = value.__dict__["_plain"] = _Answered((k, _to_dict(v)) for k, v in value.items())
        return plain
    if kind is _DYNAMO_TYPE:
        value_type, inner = value.type, value.value
        if value_type in ("B", "BS"):
            return _ORIGINAL_TO_DICT(value)  # binary values are decoded for the serializer
        if type(inner) in _SCALARS:
            return {value_type: inner}
        return {value_type: _to_dict(inner)}
    if kind in _DICTS:
        return {k: _to_dict(v) for k, v in value.items()}
    if kind is list:
        return [_to_dict(v) for v in value]
    if kind in _SCALARS:
        return value
    return _ORIGINAL_TO_DICT(value)  # datetimes, models with to_json


# A header line the direct reading takes: a name of the characters the feed parser takes
# for one, its colon, and a value with no carriage return or line feed but at its end.
_PLAIN_HEADER = re.compile(r"([\x21-\x39\x3b-\x7e]+):([^\r\n]*)(?:\r\n|\n)\Z")
_ORIGINAL_PARSE_HEADERS = http.client.parse_headers


def _parse_headers(fp: Any, _class: Any = http.client.HTTPMessage) -> Any:
    """``http.client.parse_headers`` (patch 30): the same message, read without the feed parser."""
    lines = http.client._read_headers(fp)  # type: ignore[attr-defined]
    headers: list[tuple[str, str]] = []
    for line in lines[:-1]:
        found = _PLAIN_HEADER.match(line.decode("iso-8859-1"))
        if found is None:
            break
        name, value = found.groups()
        if name.lower() == "content-type" and value.lstrip(" \t").lower().startswith(("multipart", "message")):
            break
        headers.append((name, value.lstrip(" \t")))
    else:
        if lines[-1] in (b"\r\n", b"\n"):
            message = _class()
            message._headers = headers
            message._payload = ""
            return message
    return _ORIGINAL_PARSE_HEADERS(io.BytesIO(b"".join(lines)), _class=_class)


def _speed_up_server() -> None:
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


_parsed: dict[str, tuple[Any, Any]] = {}
_parse_lock = threading.Lock()


def _parse_cached(definition: str) -> tuple[Any, Any]:
    found = _parsed.get(definition)
    if found is None:
        found = _ORIGINAL_PARSE(definition)
        _assign_heap_keys(found[0])
        with _parse_lock:
            if len(_parsed) > 256:
                _parsed.clear()
            _parsed[definition] = found
    return found


def _assign_heap_keys(program: Any) -> None:
    """Give every component its key in an execution's heap now.

    A component draws the key (under which an execution keeps, say, a retrier's attempt
    count) at its first use; two executions using a shared component for the first time
    at once could each draw one, and the one that lost would read its count back under
    the other's key."""
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    seen: set[int] = set()
    pending: list[Any] = [program]
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, EvalComponent):
            _ = value.heap_key
            pending.extend(vars(value).values())
        elif isinstance(value, list | tuple | set | frozenset):
            pending.extend(value)
        elif isinstance(value, dict):
            pending.extend(value.values())
        elif hasattr(value, "__dict__") and type(value).__module__.startswith("moto.stepfunctions"):
            pending.extend(vars(value).values())


_ORIGINAL_PARSE: Any = None
_sfn_clients: dict[tuple[str, str, str | None], Any] = {}
_sfn_clients_lock = threading.Lock()


class _InProcessLambda:
    """The part of a boto3 Lambda client the interpreter uses (``invoke``), served by moto's
    Lambda backend in this process, as the server would serve the same request."""

    def __init__(self, region: str):
        self.region = region

    def invoke(  # boto3's parameter names
        self,
        FunctionName: str,
        Payload: bytes | str | None = None,
        InvocationType: str = "RequestResponse",
        Qualifier: str | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        from moto.awslambda.models import lambda_backends
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.core.exceptions import JsonRESTError

        from infra.local import requests_meter

        requests_meter.count("lambda", "Invoke", requests_meter.OUTSIDE)
        parts = FunctionName.split(":")
        account, region = (parts[4], parts[3]) if FunctionName.startswith("arn:") and len(parts) > 5 else ("", "")
        backend = lambda_backends[account or DEFAULT_ACCOUNT_ID][region or self.region]
        body = Payload.decode() if isinstance(Payload, bytes) else Payload
        response_headers: dict[str, str] = {}
        request_id = str(uuid.uuid4())
        try:
            payload = backend.invoke(
                FunctionName, Qualifier, body, {"x-amz-invocation-type": InvocationType}, response_headers
            )
        except JsonRESTError as exc:
            error = {"Code": exc.error_type, "Message": exc.message}
            metadata = {"HTTPStatusCode": int(exc.code), "RequestId": request_id}
            raise ClientError({"Error": error, "ResponseMetadata": metadata}, "Invoke") from exc
        data = payload.encode() if isinstance(payload, str) else payload or b""
        answer: dict[str, Any] = {
            "ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": request_id},
            "StatusCode": 202 if InvocationType == "Event" else 200,
            "ExecutedVersion": "$LATEST",
            "Payload": io.BytesIO(data),
        }
        if "x-amz-function-error" in response_headers:
            answer["FunctionError"] = response_headers["x-amz-function-error"]
        return answer


class _Inline:
    """What ``execute_state`` starts as a thread for a state with no timeout of its own: its
    target runs when started, in the starting thread (patch 43)."""

    def __init__(self, target: Callable[..., Any], args: Any = (), kwargs: Any = None, **_: Any):
        self._run = functools.partial(target, *args, **(kwargs or {}))

    def start(self) -> None:
        self._run()


_states_inline = threading.local()


def _state_thread(*args: Any, **kwargs: Any) -> Any:
    return _Inline(*args, **kwargs) if getattr(_states_inline, "now", False) else threading.Thread(*args, **kwargs)


def _patch_execution_threads() -> None:
    """Patch 43: the program and every state with no timeout of its own run in the execution's thread."""
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.asl.component.program.program import Program
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state

    with_timeout = execute_state.ExecutionState._evaluate_with_timeout
    program_eval = Program.eval

    def evaluate(self: Any, env: Any) -> None:
        timeout = self.timeout
        untimed = type(timeout) is TimeoutSeconds and timeout.timeout_seconds == TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS
        before, _states_inline.now = getattr(_states_inline, "now", False), untimed
        try:
            with_timeout(self, env)
        finally:
            _states_inline.now = before

    def run_program(self: Any, env: Any) -> None:
        if self.timeout_seconds is not None:
            program_eval(self, env)
            return
        env.next_state_name = self.start_at.start_at_name
        try:
            EvalComponent.eval(self, env)
        except Exception:  # it ended moto's worker thread; the execution went on to its end
            log.exception("a state machine program failed")

    execute_state.Thread = _state_thread  # type: ignore[misc,assignment]
    execute_state.ExecutionState._evaluate_with_timeout = evaluate  # type: ignore[method-assign]
    Program.eval = run_program  # type: ignore[method-assign]


def _patch_execution_names() -> None:
    """Patch 44: an execution started without a name is named with a UUID."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    start_execution = StepFunctionsParserBackend.start_execution

    def start_named(self: Any, state_machine_arn: str, name: Any = None, *args: Any, **kwargs: Any) -> Any:
        return start_execution(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    StepFunctionsParserBackend.start_execution = start_named  # type: ignore[method-assign]


def _patch_step_functions() -> None:
    global _ORIGINAL_PARSE
    from moto.stepfunctions.parser.asl.parse import asl_parser
    from moto.stepfunctions.parser.asl.utils import boto_client

    _ORIGINAL_PARSE = asl_parser.AmazonStateLanguageParser.parse
    asl_parser.AmazonStateLanguageParser.parse = staticmethod(_parse_cached)  # type: ignore[method-assign]
    original_client = boto_client.boto_client_for

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        if service == "lambda":
            return _InProcessLambda(region)
        # moto signs with fixed keys whatever the execution role: one client serves all,
        # per endpoint: a client made for a stack that has stopped (its MOTO_PORT) would
        # send a later stack's or mock_aws's tasks to a closed port.
        key = (region, service, os.environ.get("MOTO_PORT"))
        found = _sfn_clients.get(key)
        if found is None:
            with _sfn_clients_lock:
                found = _sfn_clients.get(key) or original_client(region, service, None)
                _sfn_clients[key] = found
        return found

    # Modules import the function by name: replace it where Lambda tasks use it.
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    if lambda_eval_utils.boto_client_for is not original_client:
        raise AssertionError("moto's Step Functions no longer calls Lambda through boto_client_for")
    lambda_eval_utils.boto_client_for = client_for


def _send_task_failure(self: Any) -> Any:
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


def _patch_task_failure() -> None:
    from moto.stepfunctions.responses import StepFunctionResponse

    StepFunctionResponse.send_task_failure = _send_task_failure  # type: ignore[method-assign]


def _patch_json_paths() -> None:
    import jsonpath_ng
    import jsonpath_ng.ext
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    extended = functools.lru_cache(maxsize=1024)(jsonpath_ng.ext.parse)
    jsonpath_ng.ext.parse = extended  # EventBridge imports it at each call
    json_path.parse = extended
    result_path.parse = functools.lru_cache(maxsize=1024)(jsonpath_ng.parse)


def _patch_traversal() -> None:
    from moto.dynamodb.parsing import ast_nodes

    traverser: Any = ast_nodes.DepthFirstTraverser  # type: ignore[attr-defined]

    def processing(self: Any) -> dict[type, Any]:
        found = self.__dict__.get("_local_processing")
        if found is None:
            found = self.__dict__["_local_processing"] = self._processing_map()
            self.__dict__["_local_classes"] = tuple(found)
        return found

    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        processing(self)
        return self.__dict__["_local_classes"]

    def process(self: Any, node: Any) -> Any:
        for class_key, processor in processing(self).items():
            if isinstance(node, class_key):
                return processor(node)
        return None

    node_class: Any = ast_nodes.Node  # type: ignore[attr-defined]
    is_node: dict[type, bool] = {}
    # A processor's map has the same classes in every instance (its methods are bound to
    # the instance): which class, if any, takes a node is kept per processor class and node class.
    taken_by: dict[tuple[type, type], Any] = {}

    base_pre_processing = traverser.pre_processing_of_child

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        processors = processing(self)
        kind_of_self = type(self)
        # Most processors leave the base class's per-child hook, which does nothing.
        pre = None if kind_of_self.pre_processing_of_child is base_pre_processing else self.pre_processing_of_child

        def walk(node: Any, child_id: int) -> Any:
            kind = type(node)
            found = is_node.get(kind)
            if found is None:
                found = is_node[kind] = issubclass(kind, node_class)
            if not found:
                return node
            parent_node = node.parent
            if node.children is not None:
                for i, child_node in enumerate(node.children):
                    if pre is not None:
                        pre(node, i)
                    walk(child_node, i)
            marker = (kind_of_self, kind)
            class_key = taken_by.get(marker, taken_by)
            if class_key is taken_by:
                class_key = taken_by[marker] = next((c for c in processors if issubclass(kind, c)), None)
            if class_key is not None:
                node = processors[class_key](node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
            return node

        return walk(node, child_id)

    # find_clauses descends into expressions and functions; the action-count validator
    # calls it three times for every update-expression node, each time over its subtree.
    nested = (ast_nodes.Expression, ast_nodes.UpdateExpressionFunction)  # type: ignore[attr-defined]
    descends: dict[type, bool] = {}

    def find_clauses(self: Any, clause_types: Any) -> list[Any]:
        clauses: list[Any] = []
        for child in self.children or []:
            kind = type(child)
            if kind in clause_types:
                clauses.append(child)
                continue
            found = descends.get(kind)
            if found is None:
                found = descends[kind] = issubclass(kind, nested)
            if found:
                clauses.extend(child.find_clauses(clause_types))
        return clauses

    traverser.nodes_to_be_processed = nodes_to_be_processed
    traverser.process = process
    traverser.traverse_node_recursively = traverse_node_recursively
    node_class.find_clauses = find_clauses


def _patch_parsing() -> None:
    from moto.core import responses, utils
    from moto.dynamodb.parsing import expressions

    parser: Any = expressions.UpdateExpressionParser  # type: ignore[attr-defined]
    parser.make = staticmethod(functools.lru_cache(maxsize=1024)(parser.make))

    @functools.cache
    def method_names(cls: type) -> frozenset[str]:
        return frozenset(utils.method_names_from_class(cls))

    responses.method_names_from_class = method_names  # type: ignore[assignment]


# A structure shape's members by their name on the wire: (order in the shape, member name, shape).
_members_by_wire_name: dict[Any, dict[str, tuple[int, str, Any]]] = {}


def _wire_members(shape: Any) -> dict[str, tuple[int, str, Any]]:
    found = _members_by_wire_name.get(shape)
    if found is None:
        found = _members_by_wire_name[shape] = {
            member.serialization.get("name", name): (order, name, member)
            for order, (name, member) in enumerate(shape.members.items())
        }
    return found


class PresentMembersParser(JSONParser):
    """moto's JSON parser, visiting the members a structure has rather than all it may have (patch 29)."""

    def _parse_shape(self, shape: Any, node: Any) -> Any:
        kind = shape.type_name
        if kind == "string":
            return node  # moto's default handler: the value as it came
        if kind == "structure":
            return self._parse_structure(shape, node)
        return getattr(self, f"_parse_{kind}", self._default_handle)(shape, node)

    def _parse_structure(self, shape: Any, value: Any) -> Any:
        if shape.is_document_type:
            return value
        if value is None:
            return None
        members = _wire_members(shape)
        if len(value) == 1:  # an attribute value: one member of its ten
            ((wire_name, raw),) = value.items()
            found = members.get(wire_name)
            parsed = self.MAP_TYPE()
            if found is not None and raw is not None:
                parsed[found[1]] = self._parse_shape(found[2], raw)
            return parsed
        present = []
        for wire_name, raw in value.items():
            found = members.get(wire_name)
            if found is not None and raw is not None:
                present.append((*found, raw))
        present.sort(key=lambda entry: entry[0])
        parsed = self.MAP_TYPE()
        for _, name, member, raw in present:
            parsed[name] = self._parse_shape(member, raw)
        return parsed


# (id of the parsed expression, its names, the table's key attributes) -> that parsed
# expression, held so its id cannot name another while the entry stands.
_expression_checked: dict[tuple[int, Any, tuple[str, ...]], Any] = {}


def _patch_update_validation() -> None:
    from moto.dynamodb.parsing import validators

    expression_only = (
        validators.ActionCountValidator,
        validators.OverlappingPathsValidator,
        validators.UpdateHashRangeKeyValidator,
    )
    validator: Any = validators.UpdateExpressionValidator
    original_init = validator.__init__

    def init(self: Any, expression: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, expression, *args, **kwargs)
        names = self.expression_attribute_names
        names_key = None if names is None else frozenset(names.items())
        self.local_checked_key = (id(expression), names_key, tuple(self.table.table_key_attrs))
        self.local_parsed = expression

    def validate(self: Any) -> Any:
        node, key = self.node_to_validate, self.local_checked_key
        checked = key in _expression_checked
        for processor in self.processors:
            if not (checked and isinstance(processor, expression_only)):
                node = processor.traverse(node)
        if not checked:  # every check passed: the expression-only ones need not run again
            if len(_expression_checked) > 4096:
                _expression_checked.clear()
            _expression_checked[key] = self.local_parsed
        return node

    validator.__init__ = init
    validator.validate = validate


_SETS = {"SS": "S", "NS": "N", "BS": "B"}
_ORIGINAL_SIZE: Any = None


def _value_size(value: Any) -> int:
    """``DynamoType.size`` as moto counts it (numbers by their text, sets, lists and maps by
    their members, map keys by their UTF-8 length), without converting each map value again."""
    kind, raw = value.type, value.value
    if kind == "N":
        return len(str(raw))
    if kind in _SETS:
        if _SETS[kind] == "N":
            return sum(len(str(member)) for member in raw)
        return sum(bytesize(member) for member in raw)
    if kind == "L":
        return sum(_value_size(member) for member in raw)
    if kind == "M":
        return sum(
            bytesize(key) + _value_size(member if type(member) is DynamoType else DynamoType(member))
            for key, member in raw.items()
        )
    if isinstance(raw, bool):
        return 1
    return bytesize(raw)


_ORIGINAL_REGULAR_JSON: Any = None


def _copied_value(value: DynamoType, memo: Any = None) -> DynamoType:
    """``DynamoType.__deepcopy__`` in one pass: DynamoDB values hold no cycles."""
    copied = object.__new__(type(value))
    kind, raw = value.type, value.value
    copied.type = kind
    if kind == "L":
        copied.value = [_copied_value(v) if isinstance(v, DynamoType) else copy.deepcopy(v) for v in raw]
    elif kind == "M":
        copied.value = {k: _copied_value(v) if isinstance(v, DynamoType) else copy.deepcopy(v) for k, v in raw.items()}
    elif kind in _SETS:
        copied.value = list(raw)
    else:
        copied.value = raw
    return copied


def _copied_item(item: Item, memo: Any = None) -> Item:
    """``Item.__deepcopy__`` (keys and attributes copied, the size check skipped) in one pass."""
    copied = object.__new__(type(item))
    copied.hash_key = _copied_value(item.hash_key)
    copied.range_key = None if item.range_key is None else _copied_value(item.range_key)
    attrs = LimitedSizeDict.__new__(LimitedSizeDict)
    for key, value in item.attrs.items():
        dict.__setitem__(attrs, key, _copied_value(value))
    copied.attrs = attrs
    if "_size" in item.__dict__:
        copied.__dict__["_size"] = item.__dict__["_size"]  # the same attributes (patch 26)
    return copied


def _regular_json(self: DynamoType) -> dict[str, Any]:
    """``DynamoType.to_regular_json``: the same new structure, each member converted once."""
    raw = self.value
    value: Any
    if isinstance(raw, dict):
        value = {k: _regular_json(v) if isinstance(v, DynamoType) else copy.deepcopy(v) for k, v in raw.items()}
    elif isinstance(raw, list):
        value = [_regular_json(v) if isinstance(v, DynamoType) else copy.deepcopy(v) for v in raw]
    elif type(raw) in _SCALARS:
        value = raw
    else:
        value = copy.deepcopy(raw)
    if self.type == "B" and isinstance(value, str):
        value = base64.b64decode(value)
    return {self.type: value}


_ORIGINAL_CAST_VALUE: Any = None


def _cast_value(self: DynamoType) -> Any:
    kind = self.type
    if kind == "S" or kind == "B" or kind == "BOOL":
        return self.value
    if kind == "N":
        return Decimal(self.value)
    return _ORIGINAL_CAST_VALUE(self)  # sets, lists, maps and null as moto casts them


def _item_size(self: Item) -> int:
    size: int | None = self.__dict__.get("_size")
    if size is None:
        size = self.__dict__["_size"] = sum(bytesize(key) + _value_size(value) for key, value in self.attrs.items())
    return size


def _update_item(self: DynamoDBBackend, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Item:
    """An update sizes its item again: in its stream record (_stream_add), or by dropping the
    size kept from before it where no record is written or moto refused the update after
    changing the item in part. Its answered values (patch 38) go the same way."""
    _request_scope.updating = True
    try:
        updated = update_plans.update_item(_ORIGINAL_UPDATE_ITEM, self, table_name, key, *args, **kwargs)
    except Exception:
        try:
            table = self.get_table(table_name)
            refused = table.get_item(*self.get_keys_value(table, key))
        except Exception:  # an update moto refused before it found the item changed nothing
            refused = None
        if refused is not None:
            refused.__dict__.pop("_size", None)
            refused.attrs.__dict__.pop("_plain", None)
        raise
    finally:
        _request_scope.updating = False
    if self.get_table(table_name).stream_shard is None:
        # Its stream record would have kept them as they are now (_stream_add).
        updated.__dict__.pop("_size", None)
        updated.attrs.__dict__.pop("_plain", None)  # answered as it is now (patch 38)
    return updated


_ORIGINAL_UPDATE_ITEM: Any = None


def _patch_item_size() -> None:
    global _ORIGINAL_SIZE, _ORIGINAL_UPDATE_ITEM
    _ORIGINAL_SIZE = DynamoType.size
    _ORIGINAL_UPDATE_ITEM = DynamoDBBackend.update_item

    def build(self: Item, hash_key: DynamoType, range_key: DynamoType | None, attrs: dict[str, Any]) -> None:
        self.hash_key, self.range_key = hash_key, range_key
        self.attrs = LimitedSizeDict()
        size = 0
        for key, value in attrs.items():
            typed = DynamoType(value)
            size += bytesize(key) + _value_size(typed)
            dict.__setitem__(self.attrs, key, typed)
        if size > update_plans.ITEM_SIZE_LIMIT:
            raise ItemSizeTooLarge
        self._size = size  # type: ignore[attr-defined]  # kept until an update changes the item (patch 26)

    Item.__init__ = build  # type: ignore[method-assign]
    DynamoType.size = _value_size  # type: ignore[method-assign,assignment]
    Item.size = _item_size  # type: ignore[method-assign]
    DynamoDBBackend.update_item = _update_item  # type: ignore[method-assign]


_condition_tokens: dict[str, tuple[Any, ...]] = {}


def _patch_condition_lexing() -> None:
    from collections import deque

    from moto.dynamodb.comparisons import ConditionExpressionParser

    original = ConditionExpressionParser._lex_condition_expression

    def lex(self: ConditionExpressionParser) -> deque[Any]:
        expression = self.condition_expression or ""
        tokens = _condition_tokens.get(expression)
        if tokens is None:
            tokens = tuple(original(self))  # an expression that does not lex raises, uncached
            if len(_condition_tokens) > 4096:
                _condition_tokens.clear()
            _condition_tokens[expression] = tokens
        return deque(tokens)  # the parser consumes its deque; the tokens themselves are never changed

    ConditionExpressionParser._lex_condition_expression = lex  # type: ignore[method-assign]


def _random_string(self: Any, length: int = 20, include_digits: bool = True, lower_case: bool = False) -> str:
    drawn = "".join(self.choices(_DIGITS_AND_LETTERS if include_digits else string.ascii_letters, k=length))
    return drawn.lower() if lower_case else drawn


def _receipt_handle() -> str:
    # moto's own generator, as its handles use. Imported at first use, like the stream
    # record's: importing moto's API package with this module changed the order moto sets
    # itself up in, and a tracking test that races two events failed in the whole suite.
    from moto.moto_api._internal import mock_random

    return "".join(mock_random.choices(string.ascii_lowercase, k=185))


def _enrich_response(headers: dict[str, Any], body: Any) -> tuple[dict[str, Any], Any]:
    if "status" in headers:
        headers["status"] = str(headers["status"])
    request_id = gen_amzn_requestid_long(headers)
    if isinstance(body, str) and "<RequestId>" in body:  # only an XML answer carries one
        body = _REQUEST_ID.sub(request_id, body)
    return headers, body


def _visible(self: Any) -> bool:
    return time.time() * 1000.0 > self.visible_at


def _delayed(self: Any) -> bool:
    return time.time() * 1000.0 < self.delayed_until


def _retained(self: Any, queue_name: str, message: Any) -> bool:
    retention_period = self.get_queue(queue_name).message_retention_period
    return bool(retention_period + message.sent_timestamp / 1000 > _unix_time())


_EPOCH = datetime(1970, 1, 1)
# moto's own clock functions, as they were before patch 40.
_MOTO_CLOCK: dict[str, Callable[..., Any]] = {}
_ORIGINAL_MATCHES_EVENT: Any = None


def _utcnow() -> datetime:
    """moto's ``utcnow`` without its per-call import (patch 40)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _utcfromtimestamp(value: float) -> datetime:
    """moto's ``utcfromtimestamp`` without its per-call import (patch 40)."""
    return datetime.fromtimestamp(value, tz=UTC).replace(tzinfo=None)


def _unix_time(dt: datetime | None = None) -> float:
    """moto's ``unix_time``, the same arithmetic against an epoch built once (patch 40)."""
    delta = (dt or _utcnow()) - _EPOCH
    return (delta.days * 86400) + (delta.seconds + (delta.microseconds / 1e6))


def _patch_clock() -> None:
    """Every moto module the stack has loaded reads the clock by the functions above.

    moto's modules import the functions by name, so each module's reference is replaced;
    the services the stack uses are imported first.
    """
    from moto.core import utils
    from moto.events import models as _events  # noqa: F401
    from moto.stepfunctions import models as _stepfunctions  # noqa: F401

    _MOTO_CLOCK.update(utcnow=utils.utcnow, unix_time=utils.unix_time, utcfromtimestamp=utils.utcfromtimestamp)
    originals = {
        id(utils.utcnow): _utcnow,
        id(utils.unix_time): _unix_time,
        id(utils.utcfromtimestamp): _utcfromtimestamp,
    }
    for name, module in list(sys.modules.items()):
        if not (name == "moto" or name.startswith("moto.")) or module is None:
            continue
        for attribute in ("utcnow", "unix_time", "utcfromtimestamp"):
            found = getattr(module, attribute, None)
            if found is not None and id(found) in originals:
                setattr(module, attribute, originals[id(found)])


def _flattened_match(self: Any, event: Any) -> bool:
    """moto's ``EventPattern.matches_event`` without writing the event to JSON and back (patch 41)."""
    if not self._pattern:
        return True
    return bool(self._does_event_match(self._flatten_dict(event), self._pattern))


def _patch_event_matching() -> None:
    global _ORIGINAL_MATCHES_EVENT
    from moto.events.models import EventPattern

    _ORIGINAL_MATCHES_EVENT = EventPattern.matches_event
    EventPattern.matches_event = _flattened_match  # type: ignore[method-assign]


def install() -> None:
    global _installed, _delivery, _ORIGINAL_SERIALIZED
    if _installed:
        return
    global _ORIGINAL_QUERY, _ORIGINAL_ALL_ITEMS, _NODE
    _speed_up_server()
    _patch_step_functions()
    _patch_execution_threads()
    _patch_execution_names()
    _patch_task_failure()
    _patch_json_paths()
    _patch_traversal()
    _patch_parsing()
    _patch_update_validation()
    PROTOCOL_PARSERS["json"] = PresentMembersParser
    _patch_name_conversions()
    _patch_condition_lexing()
    _patch_condition_reuse()
    _patch_item_size()
    global _ORIGINAL_REGULAR_JSON
    _ORIGINAL_REGULAR_JSON = DynamoType.to_regular_json
    DynamoType.to_regular_json = _regular_json  # type: ignore[method-assign]
    global _ORIGINAL_CAST_VALUE
    _ORIGINAL_CAST_VALUE = DynamoType.cast_value.fget  # type: ignore[attr-defined]
    DynamoType.cast_value = property(_cast_value)  # type: ignore[assignment,method-assign]
    Item.__deepcopy__ = _copied_item  # type: ignore[method-assign,assignment]
    DynamoType.__deepcopy__ = _copied_value  # type: ignore[method-assign,assignment]
    global _ORIGINAL_TO_DICT, _DYNAMO_TYPE, _DICTS
    from moto.dynamodb import responses as dynamodb_responses

    _ORIGINAL_TO_DICT, _DYNAMO_TYPE, _DICTS = dynamodb_responses.dynamo_to_dict, DynamoType, (dict, LimitedSizeDict)
    dynamodb_responses.dynamo_to_dict = _to_dict  # type: ignore[assignment]
    from moto.dynamodb.parsing import ast_nodes, validators

    _NODE = ast_nodes.Node  # type: ignore[attr-defined]
    validators.deepcopy = _fast_deepcopy  # type: ignore[assignment]
    _ORIGINAL_QUERY, _ORIGINAL_ALL_ITEMS = Table.query, Table.all_items
    Table.query = _query  # type: ignore[method-assign]
    from moto.dynamodb.models import table as table_module

    table_module.copy = _TableCopy()  # type: ignore[assignment]
    Table.all_items = _all_items  # type: ignore[method-assign]
    _delivery = _StreamDelivery()
    DynamoHandler.call_action = _serialized(DynamoHandler.call_action)  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    StreamShard.add = _stream_add  # type: ignore[method-assign]
    DynamoResult.execute_result = _fast_result  # type: ignore[method-assign,assignment]
    _ORIGINAL_SERIALIZED = DynamoHandler.serialized
    DynamoHandler.serialized = _dynamodb_serialized  # type: ignore[method-assign,assignment]
    SqsQueue.add_message = _add_message  # type: ignore[method-assign]
    SQSBackend.send_message = _send_message  # type: ignore[method-assign]
    for count in (
        "approximate_number_of_messages",
        "approximate_number_of_messages_not_visible",
        "approximate_number_of_messages_delayed",
    ):
        setattr(SqsQueue, count, _uncounted_while_sending(getattr(SqsQueue, count)))
    SQSBackend.is_message_valid_based_on_retention_period = _retained  # type: ignore[method-assign]
    http.client.parse_headers = _parse_headers
    from moto.core.responses import BaseResponse
    from moto.moto_api._internal.moto_random import MotoRandom
    from moto.sqs import models as sqs_models
    from moto.sqs import utils as sqs_utils

    MotoRandom.get_random_string = _random_string  # type: ignore[method-assign]
    sqs_models.generate_receipt_handle = _receipt_handle
    sqs_models.Message.visible = property(_visible)  # type: ignore[method-assign,assignment]
    sqs_models.Message.delayed = property(_delayed)  # type: ignore[method-assign,assignment]
    sqs_utils.generate_receipt_handle = _receipt_handle
    BaseResponse._enrich_response = staticmethod(_enrich_response)  # type: ignore[method-assign]
    _patch_clock()
    _patch_event_matching()
    _installed = True
