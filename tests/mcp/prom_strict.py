# SPDX-License-Identifier: MIT
"""
A strict parser of the Prometheus text exposition format, version 0.0.4,
written from the Prometheus project's description of it
(docs/instrumenting/exposition_formats.md, "Text format details"):

- UTF-8, lines end with a line feed, the last one too; empty lines are
  ignored; tokens are separated by blanks (spaces or tabs).
- "# HELP name docstring": at most one per name; the docstring escapes
  backslash and line feed as \\\\ and \\n.
- "# TYPE name type": exactly two tokens, type one of counter, gauge,
  histogram, summary, untyped; at most one per name, before the name's
  first sample. Other comments are ignored.
- A sample: metric_name [ "{" label_name "=" '"' label_value '"'
  { "," label_name "=" '"' label_value '"' } [ "," ] "}" ] value
  [ timestamp ]. metric_name matches [a-zA-Z_:][a-zA-Z0-9_:]*, label_name
  [a-zA-Z_][a-zA-Z0-9_]* (names starting with __ are reserved); a label
  value escapes backslash, double quote and line feed as \\\\, \\" and \\n
  (and nothing else); value is a float as Go's ParseFloat reads it (NaN,
  +Inf, -Inf included); timestamp an int64.
- All lines of one metric family form one uninterrupted group, HELP and
  TYPE first. A histogram x has x_bucket samples with an "le" label
  (ascending, cumulative, ending with le="+Inf", which equals x_count),
  x_sum and x_count; a summary x has x{quantile=...}, x_sum and x_count.
- The same series (name and label set) appears once.

parse(text) returns {family: {"type", "help", "samples": [(name, labels,
value)]}} or raises ValueError naming the line. Run as a program, it
checks itself against inputs each rule must refuse.
"""
import math
import re

TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
# Go strconv.ParseFloat, decimal forms (hex floats and underscores are not
# what an exposition carries, and refusing them keeps this strict).
FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|Inf|inf|NaN|nan)")
INT64 = re.compile(r"-?[0-9]+")
BLANK = " \t"


class Reader:
    def __init__(self, line, no):
        self.s, self.i, self.no = line, 0, no

    def fail(self, why):
        raise ValueError("line %d: %s: %r" % (self.no, why, self.s))

    def blanks(self, required=False):
        start = self.i
        while self.i < len(self.s) and self.s[self.i] in BLANK:
            self.i += 1
        if required and self.i == start:
            self.fail("blank expected at column %d" % self.i)

    def match(self, rx, what):
        m = rx.match(self.s, self.i)
        if not m:
            self.fail("%s expected at column %d" % (what, self.i))
        self.i = m.end()
        return m.group(0)

    def eat(self, ch):
        if self.s[self.i:self.i + 1] != ch:
            self.fail("%r expected at column %d" % (ch, self.i))
        self.i += 1

    def at_end(self):
        return self.i >= len(self.s)

    def quoted(self):
        self.eat('"')
        out = []
        while True:
            if self.at_end():
                self.fail("unterminated label value")
            c = self.s[self.i]
            self.i += 1
            if c == '"':
                return "".join(out)
            if c == "\\":
                e = self.s[self.i:self.i + 1]
                self.i += 1
                if e == "\\":
                    out.append("\\")
                elif e == '"':
                    out.append('"')
                elif e == "n":
                    out.append("\n")
                else:
                    self.fail("bad escape \\%s in a label value" % e)
            else:
                out.append(c)


def parse_value(text, rd):
    if not FLOAT.fullmatch(text):
        rd.fail("value %r is not a float" % text)
    return float(text)


def family_of(name, types):
    """The family a sample belongs to: x for x_bucket/x_sum/x_count of a histogram or summary."""
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            t = types.get(base)
            if t == "histogram" or (t == "summary" and suffix != "_bucket"):
                return base
    return name


def unescape_help(doc, rd):
    out, i = [], 0
    while i < len(doc):
        c = doc[i]
        if c == "\\":
            e = doc[i + 1:i + 2]
            if e == "\\":
                out.append("\\")
            elif e == "n":
                out.append("\n")
            else:
                rd.fail("bad escape in HELP")
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def parse(text):
    if isinstance(text, bytes):
        text = text.decode("utf-8")  # raises on bad UTF-8
    if not text.endswith("\n"):
        raise ValueError("the last line does not end with a line feed")
    fams = {}
    types, helps = {}, {}
    done = set()  # families whose group has ended
    current = None
    series = set()
    for no, line in enumerate(text[:-1].split("\n"), 1):
        if "\r" in line:
            raise ValueError("line %d: carriage return" % no)
        rd = Reader(line, no)
        rd.blanks()
        if rd.at_end():
            continue
        if line[rd.i] == "#":
            rd.i += 1
            rd.blanks()
            start = rd.i
            while not rd.at_end() and line[rd.i] not in BLANK:
                rd.i += 1
            kw = line[start:rd.i]
            if kw not in ("HELP", "TYPE"):
                continue  # a comment
            rd.blanks(True)
            name = rd.match(METRIC_NAME, "metric name")
            if kw == "HELP":
                if not rd.at_end():
                    rd.blanks(True)
                doc = unescape_help(line[rd.i:], rd)
                if name in helps:
                    rd.fail("second HELP for %s" % name)
                helps[name] = doc
            else:
                rd.blanks(True)
                t = rd.match(re.compile(r"[a-z]+"), "type")
                rd.blanks()
                if not rd.at_end() or t not in TYPES:
                    rd.fail("TYPE takes a name and one of %s" % ", ".join(TYPES))
                if name in types:
                    rd.fail("second TYPE for %s" % name)
                if name in fams and fams[name]["samples"]:
                    rd.fail("TYPE for %s after its samples" % name)
                types[name] = t
            if name in done:
                rd.fail("%s comes back after its group ended" % name)
            if current not in (None, name):
                done.add(current)
            current = name
            fam = fams.setdefault(name, {"type": "untyped", "help": None, "samples": []})
            if fam["samples"] and kw == "HELP":
                rd.fail("HELP for %s after its samples" % name)
            continue
        name = rd.match(METRIC_NAME, "metric name")
        labels = {}
        before = rd.i
        rd.blanks()
        has_labels = not rd.at_end() and line[rd.i] == "{"
        if not has_labels and rd.i == before:
            rd.fail("blank expected after the metric name")
        if has_labels:
            rd.i += 1
            rd.blanks()
            while not rd.at_end() and line[rd.i] != "}":
                ln = rd.match(LABEL_NAME, "label name")
                if ln.startswith("__"):
                    rd.fail("label name %s is reserved" % ln)
                if ln in labels:
                    rd.fail("label %s twice" % ln)
                rd.blanks()
                rd.eat("=")
                rd.blanks()
                labels[ln] = rd.quoted()
                rd.blanks()
                if not rd.at_end() and line[rd.i] == ",":
                    rd.i += 1
                    rd.blanks()
                elif not rd.at_end() and line[rd.i] != "}":
                    rd.fail("',' or '}' expected at column %d" % rd.i)
            rd.eat("}")
            rd.blanks(True)
        start = rd.i
        while not rd.at_end() and line[rd.i] not in BLANK:
            rd.i += 1
        value = parse_value(line[start:rd.i], rd)
        rd.blanks()
        if not rd.at_end():
            start = rd.i
            while not rd.at_end() and line[rd.i] not in BLANK:
                rd.i += 1
            ts = line[start:rd.i]
            if not INT64.fullmatch(ts) or not -(2**63) <= int(ts) < 2**63:
                rd.fail("timestamp %r is not an int64" % ts)
            rd.blanks()
            if not rd.at_end():
                rd.fail("trailing text")
        fname = family_of(name, types)
        if fname in done:
            rd.fail("%s comes back after its group ended" % fname)
        if current not in (None, fname):
            done.add(current)
        current = fname
        key = (name, tuple(sorted(labels.items())))
        if key in series:
            rd.fail("series %s%s twice" % key)
        series.add(key)
        fam = fams.setdefault(fname, {"type": "untyped", "help": None, "samples": []})
        t = types.get(fname, "untyped")
        if t == "counter" and not (value >= 0 or math.isnan(value)):
            rd.fail("counter %s is negative" % name)
        if t in ("histogram", "summary") and name == fname and t == "histogram":
            rd.fail("histogram %s has a sample without _bucket, _sum or _count" % name)
        fam["samples"].append((name, labels, value))
    for fname, fam in fams.items():
        fam["type"] = types.get(fname, "untyped")
        fam["help"] = helps.get(fname)
        if fam["type"] == "histogram":
            check_histogram(fname, fam["samples"])
    return fams


def check_histogram(fname, samples):
    groups = {}
    for name, labels, value in samples:
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        g = groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if name == fname + "_bucket":
            if "le" not in labels:
                raise ValueError("%s_bucket without le" % fname)
            le = labels["le"]
            if not FLOAT.fullmatch(le):
                raise ValueError("%s: le=%r is not a float" % (fname, le))
            g["buckets"].append((float(le), value))
        elif name == fname + "_sum":
            g["sum"] = value
        elif name == fname + "_count":
            g["count"] = value
    for rest, g in groups.items():
        b = g["buckets"]
        if not b or b[-1][0] != math.inf:
            raise ValueError("%s%s: no le=\"+Inf\" bucket last" % (fname, rest))
        for (l1, v1), (l2, v2) in zip(b, b[1:]):
            if not l1 < l2:
                raise ValueError("%s: le %s then %s: not ascending" % (fname, l1, l2))
            if not v1 <= v2:
                raise ValueError("%s: buckets not cumulative at le=%s" % (fname, l2))
        if g["count"] is None or g["sum"] is None:
            raise ValueError("%s%s: _sum or _count missing" % (fname, rest))
        if g["count"] != b[-1][1]:
            raise ValueError("%s: _count %s is not the +Inf bucket %s" % (fname, g["count"], b[-1][1]))


GOOD = (
    "# HELP a_total A \\\\ help\\nline.\n# TYPE a_total counter\n"
    'a_total{tool="x\\"y\\\\z\\nw",outcome="ok",} 3\n'
    "a_total 1e3 1700000000000\n\n"
    "# TYPE h_seconds histogram\n"
    'h_seconds_bucket{le="0.1"} 1\nh_seconds_bucket{le="+Inf"} 2\n'
    "h_seconds_sum 0.3\nh_seconds_count 2\n"
    "g NaN\n"
)

BAD = {
    "no final line feed": "a 1",
    "bad escape": 'a{x="\\t"} 1\n',
    "unescaped quote": 'a{x="""} 1\n',
    "raw line feed in value": 'a{x="\n"} 1\n',
    "second TYPE": "# TYPE a gauge\n# TYPE a gauge\na 1\n",
    "TYPE after sample": "a 1\n# TYPE a gauge\n",
    "unknown type": "# TYPE a meter\na 1\n",
    "group interrupted": "a 1\nb 1\na{x=\"1\"} 2\n",
    "not cumulative": '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    "no +Inf": '# TYPE h histogram\nh_bucket{le="1"} 2\nh_sum 1\nh_count 2\n',
    "count differs": '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
    "bad value": "a 1,5\n",
    "bad label name": 'a{x-y="1"} 1\n',
    "reserved label": 'a{__x="1"} 1\n',
    "label twice": 'a{x="1",x="2"} 1\n',
    "series twice": "a 1\na 2\n",
    "negative counter": "# TYPE a_total counter\na_total -1\n",
    "bad metric name": "1a 1\n",
    "bad timestamp": "a 1 1.5\n",
    "trailing text": "a 1 2 3\n",
    "second HELP": "# HELP a x\n# HELP a y\na 1\n",
    "carriage return": "a 1\r\n",
}


def self_test():
    fams = parse(GOOD)
    s = fams["a_total"]["samples"][0]
    assert s[1]["tool"] == 'x"y\\z\nw', s
    assert fams["a_total"]["help"] == "A \\ help\nline."
    assert fams["h_seconds"]["type"] == "histogram"
    assert math.isnan(fams["g"]["samples"][0][2])
    for why, text in BAD.items():
        try:
            parse(text)
        except ValueError:
            continue
        raise AssertionError("the parser took %s: %r" % (why, text))


if __name__ == "__main__":
    self_test()
    print("prom_strict: %d refusals and one good exposition checked" % len(BAD))
