"""moto's server, with DynamoDB transactions made atomic and cheap, as DynamoDB's are.

moto 5 applies a TransactWriteItems item by item after a deep copy of every table it names, and
undoes a cancelled one by putting those copies back. Two consequences a local stack cannot live
with: every transaction costs a copy of the whole table (seconds once the end-to-end suite has
filled it), and a cancelled transaction silently undoes every write other requests made to the
same tables meanwhile (lost loads, lost messages).

moto 5 also answers every Query by sorting every item of the table, then filtering: a query of
one small partition costs as much as the whole table, which the end-to-end suite grows to tens of
thousands of items. Here a Query of the table reads only its partition (DynamoDB's own cost
model), and a Query of an index skips the whole-table sort (its results are sorted after the
filter anyway).

Here a transaction checks every condition first and writes nothing when one fails (DynamoDB's
all-or-nothing); only then it writes, keeping a copy of just the items it touches in case moto
refuses a write half way. All DynamoDB writes pass one lock, so a transaction's checks and
writes are one step for every other writer. Arguments are moto_server's (`-H`, `-p`).

Run as: python infra/moto_server.py -H 127.0.0.1 -p 5000
"""

import copy
import sys
import threading

from moto import server
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

_WRITES = threading.RLock()


def _key_of(backend, table_name, op_type, op):
    if op_type != "Put":
        return op["Key"]
    attrs = op["Item"]
    table = backend.get_table(table_name)
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def _transact_write_items(self, transact_items):
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with _WRITES:
        seen = set()
        errors = []
        planned = []
        for item in transact_items:
            if len(list(item.keys())) > 1:
                raise TransactWriteSingleOpException
            original_item = None
            try:
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                key = _key_of(self, table_name, op_type, op)
                unique = (str(table_name), str(dict(sorted(key.items()))))
                if unique in seen:
                    raise MultipleTransactionsException()
                seen.add(unique)
                current = self.get_item(table_name, key)
                condition = op.get("ConditionExpression")
                if condition is not None:
                    check = get_filter_expression(
                        condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                    )
                    if not check.expr(current):
                        if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)
                errors.append((None, None, None))
                planned.append((op_type, op, table_name, key))
            except (MultipleTransactionsException, MockValidationException):
                raise
            except ConditionalCheckFailed as e:
                errors.append(("ConditionalCheckFailed", str(e.message), original_item))
            except Exception as e:  # noqa: BLE001 - reported per item, as moto does
                errors.append((type(e).__name__, str(e), original_item))
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)
        # Every condition holds: write, undoing only this transaction's items if moto refuses one.
        undo = []
        try:
            for op_type, op, table_name, key in planned:
                if op_type == "ConditionCheck":
                    continue
                before = self.get_item(table_name, key)
                undo.append((table_name, key, copy.deepcopy(before.to_json()["Attributes"]) if before else None))
                names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                if op_type == "Put":
                    self.put_item(table_name, op["Item"], expression_attribute_names=names,
                                  expression_attribute_values=values)
                elif op_type == "Delete":
                    self.delete_item(table_name, key, expression_attribute_names=names,
                                     expression_attribute_values=values)
                else:
                    self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                     expression_attribute_names=names, expression_attribute_values=values)
        except Exception:
            for table_name, key, before in reversed(undo):
                if before is None:
                    self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, before)
            raise


_QUERY = threading.local()
_all_items = Table.all_items
_query = Table.query


def _items_for_query(self):
    """The items a query looks at: its partition only (a table query), or every item unsorted
    (an index query); outside a query, moto's own (sorted, whole table)."""
    scope = getattr(_QUERY, "scope", None)
    if scope is None or scope[0] is not self:
        return _all_items(self)
    hash_key = scope[1]
    if hash_key is None:
        items = []
        for hash_set in self.items.values():
            items.extend(hash_set.values() if self.range_key_attr else [hash_set])
        return items
    partition = self.items.get(hash_key)
    if partition is None:
        return []
    return list(partition.values()) if self.range_key_attr else [partition]


def _query_partition(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                     scan_index_forward, projection_expressions, index_name=None, *args, **kwargs):
    _QUERY.scope = (self, None if index_name else hash_key)
    try:
        return _query(self, hash_key, range_comparison, range_objs, limit, exclusive_start_key,
                      scan_index_forward, projection_expressions, index_name, *args, **kwargs)
    finally:
        _QUERY.scope = None


def _locked(method):
    def locked(self, *args, **kwargs):
        with _WRITES:
            return method(self, *args, **kwargs)

    return locked


DynamoDBBackend.transact_write_items = _transact_write_items
Table.all_items = _items_for_query
Table.query = _query_partition
for _name in ("put_item", "update_item", "delete_item", "batch_write_item"):
    if hasattr(DynamoDBBackend, _name):
        setattr(DynamoDBBackend, _name, _locked(getattr(DynamoDBBackend, _name)))

if __name__ == "__main__":
    sys.exit(server.main(sys.argv[1:]))
