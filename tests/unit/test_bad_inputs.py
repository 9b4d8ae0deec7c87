"""Bad input to every command, as a new user and a careless one type it: each is refused up front with a
plain-text message that names the input and the fix, and the documented exit code (2: bad input), never a
traceback. The CLI runs in process (main(), as the console script calls it), so the table takes seconds;
every row fails in validation, before a model is exported, a server contacted or a file written."""

from __future__ import annotations

import logging
import os
import signal
import sys
import traceback

import pytest

from infermeter.cli.main import main

FAKE = "workloads: [fake-tiny]\nengines: [fake]\n"


def invoke(argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> tuple[object, str]:
    """(exit code, stdout + stderr) of `infermeter ARGV`; an exception that escapes main() is a crash
    (code 'crash', its traceback in the output)."""
    monkeypatch.setattr(sys, "argv", ["infermeter", *argv])
    log = logging.getLogger("infermeter")
    handlers = list(log.handlers)
    sigterm = signal.getsignal(signal.SIGTERM)
    unraisable = sys.unraisablehook
    code: object = 0
    crash = ""
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - the point is to see any escape
        code, crash = "crash", traceback.format_exc()
    finally:
        log.handlers[:] = handlers  # main() adds a handler each call, and its SIGTERM handler
        signal.signal(signal.SIGTERM, sigterm)
        sys.unraisablehook = unraisable  # and its hook for interrupts swallowed in finalizers
    out = capsys.readouterr()
    return code, out.out + out.err + crash


# Builders of the files a row needs, in the test's tmp dir.
def suite(text: str, name: str = "suite.yaml"):
    def make(t):
        (t / name).write_text(text)
        return str(t / name)
    return make


def suite_bytes(data: bytes):
    def make(t):
        (t / "suite.yaml").write_bytes(data)
        return str(t / "suite.yaml")
    return make


def a_dir(t):
    (t / "adir").mkdir(exist_ok=True)
    return str(t / "adir")


def a_file(t):
    (t / "taken").write_text("x")
    return str(t / "taken")


def results(t, name="old"):
    (t / name).mkdir(exist_ok=True)
    (t / name / "results.jsonl").write_text('{"cell_id": "a"}\n')
    return str(t / name)


def renamed(t):
    (t / "moved").mkdir(exist_ok=True)
    (t / "moved" / "results-old.jsonl").write_text('{"cell_id": "a"}\n')
    return str(t / "moved" / "results-old.jsonl")


def closed_port(_t):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def F(builder):
    """Mark a builder inside argv (called with the tmp dir); plain strings pass as they are."""
    return builder


U = "http://127.0.0.1:1/"  # never contacted: every row below is refused before
MODEL = "missing-model.onnx"  # never read either: the flags around it are refused first

# (argv, exit code, key words of the message; a word starting with "!" must be absent, env or None)
ROWS: list[tuple[list, int, list[str], dict | None]] = [
    # --- run: the suite file itself
    (["run", "missing.yaml"], 2, ["suite file", "missing.yaml", "does not exist"], None),
    (["run", F(a_dir)], 2, ["adir", "is a directory"], None),
    (["run", F(suite_bytes(b"workloads: [fake-tiny]\nname: caf\xe9\n"))], 2, ["not UTF-8", "0xe9", "line 2", "save the file as UTF-8"], None),
    (["run", F(suite_bytes(bytes(range(256)) * 4))], 2, ["binary", "NUL"], None),
    (["run", F(suite_bytes(bytes(range(128, 256)) * 4))], 2, ["not UTF-8", "line 1"], None),
    (["run", F(suite("workloads: [fake-tiny\n"))], 2, ["not valid YAML", "fix the YAML syntax"], None),
    (["run", F(suite("- fake-tiny\n- fake\n"))], 2, ["expected a mapping"], None),
    (["run", F(suite(""))], 2, ["expected a mapping"], None),
    (["run", F(suite("workloads: [nope]\nengines: [fake]\n"))], 2, ["unknown workload 'nope'"], None),
    (["run", F(suite("workloads: [fake-tiny]\n"))], 2, ["name at least one engine or server"], None),
    (["run", F(suite(FAKE + "colour: red\n"))], 2, ["colour", "Extra inputs"], None),
    (["run", F(suite(FAKE + "measure: {repeats: 1000000000}\n"))], 2, ["measure.repeats", "limit of 1000", "INFERMETER_MAX_REPEATS"], None),
    (["run", F(suite(FAKE + "measure: {repeats: 0}\n"))], 2, ["measure.repeats", "greater than or equal to 1"], None),
    (["run", F(suite(FAKE + "scenarios: [{kind: offline, batch_sizes: [0]}]\n"))], 2, ["batch_sizes", ">= 1"], None),
    (["run", F(suite(FAKE + "scenarios: [{kind: offline, batch_sizes: [100000000]}]\n"))], 2, ["batch_sizes", "INFERMETER_MAX_BATCH_SIZE"], None),
    (["run", F(suite(FAKE + "measure: {min_seconds: .nan}\n"))], 2, ["measure.min_seconds", "finite number"], None),
    (["run", F(suite(FAKE + "measure: {max_seconds: .inf}\n"))], 2, ["measure.max_seconds", "finite number"], None),
    (["run", F(suite(FAKE + "warmup: {max_seconds: 1e9}\n"))], 2, ["warmup.max_seconds", "INFERMETER_MAX_SECONDS"], None),
    (["run", F(suite(FAKE + "threads: 100000\n"))], 2, ["threads", "INFERMETER_MAX_THREADS"], None),
    (["run", F(suite("workloads: [fake-tiny]\nservers: [mlserver]\nload: {users: [10000000]}\n"))], 2,
     ["load.users", "INFERMETER_MAX_USERS"], None),
    (["run", F(suite("workloads: [fake-tiny]\nservers: [mlserver]\nload: {rates: [.nan]}\n"))], 2, ["load.rates", "finite"], None),
    # Two bad server settings: each one's reason on one line, no stray "fix:" between them.
    (["run", F(suite("workloads: [fake-tiny]\nservers: [{name: litserve, settings: {device: 'cuda:x', precision: fp8}}]\n"))], 2,
     ["device 'cuda:x' is not one of cpu, cuda, cuda:N (e.g. device: cuda:0); precision:", "'fp32', 'fp16' or 'bf16'"], None),
    (["run", F(suite("workloads: ['[link=https://evil.example]click[/link]']\nengines: [fake]\n"))], 2,
     ["unknown workload", "[link=https://evil.example]click[/link]"], None),
    (["run", F(suite("workloads: ['[/x]']\nengines: [fake]\n"))], 2, ["unknown workload '[/x]'"], None),
    # --- run: flags that do not go together, or do not fit
    (["run"], 2, ["give a suite file or --model"], None),
    (["run", F(suite(FAKE)), "--model", MODEL], 2, ["not both"], None),
    (["run", F(suite(FAKE)), "--engine", "onnxruntime"], 2, ["--engine", "with --model only", "would be ignored"], None),
    (["run", F(suite(FAKE)), "-b", "8"], 2, ["--batch-size", "with --model only"], None),
    (["run", F(suite(FAKE)), "--repeats", "3"], 2, ["--repeats", "with --model only", "measure.repeats"], None),
    (["run", "--model", MODEL, "-b", "0"], 2, ["-b/--batch-size", "at least 1", "--model model.onnx -b 1", "!example.yaml"], None),
    (["run", "--model", MODEL, "-b", "100000000"], 2, ["-b/--batch-size", "INFERMETER_MAX_BATCH_SIZE"], None),
    (["run", "--model", MODEL, "--repeats", "-1"], 2, ["--repeats", "at least once", "!example.yaml"], None),
    (["run", "--model", MODEL, "--repeats", "1000000000"], 2, ["--repeats", "INFERMETER_MAX_REPEATS"], None),
    (["run", "--model", MODEL, "-b", "abc"], 2, ["Invalid value for '--batch-size'"], None),
    (["run", "--model", ""], 2, ["--model", "names no file"], None),
    (["run", "--model", MODEL + "?x=-5"], 2, ["x='-5'", "positive integers"], None),
    (["run", "--model", MODEL + "?x=3x0"], 2, ["dimension of 0"], None),
    (["run", "--model", MODEL + "?x=3x4&x=4"], 2, ["'x'", "two shapes"], None),
    (["run", "--model", MODEL + "?=3x4"], 2, ["no input name"], None),
    (["run", "--model", MODEL + "?x=3x99999999"], 2, ["INFERMETER_MAX_DIMENSION"], None),
    (["run", "--model", MODEL], 2, ["missing-model.onnx", "does not exist"], None),
    (["run", "--model", F(a_dir)], 2, ["cannot tell the model format"], None),
    (["run", "--model", MODEL, "--out", F(a_file)], 2, ["--out", "is a file"], None),
    (["run", "--model", MODEL, "--cache", F(a_file)], 2, ["--cache", "is a file"], None),
    # --- quickstart
    (["quickstart", "--out", F(a_file)], 2, ["--out", "is a file"], None),
    (["quickstart", "--cache", F(a_file)], 2, ["--cache", "is a file"], None),
    # A cache that cannot be made is refused before any cell: it failed every cell's export ("FileNotFoundError").
    (["run", F(suite(FAKE)), "--out", F(lambda t: str(t / "o")), "--cache", F(lambda t: a_file(t) + "/cache")], 2,
     ["cannot make the artifact cache", "Not a directory", "give --cache (or $INFERMETER_CACHE) a directory you can write"], None),
    # --- study
    (["study", "nope"], 2, ["unknown study 'nope'", "dl-serving, engines, ort-tensorrt, serving-cost"], None),
    (["study", "engines", "--out", F(lambda t: str(t / "o")), "--cache", F(lambda t: a_file(t) + "/cache")], 2,
     ["cannot make the artifact cache"], None),
    (["run", F(suite(FAKE + "slo: p99 < 100ms\n"))], 2, ["slo", "written with <="], None),
    (["run", F(suite(FAKE + "slo: {percentile: 99}\n"))], 2, ["slo", "bound_ms"], None),
    # --- load: SLO
    (["load", "http://127.0.0.1:1/", "--users", "1", "--slo", "nonsense"], 2, ["--slo", "not a bound", "p99<=100ms"], None),
    (["load", "http://127.0.0.1:1/", "--users", "1", "--slo", "p99<=100"], 2, ["--slo", "no unit"], None),
    # --- load: URLs
    (["load", "http://127.0.0.1:70000/", "--users", "1"], 2, ["URL", "70000", "1 to 65535"], None),
    (["load", "http://127.0.0.1:abc/", "--users", "1"], 2, ["URL", "abc", "1 to 65535"], None),
    (["load", "http://127.0.0.1:0/", "--users", "1"], 2, ["port 0", "1 to 65535"], None),
    (["load", "ftp://127.0.0.1/x", "--users", "1"], 2, ["not an http:// URL"], None),
    (["load", "https://127.0.0.1/x", "--users", "1"], 2, ["not an http:// URL"], None),
    (["load", "http:///predict", "--users", "1"], 2, ["names no host"], None),
    (["load", "http://[::1/", "--users", "1"], 2, ["not a URL"], None),
    (["load", "http://127.0.0.1:1/a b", "--users", "1"], 2, ["a space", "%20"], None),
    (["load", "http://127.0.0.1:1/café", "--users", "1"], 2, ["non-ASCII"], None),
    (["load", "http://127.0.0.1:1/[link=https://evil.example]x y", "--users", "1"], 2, ["[link=https://evil.example]x y"], None),
    (["load", "http://bob:s3cret@127.0.0.1:70000/", "--users", "1"], 2, ["70000", "***@127.0.0.1", "!s3cret"], None),
    # --- load: users and rates
    (["load", U, "--rate", "nan"], 2, ["--rate", "'nan'", "finite"], None),
    (["load", U, "--rate", "inf"], 2, ["--rate", "'inf'", "finite"], None),
    (["load", U, "--rate", "-5"], 2, ["--rate", "rates must be > 0"], None),
    (["load", U, "--rate", "1000000000"], 2, ["--rate", "INFERMETER_MAX_RATE"], None),
    (["load", U, "--rate", "1,,2"], 2, ["--rate", "empty item"], None),
    (["load", U, "--users", "one"], 2, ["--users", "'one'", "not a number"], None),
    (["load", U, "--users", "1.5"], 2, ["--users", "whole numbers"], None),
    (["load", U, "--users", "0"], 2, ["--users", "users must be >= 1"], None),
    (["load", U, "--users", "10000000"], 2, ["--users", "limit of 10000", "INFERMETER_MAX_USERS"], None),
    (["load", U, "--users", ",".join(str(i) for i in range(1, 1200))], 2, ["load points", "INFERMETER_MAX_POINTS"], None),
    (["load", U, "--users", "1", "--rate", "5"], 2, ["--users", "--rate", "both given", "give one of them"], None),
    (["load", U], 2, ["give virtual users", "--users", "--rate"], None),
    (["load", U, "--rate", "5", "--arrival", "bursty"], 2, ["unknown arrival process 'bursty'", "poisson"], None),
    (["load", U, "--users", "1", "--arrival", "constant"], 2, ["--arrival", "goes with --rate"], None),
    # --- load: headers, method, body
    (["load", U, "--users", "1", "-H", "X-Name: é"], 2, ["header 'X-Name'", "non-ASCII", "ASCII"], None),
    (["load", U, "--users", "1", "-H", "NoColon"], 2, ["is not 'Name: value'"], None),
    (["load", U, "--users", "1", "-H", "Bad Name: v"], 2, ["header name 'Bad Name'"], None),
    (["load", U, "--users", "1", "-H", "X: a\r\nEvil: 1"], 2, ["line break"], None),
    (["load", U, "--users", "1", "-H", "Host: example.com"], 2, ["'Host'", "set by infermeter"], None),
    (["load", U, "--users", "1", "-H", "Content-Length: 5"], 2, ["'Content-Length'", "set by infermeter"], None),
    (["load", U, "--users", "1", "--method", "GET /x"], 2, ["--method", "not an HTTP method"], None),
    (["load", U, "--users", "1", "--body", F(a_dir)], 2, ["--body", "is a directory"], None),
    (["load", U, "--users", "1", "--body", "no-such-body.json"], 2, ["--body", "does not exist"], None),
    # --- load: window settings
    (["load", U, "--users", "1", "--repeats", "1000000000"], 2, ["--repeats", "INFERMETER_MAX_REPEATS"], None),
    (["load", U, "--users", "1", "--repeats", "0"], 2, ["--repeats", "greater than or equal to 1"], None),
    (["load", U, "--users", "1", "--duration", "nan"], 2, ["--duration", "finite"], None),
    (["load", U, "--users", "1", "--duration", "0"], 2, ["--duration", "greater than 0"], None),
    (["load", U, "--users", "1", "--timeout", "inf"], 2, ["--timeout", "finite"], None),
    (["load", U, "--users", "1", "--workers", "100000"], 2, ["--workers", "INFERMETER_MAX_WORKERS"], None),
    (["load", U, "--users", "1", "--generator-processes", "100000"], 2, ["--generator-processes", "INFERMETER_MAX_WORKERS"], None),
    (["load", U, "--users", "1", "--warmup", "-1"], 2, ["--warmup", "greater than or equal to 0"], None),
    (["load", U, "--users", "1", "--duration", "10", "--max-duration", "1"], 2, ["max_seconds (1.0) is below min_seconds (10.0)"], None),
    (["load", U, "--users", "1", "--out", F(a_file)], 2, ["--out", "is a file"], None),
    # --- load: the bounds' override
    (["load", U, "--users", "5"], 2, ["INFERMETER_MAX_USERS='many'", "not a positive number"], {"INFERMETER_MAX_USERS": "many"}),
    (["load", U, "--users", "5"], 2, ["--users", "limit of 2", "INFERMETER_MAX_USERS"], {"INFERMETER_MAX_USERS": "2"}),
    (["load", "http://127.0.0.1:" + "{port}" + "/", "--users", "20000"], 2, ["nothing answers"], {"INFERMETER_MAX_USERS": "50000"}),
    # --- report
    (["report", "no-such-run"], 2, ["no-such-run", "does not exist"], None),
    (["report", F(a_dir)], 2, ["adir", "holds no results.jsonl"], None),
    (["report", F(renamed)], 2, ["results-old.jsonl", "named results.jsonl", "rename it back"], None),
    (["report", F(results), F(a_dir)], 2, ["adir", "holds no results.jsonl"], None),
    (["report", F(results), "--out", F(a_file)], 2, ["--out", "is a file"], None),
    (["report", F(results), "--title", "two\nlines"], 2, ["--title", "one line"], None),
    (["report", "[link=mailto:x@evil.example]run[/link]"], 2, ["[link=mailto:x@evil.example]run[/link]", "does not exist"], None),
    (["report", "[/x]"], 2, ["[/x] does not exist"], None),
    # --- compare
    (["compare", "no-such-a", F(results)], 2, ["no-such-a", "does not exist"], None),
    (["compare", F(results), F(a_dir)], 2, ["B:", "holds no results.jsonl"], None),
    (["compare", F(results), F(results), "--alpha", "nan"], 2, ["--alpha", "finite"], None),
    (["compare", F(results), F(results), "--alpha", "1.5"], 2, ["--alpha", "between 0 and 1"], None),
    (["compare", F(results), F(results), "--min-change", "-1"], 2, ["--min-change", "between 0 and 1000"], None),
    (["compare", F(results), F(results), "--min-change", "inf"], 2, ["--min-change", "finite"], None),
    (["compare", F(results), F(results), "--fail-on", "p99:abc"], 2, ["--fail-on", "'p99:abc'", "p99:+5%"], None),
    (["compare", F(results), F(results), "--fail-on", ""], 2, ["--fail-on", "is not like"], None),
    (["compare", F(results), F(results), "--fail-on", "speed:+5%"], 2, ["unknown metric 'speed'"], None),
    (["compare", F(results)], 2, ["Missing argument 'b'"], None),
    # --- export
    (["export", "no-such-run", "--parquet", "x.parquet"], 2, ["no-such-run", "does not exist"], None),
    (["export", F(results), "--parquet", F(lambda t: str(t / "no-such-folder" / "sub" / "x.parquet"))], 2,
     ["--parquet", "no-such-folder/sub does not exist", "mkdir -p"], None),
    (["export", F(results), "--parquet", F(a_dir)], 2, ["--parquet", "is a directory"], None),
    (["export", F(results)], 2, ["Missing option '--parquet'"], None),
    # --- query
    (["query", "  ", F(results)], 2, ["SQL", "empty"], None),
    (["query", "SELECT 1", F(a_dir)], 2, ["holds no results.jsonl"], None),
    (["query", "SELECT 1"], 2, ["Missing argument 'paths'"], None),
    # --- scorecard
    (["scorecard", "no-such-run"], 2, ["no-such-run", "does not exist"], None),
    (["scorecard", F(renamed)], 2, ["named results.jsonl"], None),
    # --- selftest
    (["selftest", "--seconds", "0"], 2, ["--seconds", "at least 1"], None),
    (["selftest", "--seconds", "nan"], 2, ["--seconds", "finite"], None),
    (["selftest", "--seconds", "1e9"], 2, ["--seconds", "INFERMETER_MAX_SECONDS"], None),
    (["selftest", "--capacity-rate", "0"], 2, ["--capacity-rate", "at least 1"], None),
    (["selftest", "--capacity-rate", "inf"], 2, ["--capacity-rate", "finite"], None),
    (["selftest", "--capacity-rate", "1e9"], 2, ["--capacity-rate", "INFERMETER_MAX_RATE"], None),
    # --- servers
    (["servers", "install", "nope"], 2, ["unknown server 'nope'", "choose among"], None),
    (["servers", "install", "mlserver", "nope"], 2, ["unknown server 'nope'", "!installing"], None),
    (["servers", "install", "all", "mlserver"], 2, ["'all'", "alone"], None),
    (["servers", "install"], 2, ["Missing argument"], None),
    (["servers", "frobnicate"], 2, ["No such command"], None),
    # --- doctor
    (["doctor", "no-such-run"], 2, ["OUT", "no-such-run does not exist"], None),
    (["doctor", F(renamed)], 2, ["OUT", "is not a directory"], None),
    (["doctor"], 2, ["Missing argument"], None),
    # --- listing commands and the command line itself
    (["engines", "--bogus"], 2, ["No such option: --bogus"], None),
    (["workloads", "extra"], 2, ["unexpected extra argument"], None),
    (["cleanup", "extra"], 2, ["unexpected extra argument"], None),
    (["frobnicate"], 2, ["No such command"], None),
]


def _argv(row_argv: list, t) -> list[str]:
    port = closed_port(t)
    return [a(t) if callable(a) else a.replace("{port}", port) for a in row_argv]


@pytest.mark.parametrize("argv, code, words, env", ROWS, ids=[f"{i:03d}-{r[0][0]}" for i, r in enumerate(ROWS)])
def test_bad_input_is_refused_plainly(tmp_path, capsys, monkeypatch, argv, code, words, env):
    monkeypatch.setenv("INFERMETER_ENVS", str(tmp_path / "no-envs"))  # no framework environment is installed
    monkeypatch.setenv("INFERMETER_CACHE", str(tmp_path / "cache"))
    for k in [k for k in os.environ if k.startswith("INFERMETER_MAX_")]:
        monkeypatch.delenv(k)
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    monkeypatch.chdir(tmp_path)  # relative names in the table resolve here (and nothing lands elsewhere)
    got, output = invoke(_argv(argv, tmp_path), capsys, monkeypatch)
    assert "Traceback" not in output, output
    assert got == code, output
    for w in words:
        if w.startswith("!"):
            assert w[1:] not in output, output
        else:
            assert w in output, output
    assert not (tmp_path / "results").exists()  # refused before anything was written


def test_table_is_large_enough():
    assert len(ROWS) >= 70
    assert {r[0][0] for r in ROWS} >= {"run", "quickstart", "load", "report", "compare", "export", "query", "scorecard",
                                        "selftest", "servers", "engines", "workloads", "cleanup", "doctor", "study"}


def test_exit_codes_are_documented_in_help(capsys, monkeypatch):
    code, output = invoke(["--help"], capsys, monkeypatch)
    assert code == 0
    for words in ("2 bad input", "3 not installed", "5 some cells", "130 interrupted", "INFERMETER_MAX_"):
        assert words in " ".join(output.split()), output


def test_markup_in_a_suite_name_prints_as_itself(tmp_path, capsys, monkeypatch):
    """A suite name with markup reaches the result tables' titles and the progress line: plain text there
    too (it used to crash the console on '[/x]')."""
    p = tmp_path / "s.yaml"
    p.write_text("name: '[/x] [link=https://evil.example]e[/link] :thumbs_up:'\nworkloads: [fake-tiny]\n"
                 "engines: [{name: fake, settings: {fail_on_load: true}}]\nmeasure: {repeats: 1, min_iterations: 2, min_seconds: 0}\n")
    monkeypatch.setenv("INFERMETER_ENVS", str(tmp_path / "no-envs"))
    code, output = invoke(["run", str(p), "--out", str(tmp_path / "o"), "--cache", str(tmp_path / "c")], capsys, monkeypatch)
    assert "Traceback" not in output, output
    assert code == 5, output  # the cell failed (on purpose); the run itself did not
    assert "[/x] [link=https://evil.example]e[/link] :thumbs_up:" in output
    assert "\x1b]8;" not in output  # no live link (OSC 8) was written


@pytest.mark.parametrize("errno_name, fix", [
    ("ENOSPC", "free space there, then run the same command with --resume"),
    ("EACCES", "fix the permissions there, then run the same command with --resume"),
    ("EROFS", "read-only: give an --out on a writable one"),
    # `--out /proc/x` said "free space (or fix the permissions) there": neither was the cause.
    ("ENOENT", "give an --out where a directory can be made"),
])
def test_a_refused_write_names_the_fix_for_its_cause(errno_name, fix):
    import errno

    from infermeter.results.files import write_error

    err = write_error("/r/results.jsonl", OSError(getattr(errno, errno_name), os.strerror(getattr(errno, errno_name))))
    assert err.message.startswith("cannot write results to /r/results.jsonl") and fix in err.hint
    assert ("--resume" in err.hint) == (errno_name in ("ENOSPC", "EACCES", "EROFS"))
