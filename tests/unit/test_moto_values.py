"""The local stack's item size, plain values, request parsing and set-up and stream records
(moto_patches 24, 25, 29-32) against moto's own, for values of every type."""

from __future__ import annotations

import base64
import functools
import io
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

from infra.local import moto_patches

_ATTRIBUTE_VALUES = st.recursive(
    st.one_of(
        st.text(max_size=20).map(lambda text: {"S": text}),
        st.integers().map(lambda n: {"N": str(n)}),
        st.decimals(allow_nan=False, allow_infinity=False, places=3).map(lambda n: {"N": str(n)}),
        st.booleans().map(lambda b: {"BOOL": b}),
        st.just({"NULL": True}),
        st.binary(max_size=12).map(lambda data: {"B": base64.b64encode(data).decode()}),
        st.lists(st.text(max_size=6), min_size=1, max_size=4, unique=True).map(lambda texts: {"SS": texts}),
        st.lists(st.integers(), min_size=1, max_size=4, unique=True).map(lambda ns: {"NS": [str(n) for n in ns]}),
    ),
    lambda members: st.one_of(
        st.lists(members, max_size=4).map(lambda values: {"L": values}),
        st.dictionaries(st.text(max_size=8), members, max_size=4).map(lambda values: {"M": values}),
    ),
    max_leaves=24,
)


@settings(max_examples=300, deadline=None)
@given(_ATTRIBUTE_VALUES)
def test_an_attributes_size_is_counted_as_moto_counts_it(value: dict[str, Any]) -> None:
    typed = DynamoType(value)
    moto_size = moto_patches._ORIGINAL_SIZE or DynamoType.size  # moto's own, whether or not the patches are in
    assert moto_patches._value_size(typed) == moto_size(typed)


@settings(max_examples=300, deadline=None)
@given(_ATTRIBUTE_VALUES)
def test_a_values_plain_form_is_moto_s_and_shares_nothing_with_the_value(value: dict[str, Any]) -> None:
    typed = DynamoType(value)
    moto_plain = moto_patches._ORIGINAL_REGULAR_JSON or DynamoType.to_regular_json
    expected = moto_plain(typed)
    plain = moto_patches._regular_json(typed)
    assert plain == expected
    _clear_containers(plain)  # a stream record's image is handed on: changing it must not change the item
    assert moto_plain(typed) == expected


def _clear_containers(plain: Any) -> None:
    members = list(plain.values()) if isinstance(plain, dict) else plain if isinstance(plain, list) else []
    for member in members:
        _clear_containers(member)
    if isinstance(plain, dict | list):
        plain.clear()


@settings(max_examples=300, deadline=None)
@given(_ATTRIBUTE_VALUES, _ATTRIBUTE_VALUES)
def test_an_items_copy_equals_it_and_shares_nothing_an_update_changes(first: Any, second: Any) -> None:
    item = Item(DynamoType({"S": "P"}), DynamoType({"S": "S"}), {"pk": {"S": "P"}, "sk": {"S": "S"}, "a": first})
    item.attrs["b"] = DynamoType(second)
    expected = item.to_json()
    copied = moto_patches._copied_item(item)
    assert type(copied) is Item and type(copied.attrs) is LimitedSizeDict
    assert (copied.hash_key, copied.range_key) == (item.hash_key, item.range_key)
    assert copied.hash_key is not item.hash_key
    assert copied.to_json() == expected
    for value in copied.attrs.values():  # an update changes its item's values in place
        _change_in_place(value)
    assert item.to_json() == expected


def _change_in_place(value: DynamoType) -> None:
    if isinstance(value.value, dict):
        for member in value.value.values():
            _change_in_place(member)
        value.value.clear()
    elif isinstance(value.value, list):
        for member in value.value:
            if isinstance(member, DynamoType):
                _change_in_place(member)
        value.value.clear()
    value.type = "NULL"


def _with_bytes(value: dict[str, Any]) -> dict[str, Any]:
    """An attribute value as the SDK takes it: binary as bytes (it encodes them itself)."""
    ((kind, raw),) = value.items()
    if kind == "B":
        return {kind: base64.b64decode(raw)}
    if kind == "L":
        return {kind: [_with_bytes(member) for member in raw]}
    if kind == "M":
        return {kind: {name: _with_bytes(member) for name, member in raw.items()}}
    return value


_ITEMS = st.dictionaries(st.text(min_size=1, max_size=8), _ATTRIBUTE_VALUES.map(_with_bytes), max_size=6)


@settings(max_examples=100, deadline=None)
@given(_ITEMS, _ITEMS, st.integers(min_value=1, max_value=100))
def test_a_json_requests_parameters_are_read_as_moto_reads_them(item: Any, values: Any, limit: int) -> None:
    """moto_patches 29 against moto's own parser, on requests as the SDK serializes them."""
    from botocore.serialize import create_serializer
    from moto.core.parse import JSONParser

    model = _dynamodb_model()
    key = {"pk": {"S": "P"}, "sk": {"S": "S"}}
    requests = {
        "PutItem": {"TableName": "t", "Item": {**item, **key}, "ConditionExpression": "attribute_not_exists(pk)"},
        "TransactWriteItems": {
            "TransactItems": [
                {"Put": {"TableName": "t", "Item": {**item, **key}}},
                {
                    "Update": {
                        "TableName": "t",
                        "Key": key,
                        "UpdateExpression": "SET a = :a",
                        "ExpressionAttributeValues": {f":{n}": v for n, v in enumerate(values.values())},
                    }
                },
            ]
        },
        "Query": {
            "TableName": "t",
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": "P"}},
            "ExclusiveStartKey": {**values, **key},
            "Limit": limit,
            "ScanIndexForward": False,
        },
    }
    for name, params in requests.items():
        operation = model.operation_model(name)
        body = create_serializer("json").serialize_to_request(params, operation)["body"]
        expected = JSONParser(operation).parse({"body": body})
        parsed = moto_patches.PresentMembersParser(operation).parse({"body": body})
        assert parsed == expected
        assert _key_order(parsed) == _key_order(expected)
        # Patch 45: read as sent where nothing binary or null is in it, the same values; a body
        # that only looks as if it might hold one (an attribute named "null") is read by shape.
        as_sent = moto_patches._parameters_as_sent(name, body)
        if as_sent is None:
            assert _holds_binary(params) or any(token in body for token in moto_patches._READ_BY_SHAPE)
        else:
            assert as_sent == expected and not _holds_binary(params)


def _holds_binary(value: Any) -> bool:
    if isinstance(value, dict):
        return "B" in value or "BS" in value or any(_holds_binary(member) for member in value.values())
    if isinstance(value, list):
        return any(_holds_binary(member) for member in value)
    return False


def test_every_item_operation_reads_as_sent_and_an_export_which_names_a_time_does_not() -> None:
    """Patch 45 decides by the service model which operations' inputs moto's parser would change."""
    items = [
        "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
        "BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems", "ExecuteStatement",
    ]  # fmt: skip
    assert all(moto_patches._reads_as_sent(name) for name in items)
    # An export names a point in time; an unknown action is moto's to answer.
    assert not moto_patches._reads_as_sent("ExportTableToPointInTime")
    assert not moto_patches._reads_as_sent("NoSuchAction")


@pytest.mark.parametrize(
    "body",
    [
        b'{"TableName":"t","Key":{"pk":{"B":"AAE="}}}',
        b'{"TableName":"t","Key":{"pk":{"\\u0042":"AAE="}}}',
        b'{"TableName":"t","Key":{"pk":{"B\\u0053":["AAE="]}}}',
        b'{"TableName":"t","Key":{"pk":{"S":"a"}},"ConsistentRead":null}',
        b'{"TableName":"t","Key":',
        b"[1]",
    ],
)
def test_a_body_with_a_binary_value_a_null_or_no_object_is_read_against_the_shapes(body: bytes) -> None:
    assert moto_patches._parameters_as_sent("GetItem", body) is None


@functools.cache
def _dynamodb_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("dynamodb")


def _key_order(value: Any) -> Any:
    if isinstance(value, dict):
        return [(key, _key_order(member)) for key, member in value.items()]
    if isinstance(value, list):
        return [_key_order(member) for member in value]
    return None


_HEADER_NAME = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters=":"), min_size=1)
_HEADER_LINE = st.one_of(
    # the lines a client sends
    st.tuples(
        _HEADER_NAME,
        st.sampled_from([":", ": ", ":\t ", ":  "]),
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=30),
        st.sampled_from(["\r\n", "\n"]),
    ).map("".join),
    st.sampled_from(["Content-Type: application/x-amz-json-1.0\r\n", "Content-Length: 95\r\n"]),
    # the lines the direct reading leaves to the feed parser
    st.sampled_from(
        [
            " folded continuation\r\n",
            "\tfolded\r\n",
            ": no name\r\n",
            "no colon at all\r\n",
            "From someone\r\n",
            "Bad Name: space in the name\r\n",
            "X-Stray: carriage\rreturn\r\n",
            "Content-Type: multipart/form-data; boundary=x\r\n",
            "content-type: message/rfc822\r\n",
            "X-Latin: caf\xe9\r\n",
        ]
    ),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_HEADER_LINE, max_size=12), st.sampled_from(["\r\n", "\n", ""]), st.binary(max_size=8))
def test_a_header_block_is_read_into_the_message_the_feed_parser_makes(lines: list[str], end: str, body: bytes) -> None:
    """Patch 30: the same message (headers, their order and values, payload, defects) as
    ``http.client.parse_headers``, and the body left unread for the request to read."""
    import http.client
    import io

    raw = ("".join(lines) + end).encode("iso-8859-1") + (body if end else b"")
    original = moto_patches._ORIGINAL_PARSE_HEADERS
    expected_fp, fp = io.BytesIO(raw), io.BytesIO(raw)
    expected = original(expected_fp, _class=http.client.HTTPMessage)
    message = moto_patches._parse_headers(fp)
    assert _shape(message) == _shape(expected)
    assert fp.read() == expected_fp.read()


def _shape(value: Any) -> Any:
    """A message's whole state, nested messages and defects compared by what they hold."""
    import email.message

    if isinstance(value, email.message.Message):
        return (type(value), {k: _shape(v) for k, v in vars(value).items()})
    if isinstance(value, list):
        return [_shape(v) for v in value]
    if isinstance(value, Exception):
        return (type(value), value.args)
    return value


def test_sqs_attribute_names_are_converted_as_moto_converts_them() -> None:
    """Patch 31: the cached conversion gives moto's names for every attribute a queue has."""
    from moto.core.utils import camelcase_to_underscores
    from moto.sqs import models as sqs_models

    moto_patches.install()
    assert isinstance(sqs_models.camelcase_to_underscores, functools._lru_cache_wrapper)
    queue = sqs_models.Queue
    for name in [*queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES, "ContentBasedDeduplication"]:
        assert sqs_models.camelcase_to_underscores(name) == camelcase_to_underscores(name)


_HOSTS = st.sampled_from(
    ["127.0.0.1:4566", "localhost:45123", "dynamodb.eu-west-1.amazonaws.com", "[::1]:4566", "host.docker.internal:4566"]
)


@settings(max_examples=60, deadline=None)
@given(_ITEMS, _HOSTS, st.sampled_from(["us-east-1", "eu-central-1"]))
def test_a_plain_json_request_sets_up_dynamodbs_handler_as_moto_does(item: Any, host: str, region: str) -> None:
    """Patch 32 against moto's ``setup_class``, on requests as the SDK serializes and signs
    them: every attribute the same but the form and the query string moto makes of the body."""
    from botocore.awsrequest import AWSRequest
    from botocore.serialize import create_serializer
    from moto.dynamodb.responses import DynamoHandler
    from werkzeug.test import EnvironBuilder

    model = _dynamodb_model()
    key = {"pk": {"S": "P"}, "sk": {"S": "S"}}
    requests = {
        "GetItem": {"TableName": "t", "Key": key, "ConsistentRead": True},
        "PutItem": {"TableName": "t", "Item": {**item, **key}, "ConditionExpression": "attribute_not_exists(pk)"},
        "Query": {
            "TableName": "t",
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": key["pk"]},
        },
    }
    for name, params in requests.items():
        serialized = create_serializer("json").serialize_to_request(params, model.operation_model(name))
        sent = AWSRequest(method="POST", url=f"http://{host}/", data=serialized["body"], headers=serialized["headers"])
        sent.headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261203/{region}/dynamodb/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0"
        )
        headers = dict(sent.headers) | {"Host": host}
        environ = EnvironBuilder(
            method="POST", path="/", base_url=f"http://{host}", data=serialized["body"], headers=headers
        ).get_environ()
        assert moto_patches._plain_json(environ)
        theirs, ours = DynamoHandler(), DynamoHandler()
        request = moto_patches._ServerRequest(dict(environ, **{"wsgi.input": io.BytesIO(serialized["body"])}))
        theirs.setup_class(request, request.raw_url, dict(request.headers))
        mine = moto_patches._ServerRequest(dict(environ, **{"wsgi.input": io.BytesIO(serialized["body"])}))
        moto_patches.set_up_json_request(ours, mine, moto_patches.plain_json_url(environ))
        assert set(vars(ours)) == set(vars(theirs))
        differ = {"querystring", "data", "normalized_request", "headers"}
        assert {k: v for k, v in vars(ours).items() if k not in differ} == {
            k: v for k, v in vars(theirs).items() if k not in differ
        }
        assert list(ours.headers.items()) == list(theirs.headers.items())
        assert ours.querystring == {} and ours.params == theirs.params
        assert ours.region == (region if "amazonaws" not in host else "eu-west-1")


@settings(max_examples=100, deadline=None)
@given(_ITEMS, _ITEMS, st.sampled_from(["NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE", "KEYS_ONLY"]))
def test_a_stream_record_is_moto_s_sized_by_its_keys_and_images(old: Any, new: Any, view: str) -> None:
    """Patch 32: the record moto builds, but for its size: the keys' and the images' item sizes."""
    from moto.dynamodb.models.table import StreamRecord, Table

    table = Table(
        "t",
        account_id="123456789012",
        region="us-east-1",
        schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        attr=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
    )
    key = {"pk": {"S": "ORDER#1"}, "sk": {"S": "HEADER"}}

    def item(attrs: dict[str, Any]) -> Item:
        values = {name: DynamoType(value) for name, value in ({**attrs, **key}).items()}
        return Item(values["pk"], values["sk"], values)

    for before, after, event in (
        (None, item(new), "INSERT"),
        (item(old), item(new), "MODIFY"),
        (item(old), None, "REMOVE"),
    ):
        expected = StreamRecord(table, view, event, before, after, 7).record
        record = moto_patches._stream_record(table, view, event, before, after, 7).record
        for built in (expected, record):
            built.pop("eventID")
            built["dynamodb"].pop("ApproximateCreationDateTime")
        size = record["dynamodb"].pop("SizeBytes")
        expected["dynamodb"].pop("SizeBytes")
        assert record == expected
        images = [
            i
            for i, kept in ((before, view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES")), (after, "NEW" in view))
            if kept and i
        ]
        assert size == len("pk") + len("ORDER#1") + len("sk") + len("HEADER") + sum(i.size() for i in images)


def test_request_ids_and_receipt_handles_are_drawn_from_moto_s_alphabets() -> None:
    import string

    from moto.core.responses import BaseResponse
    from moto.moto_api._internal import mock_random
    from moto.sqs import models as sqs_models

    request_id = mock_random.get_random_string(length=52)
    assert len(request_id) == 52 and set(request_id) <= set(string.ascii_letters + string.digits)
    assert mock_random.get_random_string(length=8, include_digits=False, lower_case=True).islower()
    handle = sqs_models.generate_receipt_handle()
    assert len(handle) == 185 and set(handle) <= set(string.ascii_lowercase)
    headers: dict[str, Any] = {"status": 200}
    _, xml = BaseResponse._enrich_response(headers, "<R><RequestId>old</RequestId></R>")
    assert xml == f"<R><RequestId>{headers['x-amzn-requestid']}</RequestId></R>" and headers["status"] == "200"
    _, body = BaseResponse._enrich_response({}, '{"RequestId": "kept"}')
    assert body == '{"RequestId": "kept"}'


def test_a_condition_is_parsed_once_per_expression_names_and_the_values_it_names() -> None:
    """Patch 33: the same expression, names and named values give the same tree and the
    names it found, whatever else the request's values hold; other named values or names
    are parsed again, and a kept tree holds its own copies of its values."""
    from moto.dynamodb.comparisons import create_condition_expression_parser
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    expression = "#st IN (:open, :hold) AND version = :v"
    names = {"#st": "status"}
    values = {":open": {"S": "open"}, ":hold": {"S": "on_hold"}, ":v": {"N": "3"}, ":at": {"S": "now"}}
    newer = dict(values, **{":v": {"N": "4"}})
    item = Item(DynamoType({"S": "P"}), None, {"status": DynamoType({"S": "open"}), "version": DynamoType({"N": "4"})})

    def parsed(with_values: dict[str, Any], with_names: dict[str, str] = names) -> tuple[Any, list[str]]:
        parser = create_condition_expression_parser(expression, with_names, with_values)
        return parser.parse(), parser.expr_attr_names_found

    moto_patches.install()  # the test may run where no stack installed the patches yet
    (first, found), (again, found_again) = parsed(values), parsed(dict(values, **{":at": {"S": "later"}}))
    assert again is first and found_again == found and "#st" in found
    other, _ = parsed(newer)
    assert other is not first
    assert (first.expr(item), other.expr(item)) == (False, True)
    assert parsed(values, {"#st": "state"})[0] is not first
    mutable = {":open": {"S": "open"}, ":hold": {"S": "on_hold"}, ":v": {"N": "5"}}
    kept, _ = parsed(mutable)
    mutable[":v"]["N"] = "4"  # a later change to the request's values reaches no kept tree
    assert kept.expr(item) is False
    assert parsed(mutable)[0].expr(item) is True


def test_an_sqs_messages_visibility_and_delay_are_read_from_the_clock_as_moto_reads_them() -> None:
    """Patch 34: the same answers as moto's properties, without its datetimes."""
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import Message

    message = Message("m-1", "body")
    now = unix_time_millis()
    for offset, visible, delayed in ((-5_000, True, False), (60_000, False, True)):
        message.visible_at = message.delayed_until = now + offset
        assert (message.visible, message.delayed) == (visible, delayed)
        assert (moto_patches._visible(message), moto_patches._delayed(message)) == (visible, delayed)


def test_a_values_comparable_form_is_the_one_moto_gives() -> None:
    """Patch 36: strings, binaries, booleans and numbers read by their type directly; the
    rest as moto casts them, with the same answers."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    moto_patches.install()  # the test may run where no stack installed the patches yet
    values = [
        {"S": "text"},
        {"S": ""},
        {"N": "5"},
        {"N": "1.50"},
        {"N": "-0"},
        {"N": "1e3"},
        {"B": "AAE="},
        {"BOOL": True},
        {"NULL": True},
        {"SS": ["a", "b"]},
        {"NS": ["1", "2.0"]},
        {"L": [{"N": "1"}, {"S": "x"}]},
        {"M": {"k": {"N": "2"}}},
    ]
    for raw in values:
        value = DynamoType(raw)
        ours, moto = moto_patches._cast_value(value), moto_patches._ORIGINAL_CAST_VALUE(value)
        assert (type(ours), ours) == (type(moto), moto), raw
        assert value.cast_value == moto
        if value.type in ("S", "N", "B", "BOOL"):  # what a key can be: hashed as moto hashes it
            assert hash(value) == hash((value.type, moto))


def test_a_condition_with_names_that_cannot_be_kept_is_parsed_as_moto_parses_it() -> None:
    """Patch 33 keeps parses by their names; names that are not strings go to moto's parse
    as they came, every time, instead of failing to be hashed."""
    from moto.dynamodb.comparisons import create_condition_expression_parser

    moto_patches.install()  # the test may run where no stack installed the patches yet
    odd_names: Any = {"#a": ["not", "a", "string"]}
    values = {":v": {"S": "x"}}
    parser = create_condition_expression_parser("#a = :v", odd_names, values)
    expected = type(moto_patches._ORIGINAL_CONDITION_PARSE(parser))
    for _ in range(2):
        assert type(create_condition_expression_parser("#a = :v", odd_names, values).parse()) is expected
