"""Every command's inputs, validated before anything runs: one pydantic model per command, built from a
shared set of validated types. A value that does not fit becomes one ConfigError naming the flag as the user
typed it, what is wrong and how to fix it (exit code 2).

The CLI parser (typer) only splits argv; every check of meaning is here, so that a command is refused
before it contacts a server, starts a process or writes a file.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Optional
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from infermeter import limits
from infermeter.errors import ConfigError

# RFC 9110 token: what an HTTP method or header name may be made of.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# A header value: visible ASCII, spaces and tabs. No CR/LF (a second header smuggled in), nothing else.
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
# Headers the HTTP client writes itself; a second copy makes a request servers read differently.
_OWN_HEADERS = {"host", "content-length", "connection", "transfer-encoding"}


def parse_url(text: str) -> str:
    """An http:// URL the load generator can send to: a host, a port in 1..65535, ASCII without spaces.
    ValueError names what is wrong."""
    bad = next((c for c in text if not 33 <= ord(c) <= 126), None)
    if bad is not None:
        raise ValueError(f"{text!r} holds {_char(bad)}; write it percent-encoded (a space is %20)")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # "Port out of range", "Port could not be cast", "Invalid IPv6 URL"
        raise ValueError(f"{text!r} is not a URL the load generator can use ({exc}); the port is a number from 1 to 65535, "
                         "e.g. http://127.0.0.1:8080/predict") from None
    if parts.scheme != "http":
        raise ValueError(f"{text!r} is not an http:// URL; e.g. http://127.0.0.1:8080/predictions/resnet50")
    if not parts.hostname:
        raise ValueError(f"{text!r} names no host; e.g. http://127.0.0.1:8080/predict")
    if port == 0:
        raise ValueError(f"{text!r} has port 0, which no server listens on; the port is a number from 1 to 65535")
    return text


def parse_header(text: str) -> tuple[str, str]:
    """'Name: value' -> (name, value); ValueError names what is wrong."""
    name, sep, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not name:
        raise ValueError(f"header {text!r} is not 'Name: value'; e.g. -H 'Content-Type: application/json'")
    if not _TOKEN.fullmatch(name):
        raise ValueError(f"header name {name!r} may hold only letters, digits and !#$%&'*+-.^_`|~")
    if not _HEADER_VALUE.fullmatch(value):
        bad = next(c for c in value if not _HEADER_VALUE.fullmatch(c))
        raise ValueError(f"the value of header {name!r} holds {_char(bad)}; HTTP header values are ASCII: "
                         "percent-encode or base64 it")
    if name.lower() in _OWN_HEADERS:
        raise ValueError(f"header {name!r} is set by infermeter itself; leave it out")
    return name, value


def _char(c: str) -> str:
    if c in "\r\n":
        return "a line break"
    if c == " ":
        return "a space"
    if not c.isascii():
        return f"the non-ASCII character {c!r}"
    return f"the control character {c!r}"


def parse_numbers(text: str | None, kind: type, flag: str) -> list | None:
    """'1,10,25' -> [1, 10, 25]; None or blank -> None. Each value is finite; bounds are the model's."""
    if text is None or not text.strip():
        return None
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise ValueError(f"{text!r} has an empty item; write numbers separated by single commas, e.g. {flag} 1,10,25")
        try:
            value = kind(part)
        except ValueError:
            what = "whole numbers" if kind is int else "numbers"
            raise ValueError(f"{part!r} in {text!r} is not a number; {flag} takes comma-separated {what}, "
                             f"e.g. {flag} {'1,10,25' if kind is int else '20,50'}") from None
        if not math.isfinite(value):
            raise ValueError(f"{part!r} is not a finite number; e.g. {flag} 20,50")
        out.append(value)
    return out


class _Inputs(BaseModel):
    """Base of the per-command models. FLAGS: field -> flag as typed; HINTS: field -> how to fix."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, arbitrary_types_allowed=True)
    FLAGS: ClassVar[dict[str, str]] = {}
    HINTS: ClassVar[dict[str, str]] = {}
    COMMAND: ClassVar[str] = ""

    @classmethod
    def of(cls, **values: Any) -> Any:
        """The validated inputs, or one ConfigError naming every flag that does not fit."""
        try:
            return cls(**values)
        except ValidationError as exc:
            parts, hints = [], []
            for err in exc.errors():
                field = str(err["loc"][0]) if err["loc"] else ""
                flag = cls.FLAGS.get(field, field)
                msg = err["msg"].removeprefix("Value error, ")
                parts.append(f"{flag}: {msg}" if flag else msg)
                hint = cls.HINTS.get(field)
                if hint and hint not in hints:
                    hints.append(hint)
            raise ConfigError("; ".join(parts), "; ".join(hints) or f"see infermeter {cls.COMMAND} --help") from None


def _out_dir(v: Path | None, what: str = "results directory") -> Path | None:
    if v is not None and v.exists() and not v.is_dir():
        raise ValueError(f"{v} is a file, not a {what}; give a directory (new or holding results)")
    return v


# A directory for results (or the artifact cache): new, or an existing directory, never a file.
OutDir = Annotated[Path, AfterValidator(_out_dir)]
CacheDir = Annotated[Optional[Path], AfterValidator(lambda v: _out_dir(v, "cache directory"))]


def results_path(p: Path) -> Path:
    """A results directory or results.jsonl file that holds results (a directory: somewhere under it)."""
    if not p.exists():
        raise ValueError(f"{p} does not exist; give a results directory (the --out of a run) or its results.jsonl")
    if p.is_file():
        if p.name != "results.jsonl":
            raise ValueError(f"{p} is a file named {p.name!r}; results are read from files named results.jsonl: "
                             "give its directory, or rename it back to results.jsonl")
        return p
    if not p.is_dir():
        raise ValueError(f"{p} is neither a directory nor a results.jsonl file")
    if not (p / "results.jsonl").is_file() and next(p.rglob("results.jsonl"), None) is None:
        raise ValueError(f"{p} holds no results.jsonl (nor does any folder under it); give the --out directory of an "
                         "infermeter run or load test")
    return p


# Results directories or results.jsonl files, each holding results.
ResultsPaths = Annotated[list[Path], AfterValidator(lambda v: [results_path(p) for p in v])]


class RunInputs(_Inputs):
    COMMAND: ClassVar[str] = "run"
    FLAGS: ClassVar[dict[str, str]] = {"suite": "SUITE", "model": "--model", "engine": "--engine",
                                       "batch_size": "-b/--batch-size", "repeats": "--repeats", "out": "--out",
                                       "cache": "--cache"}
    HINTS: ClassVar[dict[str, str]] = {
        "batch_size": "e.g. infermeter run --model model.onnx -b 1 -b 8",
        "repeats": "e.g. infermeter run --model model.onnx --repeats 5",
        "": "infermeter run SUITE.yaml (engines, batch sizes and repeats in the suite), or infermeter run --model model.onnx -e onnxruntime -b 8",
        "out": "give --out a directory (new or holding results)",
        "cache": "give --cache a directory",
    }

    suite: Path | None = None
    model: str | None = None
    engine: list[str] = []
    batch_size: list[int] = []
    repeats: int | None = None
    out: OutDir
    cache: CacheDir = None

    @field_validator("batch_size")
    @classmethod
    def _batches(cls, v: list[int]) -> list[int]:
        for b in v:
            if b < 1:
                raise ValueError(f"{b} is not a batch size; each is at least 1")
            limits.check("batch_size", b)
        return v

    @field_validator("repeats")
    @classmethod
    def _repeats(cls, v: int | None) -> int | None:
        if v is not None:
            if v < 1:
                raise ValueError(f"{v} repeats: a cell is measured at least once")
            limits.check("repeats", v)
        return v

    @field_validator("model")
    @classmethod
    def _model(cls, v: str | None) -> str | None:
        if v is not None and not v.split("?", 1)[0].strip():
            raise ValueError("names no file; e.g. --model model.onnx")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> RunInputs:
        if (self.suite is None) == (self.model is None):
            raise ValueError("give either a suite file or --model PATH, not both" if self.suite else
                             "give a suite file or --model PATH")
        if self.suite is not None:
            given = [f for f, v in (("--engine", self.engine), ("--batch-size", self.batch_size),
                                    ("--repeats", self.repeats)) if v]
            if given:
                raise ValueError(f"{', '.join(given)} go{'es' if len(given) == 1 else ''} with --model only; a suite sets "
                                 "its own engines, scenarios.batch_sizes and measure.repeats, so these flags would be ignored")
        return self


class QuickstartInputs(_Inputs):
    COMMAND: ClassVar[str] = "quickstart"
    FLAGS: ClassVar[dict[str, str]] = {"out": "--out", "cache": "--cache"}

    out: OutDir
    cache: CacheDir = None


class EndpointInputs(_Inputs):
    """An HTTP endpoint and what is sent to it (load, and capacity on a URL)."""

    COMMAND: ClassVar[str] = "capacity"
    FLAGS: ClassVar[dict[str, str]] = {"url": "TARGET", "body": "--body", "method": "--method", "headers": "-H/--header", "out": "--out"}
    HINTS: ClassVar[dict[str, str]] = {
        "url": "e.g. http://127.0.0.1:8080/predict",
        "headers": "e.g. -H 'Content-Type: application/json'",
        "body": "give the path of a file holding the request body",
        "method": "e.g. --method POST",
        "out": "give --out a directory (new or holding results)",
    }

    url: str
    body: Path | None = None
    method: str
    headers: list[str] = []
    out: OutDir

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return parse_url(v)

    @field_validator("method")
    @classmethod
    def _method(cls, v: str) -> str:
        if not _TOKEN.fullmatch(v) or len(v) > 32:
            raise ValueError(f"{v!r} is not an HTTP method")
        return v.upper()

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: list[str]) -> list[str]:
        for h in v:
            parse_header(h)
        return v

    @field_validator("body")
    @classmethod
    def _body(cls, v: Path | None) -> Path | None:
        if v is None:
            return v
        if not v.exists():
            raise ValueError(f"body file {str(v)!r} does not exist")
        if v.is_dir():
            raise ValueError(f"body file {str(v)!r} is a directory")
        if not v.is_file():
            raise ValueError(f"body file {str(v)!r} is not a regular file (a pipe or device is read once, not per request)")
        size = v.stat().st_size
        if size > limits.limit("body_mb") * 1e6:
            raise ValueError(f"body file {str(v)!r} is {size / 1e6:.0f} MB, above the limit of "
                             f"{limits.limit('body_mb'):.15g} MB (set {limits.env_name('body_mb')} to allow more)")
        return v

    @property
    def header_pairs(self) -> tuple[tuple[str, str], ...]:
        return tuple(parse_header(h) for h in self.headers)


class LoadInputs(EndpointInputs):
    COMMAND: ClassVar[str] = "load"
    FLAGS: ClassVar[dict[str, str]] = {"url": "URL", "body": "--body", "method": "--method", "headers": "-H/--header",
                                       "users": "--users", "rate": "--rate", "arrival": "--arrival", "out": "--out",
                                       "shaped": "--stages/--shape"}
    HINTS: ClassVar[dict[str, str]] = {
        "url": "e.g. infermeter load http://127.0.0.1:8080/predictions/resnet50 --users 1,10",
        "headers": "e.g. -H 'Content-Type: application/json'",
        "body": "give the path of a file holding the request body",
        "": "e.g. --users 1,10,25 (closed loop) or --rate 20,50 (open loop)",
        "users": "e.g. --users 1,10,25 (closed loop) or --rate 20,50 (open loop)",
        "rate": "e.g. --users 1,10,25 (closed loop) or --rate 20,50 (open loop)",
        "arrival": "use --arrival poisson, constant, gamma (with --burstiness) or trace (with --trace)",
        "method": "e.g. --method POST",
        "out": "give --out a directory (new or holding results)",
    }

    users: str | None = None
    rate: str | None = None
    arrival: str | None = None
    shaped: bool = False  # --stages or --shape: the shape gives the users

    @field_validator("users")
    @classmethod
    def _users(cls, v: str | None) -> str | None:
        for u in parse_numbers(v, int, "--users") or []:
            if u < 1:
                raise ValueError(f"{u} virtual users: users must be >= 1")
            limits.check("users", u)
        limits.check("points", len(parse_numbers(v, int, "--users") or []), "load points")
        return v

    @field_validator("rate")
    @classmethod
    def _rate(cls, v: str | None) -> str | None:
        for r in parse_numbers(v, float, "--rate") or []:
            if r <= 0:
                raise ValueError(f"{r:g} arrivals per second: rates must be > 0")
            limits.check("rate", r)
        limits.check("points", len(parse_numbers(v, float, "--rate") or []), "load points")
        return v

    @field_validator("arrival")
    @classmethod
    def _arrival(cls, v: str | None) -> str | None:
        if v is not None and v not in ("poisson", "constant", "gamma", "trace"):
            raise ValueError(f"unknown arrival process {v!r}")
        return v

    @model_validator(mode="after")
    def _one_loop(self) -> LoadInputs:
        users, rates = self.user_list, self.rate_list
        if self.shaped:
            if users or rates or self.arrival:
                raise ValueError("--stages/--shape give the users over time; leave out --users, --rate and --arrival")
            return self
        if users and rates:
            raise ValueError("--users (closed loop) and --rate (open loop) were both given; give one of them: "
                             "--users to sweep virtual users, or --rate to sweep arrival rates")
        if not users and not rates:
            raise ValueError("give virtual users (closed loop) with --users 1,10,25 or arrival rates (open loop) with --rate 20,50")
        if self.arrival is not None and users:
            raise ValueError("--arrival shapes open-loop arrivals; it goes with --rate, not --users")
        return self

    @property
    def user_list(self) -> list[int] | None:
        return parse_numbers(self.users, int, "--users")

    @property
    def rate_list(self) -> list[float] | None:
        return parse_numbers(self.rate, float, "--rate")


class CapacityInputs(_Inputs):
    """The search's own settings (the target is checked apart: EndpointInputs for a URL, a suite's names for
    an engine)."""

    COMMAND: ClassVar[str] = "capacity"
    FLAGS: ClassVar[dict[str, str]] = {"mode": "--mode", "resolution": "--resolution", "start_rate": "--start-rate",
                                       "max_rate": "--max-rate", "max_users": "--max-users", "callers": "--callers",
                                       "batch_size": "-b/--batch-size", "out": "--out"}
    HINTS: ClassVar[dict[str, str]] = {
        "mode": "use --mode rate (open loop), users (closed loop) or both",
        "resolution": "e.g. --resolution 0.05 (the search stops when the interval is within 5%)",
        "start_rate": "e.g. --start-rate 50 (arrivals per second)",
        "max_rate": "e.g. --max-rate 2000",
        "max_users": "e.g. --max-users 256",
        "callers": "e.g. --callers 2 (threads serving the open loop's queue)",
        "batch_size": "e.g. -b 1",
        "out": "give --out a directory (new or holding results)",
    }

    out: OutDir
    mode: Literal["rate", "users", "both"] = "both"
    callers: int = Field(1, ge=1)
    batch_size: int = Field(1, ge=1)
    resolution: float = Field(0.05, gt=0, lt=1)
    start_rate: float | None = Field(None, gt=0)
    max_rate: float | None = Field(None, gt=0)
    max_users: int | None = Field(None, ge=1)

    @field_validator("start_rate", "max_rate")
    @classmethod
    def _rate_bounded(cls, v: float | None) -> float | None:
        if v is not None:
            limits.check("rate", v)
        return v

    @field_validator("max_users", "callers")
    @classmethod
    def _users_bounded(cls, v: int | None) -> int | None:
        if v is not None:
            limits.check("users", v)
        return v

    @field_validator("batch_size")
    @classmethod
    def _batch_bounded(cls, v: int) -> int:
        limits.check("batch_size", v)
        return v

    @model_validator(mode="after")
    def _start_below_max(self) -> CapacityInputs:
        if self.start_rate is not None and self.max_rate is not None and self.start_rate > self.max_rate:
            raise ValueError(f"--start-rate {self.start_rate:g} is above --max-rate {self.max_rate:g}")
        return self

    @property
    def modes(self) -> list[Literal["rate", "users"]]:
        return ["rate", "users"] if self.mode == "both" else [self.mode]  # type: ignore[list-item]


_BUDGET = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|min|h)?\s*", re.IGNORECASE)


def parse_budget(text: str) -> float:
    """'20m', '90s', '1.5h' or a number of seconds, as seconds (> 0)."""
    m = _BUDGET.fullmatch(text)
    if m is None:
        raise ValueError(f"{text!r} is not a time: give e.g. 20m, 90s or 1h")
    seconds = float(m.group(1)) * {"s": 1, None: 1, "m": 60, "min": 60, "h": 3600}[(m.group(2) or "").lower() or None]
    if seconds <= 0:
        raise ValueError(f"a budget of {text!r} leaves no time for a trial: give e.g. 20m")
    return seconds


class TuneInputs(_Inputs):
    """The study's own settings (the target's names and settings are checked by the tunable itself)."""

    COMMAND: ClassVar[str] = "tune"
    FLAGS: ClassVar[dict[str, str]] = {"objective": "--objective", "budget": "--budget", "traffic": "--traffic",
                                       "price_per_core_hour": "--price-per-core-hour", "max_trials": "--max-trials",
                                       "sets": "--set", "resolution": "--resolution", "start_rate": "--start-rate",
                                       "max_rate": "--max-rate", "batch_size": "-b/--batch-size", "out": "--out"}
    HINTS: ClassVar[dict[str, str]] = {
        "objective": "use --objective throughput, p99 or cost",
        "budget": "e.g. --budget 20m (the study stops starting trials when it is spent)",
        "traffic": "e.g. --traffic 50 (arrivals per second the setting must serve within the SLO)",
        "price_per_core_hour": "e.g. --price-per-core-hour 0.04",
        "max_trials": "e.g. --max-trials 20",
        "sets": "e.g. --set runtime=onnxruntime (a setting every trial keeps)",
        "resolution": "e.g. --resolution 0.1 (each trial's search stops when its interval is within 10%)",
        "start_rate": "e.g. --start-rate 50", "max_rate": "e.g. --max-rate 2000", "batch_size": "e.g. -b 1",
        "out": "give --out a directory (new or holding a study)",
    }

    out: OutDir
    objective: Literal["throughput", "p99", "cost"] = "throughput"
    budget: str = "20m"
    traffic: float | None = Field(None, gt=0)
    price_per_core_hour: float | None = Field(None, gt=0)
    max_trials: int | None = Field(None, ge=1)
    sets: list[str] = []
    batch_size: int = Field(1, ge=1)
    resolution: float = Field(0.1, gt=0, lt=1)
    start_rate: float | None = Field(None, gt=0)
    max_rate: float | None = Field(None, gt=0)

    @field_validator("budget")
    @classmethod
    def _budget(cls, v: str) -> str:
        parse_budget(v)
        return v

    @field_validator("sets")
    @classmethod
    def _sets(cls, v: list[str]) -> list[str]:
        for item in v:
            _setting(item)
        return v

    @field_validator("start_rate", "max_rate", "traffic")
    @classmethod
    def _rate_bounded(cls, v: float | None) -> float | None:
        if v is not None:
            limits.check("rate", v)
        return v

    @model_validator(mode="after")
    def _start_below_max(self) -> TuneInputs:
        if self.start_rate is not None and self.max_rate is not None and self.start_rate > self.max_rate:
            raise ValueError(f"--start-rate {self.start_rate:g} is above --max-rate {self.max_rate:g}")
        if self.traffic is not None and self.objective != "p99":
            raise ValueError("--traffic is the rate the p99 objective's settings must serve; give it with --objective p99")
        return self

    @property
    def budget_s(self) -> float:
        return parse_budget(self.budget)

    @property
    def fixed(self) -> dict[str, Any]:
        """--set key=value pairs, each value read as YAML (2 -> int, true -> bool, onnxruntime -> str)."""
        return dict(_setting(item) for item in self.sets)


def _setting(item: str) -> tuple[str, Any]:
    """One --set key=value, its value read as YAML; ValueError when it is not key=value or not YAML."""
    import yaml

    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"{item!r} is not key=value")
    try:
        return key.strip(), yaml.safe_load(value)
    except yaml.YAMLError:
        raise ValueError(f"{item!r}: the value is read as YAML and {value!r} is not (quote it)") from None


class ReportInputs(_Inputs):
    COMMAND: ClassVar[str] = "report"
    FLAGS: ClassVar[dict[str, str]] = {"paths": "PATHS", "out": "--out", "title": "--title", "traffic": "--traffic"}
    HINTS: ClassVar[dict[str, str]] = {"paths": "e.g. infermeter report results/run", "out": "give a directory for the report"}

    paths: ResultsPaths
    out: Path | None = None
    title: str | None = None
    traffic: float | None = Field(None, gt=0)

    @field_validator("out")
    @classmethod
    def _out(cls, v: Path | None) -> Path | None:
        if v is not None and v.exists() and not v.is_dir():
            raise ValueError(f"{v} is a file; the report is a directory (report.html, report.md, figures/)")
        return v

    @field_validator("title")
    @classmethod
    def _title(cls, v: str | None) -> str | None:
        if v is not None and (len(v) > 500 or any(ord(c) < 32 for c in v)):
            raise ValueError("a title is one line of at most 500 characters")
        return v


class CompareInputs(_Inputs):
    COMMAND: ClassVar[str] = "compare"
    FLAGS: ClassVar[dict[str, str]] = {"a": "A", "b": "B", "alpha": "--alpha", "min_change": "--min-change"}
    HINTS: ClassVar[dict[str, str]] = {"a": "give the --out directories of two runs: infermeter compare OLD NEW",
                                       "b": "give the --out directories of two runs: infermeter compare OLD NEW",
                                       "alpha": "e.g. --alpha 0.05", "min_change": "e.g. --min-change 2"}

    a: Path
    b: Path
    alpha: float
    min_change: float

    @field_validator("a", "b")
    @classmethod
    def _run(cls, v: Path) -> Path:
        return results_path(v)

    @field_validator("alpha")
    @classmethod
    def _alpha(cls, v: float) -> float:
        if not 0 < v < 1:
            raise ValueError(f"{v:g} is not a significance level; it is between 0 and 1")
        return v

    @field_validator("min_change")
    @classmethod
    def _min_change(cls, v: float) -> float:
        if not 0 <= v <= 1000:
            raise ValueError(f"{v:g} is not a change in %; it is between 0 and 1000")
        return v


class ExportInputs(_Inputs):
    COMMAND: ClassVar[str] = "export"
    FLAGS: ClassVar[dict[str, str]] = {"paths": "PATHS", "parquet": "--parquet"}
    HINTS: ClassVar[dict[str, str]] = {"paths": "e.g. infermeter export results/run --parquet run.parquet",
                                       "parquet": "e.g. --parquet results.parquet (in a folder that exists)"}

    paths: ResultsPaths
    parquet: Path

    @field_validator("parquet")
    @classmethod
    def _parquet(cls, v: Path) -> Path:
        if v.is_dir():
            raise ValueError(f"{v} is a directory; give the name of the Parquet file to write")
        parent = v.parent
        if not parent.exists():
            raise ValueError(f"the folder {parent} does not exist; create it first (mkdir -p {parent}) or write elsewhere")
        if not parent.is_dir():
            raise ValueError(f"{parent} is a file, not a folder")
        return v


class QueryInputs(_Inputs):
    COMMAND: ClassVar[str] = "query"
    FLAGS: ClassVar[dict[str, str]] = {"sql": "SQL", "paths": "PATHS"}
    HINTS: ClassVar[dict[str, str]] = {"paths": "e.g. infermeter query \"SELECT count(*) FROM results\" results/run",
                                       "sql": "e.g. infermeter query \"SELECT count(*) FROM results\" results/run"}

    sql: str
    paths: ResultsPaths

    @field_validator("sql")
    @classmethod
    def _sql(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the query is empty")
        if len(v) > 100_000:
            raise ValueError("the query is longer than 100,000 characters")
        return v


class ScorecardInputs(_Inputs):
    COMMAND: ClassVar[str] = "scorecard"
    FLAGS: ClassVar[dict[str, str]] = {"paths": "PATHS"}
    HINTS: ClassVar[dict[str, str]] = {"paths": "give the --out directories of server runs, or no path at all"}

    paths: ResultsPaths = []


class SelftestInputs(_Inputs):
    COMMAND: ClassVar[str] = "selftest"
    FLAGS: ClassVar[dict[str, str]] = {"seconds": "--seconds", "capacity_rate": "--capacity-rate"}
    HINTS: ClassVar[dict[str, str]] = {"seconds": "e.g. --seconds 8", "capacity_rate": "e.g. --capacity-rate 1000"}

    seconds: float
    capacity_rate: float

    @field_validator("seconds")
    @classmethod
    def _seconds(cls, v: float) -> float:
        if v < 1:
            raise ValueError(f"{v:g} s is too short for a measurement window; give at least 1")
        limits.check("seconds", v)
        return v

    @field_validator("capacity_rate")
    @classmethod
    def _rate(cls, v: float) -> float:
        if v < 1:
            raise ValueError(f"{v:g} arrivals per second: give at least 1")
        limits.check("rate", v)
        return v


class ServersInstallInputs(_Inputs):
    COMMAND: ClassVar[str] = "servers install"
    FLAGS: ClassVar[dict[str, str]] = {"names": "NAMES"}

    names: list[str]

    @field_validator("names")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        from infermeter.servers.registry import SERVERS

        if "all" in v and v != ["all"]:
            raise ValueError("'all' installs every server; give it alone, or name the servers")
        if v == ["all"]:
            return list(SERVERS)
        unknown = [n for n in v if n not in SERVERS]
        if unknown:
            raise ValueError(f"unknown server{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                             f"choose among: {', '.join(SERVERS)}, or all (see `infermeter servers`)")
        return list(dict.fromkeys(v))


class DoctorInputs(_Inputs):
    COMMAND: ClassVar[str] = "doctor"
    FLAGS: ClassVar[dict[str, str]] = {"out": "OUT"}
    HINTS: ClassVar[dict[str, str]] = {"out": "e.g. infermeter doctor results/run"}

    out: Path

    @field_validator("out")
    @classmethod
    def _out(cls, v: Path) -> Path:
        if not v.exists():
            raise ValueError(f"{v} does not exist; give the --out directory of a run or load test")
        if not v.is_dir():
            raise ValueError(f"{v} is not a directory; give the --out directory of a run or load test (not its results.jsonl)")
        return v
