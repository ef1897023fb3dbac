"""Hand-written hostile requests for a row-scoring service, each with the answer it must get.

Values are written as raw JSON text, since many of them are not JSON at all (``NaN``, ``1e400``,
a 400-digit integer, a lone surrogate ``"\\ud800"``, bytes that are not UTF-8): those must come back
as 400 naming JSON. A value of the wrong type for its field must be a 422 naming the row and the
field; a valid but strange one (emoji, right-to-left marks, NUL, 1e308) is scored, or refused
with a 422 naming the field, never a 5xx.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Iterator
from typing import Any

import orjson

from tests.reliability._http import JSON, Request, expect

BAD, NUM, INT, STR, BOOL, NULL, LIST, OBJ = "bad", "num", "int", "str", "bool", "null", "list", "obj"
DEEP = 1015  # nesting that is still JSON (orjson stops at 1024), past Python's recursion limit (1000)

# (raw JSON text, what it is)
VALUES: list[tuple[bytes, str]] = [
    # not JSON: NaN and Infinity as tokens, numbers past a double, lone surrogates, bad UTF-8, syntax
    *((t, BAD) for t in (b"NaN", b"-NaN", b"Infinity", b"-Infinity", b"inf", b"nan", b"1e400", b"-1e400")),
    (b"1" + b"0" * 400, BAD),  # 10**400 as an integer literal
    (b"-1" + b"0" * 400, BAD),
    *((t, BAD) for t in (rb'"\ud800"', rb'"\udfff"', rb'"a\ud83d"', rb'"\ud83dx"', b'"\xed\xa0\x80"')),
    *((t, BAD) for t in (b'"\xff\xfe"', b'"\xc0\x80"', b'"\x80"', b"01", b"1.", b".5", b"+1", b"0x1F")),
    *((t, BAD) for t in (b"1_000", b"'text'", b"True", b"None", b"undefined", b"", b"[1,]", b'{"a":1,}')),
    *((t, BAD) for t in (b"1e", b"--1", b'"unterminated', b"/* c */ 1", b'"tab\there"', b'"\\x41"')),
    (b"[" * 1100 + b"]" * 1100, BAD),  # deeper than any parser should follow
    # finite numbers, however odd
    *((t, INT) for t in (b"0", b"-0", b"42", b"18446744073709551615", b"-9223372036854775808")),
    *((t, NUM) for t in (b"-0.0", b"1e-400", b"5e-324", b"1e308", b"-1e308", b"1.7976931348623157e308")),
    *((t, NUM) for t in (b"-1.7976931348623157e308", b"1e300", b"18446744073709551616", b"2.5")),
    *((t, NUM) for t in (b"-9223372036854775809", b"123456789012345678901234567890", b"1E5", b"-2.5e-3")),
    (b"3.14159265358979323846264338327950288419716939937510", NUM),
    # text: numbers and tokens in quotes, emoji, right-to-left, NUL, zero-width, injections, long
    *((t, STR) for t in (b'""', b'" "', b'"12"', b'"NaN"', b'"Infinity"', b'"-Infinity"', b'"1e400"')),
    *((t, STR) for t in (b'"null"', b'"true"', '"😀🔥👍🏽"'.encode(), rb'"\ud83d\ude00"', b'"A14"')),
    *((t, STR) for t in (rb'"\u202eevil\u202c"', '"مرحبا بالعالم"'.encode(), '"עברית"'.encode())),
    *((t, STR) for t in (rb'"\u0000"', rb'"a\u0000b"', rb'"\u200b"', rb'"\ufeff"', rb'"e\u0301"')),
    *((t, STR) for t in (rb'"\n\r\t"', b'"<script>alert(1)</script>"', b'"\'; DROP TABLE x;--"')),
    *((t, STR) for t in (b'"%s%n{0}"', rb'"\\"', '"Ωmega ß ﬁ İ"'.encode())),
    (b'"' + b"x" * 100_000 + b'"', STR),
    (b'"' + "😀".encode() * 5000 + b'"', STR),
    (b'"' + b"word " * 2000 + b'"', STR),
    # the rest
    (b"true", BOOL),
    (b"false", BOOL),
    (b"null", NULL),
    *((t, LIST) for t in (b"[]", b"[1]", b'["A14"]', b"[null]", b"[[[[[[[[]]]]]]]]")),
    (b"[" * DEEP + b"]" * DEEP, LIST),
    *((t, OBJ) for t in (b"{}", b'{"a": 1}', b'{"$gt": ""}', b'{"": null}')),
    (b'{"a":' * DEEP + b"1" + b"}" * DEEP, OBJ),
]

# Values of a numeric field: what is scored, what is refused (422 naming the field, or a 200 for
# the odd ones that are numbers all the same: one of 1e15 or more in size is refused, so a number,
# integer or not, may get either).
_FIELD_OUTCOMES = {
    "numeric": {
        NUM: (expect(200, 422), True),
        INT: (expect(200, 422), True),
        NULL: (expect(200), True),
        STR: (expect(422), False),
        BOOL: (expect(422), False),
        LIST: (expect(422), False),
        OBJ: (expect(422), False),
    },
    "category": {
        NUM: (expect(200), True),
        INT: (expect(200), True),
        STR: (expect(200), True),
        BOOL: (expect(200), True),
        NULL: (expect(200), True),
        LIST: (expect(422), False),
        OBJ: (expect(422), False),
    },
    "text": {
        STR: (expect(200), True),
        NULL: (expect(200), True),
        NUM: (expect(422), False),
        INT: (expect(422), False),
        BOOL: (expect(422), False),
        LIST: (expect(422), False),
        OBJ: (expect(422), False),
    },
}


def dumps(doc: Any) -> bytes:
    return orjson.dumps(doc)


def _row_text(row: dict[str, Any], name: str | None = None, raw: bytes | None = b"") -> bytes:
    """``row`` as JSON text, with field ``name``'s value written as ``raw`` (added when the row has
    no such field; left out when ``raw`` is None)."""
    parts = []
    for k, v in row.items():
        if k == name:
            if raw is None:
                continue
            parts.append(dumps(k) + b":" + raw)
        else:
            parts.append(dumps(k) + b":" + dumps(v))
    if name is not None and name not in row and raw is not None:
        parts.append(dumps(name) + b":" + raw)
    return b"{" + b",".join(parts) + b"}"


def _valued(
    family: str, path: str, body: bytes, what: str, name: str, mentions: tuple[str, ...], note: str = ""
) -> Request:
    """A POST to ``path`` carrying a value of kind ``what`` (from VALUES) in the field ``name``: a 400
    naming JSON when the value is not JSON, else a 200 or a 422 whose error names ``mentions``."""
    if what == BAD:
        return Request(f"{family}: not JSON", "POST", path, body, expect=expect(400), mentions=("JSON",))
    return Request(
        f"{family}: {what} as {name}",
        "POST",
        path,
        body,
        expect=expect(200, 422),
        mentions=mentions,
        note=note,
    )


class Hostile:
    """The hostile requests for a service over ``kinds`` (feature name -> numeric, category or
    text), with ``good`` rows (valid, as a client sends them) and the model's ``classes``."""

    def __init__(
        self,
        kinds: dict[str, str],
        good: list[dict[str, Any]],
        classes: list[Any],
        *,
        regression: bool = False,
        seed: int = 0,
    ):
        self.kinds, self.good, self.classes, self.regression = kinds, good, classes, regression
        self.random = random.Random(seed)

    def predict(self, body: bytes, kind: str, **kw: Any) -> Request:
        return Request(kind, "POST", "/predict", body, **kw)

    def all(self) -> Iterator[Request]:
        yield from self.field_values()
        yield from self.shapes()
        yield from self.event_times()
        yield from self.queries()
        yield from self.truncations()
        yield from self.mutations(600)
        yield from self.content_types()
        yield from self.sizes()
        yield from self.slow_and_gone()
        yield from self.methods_and_paths()
        yield from self.headers()
        yield from self.feedback()

    # -- a value in every field ------------------------------------------------------------------

    def field_values(self, placements: tuple[str, ...] = ("alone", "second", "bare")) -> Iterator[Request]:
        """Every value in every field, as the only row, as the second of two, and as a bare object."""
        good = self.good[0]
        for name, kind in self.kinds.items():
            for raw, what in VALUES:
                for placement in placements:
                    row = _row_text(good, name, raw)
                    if placement == "alone":
                        body, at, n = b'{"rows":[' + row + b"]}", 0, 1
                    elif placement == "second":
                        body, at, n = b'{"rows":[' + dumps(self.good[1]) + b"," + row + b"]}", 1, 2
                    else:
                        body, at, n = row, 0, 1
                    note = f"{name}={raw[:40]!r}"
                    if what == BAD:
                        yield self.predict(
                            body, "value: not JSON", expect=expect(400), mentions=("JSON",), note=note
                        )
                        continue
                    statuses, scored = _FIELD_OUTCOMES[kind][what]
                    yield self.predict(
                        body,
                        f"value: {what} in a {kind} field",
                        expect=statuses,
                        mentions=(f"row {at}", name),
                        rows=n if scored else None,
                        note=note,
                    )

    # -- bodies of the wrong shape ---------------------------------------------------------------

    def shapes(self) -> Iterator[Request]:
        good, other = self.good[0], self.good[1]
        names = list(self.kinds)
        values = [good[k] for k in names]
        refused = expect(422)
        cases: list[tuple[bytes, frozenset[int], tuple[str, ...]]] = [
            (b"", expect(400), ("empty",)),
            (b"   \n\t ", expect(400), ("JSON",)),
            (b"\x00", expect(400), ("JSON",)),
            (b"\xef\xbb\xbf" + dumps({"rows": [good]}), expect(400), ("JSON",)),  # a UTF-8 byte order mark
            (dumps({"rows": [good]}) + b"garbage", expect(400), ("JSON",)),
            (dumps({"rows": [good]}) * 2, expect(400), ("JSON",)),
            *((t, refused, ()) for t in (b"null", b"true", b"0", b"-1.5", b'"rows"', b"[]", b"{}", b"[[]]")),
            *(
                (t, refused, ("rows",))
                for t in (b'{"rows":null}', b'{"rows":{}}', b'{"rows":[]}', b'{"rows":5}')
            ),
            (b'{"rows":"abc"}', refused, ("rows",)),
            (b'{"rows":[null]}', refused, ("row 0",)),
            (b'{"rows":[[]]}', refused, ("row 0",)),
            (b'{"rows":[1,2]}', refused, ("row 0",)),
            (b'{"rows":[{}]}', refused, ("row 0",)),
            (dumps({"rows": [values]}), refused, ("row 0", "object")),  # an array where a row object belongs
            (dumps(values), refused, ("row 0", "object")),
            (dumps([[good]]), refused, ("row 0", "object")),
            (dumps({"rows": [[good]]}), refused, ("row 0", "object")),
            (dumps({"rows": good}), refused, ("rows",)),  # an object where the array belongs
            (dumps({"rows": {"0": good}}), refused, ("rows",)),
            *((dumps({"rows": [good, x]}), refused, ("row 1",)) for x in (5, "x", None, [], True, [good])),
            (dumps({"data": [good]}), refused, ("row 0",)),
            (dumps({"Rows": [good]}), refused, ("row 0",)),
            (dumps({"rows": [{k.upper(): v for k, v in good.items()}]}), refused, ("row 0", names[0])),
            (dumps({"rows": [{k + " ": v for k, v in good.items()}]}), refused, ("row 0", names[0])),
            (dumps({"rows": [{"\u0430" + k[1:]: v for k, v in good.items()}]}), refused, ("row 0",)),
        ]
        for body, statuses, words in cases:
            yield self.predict(body, "shape: wrong", expect=statuses, mentions=words)
        for name in names:  # each field missing, from the only row and from the second
            row = {k: v for k, v in good.items() if k != name}
            yield self.predict(
                dumps({"rows": [row]}), "shape: missing field", expect=refused, mentions=(name,)
            )
            body = dumps({"rows": [other, row]})
            yield self.predict(body, "shape: missing field", expect=refused, mentions=("row 1", name))
        # extra fields and top-level keys are ignored; duplicate keys take the last
        for extra in (1, 100, 10_000):
            row = {**good, **{f"extra_{i}": i for i in range(extra)}}
            yield self.predict(dumps({"rows": [row]}), "shape: extra fields", expect=expect(200), rows=1)
        for raw, _ in VALUES[::3]:
            body = b'{"rows":[' + dumps(good) + b'],"extra":' + (raw or b"1") + b"}"
            yield self.predict(body, "shape: extra top-level key", expect=expect(200, 400), rows=1)
        body = b'{"rows":[' + dumps(other) + b'],"rows":[' + dumps(good) + b"," + dumps(good) + b"]}"
        yield self.predict(body, "shape: duplicate key", expect=expect(200), rows=2)
        row = _row_text(good, names[0], b"1")[:-1] + b"," + dumps(names[0]) + b':"twice"}'
        yield self.predict(
            b'{"rows":[' + row + b"]}", "shape: duplicate key", expect=expect(200, 422), rows=1
        )
        for n in (1, 2, 10, 100, 1000, 1900):
            rows = [self.good[i % len(self.good)] for i in range(n)]
            yield self.predict(dumps({"rows": rows}), "shape: many rows", expect=expect(200), rows=n)
        n = (1 << 20) // min(len(dumps(r)) for r in self.good) + 1  # just past the size limit
        rows = [self.good[i % len(self.good)] for i in range(n)]
        yield self.predict(
            dumps({"rows": rows}), "shape: too many rows", expect=expect(413), mentions=("limit",)
        )
        yield self.predict(dumps(self.good[:3]), "shape: a bare list of rows", expect=expect(200), rows=3)

    def event_times(self) -> Iterator[Request]:
        """The request's ``time``: epoch seconds or ISO 8601; anything else a 422 naming it."""
        dates = [
            "2026-11-29T14:00:00Z",
            "2026-11-29",
            "2026-11-29T14:00:00.123456+05:30",
            "0001-01-01T00:00:00",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "9999-12-31T23:59:59.999999",
            "1970-01-01T00:00:00Z",
            "0000-00-00",
            "2026-13-45",
            "2026-02-30",
            "20261129T140000Z",
            "2026-W48-1",
            "now",
            "yesterday",
            "1e9",
            "",
            " ",
            "2026-11-29T25:61:61Z",
            "٢٠٢٦-١١-٢٩",
        ]
        body = dumps(self.good[0])
        times = [(dumps(d), STR) for d in dates] + VALUES
        for raw, what in times:
            doc = b'{"rows":[' + body + b'],"time":' + raw + b"}"
            if what == BAD:
                yield self.predict(doc, "time: not JSON", expect=expect(400), mentions=("JSON",))
            else:
                yield self.predict(doc, "time: odd", expect=expect(200, 422), mentions=("time",), rows=1)

    def queries(self) -> Iterator[Request]:
        """``?explain=...&top=...`` however odd: the answer is still the rows' predictions."""
        body = dumps({"rows": self.good[:2]})
        queries = [
            *(
                f"explain={v}"
                for v in ("true", "1", "yes", "TRUE", "false", "", "%00", "😀", "true&explain=no")
            ),
            *(f"explain=true&top={v}" for v in ("0", "1", "3", "-1", "abc", "99999999999999999999999999")),
            *(f"explain=true&top={v}" for v in ("1e3", "%203", "3%20", "", "2&top=1", "²", "³", "١", "߁")),
            *(
                f"explain=true&top={v}"
                for v in ("%C2%B2", "%E2%91%A0", "%D9%A3", "%EF%BC%93", "%F0%9D%9F%9B")
            ),
            "explain=true&top=" + "9" * 5000,
            "x=" + "y" * 100_000,
            "%zz=%zz&explain=%ff",
            "&&&==&explain",
            "explain=true&explain=true&explain=true" * 100,
        ]
        for q in queries:
            yield self.predict(body, "query: odd", query=q.encode(), expect=expect(200), rows=2)
        for raw in (b"explain=true&top=\xff\xfe", b"explain=true&top=\xb2", b"explain=true&top=\xb9\xb3"):
            yield self.predict(body, "query: odd", query=raw, expect=expect(200), rows=2)

    def truncations(self) -> Iterator[Request]:
        """A valid body cut short at many places."""
        body = dumps({"rows": self.good[:3]})
        for n in sorted({*range(0, len(body), max(1, len(body) // 150)), len(body) - 1}):
            cut = body[:n]
            yield self.predict(
                cut, "truncated JSON", expect=expect(400), mentions=("empty",) if not n else ("JSON",)
            )

    def mutations(self, n: int) -> Iterator[Request]:
        """Valid bodies with a few random bytes changed, inserted, deleted or repeated."""
        alphabet = b'{}[]:,"\\0123456789.eE+-ntrufals \x00\xff\n'
        bodies = [dumps({"rows": self.good[:2]}), dumps(self.good[0]), self._feedback_body()]
        for i in range(n):
            body = bytearray(bodies[i % len(bodies)])
            for _ in range(self.random.randint(1, 4)):
                at = self.random.randrange(len(body))
                how = self.random.randrange(4)
                if how == 0:
                    body[at] = self.random.choice(alphabet)
                elif how == 1:
                    body.insert(at, self.random.choice(alphabet))
                elif how == 2 and len(body) > 1:
                    del body[at]
                else:
                    body[at:at] = body[at : at + self.random.randint(1, 20)]
            path = "/feedback" if i % len(bodies) == 2 else "/predict"
            yield Request("mutated body", "POST", path, bytes(body), expect=expect(200, 400, 422))

    def content_types(self) -> Iterator[Request]:
        """The body is read as JSON whatever the content type says; what is not JSON is a 400."""
        body = dumps({"rows": self.good[:1]})
        types = [
            b"text/plain",
            b"application/x-www-form-urlencoded",
            b"multipart/form-data; boundary=x",
            b"application/xml",
            b"application/json; charset=latin-1",
            b"application/json; charset=utf-16",
            b"*/*",
            b"",
            b"garbage/\xff\x00",
            b"application/json, text/html",
        ]
        for t in types:
            yield self.predict(
                body, "content type: odd", headers=((b"content-type", t),), expect=expect(200), rows=1
            )
        yield self.predict(body, "content type: none", headers=(), expect=expect(200), rows=1)
        text = body.decode()
        not_json = [
            (b"application/x-www-form-urlencoded", b"rows=1&age_years=30"),
            (
                b"multipart/form-data; boundary=x",
                b'--x\r\nContent-Disposition: form-data; name="rows"\r\n\r\n1\r\n--x--',
            ),
            (b"application/xml", b"<rows><row><age_years>30</age_years></row></rows>"),
            (b"application/json; charset=utf-16", text.encode("utf-16")),
            (b"application/json; charset=utf-16", text.encode("utf-16-le")),
            (b"application/json; charset=utf-32", text.encode("utf-32")),
            (b"application/json", gzip.compress(body)),
            (b"text/csv", b"age_years,credit_amount\n30,1000\n"),
            (b"application/yaml", b"rows:\n  - age_years: 30\n"),
        ]
        for t, data in not_json:
            headers: tuple[tuple[bytes, bytes], ...] = ((b"content-type", t),)
            if data[:2] == b"\x1f\x8b":
                headers += ((b"content-encoding", b"gzip"),)
            yield self.predict(
                data, "content type: not JSON", headers=headers, expect=expect(400), mentions=("JSON",)
            )

    def sizes(self, limit: int = 1 << 20) -> Iterator[Request]:
        """Bodies at, just over and far over the size limit, with and without a Content-Length."""
        body = dumps({"rows": self.good[:1]})
        exact = body[:-1] + b" " * (limit - len(body)) + b"}"
        big = b'{"rows":[' + b",".join([dumps(self.good[0])] * (10_000_000 // len(body))) + b"]}"  # ~10 MB
        over = exact[:-1] + b" }"
        too_large = dict(expect=expect(413), mentions=("limit",))
        length = lambda b: (*JSON, (b"content-length", str(len(b)).encode()))  # noqa: E731
        yield self.predict(exact, "size: at the limit", headers=length(exact), expect=expect(200), rows=1)
        yield self.predict(exact, "size: at the limit", pieces=64, expect=expect(200), rows=1)
        yield self.predict(over, "size: a byte over the limit", headers=length(over), **too_large)
        yield self.predict(over, "size: a byte over the limit", pieces=16, **too_large)
        yield self.predict(big, "size: 10 MB", headers=length(big), **too_large)
        yield self.predict(big, "size: 10 MB", pieces=160, **too_large)
        yield self.predict(b" " * 10_000_000, "size: 10 MB", pieces=10, **too_large)
        yield Request("size: 10 MB", "POST", "/feedback", big, pieces=40, **too_large)
        claims = [b"99999999999999999999999", str(10 * limit).encode()]
        for claim in claims:  # a Content-Length over the limit is refused before the body is read
            yield self.predict(
                body, "size: claimed too large", headers=(*JSON, (b"content-length", claim)), **too_large
            )

    def slow_and_gone(self) -> Iterator[Request]:
        body = dumps({"rows": self.good[:3]})
        for pieces in (2, 10, len(body)):
            yield self.predict(body, "slow client", pieces=pieces, expect=expect(200), rows=3)
        for path in ("/predict", "/feedback"):
            for _ in range(5):
                yield Request("client leaves mid-body", "POST", path, body, pieces=4, disconnect=True)

    def methods_and_paths(self) -> Iterator[Request]:
        body = dumps({"rows": self.good[:1]})
        paths = [
            "/predict",
            "/feedback",
            "/health",
            "/ready",
            "/metrics",
            "/openapi.json",
            "/recommend",
            "/recommend/12347",
            "/recommend/",
            "/recommend/ ",
            "/recommend/a/b",
            "/",
            "/nowhere",
            "/predict/",
            "/health/",
            "/PREDICT",
            "//predict",
            "/predict/../health",
            "/" + "a" * 10_000,
            "/😀",
            "/\x00",
            "/predict\x00",
            "/predict;x",
            "/%2e%2e/etc/passwd",
            "*",
        ]
        methods = [
            "GET",
            "POST",
            "PUT",
            "DELETE",
            "PATCH",
            "HEAD",
            "OPTIONS",
            "TRACE",
            "CONNECT",
            "FOO",
            "post",
        ]
        for path in paths:
            for method in methods:
                yield Request("method and path", method, path, body if method != "GET" else b"")

    def headers(self) -> Iterator[Request]:
        body = dumps({"rows": self.good[:1]})
        odd = [
            ((b"x-junk", b"x" * 100_000),),
            tuple((f"x-h{i}".encode(), b"v") for i in range(1000)),
            ((b"x-bytes", b"\xff\xfe\x00"),),
            ((b"content-type", b"text/plain"), (b"content-type", b"application/json")),
            ((b"x-api-key", b"whatever"),),
            ((b"authorization", b"Bearer " + b"k" * 10_000),),
            ((b"transfer-encoding", b"chunked"),),
            ((b"content-encoding", b"br"),),
            ((b"expect", b"100-continue"),),
            ((b"host", b"\xff" * 100),),
        ]
        for extra in odd:
            yield self.predict(body, "headers: odd", headers=(*JSON, *extra), expect=expect(200), rows=1)

    # -- feedback --------------------------------------------------------------------------------

    def _feedback_body(self) -> bytes:
        return dumps({"request_id": "abc-1", "row": 0, "label": self.classes[0] if self.classes else 1.5})

    def feedback(self) -> Iterator[Request]:
        good = orjson.loads(self._feedback_body())
        for name in ("request_id", "row", "label"):
            for raw, what in VALUES:
                for placement in ("alone", "listed"):
                    item = _row_text(good, name, raw)
                    body, at = (
                        (item, 0)
                        if placement == "alone"
                        else (b'{"feedback":[' + dumps(good) + b"," + item + b"]}", 1)
                    )
                    yield _valued("feedback", "/feedback", body, what, name, (f"feedback {at}", name))
            missing = _row_text(good, name, None)
            yield Request(
                "feedback: missing field",
                "POST",
                "/feedback",
                missing,
                expect=expect(200, 422),
                mentions=(name,),
            )
        shapes = [
            b"null",
            b"[]",
            b"{}",
            b"[null]",
            b'{"feedback":[]}',
            b'{"feedback":null}',
            b'{"feedback":{}}',
            b"5",
        ]
        for body in shapes:
            yield Request("feedback: wrong shape", "POST", "/feedback", body, expect=expect(422))
        for label in self.classes[:3]:
            for as_text in (False, True):
                doc = {**good, "label": str(label) if as_text else label}
                yield Request("feedback: a class", "POST", "/feedback", dumps(doc), expect=expect(200))
        many = dumps({"feedback": [dict(good, row=i) for i in range(10_000)]})
        yield Request("feedback: 10,000 labels", "POST", "/feedback", many, expect=expect(200))


class RecommendHostile:
    """The hostile requests for a recommendation service: odd user ids in the path and in batch
    requests, odd ``k`` and ``time``, odd purchase feedback."""

    def __init__(self, users: list[str], items: list[str]):
        self.users, self.items = users, items

    def all(self) -> Iterator[Request]:
        yield from self.paths()
        yield from self.batches()
        yield from self.feedback()

    def paths(self) -> Iterator[Request]:
        from urllib.parse import quote

        user = self.users[0]
        odd = [
            "unknown-user",
            "0",
            "-1",
            "😀",
            "\u202eevil",
            "a\x00b",
            "%00",
            "%2F",
            "..",
            "x" * 10_000,
            "مرحبا",
        ]
        for u in [user, *odd]:
            yield Request("recommend: a user in the path", "GET", "/recommend/" + u, expect=expect(200, 404))
            yield Request(
                "recommend: a user in the path", "GET", "/recommend/" + quote(u), expect=expect(200, 404)
            )
        for u in ("", " ", "a/b", "/"):
            yield Request(
                "recommend: no user", "GET", "/recommend/" + u, expect=expect(404), mentions=("user",)
            )
        ks = ["1", "10", "1000", "0", "-1", "1001", "abc", "1.5", "", "99999999999999999999", "9" * 5000]
        ks += ["%C2%B2", "%D9%A3", "%EF%BC%93", "1e3", " 5", "5&k=6"]
        for k in ks:
            for explain in ("", "&explain=true"):
                query = f"k={k}{explain}".encode()
                yield Request(
                    "recommend: odd k",
                    "GET",
                    "/recommend/" + user,
                    query=query,
                    expect=expect(200, 422),
                    mentions=("k",),
                )
        for raw in (b"k=\xb2", b"k=\xff", b"explain=\xff&k=3"):
            yield Request(
                "recommend: odd k",
                "GET",
                "/recommend/" + user,
                query=raw,
                expect=expect(200, 422),
                mentions=("k",),
            )

    def batches(self) -> Iterator[Request]:
        good = {"users": self.users[:3], "k": 5}
        for name in ("users", "k", "time"):
            for raw, what in VALUES:
                body = _row_text(good, name, raw)
                yield _valued("recommend", "/recommend", body, what, name, (name,), f"{name}={raw[:40]!r}")
            for raw, what in VALUES:  # and as one of the users
                if what == BAD:
                    continue
                body = b'{"users":[' + dumps(self.users[0]) + b"," + raw + b"]}"
                yield Request(
                    f"recommend: {what} as a user", "POST", "/recommend", body, expect=expect(200, 422)
                )
        many = [str(i) for i in range(1001)]
        yield Request(
            "recommend: too many users", "POST", "/recommend", dumps({"users": many}), expect=expect(422)
        )
        yield Request(
            "recommend: 1,000 users", "POST", "/recommend", dumps({"users": many[:1000]}), expect=expect(200)
        )
        for body in (b"null", b"[]", b"{}", b'{"users":[]}', dumps(self.users), b'"u"'):
            yield Request(
                "recommend: wrong shape", "POST", "/recommend", body, expect=expect(422), mentions=("users",)
            )
        yield Request(
            "recommend: rows to a recommender", "POST", "/predict", b'{"rows":[{}]}', expect=expect(404)
        )

    def feedback(self) -> Iterator[Request]:
        good = {"user": self.users[0], "item": self.items[0], "event": "purchase"}
        for name in ("user", "item", "event", "time"):
            for raw, what in VALUES:
                body = _row_text(good, name, raw)
                yield _valued("purchase", "/feedback", body, what, name, (name,), f"{name}={raw[:40]!r}")
        for body in (b"null", b"[]", b"{}", b'{"feedback":[]}', b"[null]", b'{"feedback":[1]}'):
            yield Request("purchase: wrong shape", "POST", "/feedback", body, expect=expect(422))
