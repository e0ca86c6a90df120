"""Reading DynamoDB's item responses without walking them shape by shape.

botocore parses a JSON response by walking the operation's output shape member by member:
for a Query of a few dozen items that walk costs several times the JSON decoding itself,
on every request of every function. The item operations' responses are already the
wire format botocore would build (``{"S": ...}``, ``{"N": "12"}``, maps and lists of
them), so the decoded JSON is the parsed response, given three conditions checked here:

- no binary attribute (``B``/``BS``, which botocore base64-decodes): a body that mentions
  one goes through botocore's own parser;
- no ``ConsumedCapacity``/``ItemCollectionMetrics`` (doubles botocore turns into floats,
  present only when a caller asks for them): same;
- only the shape's own members, and none that is null (botocore leaves both out).

Errors (any status >= 301) and every other operation and service keep botocore's parser.
"""

from __future__ import annotations

from typing import Any

from botocore.parsers import PROTOCOL_PARSERS, JSONParser, ResponseParserFactory

# The output shapes of the item operations (their names in DynamoDB's service model).
ITEM_OUTPUTS = frozenset(
    {
        "GetItemOutput",
        "PutItemOutput",
        "UpdateItemOutput",
        "DeleteItemOutput",
        "QueryOutput",
        "ScanOutput",
        "BatchGetItemOutput",
        "BatchWriteItemOutput",
        "TransactGetItemsOutput",
        "TransactWriteItemsOutput",
    }
)
_WALKED_MEMBERS = ("ConsumedCapacity", "ItemCollectionMetrics")
_BINARY_MARKERS = (b'"B"', b'"BS"')


def _is_item_output(shape: Any) -> bool:
    # Every item operation's output has ConsumedCapacity: no other service's shape of the same name does.
    return shape is not None and shape.name in ITEM_OUTPUTS and "ConsumedCapacity" in shape.members


class ItemResponseParser(JSONParser):
    """botocore's JSON parser, but an item operation's success body is taken as decoded."""

    def _handle_json_body(self, raw_body: bytes, shape: Any) -> Any:
        if not _is_item_output(shape) or any(marker in raw_body for marker in _BINARY_MARKERS):
            return super()._handle_json_body(raw_body, shape)
        decoded = self._parse_body_as_json(raw_body)
        if not isinstance(decoded, dict) or any(decoded.get(name) is not None for name in _WALKED_MEMBERS):
            return super()._handle_json_body(raw_body, shape)
        members = shape.members
        return {name: value for name, value in decoded.items() if name in members and value is not None}


class ResponseParsers(ResponseParserFactory):
    """The session's parser factory: ``ItemResponseParser`` for the JSON protocol."""

    def create_parser(self, protocol_name: str) -> Any:
        if PROTOCOL_PARSERS.get(protocol_name) is JSONParser:
            return ItemResponseParser(**self._defaults)
        return super().create_parser(protocol_name)
